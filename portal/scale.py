"""`flask seed-scale`: a large channel for the benchmark, written with bulk inserts on top of the demo data.

Sized by options (defaults: 10,000 dealers, 2,000,000 sales lines, 300,000 claims, 20,000 enrolments, 5,000
disputes). The demo logins keep working and see a realistic share: the demo manager's portfolio grows to about a
hundredth of the dealers, D001 gets its share of sales, claims and enrolments. Rows are generated in chunks and
inserted with one executemany per chunk; nothing goes through the ORM unit of work, so it runs in minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import DealerRole, User, UserRole
from portal.accounts.services import hash_password
from portal.claims.models import ActivityType, Claim, FundAllocation
from portal.claims.rules import PENDING, ClaimStatus
from portal.dates import company_today
from portal.dealers.models import Dealer, DealerStatus, DealerTier, Period, Territory
from portal.demo import seed_demo
from portal.disputes.models import Dispute
from portal.disputes.rules import DisputeCategory, DisputeStatus
from portal.evidence.fingerprints import as_signed, bands_of
from portal.evidence.models import Evidence, EvidencePicture
from portal.extensions import db
from portal.rebates.models import SalesLine, Target
from portal.rebates.services import recompute_statements
from portal.training.models import CourseSession, Enrollment, EnrollmentStatus
from portal.types import utcnow

CHUNK = 20_000


@dataclass(frozen=True)
class Scale:
    dealers: int = 10_000
    sales: int = 2_000_000
    claims: int = 300_000
    enrolments: int = 20_000
    disputes: int = 5_000


def _insert(table: Any, rows: Iterator[dict[str, Any]], report: Callable[[str], None], what: str) -> int:
    count, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            db.session.execute(table.insert(), chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        db.session.execute(table.insert(), chunk)
        count += len(chunk)
    db.session.commit()
    report(f"{what}: {count:,}")
    return count


def add_claim_photos(report: Callable[[str], None] = print) -> int:
    """The photos of the scale data's claims, for a benchmark database built before they were part of it."""
    return _claim_photos(random.Random(7), report)  # noqa: S311 - test data, not secrets


def _claim_photos(rng: random.Random, report: Callable[[str], None]) -> int:
    """A photo's row and perceptual hash for every submitted claim of the scale data (rows only: the pages that
    list them do not read the bytes), so that finding the same picture is measured among 300,000 of them."""
    claim_ids = list(
        db.session.execute(
            sa.select(Claim.id).where(Claim.submission_count > 0, Claim.vendor_key == "id:91310000SCALE")
        ).scalars()
    )
    added = _insert(
        Evidence.__table__,
        (
            {
                "owner_type": "claim",
                "owner_id": claim_id,
                "original_name": "photo.jpg",
                "storage_key": f"claim/scale-{claim_id}",
                "content_type": "image/jpeg",
                "size": 250_000,
                "sha256": f"{rng.getrandbits(256):064x}",
                "qr_text": "",
                "created_at": utcnow(),
            }
            for claim_id in claim_ids
        ),
        report,
        "claim photos",
    )
    photos = list(
        db.session.execute(
            sa.select(Evidence.id).where(
                Evidence.storage_key.like("claim/scale-%"),
                ~sa.exists().where(EvidencePicture.evidence_id == Evidence.id),
            )
        ).scalars()
    )

    def pictures() -> Iterator[dict[str, Any]]:
        for evidence_id in photos:
            picture = rng.getrandbits(64)
            bands = bands_of(picture)
            yield {"evidence_id": evidence_id, "picture_hash": as_signed(picture)} | {
                f"band{band}": value for band, value in enumerate(bands)
            }

    _insert(EvidencePicture.__table__, pictures(), report, "photo hashes")
    return added


def seed_scale(scale: Scale, report: Callable[[str], None] = print, seed: int = 7) -> dict[str, int]:
    """Build the large channel; returns the number of rows per kind. Runs seed-demo first (idempotent)."""

    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    seed_demo()
    db.session.commit()
    now = utcnow()
    existing = db.session.execute(sa.select(sa.func.count()).select_from(Dealer)).scalar_one()
    if existing >= scale.dealers:
        report(f"{existing:,} dealers already: nothing to add")
        return {}
    territories = list(db.session.execute(sa.select(Territory.id)).scalars())
    managers = {
        user.email: user.id
        for user in db.session.execute(sa.select(User).where(User.role == UserRole.MANAGER)).scalars()
    }
    password = hash_password("scale-password-1")
    tiers, counts = list(DealerTier), {}

    # Managers: the demo manager keeps a portfolio of about a hundredth of the dealers, as a real one would.
    extra_managers = max(scale.dealers // 100 - len(managers), 0)
    counts["managers"] = _insert(
        User.__table__,
        (
            {
                "email": f"scale-manager{number}@scale.test",
                "name": f"Scale Manager {number}",
                "password_hash": password,
                "role": UserRole.MANAGER,
                "is_senior": False,
                "timezone": "Asia/Shanghai",
                "active": True,
                "session_token": f"scale-manager-{number}-{rng.getrandbits(64):016x}",
                "must_change_password": False,
                "created_at": now,
            }
            for number in range(extra_managers)
        ),
        report,
        "managers",
    )
    manager_ids = list(db.session.execute(sa.select(User.id).where(User.role == UserRole.MANAGER)).scalars())
    demo_manager = managers["manager@demo.test"]
    first = existing + 1
    new_dealers = scale.dealers - existing
    counts["dealers"] = _insert(
        Dealer.__table__,
        (
            {
                "code": f"S{number:05d}",
                "name": f"Scale Dealer {number}",
                "territory_id": rng.choice(territories),
                "tier": rng.choice(tiers),
                "status": DealerStatus.ACTIVE,
                "manager_id": demo_manager if number % 100 == 0 else rng.choice(manager_ids),
                "currency": "CNY",
                "payee_name": f"Scale Dealer {number}",
                "payee_bank": "",
                "payee_account": "",
                "created_at": now,
            }
            for number in range(first, first + new_dealers)
        ),
        report,
        "dealers",
    )
    dealer_ids = list(db.session.execute(sa.select(Dealer.id).order_by(Dealer.id)).scalars())
    counts["owners"] = _insert(
        User.__table__,
        (
            {
                "email": f"owner{dealer_id}@scale.test",
                "name": f"Owner {dealer_id}",
                "password_hash": password,
                "role": UserRole.DEALER,
                "dealer_id": dealer_id,
                "dealer_role": DealerRole.OWNER,
                "is_senior": False,
                "timezone": "Asia/Shanghai",
                "active": True,
                "must_change_password": False,
                "created_at": now,
                "session_token": f"scale-owner-{dealer_id}-{rng.getrandbits(64):016x}",
            }
            for dealer_id in dealer_ids[existing:]
        ),
        report,
        "dealer owners",
    )

    periods = list(db.session.execute(sa.select(Period).order_by(Period.starts_on)).scalars())
    have_targets = {tuple(row) for row in db.session.execute(sa.select(Target.dealer_id, Target.period_id))}
    counts["targets"] = _insert(
        Target.__table__,
        (
            {
                "dealer_id": dealer_id,
                "period_id": period.id,
                "amount": rng.randrange(20_000_000, 200_000_000, 100_000),
                "created_at": now,
                "updated_at": now,
            }
            for dealer_id in dealer_ids
            for period in periods
            if (dealer_id, period.id) not in have_targets
        ),
        report,
        "targets",
    )

    def sales() -> Iterator[dict[str, Any]]:
        today = company_today()
        for number in range(scale.sales):
            period = periods[number % len(periods)]
            last = min(period.ends_on, today)
            span = max((last - period.starts_on).days, 0)
            yield {
                "dealer_id": dealer_ids[(number // len(periods)) % len(dealer_ids)],
                "period_id": period.id,
                "booked_period_id": period.id,
                "sold_on": period.starts_on + timedelta(days=number % (span + 1)),
                "amount": rng.randrange(50_000, 2_000_000),
                "units": rng.randrange(1, 20),
                "product_line": "Split units",
                "invoice_ref": f"SC{number:09d}",
            }

    counts["sales"] = _insert(SalesLine.__table__, sales(), report, "sales lines")

    open_periods = [period for period in periods if period.status.value == "open"]
    kinds = list(db.session.execute(sa.select(ActivityType.id)).scalars())
    have_budgets = {
        tuple(row) for row in db.session.execute(sa.select(FundAllocation.dealer_id, FundAllocation.period_id))
    }
    counts["budgets"] = _insert(
        FundAllocation.__table__,
        (
            {"dealer_id": dealer_id, "period_id": period.id, "amount": 50_000_000, "updated_at": now}
            for dealer_id in dealer_ids
            for period in open_periods
            if (dealer_id, period.id) not in have_budgets
        ),
        report,
        "budgets",
    )
    statuses = [status for status in ClaimStatus if status is not ClaimStatus.DRAFT]
    current = open_periods[-1] if open_periods else periods[-1]

    def claims() -> Iterator[dict[str, Any]]:
        for number in range(scale.claims):
            status = ClaimStatus.DRAFT if number % 10 == 0 else statuses[number % len(statuses)]
            decided = status in (
                ClaimStatus.APPROVED,
                ClaimStatus.PARTIALLY_APPROVED,
                ClaimStatus.PAID,
                ClaimStatus.REJECTED,
            )
            amount = rng.randrange(10_000, 1_500_000)
            yield {
                "dealer_id": dealer_ids[number % len(dealer_ids)],
                "period_id": current.id,
                "activity_type_id": kinds[number % len(kinds)],
                "title": f"Promotion {number}",
                "description": "",
                "activity_start": current.starts_on,
                "activity_end": current.starts_on,
                "vendor": "Scale Print",
                "vendor_tax_id": "91310000SCALE",
                "vendor_key": "id:91310000SCALE",
                "invoice_number": f"SI{number:08d}",
                "amount_requested": amount,
                "budget_held": amount if status in PENDING else 0,
                "amount_approved": amount if decided else None,
                "over_pre_approval_reason": "",
                "rejection_reason": "",
                "status": status,
                "submission_count": 0 if status is ClaimStatus.DRAFT else 1,
                "submitted_at": None if status is ClaimStatus.DRAFT else now - timedelta(hours=number % 900),
                "decided_at": now if decided else None,
                "turnaround_seconds": (number % 900) * 3600 if decided else None,
                "payment_reference": "",
                "created_at": now,
                "updated_at": now,
            }

    counts["claims"] = _insert(Claim.__table__, claims(), report, "claims")
    counts["evidence"] = _claim_photos(rng, report)

    sessions = list(db.session.execute(sa.select(CourseSession.id)).scalars())
    owners = {
        row[0]: row[1]
        for row in db.session.execute(sa.select(User.dealer_id, User.id).where(User.dealer_role == DealerRole.OWNER))
    }
    taken = {tuple(row) for row in db.session.execute(sa.select(Enrollment.session_id, Enrollment.person_key))}

    def enrolments() -> Iterator[dict[str, Any]]:
        made = 0
        for dealer_id in dealer_ids:
            user_id = owners.get(dealer_id)
            if user_id is None:
                continue
            for session_id in sessions:
                if made >= scale.enrolments:
                    return
                if (session_id, f"u{user_id}") in taken:
                    continue
                made += 1
                yield {
                    "session_id": session_id,
                    "dealer_id": dealer_id,
                    "user_id": user_id,
                    "person_key": f"u{user_id}",
                    "status": EnrollmentStatus.CANCELLED,
                    "created_at": now,
                    "updated_at": now,
                }

    counts["enrolments"] = _insert(Enrollment.__table__, enrolments(), report, "enrolments (cancelled seats)")
    mediator_ids = list(db.session.execute(sa.select(User.id).where(User.role == UserRole.MEDIATOR)).scalars())
    categories, dispute_statuses = list(DisputeCategory), list(DisputeStatus)
    counts["disputes"] = _insert(
        Dispute.__table__,
        (
            {
                "raised_by_dealer_id": dealer_ids[number % len(dealer_ids)],
                "respondent_dealer_id": dealer_ids[(number * 7 + 1) % len(dealer_ids)],
                "category": categories[number % len(categories)],
                "title": f"Scale dispute {number}",
                "description": "d",
                "status": dispute_statuses[number % len(dispute_statuses)],
                "due_at": now + timedelta(days=number % 20 - 5),
                "mediator_id": mediator_ids[0] if number % 2 and mediator_ids else None,
                "outcome_details": {},
                "summary": "",
                "created_at": now,
            }
            for number in range(scale.disputes)
        ),
        report,
        "disputes",
    )

    for period in periods:
        recompute_statements(period)
    db.session.commit()
    report(f"statements recomputed for {len(periods)} periods")
    # Fresh statistics, as after any bulk load: without them SQLite guesses which index serves a manager's queue.
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    report("statistics refreshed (ANALYZE)")
    return counts
