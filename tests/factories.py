"""Small factories for tests. Call them inside an application context; they flush, the test's transaction rolls back."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from pypdf import PdfWriter
from sqlalchemy import select

from portal.accounts.codes import hash_recovery_code
from portal.accounts.models import DealerRole, RecoveryCode, User, UserRole
from portal.accounts.services import hash_password
from portal.accounts.tokens import make_email_change_token, make_token
from portal.api import clients as api_clients
from portal.api import webhooks as api_webhooks
from portal.api.models import WebhookDelivery
from portal.api.rules import DeliveryStatus
from portal.campaigns.models import Campaign, CampaignResult
from portal.campaigns.rules import CampaignStatus, Measure, RewardKind
from portal.claims import budgets, services
from portal.claims.invoices import InvoiceType, normalised_number
from portal.claims.models import ActivityType, Claim, FundAllocation, FundRequest, FundRequestStatus
from portal.claims.rules import ClaimStatus
from portal.dates import company_today, quarter_of
from portal.dealers.audiences import AudienceKind
from portal.dealers.models import Dealer, DealerStatus, DealerTier, Period, PeriodStatus, Territory, Trainee
from portal.disputes.models import Dispute, DisputeMessage, Violation
from portal.disputes.rules import DisputeCategory, DisputeStatus, ViolationKind, ViolationStatus
from portal.evidence.models import Evidence
from portal.evidence.services import add_evidence
from portal.evidence.storage import storage_of
from portal.extensions import db
from portal.news.models import Announcement
from portal.news.rules import AnnouncementKind, AnnouncementStatus
from portal.notifications.models import Notification
from portal.outbox import EventKind, OutboxEvent
from portal.plans.models import BusinessPlan, PlanAction, PlanGoal, PlanVersion, Visit
from portal.plans.rules import GoalKind, PlanStatus, Side
from portal.rebates.models import (
    ImportStatus,
    ProgramTier,
    RebateProgram,
    RebateStatement,
    SalesImport,
    SalesLine,
    Target,
    TargetChange,
)
from portal.rebates.rules import Method
from portal.rebates.services import freeze_statements, recompute_statements
from portal.referee.models import (
    CodedShipment,
    PriceList,
    PriceListItem,
    Product,
    Suspicion,
    SuspicionLine,
    TerritoryRegion,
)
from portal.referee.rules import PriceListStatus, SuspicionRule
from portal.training.models import Course, CourseCategory, CourseSession, Enrollment, EnrollmentStatus
from portal.types import utcnow
from tests.evidence_files import pdf

PASSWORD = "correct horse battery"
COMPANY_ZONE = ZoneInfo("Asia/Shanghai")  # TestConfig's COMPANY_TIMEZONE
_sequence = itertools.count(1)
_hash_cache: dict[str, str] = {}

# Hypothesis: the CI profile runs each test's own number of examples; `make test-thorough` (HYPOTHESIS_PROFILE=
# thorough) ten times as many. Tests write `max_examples=examples(40)`.
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def examples(count: int) -> int:
    return count * 10 if THOROUGH else count


def _password_hash(password: str) -> str:
    if password not in _hash_cache:
        _hash_cache[password] = hash_password(password)
    return _hash_cache[password]


def today() -> date:
    """The company's today under the test clock (tests/conftest.py): the date every test date is built from."""
    return datetime.now(COMPANY_ZONE).date()


def this_quarter() -> tuple[str, date, date]:
    return quarter_of(today())


def activity_day() -> date:
    """A day a promotion can be claimed for today: over, inside this quarter, inside the claim window. Five days ago,
    or the quarter's first day when the quarter began less than five days ago (then it may be today itself)."""
    return max(this_quarter()[1], today() - timedelta(days=5))


def stored_user(app, email: str) -> User:  # type: ignore[no-untyped-def]
    """The user as stored now, read in its own application context and detached, for assertions."""
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        db.session.expunge(user)
        return user


def make_territory(code: str | None = None, name: str | None = None) -> Territory:
    number = next(_sequence)
    territory = Territory(code=code or f"T{number}", name=name or f"Territory {number}")
    db.session.add(territory)
    db.session.flush()
    return territory


def make_user(
    role: UserRole = UserRole.MANAGER,
    *,
    email: str | None = None,
    name: str | None = None,
    dealer: Dealer | None = None,
    dealer_role: DealerRole | None = None,
    is_senior: bool = False,
    active: bool = True,
    locale: str | None = None,
    password: str = PASSWORD,
) -> User:
    number = next(_sequence)
    user = User(
        email=email or f"user{number}@example.test",
        name=name or f"User {number}",
        role=role,
        dealer_id=dealer.id if dealer else None,
        dealer_role=dealer_role,
        is_senior=is_senior,
        active=active,
        locale=locale,
        password_hash=_password_hash(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def make_dealer(
    *,
    code: str | None = None,
    name: str | None = None,
    territory: Territory | None = None,
    manager: User | None = None,
    tier: DealerTier = DealerTier.SILVER,
    status: DealerStatus = DealerStatus.ACTIVE,
) -> Dealer:
    number = next(_sequence)
    dealer = Dealer(
        code=code or f"X{number:05d}",
        name=name or f"Dealer {number}",
        territory_id=(territory or make_territory()).id,
        manager_id=manager.id if manager else None,
        tier=tier,
        status=status,
    )
    db.session.add(dealer)
    db.session.flush()
    return dealer


def make_period(code: str, starts_on, ends_on, status: PeriodStatus = PeriodStatus.OPEN) -> Period:  # type: ignore[no-untyped-def]
    period = Period(code=code, starts_on=starts_on, ends_on=ends_on, status=status)
    db.session.add(period)
    db.session.flush()
    return period


def make_trainee(dealer: Dealer, name: str | None = None) -> Trainee:
    trainee = Trainee(dealer_id=dealer.id, name=name or f"Trainee {next(_sequence)}", job_title="Sales")
    db.session.add(trainee)
    db.session.flush()
    return trainee


def make_evidence(
    dealer: Dealer, uploader: User, name: str, owner_type: str = "dealer_document", owner_id: int | None = None
) -> Evidence:
    """A file row whose bytes are stored through the app's storage, as an upload would leave it."""

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": name})
    buffer = io.BytesIO()
    writer.write(buffer)
    data = buffer.getvalue()
    key = f"{owner_type}/{uuid.uuid4().hex}"
    storage_of(current_app).put(key, data, "application/pdf")
    evidence = Evidence(
        owner_type=owner_type,
        owner_id=owner_id if owner_id is not None else dealer.id,
        original_name=name,
        storage_key=key,
        content_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=uploader.id,
    )
    db.session.add(evidence)
    db.session.flush()
    return evidence


STANDARD_TIERS = ((9000, 100), (10000, 200), (11000, 300))  # 90 % -> 1 %, 100 % -> 2 %, 110 % -> 3 %


def make_program(
    period: Period,
    *,
    name: str = "Standard",
    method: str = "retroactive",
    eligible: str = "bronze,silver,gold,platinum",
    tiers=STANDARD_TIERS,
):  # type: ignore[no-untyped-def]

    program = RebateProgram(period_id=period.id, name=name, method=Method(method), eligible_tiers=eligible)
    program.tiers = [
        ProgramTier(position=index, threshold_hundredths=threshold, rate_hundredths=rate)
        for index, (threshold, rate) in enumerate(tiers)
    ]
    db.session.add(program)
    db.session.flush()
    return program


def make_target(dealer: Dealer, period: Period, amount: int):  # type: ignore[no-untyped-def]

    target = Target(dealer_id=dealer.id, period_id=period.id, amount=amount)
    db.session.add(target)
    db.session.flush()
    return target


def make_sales(dealer: Dealer, period: Period, amounts: list[int], *, on: date | None = None, prefix: str = "INV"):  # type: ignore[no-untyped-def]

    day = on or period.starts_on
    for number, amount in enumerate(amounts):
        db.session.add(
            SalesLine(
                dealer_id=dealer.id,
                period_id=period.id,
                booked_period_id=period.id,
                sold_on=day,
                amount=amount,
                units=1,
                product_line="Compressors",
                invoice_ref=f"{prefix}-{dealer.code}-{period.code}-{number}-{next(_sequence)}",
            )
        )
    db.session.flush()


def make_rebate_records(channel: Channel) -> RebateRecords:
    """Programs, targets and sales of today's quarter and the one before, which has final statements; a sales
    import by each manager. D001 stands at 95 % this quarter: 50,000.00 short of the 100 % tier."""

    own, second, foreign = (
        dealer_of(code) for code in (channel.own_dealer, channel.second_dealer, channel.foreign_dealer)
    )
    manager, other_manager = person(channel.people.manager), person(channel.people.other_manager)
    current, previous = period(channel.current_period), period(channel.previous_period)
    program = make_program(current)
    make_program(previous)
    for quarter in (current, previous):
        make_target(own, quarter, 100_000_000)
        make_target(second, quarter, 50_000_000)
        make_target(foreign, quarter, 80_000_000)
    make_sales(own, current, [40_000_000, 55_000_000])
    make_sales(second, current, [10_000_000])
    make_sales(foreign, current, [70_000_000])
    make_sales(own, previous, [105_000_000])
    make_sales(foreign, previous, [90_000_000])
    recompute_statements(current)
    freeze_statements(previous)  # final, and booked on the dealers' accounts
    imports = {}
    for name, uploader in (("own_import", manager), ("foreign_import", other_manager)):
        batch = SalesImport(
            filename=f"{name}.csv",
            content=b"dealer_code,date,amount,invoice_ref\n",
            size=36,
            uploaded_by_id=uploader.id,
            status=ImportStatus.READY,
            errors=[],
            total_rows=0,
        )
        db.session.add(batch)
        db.session.flush()
        imports[name] = batch.id
    # The manager's imports in the other states a page acts on: imported (every line was there already, so voiding
    # it reverses nothing), refused for columns no synonym knows, and checked with an invoice sent again.
    day = current.starts_on.isoformat()
    for name, status, content, conflicts in (
        ("imported_import", ImportStatus.IMPORTED, b"dealer_code,date,amount,invoice_ref\n", []),
        (
            "rejected_import",
            ImportStatus.REJECTED,
            f"Kunde,Datum,Betrag,Beleg\n{own.code},{day},1.00,X-1\n".encode(),
            [],
        ),
        (
            "conflict_import",
            ImportStatus.READY,
            f"dealer_code,date,amount,invoice_ref\n{own.code},{day},2.00,X-2\n".encode(),
            [[own.code, "X-2", 0, 100, day, 200, day, 2, "", own.id]],
        ),
    ):
        batch = SalesImport(
            filename=f"{name}.csv",
            content=content,
            size=len(content),
            uploaded_by_id=manager.id,
            status=status,
            errors=[
                [1, "", "The first line must name the columns; missing: dealer_code, date, amount, invoice_ref.", ""]
            ]
            if status is ImportStatus.REJECTED
            else [],
            error_count=int(status is ImportStatus.REJECTED),
            total_rows=len(conflicts),
            conflicts=conflicts,
            conflict_count=len(conflicts),
        )
        db.session.add(batch)
        db.session.flush()
        imports[name] = batch.id
    statements = dict(
        db.session.execute(
            sa.select(RebateStatement.dealer_id, RebateStatement.id).where(RebateStatement.period_id == previous.id)
        ).all()
    )
    changes = {}
    for name, dealer, asker, old in (
        ("own", own, manager, 100_000_000),
        ("foreign", foreign, other_manager, 80_000_000),
    ):
        change = TargetChange(
            dealer_id=dealer.id,
            period_id=current.id,
            old_amount=old,
            new_amount=90_000_000,
            reason="The territory was split.",
            requested_by_id=asker.id,
        )
        db.session.add(change)
        db.session.flush()
        changes[name] = change.id
    return RebateRecords(
        pending_target_change=changes["own"],
        foreign_target_change=changes["foreign"],
        program=program.id,
        own_import=imports["own_import"],
        foreign_import=imports["foreign_import"],
        imported_import=imports["imported_import"],
        rejected_import=imports["rejected_import"],
        conflict_import=imports["conflict_import"],
        own_final_statement=statements[own.id],
        foreign_final_statement=statements[foreign.id],
    )


def make_course(code: str | None = None, *, validity_months: int = 12, prerequisites=(), category: str = "technical"):  # type: ignore[no-untyped-def]
    course = Course(
        code=code or f"C{next(_sequence)}",
        title=f"Course {code}",
        category=CourseCategory(category),
        validity_months=validity_months,
        description="",
    )
    course.prerequisites = list(prerequisites)
    db.session.add(course)
    db.session.flush()
    return course


def make_session(course, *, starts_in: timedelta = timedelta(days=10), capacity: int = 2, **fields):  # type: ignore[no-untyped-def]
    """A session starting `starts_in` from now; enrolment closes a day before, cancelling two days before."""

    start = utcnow().replace(microsecond=0) + starts_in
    values = {
        "place": "Training centre",
        "enrol_deadline": start - timedelta(days=1),
        "cancel_deadline": start - timedelta(days=2),
        **fields,
    }
    session = CourseSession(
        course_id=course.id,
        starts_at=start,
        ends_at=start + timedelta(hours=6),
        capacity=capacity,
        seats_taken=0,
        last_ticket=0,
        **values,
    )
    db.session.add(session)
    db.session.flush()
    return session


def make_enrollment(
    session,
    *,
    user: User | None = None,
    trainee: Trainee | None = None,
    status: str = "enrolled",
    certificate: str | None = None,
    expires_on: date | None = None,
):  # type: ignore[no-untyped-def]

    dealer_id = user.dealer_id if user is not None else trainee.dealer_id  # type: ignore[union-attr]
    key = f"u{user.id}" if user is not None else f"t{trainee.id}"  # type: ignore[union-attr]
    enrollment = Enrollment(
        session_id=session.id,
        dealer_id=dealer_id,
        user_id=user.id if user else None,
        trainee_id=trainee.id if trainee else None,
        person_key=key,
        status=EnrollmentStatus(status),
        certificate_number=certificate,
        completed_on=today() if certificate else None,
        certificate_expires_on=expires_on,
    )
    if status in ("enrolled", "attended", "completed", "no_show"):
        session.seats_taken += 1
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def make_training_records(channel: Channel) -> TrainingRecords:
    """A course with an upcoming session (2 seats: the owner holds one) and a session that began an hour ago
    (staff enrolled, ready for attendance); certificates for the own and the foreign dealer."""
    owner, staff, foreign_owner = (
        person(channel.people.owner),
        person(channel.people.staff),
        person(channel.people.foreign_owner),
    )
    trainee = db.session.get(Trainee, channel.people.own_trainee)
    assert trainee is not None
    course = make_course("SAFE-1", validity_months=12)
    upcoming = make_session(course, capacity=2)
    began = make_session(
        course,
        starts_in=timedelta(hours=-1),
        capacity=10,
        enrol_deadline=utcnow_minus(days=2),
        cancel_deadline=utcnow_minus(days=3),
    )
    own_enrollment = make_enrollment(upcoming, user=owner)
    foreign_enrollment = make_enrollment(upcoming, user=foreign_owner)
    attending = make_enrollment(began, user=staff)
    make_enrollment(
        began,
        trainee=trainee,
        status="completed",
        certificate="CERT-OWNA-OWNB-OWNC",
        expires_on=today() + timedelta(days=30),
    )
    make_enrollment(
        began,
        user=foreign_owner,
        status="completed",
        certificate="CERT-FORA-FORB-FORC",
        expires_on=today() + timedelta(days=300),
    )
    return TrainingRecords(
        course=course.id,
        upcoming_session=upcoming.id,
        began_session=began.id,
        own_enrollment=own_enrollment.id,
        foreign_enrollment=foreign_enrollment.id,
        attending_enrollment=attending.id,
        own_certificate="CERT-OWNA-OWNB-OWNC",
        foreign_certificate="CERT-FORA-FORB-FORC",
    )


def make_activity_type(code: str = "DISPLAY", *, needs_pre_approval: bool = False):  # type: ignore[no-untyped-def]
    kind = ActivityType(
        code=code, name_en=f"Activity {code}", name_zh=f"活动 {code}", needs_pre_approval=needs_pre_approval
    )
    db.session.add(kind)
    db.session.flush()
    return kind


def make_allocation(dealer: Dealer, period: Period, amount: int):  # type: ignore[no-untyped-def]

    allocation = FundAllocation(dealer_id=dealer.id, period_id=period.id, amount=amount)
    db.session.add(allocation)
    db.session.flush()
    return allocation


def make_claim(
    dealer: Dealer,
    period: Period,
    kind,
    author: User | None = None,
    *,
    status: str = "submitted",  # type: ignore[no-untyped-def]
    amount: int = 300_000,
    title: str | None = None,
    approved: int | None = None,
    submitted_days_ago: int = 2,
    invoice: str | None = None,
):
    """A claim written directly in the given status; its activity on a day claimable today (in the period's first
    days when the period is not this quarter)."""

    number = next(_sequence)
    day = activity_day() if period.starts_on <= today() <= period.ends_on else period.starts_on
    claim_status = ClaimStatus(status)
    sent = claim_status is not ClaimStatus.DRAFT
    default_approved = {"approved": amount, "paid": amount, "partially_approved": amount // 2}.get(status)
    amount_approved = approved if approved is not None else default_approved
    held = {"submitted": amount, "needs_info": amount, "awaiting_second_approval": amount_approved or amount}
    claim = Claim(
        dealer_id=dealer.id,
        period_id=period.id,
        activity_type_id=kind.id,
        status=claim_status,
        title=title or f"Claim {number}",
        description="",
        activity_start=day,
        activity_end=day,
        vendor="Print Co",
        vendor_tax_id="91310000X",
        vendor_key="id:91310000X",
        invoice_number=normalised_number(invoice or f"INV-{number}", InvoiceType.OTHER),
        amount_requested=amount,
        budget_held=held.get(status, 0),
        amount_approved=amount_approved,
        submission_count=1 if sent else 0,
        submitted_at=utcnow() - timedelta(days=submitted_days_ago) if sent else None,
        created_by_id=author.id if author else None,
    )
    db.session.add(claim)
    db.session.flush()
    return claim


def make_claim_records(channel: Channel) -> ClaimRecords:
    """Budgets for today's quarter; for D001 a draft, a submitted claim with a file, an approved unpaid claim and a
    pending pre-approval request; for D003 a submitted claim with a file and a pending request."""

    own, foreign = dealer_of(channel.own_dealer), dealer_of(channel.foreign_dealer)
    owner, foreign_owner = person(channel.people.owner), person(channel.people.foreign_owner)
    quarter = period(channel.current_period)
    kind = make_activity_type("DISPLAY")
    make_activity_type("TRADE_SHOW", needs_pre_approval=True)
    make_allocation(own, quarter, 10_000_000)
    make_allocation(foreign, quarter, 10_000_000)
    draft = make_claim(own, quarter, kind, owner, status="draft", title="Own draft", amount=0)  # never submittable
    ready = make_claim(own, quarter, kind, owner, status="draft", title="Ready draft", amount=250_000)
    ready_file = make_evidence(own, owner, "ready invoice.pdf", "claim", ready.id)
    own_claim = make_claim(own, quarter, kind, owner, title="Own window display")
    approved = make_claim(own, quarter, kind, owner, status="approved", title="Own approved flyers")
    foreign_claim = make_claim(foreign, quarter, kind, foreign_owner, title="Foreign shop event")
    own_file = make_evidence(own, owner, "own invoice.pdf", "claim", own_claim.id)
    draft_file = make_evidence(own, owner, "draft invoice.pdf", "claim", draft.id)
    foreign_file = make_evidence(foreign, foreign_owner, "foreign invoice.pdf", "claim", foreign_claim.id)
    requests = {}
    for name, dealer, author in (("own_request", own, owner), ("foreign_request", foreign, foreign_owner)):
        request = FundRequest(
            dealer_id=dealer.id,
            period_id=quarter.id,
            activity_type_id=kind.id,
            title=name,
            planned_start=quarter.ends_on,
            planned_end=quarter.ends_on,
            estimated_cost=900_000,
            status=FundRequestStatus.SUBMITTED,
            created_by_id=author.id,
        )
        db.session.add(request)
        db.session.flush()
        requests[name] = request.id
    return ClaimRecords(
        own_draft=draft.id,
        own_claim=own_claim.id,
        approved_claim=approved.id,
        foreign_claim=foreign_claim.id,
        own_claim_file=own_file.id,
        draft_file=draft_file.id,
        foreign_claim_file=foreign_file.id,
        ready_draft=ready.id,
        ready_file=ready_file.id,
        activity_type=kind.id,
        own_request=requests["own_request"],
        foreign_request=requests["foreign_request"],
    )


def make_dispute_records(channel: Channel) -> DisputeRecords:
    """Violations of D001 (one proposed, one confirmed and appealable) and of D003 (confirmed); a dispute between
    D001 and D003 in mediation, with a party message, an internal note and a file; a dispute of D003 alone."""

    own, foreign = dealer_of(channel.own_dealer), dealer_of(channel.foreign_dealer)
    owner, foreign_owner = person(channel.people.owner), person(channel.people.foreign_owner)
    manager, mediator = person(channel.people.manager), person(channel.people.mediator)
    current, previous = period(channel.current_period), period(channel.previous_period)
    today = company_today()

    def violation(dealer: Dealer, status: ViolationStatus) -> Violation:
        """Confirmed ones are booked in the closed quarter, so today's statements stay as the rebate tests expect."""
        confirmed = status is not ViolationStatus.PROPOSED
        row = Violation(
            dealer_id=dealer.id,
            period_id=current.id,
            kind=ViolationKind.PRICE_BELOW_FLOOR,
            description="Sold below the floor price.",
            penalty=100_000,
            status=status,
            recorded_by_id=manager.id,
            confirmed_on=today if confirmed else None,
            appeal_until=today + timedelta(days=14) if confirmed else None,
            booked_period_id=previous.id if confirmed else None,
        )
        db.session.add(row)
        db.session.flush()
        return row

    proposed = violation(own, ViolationStatus.PROPOSED)
    confirmed = violation(own, ViolationStatus.CONFIRMED)
    foreign_violation = violation(foreign, ViolationStatus.CONFIRMED)
    due = utcnow_minus(days=-10)
    cross = Dispute(
        raised_by_dealer_id=own.id,
        respondent_dealer_id=foreign.id,
        category=DisputeCategory.PRICING_CONFLICT,
        title="Cross dispute",
        description="They undercut us.",
        status=DisputeStatus.IN_MEDIATION,
        mediator_id=mediator.id,
        due_at=due,
        raised_by_id=owner.id,
    )
    alone = Dispute(
        raised_by_dealer_id=foreign.id,
        category=DisputeCategory.REBATE_CALCULATION,
        title="Foreign dispute",
        description="Our rebate is wrong.",
        status=DisputeStatus.OPEN,
        due_at=due,
        raised_by_id=foreign_owner.id,
    )
    db.session.add_all([cross, alone])
    db.session.flush()
    db.session.add_all(
        [
            DisputeMessage(dispute_id=cross.id, author_id=foreign_owner.id, body="Our prices were approved."),
            DisputeMessage(dispute_id=cross.id, author_id=mediator.id, body="Secret mediator note.", internal=True),
        ]
    )
    cross_file = make_evidence(own, owner, "quote.pdf", "dispute", cross.id)
    violation_file = make_evidence(own, manager, "till receipt.pdf", "violation", confirmed.id)
    return DisputeRecords(
        proposed_violation=proposed.id,
        own_violation=confirmed.id,
        foreign_violation=foreign_violation.id,
        cross_dispute=cross.id,
        foreign_dispute=alone.id,
        cross_dispute_file=cross_file.id,
        violation_file=violation_file.id,
    )


def utcnow_minus(**delta: int):  # type: ignore[no-untyped-def]

    return utcnow().replace(microsecond=0) - timedelta(**delta)


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PENDING_TOTP_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
RECOVERY_CODES = ("abcde-fghjk", "mnpqr-stuvw")


def make_two_factor_user() -> tuple[User, dict[str, str]]:
    """A manager without dealers who logs in with an authenticator app, has two recovery codes, and has started
    moving to a new phone (a second secret waits to be confirmed)."""

    user = make_user(UserRole.MANAGER, email="secure-manager@example.test", name="Secure Manager")
    user.totp_secret = TOTP_SECRET
    user.totp_pending_secret = PENDING_TOTP_SECRET
    user.totp_enabled_at = utcnow_minus(days=30)
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(code)) for code in RECOVERY_CODES)
    db.session.flush()
    return user, {"totp_secret": TOTP_SECRET, "pending_totp_secret": PENDING_TOTP_SECRET}


@dataclass(frozen=True)
class People:
    """Ids of the channel's people and of the things every area refers to."""

    owner: int
    staff: int
    former_staff: int
    foreign_owner: int
    manager: int
    other_manager: int
    senior_manager: int
    mediator: int
    admin: int
    inspector: int
    two_factor_manager: int
    own_trainee: int
    foreign_trainee: int
    territory: int
    own_dealer_id: int
    own_document: int
    foreign_document: int


@dataclass(frozen=True)
class Channel:
    """A small channel: two portfolios, so every role has a foreign object to be refused. D001 and D002 are in
    `manager`'s portfolio; D003 belongs to `other_manager`. `emails` and `notifications` are by role (the
    access matrix's personas); `tokens` are links and secrets a test types in."""

    emails: dict[str, str]
    own_dealer: str
    second_dealer: str
    foreign_dealer: str
    open_period: str  # 2030-Q1, open, far ahead
    current_period: str  # the quarter containing today, open
    previous_period: str  # the quarter before it, closed
    next_period_start: str  # the day after today's quarter ends (ISO), where a tier change takes effect by default
    ended_period: str  # 2019-Q4: over long ago and still open, so it may be asked to close
    people: People
    notifications: dict[str, int]
    tokens: dict[str, str]


@dataclass(frozen=True)
class RebateRecords:
    program: int
    own_import: int
    foreign_import: int
    imported_import: int  # the manager's, imported (nothing new in it), to void
    rejected_import: int  # the manager's, refused for unknown columns, to map
    conflict_import: int  # the manager's, checked, one invoice sent again with another amount
    own_final_statement: int
    foreign_final_statement: int
    pending_target_change: int  # D001's target of today's quarter, asked by its manager
    foreign_target_change: int  # D003's, asked by the other manager


@dataclass(frozen=True)
class TrainingRecords:
    course: int
    upcoming_session: int
    began_session: int
    own_enrollment: int
    foreign_enrollment: int
    attending_enrollment: int
    own_certificate: str
    foreign_certificate: str


@dataclass(frozen=True)
class ClaimRecords:
    own_draft: int
    own_claim: int
    approved_claim: int
    foreign_claim: int
    own_claim_file: int
    draft_file: int
    foreign_claim_file: int
    ready_draft: int
    ready_file: int
    activity_type: int
    own_request: int
    foreign_request: int


@dataclass(frozen=True)
class DisputeRecords:
    proposed_violation: int
    own_violation: int
    foreign_violation: int
    cross_dispute: int
    foreign_dispute: int
    cross_dispute_file: int
    violation_file: int


@dataclass(frozen=True)
class RefereeRecords:
    price_list: int  # published, in force since the current quarter's start
    draft_list: int
    shipped_code: str  # an AC-1200 shipped to D001, packed in the case CASE-0001
    suspicion: int  # D001's, open, below the floor
    foreign_suspicion: int  # D003's, open
    referee_territory: str  # EAST, with Guangdong and Shanghai as its regions


@dataclass(frozen=True)
class CampaignRecords:
    draft_campaign: int  # this quarter, every CNY dealer, AC-1200 at 50.00 a unit
    live_campaign: int  # launched, running through the quarter
    ended_campaign: int  # launched, ended yesterday, nobody asked to settle it yet
    requested_campaign: int  # ended, the admin asked for its settlement (a second person confirms it)
    settled_campaign: int  # ended and settled: D001 sold 12 units and got 600.00


@dataclass(frozen=True)
class NewsRecords:
    notice: int  # published for every dealer, must be acknowledged
    news_draft: int  # the admin's draft
    manager_draft: int  # the manager's draft, for their portfolio
    foreign_notice: int  # published for D003 only
    policy: int  # a published policy, version 1 of "penalty-schedule"
    notice_attachment: int  # a PDF attached to the notice (every dealer reads it)
    foreign_attachment: int  # a PDF attached to the notice for D003 only
    draft_attachment: int  # a PDF attached to the admin's draft (removable while it is a draft)


@dataclass(frozen=True)
class PlanRecords:
    own_plan: int  # D001's plan for today's quarter: a sales and an outlets goal, an overdue action; awaiting both
    own_goal: int  # its outlets goal
    own_action: int  # its action, due yesterday, not done
    ended_plan: int  # D001's plan for 2019-Q4, over: to review
    foreign_plan: int  # D003's plan for today's quarter
    foreign_goal: int
    foreign_action: int
    spare_plan: int  # D001's plan for 2030-Q1, untouched by the other rows: to accept at revision 0
    reviewed_plan: int  # D001's plan for the previous quarter, reviewed: the owner comments
    own_visit: int  # the manager's visit to D001, shared with the dealer
    private_visit: int  # the manager's visit to D001, private
    foreign_visit: int  # the other manager's visit to D003, shared


@dataclass(frozen=True)
class World(Channel):
    """The channel with every area's records: what the access matrix, the CSRF crawl and the page tests need.
    A test of one area asks for `channel` and that area's fixture instead."""

    rebates: RebateRecords
    training: TrainingRecords
    claims: ClaimRecords
    disputes: DisputeRecords
    referee: RefereeRecords
    campaigns: CampaignRecords
    news: NewsRecords
    plans: PlanRecords

    def placeholders(self) -> dict[str, object]:
        """Every id, code and token by name, for route templates such as "/claims/{own_claim}"."""
        named: dict[str, object] = {}
        for records in (
            self.people,
            self.rebates,
            self.training,
            self.claims,
            self.disputes,
            self.referee,
            self.campaigns,
            self.news,
            self.plans,
        ):
            named.update(asdict(records))
        named.update({f"notification_{role}": number for role, number in self.notifications.items()})
        named.update(self.tokens)
        named.update(
            own_dealer=self.own_dealer,
            second_dealer=self.second_dealer,
            foreign_dealer=self.foreign_dealer,
            open_period=self.open_period,
            ended_period=self.ended_period,
            current_period=self.current_period,
            previous_period=self.previous_period,
        )
        return named


def dealer_of(code: str) -> Dealer:
    return db.session.execute(select(Dealer).where(Dealer.code == code)).scalar_one()


def person(user_id: int) -> User:
    found = db.session.get(User, user_id)
    assert found is not None
    return found


def make_channel() -> Channel:
    """Territories, people, three dealers, their documents and the periods: the 2030 quarter, today's quarter
    (open) and the one before (closed)."""
    east = make_territory("EAST", "East")
    north = make_territory("NORTH", "North")
    manager = make_user(UserRole.MANAGER, email="manager@example.test", name="Manager One")
    other_manager = make_user(UserRole.MANAGER, email="other-manager@example.test", name="Manager Two")
    senior = make_user(UserRole.MANAGER, email="senior@example.test", name="Senior Manager", is_senior=True)
    mediator = make_user(UserRole.MEDIATOR, email="mediator@example.test", name="Mediator")
    admin = make_user(UserRole.ADMIN, email="admin@example.test", name="Admin")
    inspector = make_user(UserRole.INSPECTOR, email="inspector@example.test", name="Inspector")
    two_factor_manager, two_factor_tokens = make_two_factor_user()
    own = make_dealer(code="D001", name="Eastern Star Trading", territory=east, manager=manager, tier=DealerTier.GOLD)
    second = make_dealer(code="D002", name="Northern Light Supply", territory=north, manager=manager)
    foreign = make_dealer(code="D003", name="Western Wind Retail", territory=north, manager=other_manager)
    owner = make_user(
        UserRole.DEALER,
        email="owner@example.test",
        name="Owner One",
        dealer=own,
        dealer_role=DealerRole.OWNER,
    )
    staff = make_user(
        UserRole.DEALER,
        email="staff@example.test",
        name="Staff One",
        dealer=own,
        dealer_role=DealerRole.STAFF,
    )
    foreign_owner = make_user(
        UserRole.DEALER,
        email="owner3@example.test",
        name="Owner Three",
        dealer=foreign,
        dealer_role=DealerRole.OWNER,
    )
    former = make_user(
        UserRole.DEALER, email="former@example.test", name="Former Staff", dealer=own, dealer_role=DealerRole.STAFF
    )
    former.active = False
    own_trainee = make_trainee(own, "Own Trainee")
    foreign_trainee = make_trainee(foreign, "Foreign Trainee")
    far_ahead = make_period("2030-Q1", date(2030, 1, 1), date(2030, 3, 31))
    ended = make_period("2019-Q4", date(2019, 10, 1), date(2019, 12, 31))
    code, start, end = quarter_of(company_today())
    current = make_period(code, start, end)
    previous = make_period(*quarter_of(start - timedelta(days=1)), PeriodStatus.CLOSED)
    people = {
        "dealer_owner": owner,
        "dealer_staff": staff,
        "manager": manager,
        "senior_manager": senior,
        "mediator": mediator,
        "admin": admin,
        "inspector": inspector,
        "other_manager": other_manager,
    }
    notifications = {}
    for role, someone in people.items():
        notification = Notification(user_id=someone.id, kind="account_changed", params={}, link="/account")
        db.session.add(notification)
        db.session.flush()
        notifications[role] = notification.id
    own_document = make_evidence(own, owner, "licence.pdf")
    foreign_document = make_evidence(foreign, foreign_owner, "their licence.pdf")
    return Channel(
        emails={
            **{role: someone.email for role, someone in people.items()},
            "foreign_owner": foreign_owner.email,
            "two_factor_manager": two_factor_manager.email,
        },
        own_dealer=own.code,
        second_dealer=second.code,
        foreign_dealer=foreign.code,
        open_period=far_ahead.code,
        current_period=current.code,
        previous_period=previous.code,
        next_period_start=(end + timedelta(days=1)).isoformat(),
        ended_period=ended.code,
        people=People(
            owner=owner.id,
            staff=staff.id,
            former_staff=former.id,
            foreign_owner=foreign_owner.id,
            manager=manager.id,
            other_manager=other_manager.id,
            senior_manager=senior.id,
            mediator=mediator.id,
            admin=admin.id,
            inspector=inspector.id,
            two_factor_manager=two_factor_manager.id,
            own_trainee=own_trainee.id,
            foreign_trainee=foreign_trainee.id,
            territory=east.id,
            own_dealer_id=own.id,
            own_document=own_document.id,
            foreign_document=foreign_document.id,
        ),
        notifications=notifications,
        tokens={
            "reset": make_token(staff, "reset"),
            "invitation": make_token(staff, "invitation"),
            "email_change": make_email_change_token(two_factor_manager, "secure-manager.new@example.test"),
            **two_factor_tokens,
            **_integration_client(admin),
        },
    )


def _integration_client(admin: User) -> dict[str, str]:
    """An ERP's client of the API, reading statements: its id (for the admin's page) and its token; a webhook
    subscription of it with one delivery given up (to send again)."""
    client, token = api_clients.create_client(admin, "World ERP", ["statements:read", "events:read"], [])
    subscription, _secret = api_webhooks.create_subscription(
        admin, client, "https://erp.example.test/hooks/portal", [EventKind.DEALER_CHANGED.value]
    )
    event = OutboxEvent(kind=EventKind.DEALER_CHANGED.value, subject_type="dealer", subject_id=1, payload={})
    db.session.add(event)
    db.session.flush()
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event_id=event.id,
        status=DeliveryStatus.FAILED,
        attempts=8,
        response_code=503,
        error="HTTP 503",
    )
    subscription.fanned_out_to = event.id
    db.session.add(delivery)
    db.session.flush()
    return {
        "api_client": str(client.id),
        "api_token": token,
        "api_subscription": str(subscription.id),
        "api_delivery": str(delivery.id),
    }


def make_world() -> World:
    """The channel and every area's records, for code that needs all of them outside a test's fixtures."""
    channel = make_channel()
    return world_of(
        channel,
        make_rebate_records(channel),
        make_training_records(channel),
        make_claim_records(channel),
        make_dispute_records(channel),
        make_referee_records(channel),
        make_campaign_records(channel),
        make_news_records(channel),
        make_plan_records(channel),
    )


def world_of(
    channel: Channel,
    rebates: RebateRecords,
    training: TrainingRecords,
    claims: ClaimRecords,
    disputes: DisputeRecords,
    referee: RefereeRecords,
    campaigns: CampaignRecords,
    news: NewsRecords,
    plans: PlanRecords,
) -> World:
    fields = {name: getattr(channel, name) for name in Channel.__dataclass_fields__}
    return World(
        **fields,
        rebates=rebates,
        training=training,
        claims=claims,
        disputes=disputes,
        referee=referee,
        campaigns=campaigns,
        news=news,
        plans=plans,
    )


def make_price_list(
    version: int, effective_from: date, prices: dict[str, tuple[int, int]], **options: Any
) -> PriceList:
    """A price list as a keeper would have made it: `prices` by SKU (or (SKU, territory id)) -> (list, floor)."""
    status = options.pop("status", PriceListStatus.PUBLISHED)
    price_list = PriceList(
        version=version, name=options.pop("name", f"Prices v{version}"), effective_from=effective_from, status=status
    )
    db.session.add(price_list)
    db.session.flush()
    for key, (list_price, floor_price) in prices.items():
        sku, territory_id = key if isinstance(key, tuple) else (key, None)
        db.session.add(
            PriceListItem(
                price_list_id=price_list.id,
                sku=sku,
                territory_id=territory_id,
                territory_key=territory_id or 0,
                list_price=list_price,
                floor_price=floor_price,
            )
        )
    db.session.flush()
    return price_list


def make_products(*skus: str) -> None:
    for sku in skus:
        db.session.add(Product(sku=sku, name_en=f"Product {sku}", name_zh=f"产品 {sku}", product_line="Compressors"))
    db.session.flush()


def make_suspicion(dealer: Dealer, period: Period, unit_price: int, floor_price: int) -> Suspicion:
    """An open below-the-floor suspicion with one sales line as its evidence (as detection leaves it). The line is
    one of the dealer's sales in the period when it has one (its SKU and price set), so no figure elsewhere moves."""
    line = db.session.execute(
        select(SalesLine).where(SalesLine.dealer_id == dealer.id, SalesLine.period_id == period.id).limit(1)
    ).scalar_one_or_none()
    if line is None:
        line = SalesLine(
            dealer_id=dealer.id,
            period_id=period.id,
            booked_period_id=period.id,
            sold_on=period.starts_on,
            amount=unit_price * 2,
            units=2,
            product_line="Compressors",
            invoice_ref=f"SUS-{dealer.code}-{next(_sequence)}",
        )
        db.session.add(line)
    line.sku, line.unit_price, line.units = "AC-1200", unit_price, 2
    db.session.flush()
    stake = (floor_price - unit_price) * 2
    suspicion = Suspicion(
        dealer_id=dealer.id,
        rule=SuspicionRule.BELOW_FLOOR,
        week_starts_on=period.starts_on - timedelta(days=period.starts_on.weekday()),
        line_count=1,
        stake=stake,
        sales_amount=line.amount,
        worst_gap_basis_points=(floor_price - unit_price) * 10_000 // floor_price,
        last_sold_on=line.sold_on,
    )
    db.session.add(suspicion)
    db.session.flush()
    db.session.add(
        SuspicionLine(
            suspicion_id=suspicion.id,
            sales_line_id=line.id,
            rule=SuspicionRule.BELOW_FLOOR,
            floor_price=floor_price,
            stake=stake,
            gap_basis_points=suspicion.worst_gap_basis_points,
        )
    )
    db.session.flush()
    return suspicion


def make_referee_records(channel: Channel) -> RefereeRecords:
    current = period(channel.current_period)
    make_products("AC-1200", "AC-900")
    published = make_price_list(1, current.starts_on, {"AC-1200": (600_000, 500_000), "AC-900": (400_000, 350_000)})
    draft = make_price_list(2, current.ends_on, {"AC-1200": (620_000, 520_000)}, status=PriceListStatus.DRAFT)
    east = db.session.execute(select(Territory).where(Territory.code == "EAST")).scalar_one()
    db.session.add_all(TerritoryRegion(territory_id=east.id, region_code=code) for code in ("440000", "310000"))
    own = dealer_of(channel.own_dealer)
    foreign = dealer_of(channel.foreign_dealer)
    db.session.add(
        CodedShipment(
            code="QR-0001-AC1200", case_code="CASE-0001", sku="AC-1200", dealer_id=own.id, shipped_on=current.starts_on
        )
    )
    return RefereeRecords(
        price_list=published.id,
        draft_list=draft.id,
        shipped_code="QR-0001-AC1200",
        suspicion=make_suspicion(own, current, 450_000, 500_000).id,
        foreign_suspicion=make_suspicion(foreign, current, 400_000, 500_000).id,
        referee_territory=east.code,
    )


def make_campaign(**values: Any) -> Campaign:
    """A campaign as a runner would have drafted it: this quarter, every dealer, 50.00 for each AC-1200 sold,
    a budget of 100,000.00; `values` change any of it (a status other than draft is set as it is)."""
    _code, first, last = this_quarter()
    fields: dict[str, Any] = {
        "name_en": "Summer push",
        "name_zh": "夏季冲量",
        "audience_kind": AudienceKind.ALL,
        "audience": [],
        "starts_on": first,
        "ends_on": last,
        "skus": ["AC-1200"],
        "product_lines": [],
        "currency": "CNY",
        "measure": Measure.UNITS,
        "reward_kind": RewardKind.PER_UNIT,
        "rate": 5_000,
        "threshold": 0,
        "cap": None,
        "budget": 10_000_000,
    }
    fields.update(values)
    campaign = Campaign(**fields)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def make_announcement(author: User, **values: Any) -> Announcement:
    """An announcement as a writer would have made it: for every dealer, in both languages; `values` change any of
    it (a published one gets its time, a policy its version)."""
    fields: dict[str, Any] = {
        "title_en": "New claim rules",
        "title_zh": "新的报销规则",
        "body_en": "From **next month**, claims need an invoice.",
        "body_zh": "自**下月**起，报销须附发票。",
        "audience_kind": AudienceKind.ALL,
        "audience": [],
        "created_by_id": author.id,
    }
    fields.update(values)
    if fields.get("status") is AnnouncementStatus.PUBLISHED:
        fields.setdefault("published_at", utcnow())
        fields.setdefault("published_by_id", author.id)
    announcement = Announcement(**fields)
    db.session.add(announcement)
    db.session.flush()
    return announcement


def make_news_records(channel: Channel) -> NewsRecords:
    admin, manager = user(channel, "admin"), user(channel, "manager")
    published = AnnouncementStatus.PUBLISHED
    notice = make_announcement(admin, status=published, must_acknowledge=True)
    draft = make_announcement(admin, title_en="Draft news")
    foreign = make_announcement(
        admin,
        title_en="For D003",
        status=published,
        audience_kind=AudienceKind.DEALERS,
        audience=[channel.foreign_dealer],
    )
    own = dealer_of(channel.own_dealer)
    return NewsRecords(
        notice=notice.id,
        news_draft=draft.id,
        manager_draft=make_announcement(manager, title_en="Portfolio news", manager_id=manager.id).id,
        foreign_notice=foreign.id,
        policy=make_announcement(
            admin,
            title_en="Penalty schedule",
            kind=AnnouncementKind.POLICY,
            policy_key="penalty-schedule",
            version=1,
            status=published,
        ).id,
        notice_attachment=make_evidence(own, admin, "Schedule.pdf", "announcement", notice.id).id,
        foreign_attachment=make_evidence(own, admin, "D003 terms.pdf", "announcement", foreign.id).id,
        draft_attachment=make_evidence(own, admin, "Draft terms.pdf", "announcement", draft.id).id,
    )


def make_plan(dealer_code: str, period_code: str, by: User, **values: Any) -> BusinessPlan:
    """A plan as the service leaves it once started: version 1, empty, waiting for both sides."""
    plan = BusinessPlan(
        dealer_id=dealer_of(dealer_code).id, period_id=period(period_code).id, created_by_id=by.id, **values
    )
    db.session.add(plan)
    db.session.flush()
    db.session.add(PlanVersion(plan_id=plan.id, number=plan.version, changed_by_id=by.id))
    db.session.flush()
    return plan


def make_goal(plan: BusinessPlan, kind: GoalKind = GoalKind.NEW_OUTLETS, **values: Any) -> PlanGoal:
    goal = PlanGoal(plan_id=plan.id, kind=kind, wanted=values.pop("wanted", None if kind is GoalKind.SALES else 3))
    for name, value in values.items():
        setattr(goal, name, value)
    db.session.add(goal)
    db.session.flush()
    return goal


def make_action(plan: BusinessPlan, **values: Any) -> PlanAction:
    action = PlanAction(
        plan_id=plan.id,
        what=values.pop("what", "Train the shop staff on the new range"),
        side=values.pop("side", Side.DEALER),
        due_on=values.pop("due_on", today() - timedelta(days=1)),
        **values,
    )
    db.session.add(action)
    db.session.flush()
    return action


def make_visit(dealer_code: str, by: User, **values: Any) -> Visit:
    visit = Visit(
        dealer_id=dealer_of(dealer_code).id,
        written_by_id=by.id,
        visited_on=values.pop("visited_on", today() - timedelta(days=2)),
        notes=values.pop("notes", "Walked the shop floor; the display needs the new posters."),
        **values,
    )
    db.session.add(visit)
    db.session.flush()
    return visit


def make_plan_records(channel: Channel) -> PlanRecords:
    manager, other = user(channel, "manager"), user(channel, "other_manager")
    own = make_plan(channel.own_dealer, channel.current_period, manager)
    make_goal(own, GoalKind.SALES)
    own_goal = make_goal(own)
    foreign = make_plan(channel.foreign_dealer, channel.current_period, other)
    return PlanRecords(
        own_plan=own.id,
        own_goal=own_goal.id,
        own_action=make_action(own).id,
        ended_plan=make_plan(channel.own_dealer, channel.ended_period, manager, status=PlanStatus.AGREED).id,
        foreign_plan=foreign.id,
        foreign_goal=make_goal(foreign).id,
        foreign_action=make_action(foreign).id,
        spare_plan=make_plan(channel.own_dealer, channel.open_period, manager).id,
        reviewed_plan=make_plan(
            channel.own_dealer,
            channel.previous_period,
            manager,
            status=PlanStatus.REVIEWED,
            review_notes="A good quarter.",
            reviewed_by_id=manager.id,
            reviewed_at=utcnow(),
        ).id,
        own_visit=make_visit(channel.own_dealer, manager, shared=True).id,
        private_visit=make_visit(channel.own_dealer, manager, notes="Private: the owner may sell the business.").id,
        foreign_visit=make_visit(channel.foreign_dealer, other, shared=True).id,
    )


def make_campaign_records(channel: Channel) -> CampaignRecords:
    admin = user(channel, "admin")
    ended_on = today() - timedelta(days=1)
    ended = {"starts_on": ended_on - timedelta(days=20), "ends_on": ended_on, "status": CampaignStatus.LIVE}
    settled = make_campaign(name_en="Settled push", **{**ended, "status": CampaignStatus.SETTLED}, settled_total=60_000)
    db.session.add(
        CampaignResult(
            campaign_id=settled.id,
            dealer_id=dealer_of(channel.own_dealer).id,
            units=12,
            amount=5_400_000,
            line_count=2,
            earned=60_000,
            reward=60_000,
        )
    )
    return CampaignRecords(
        draft_campaign=make_campaign().id,
        live_campaign=make_campaign(name_en="Autumn push", status=CampaignStatus.LIVE).id,
        ended_campaign=make_campaign(name_en="Ended push", **ended).id,
        requested_campaign=make_campaign(
            name_en="Settling push",
            **{**ended, "status": CampaignStatus.SETTLEMENT_REQUESTED},
            settlement_requested_by_id=admin.id,
        ).id,
        settled_campaign=settled.id,
    )


def user(channel: Channel, role: str) -> User:
    return db.session.execute(select(User).where(User.email == channel.emails[role])).scalar_one()


def period(code: str) -> Period:
    return db.session.execute(select(Period).where(Period.code == code)).scalar_one()


def set_claim_budgets(channel: Channel, amount: int) -> Channel:
    """The own and the foreign dealer's promotion budgets this quarter."""
    admin, current = user(channel, "admin"), period(channel.current_period)
    for code in (channel.own_dealer, channel.foreign_dealer):
        dealer = db.session.execute(select(Dealer).where(Dealer.code == code)).scalar_one()
        budgets.set_allocation(admin, dealer, current, amount)
    return channel


def activity(needs_pre_approval: bool = False) -> ActivityType:
    kind = ActivityType(
        code=f"kind-{needs_pre_approval}", name_en="Display", name_zh="陈列", needs_pre_approval=needs_pre_approval
    )
    db.session.add(kind)
    db.session.flush()
    return kind


def draft(
    channel: Channel,
    amount: int = 123_456,
    invoice: str = "INV-1",
    role: str = "dealer_owner",
    *,
    vendor: str = "Print Co",
    tax_id: str = "91310000X",
) -> Claim:
    current = period(channel.current_period)
    end = activity_day()
    start = max(current.starts_on, end - timedelta(days=1))
    data = services.ClaimInput(
        activity_type_id=activity().id
        if not db.session.execute(select(ActivityType)).first()
        else db.session.execute(select(ActivityType.id)).scalars().first(),
        title="Shop window display",
        description="Two weeks in the window.",
        activity_start=start,
        activity_end=end,
        vendor=vendor,
        vendor_tax_id=tax_id,
        invoice_number=invoice,
        amount=amount,
    )
    return services.create_draft(user(channel, role), current, data)


def attach(channel: Channel, claim: Claim, data: bytes | None = None, role: str = "dealer_owner") -> None:
    """A file on the claim: by default an invoice PDF of its own (its text names a number no other file has)."""
    content = data or pdf(text=f"Invoice {next(_sequence)}")
    add_evidence(user(channel, role), services.CLAIM_OWNER, claim.id, io.BytesIO(content), "invoice.pdf")


def all_flags(claim: Claim) -> list[str]:
    """Every flag a claim carries, as a reviewer ticks them on the review page before approving."""
    return [found.flag.value for found in services.flags_of(claim)]
