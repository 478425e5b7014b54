"""Every page runs the same number of SQL statements with ten times the data."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from portal.accounts.models import DealerRole, User, UserRole
from portal.api.models import WebhookDelivery, WebhookSubscription
from portal.audit.services import audit_change
from portal.campaigns.models import CampaignResult
from portal.campaigns.rules import CampaignStatus
from portal.claims.models import (
    ActivityType,
    Claim,
    ClaimEvent,
    ClaimFlag,
    FundAllocation,
    FundRequest,
    FundRequestStatus,
)
from portal.claims.rules import ClaimStatus, Flag
from portal.dates import company_today
from portal.dealers.audiences import AudienceKind
from portal.dealers.models import Acknowledgement, Dealer, DealerEvent, DealerEventKind, Period, PeriodStatus, Territory
from portal.disputes.models import Dispute, DisputeMessage, Violation
from portal.disputes.rules import DisputeCategory, DisputeStatus, ViolationKind, ViolationStatus
from portal.evidence.fingerprints import as_signed, bands_of
from portal.evidence.models import Evidence, EvidencePicture
from portal.extensions import db
from portal.jobs import JobFailure
from portal.news.rules import AnnouncementKind, AnnouncementStatus
from portal.notifications.models import Notification, OutboxEmail, OutboxStatus
from portal.outbox import OutboxEvent
from portal.plans.models import BusinessPlan, PlanVersion
from portal.plans.rules import GoalKind
from portal.rebates.models import (
    Adjustment,
    AdjustmentKind,
    ImportStatus,
    LedgerEntry,
    LedgerKind,
    SalesImport,
    SalesLine,
    Target,
    TargetChange,
)
from portal.rebates.services import recompute_statements
from portal.referee.models import (
    CodedShipment,
    PriceList,
    PriceListItem,
    Product,
    Sighting,
    Suspicion,
    SuspicionLine,
    SuspicionSighting,
    TerritoryRegion,
)
from portal.referee.rules import SightingOutcome, SuspicionRule, SuspicionStatus
from portal.regions import regions
from portal.training.models import Course, CourseSession
from portal.types import utcnow
from tests.factories import (
    World,
    make_action,
    make_announcement,
    make_campaign,
    make_course,
    make_dealer,
    make_enrollment,
    make_evidence,
    make_goal,
    make_period,
    make_plan,
    make_session,
    make_territory,
    make_trainee,
    make_user,
    make_visit,
    today,
)
from tests.helpers import count_queries, log_in

PAGES = [
    ("dealer_owner", "/dealer/"),
    ("two_factor_manager", "/account/two-factor"),
    ("two_factor_manager", "/account"),
    ("manager", "/account/two-factor"),
    ("admin", "/admin/users/{two_factor_manager}/edit"),
    ("dealer_staff", "/account"),
    ("dealer_staff", "/account/email/confirm/{email_change}"),
    ("manager", "/console/"),
    ("manager", "/console/?q=X&page=2"),
    ("manager", "/console/dealers/D001"),
    ("senior_manager", "/console/"),
    ("mediator", "/mediation/"),
    ("admin", "/admin/"),
    ("manager", "/console/?sort=tier&dir=desc&tier=silver&q=X"),
    ("admin", "/console/dealers/D001"),
    ("dealer_owner", "/dealer/people"),
    ("dealer_staff", "/dealer/people"),
    ("dealer_owner", "/dealer/people/trainees/{own_trainee}/edit"),
    ("senior_manager", "/console/portfolios"),
    ("admin", "/admin/users"),
    ("admin", "/admin/users?q=User&role=dealer&page=2"),
    ("admin", "/admin/users/new"),
    ("admin", "/admin/users/{staff}/edit"),
    ("admin", "/admin/dealers/new"),
    ("admin", "/admin/dealers/D001/edit"),
    ("admin", "/admin/territories"),
    ("admin", "/admin/territories/{territory}/edit"),
    ("admin", "/admin/periods"),
    ("admin", "/audit/"),
    ("admin", "/audit/?subject_type=dealer&actor=admin&page=2"),
    ("senior_manager", "/audit/"),
    ("dealer_owner", "/notifications/"),
    ("manager", "/notifications/?page=2"),
    ("dealer_staff", "/notifications/bell"),
    ("mediator", "/notifications/preferences"),
    ("admin", "/admin/jobs"),
    ("dealer_staff", "/password/forgot"),
    ("dealer_owner", "/dealer/documents"),
    ("dealer_staff", "/evidence/{own_document}"),
    ("manager", "/evidence/{own_document}/preview"),
    ("dealer_staff", "/dealer/statements"),
    ("dealer_owner", "/dealer/statements/{current_period}"),
    ("dealer_owner", "/dealer/statements/{current_period}?extra=50000"),
    ("manager", "/console/dealers/D001/statements/{current_period}"),
    ("admin", "/console/dealers/D001/statements/{current_period}"),
    ("manager", "/console/performance"),
    ("manager", "/console/performance?watch=behind_pace&sort=rebate&dir=asc&q=X"),
    ("senior_manager", "/console/performance?watch=near_tier&page=2"),
    ("manager", "/console/targets"),
    ("manager", "/console/sales-imports"),
    ("manager", "/console/sales-imports/{own_import}"),
    ("manager", "/console/sales-imports/{conflict_import}"),
    ("manager", "/console/sales-imports/{rejected_import}"),
    ("admin", "/admin/programs"),
    ("admin", "/admin/programs/{program}/edit"),
    ("admin", "/admin/statements?period={previous_period}"),
    ("dealer_owner", "/dealer/account"),
    ("senior_manager", "/console/target-changes"),
    ("manager", "/console/target-changes?show=all"),
    ("manager", "/console/dealers/D001/account"),
    ("dealer_owner", "/training/"),
    ("dealer_staff", "/training/?category=technical&page=2"),
    ("dealer_owner", "/training/sessions/{upcoming_session}"),
    ("manager", "/training/sessions/{upcoming_session}"),
    ("dealer_owner", "/dealer/training"),
    ("dealer_staff", "/training/certificates/{own_certificate}"),
    ("manager", "/console/training"),
    ("manager", "/console/training?when=past"),
    ("manager", "/console/training/sessions/{began_session}"),
    ("admin", "/admin/courses"),
    ("admin", "/admin/courses/{course}/edit"),
    ("admin", "/admin/training/sessions/{upcoming_session}/edit"),
    ("dealer_staff", "/verify?number={own_certificate}"),
    ("dealer_owner", "/claims/"),
    ("dealer_staff", "/claims/?status=submitted&page=2"),
    ("dealer_owner", "/claims/new"),
    ("dealer_owner", "/claims/quick"),
    ("admin", "/admin/integrations"),
    ("admin", "/admin/integrations/{api_client}/webhooks"),
    ("dealer_owner", "/api/docs"),
    ("dealer_staff", "/claims/quick/check?amount=100.00&invoice_number=INV-1&activity_type_id=1"),
    ("dealer_owner", "/claims/{own_claim}"),
    ("dealer_owner", "/claims/{own_draft}"),
    ("dealer_owner", "/claims/{own_draft}/edit"),
    ("dealer_owner", "/claims/pre-approvals"),
    ("manager", "/console/claims"),
    ("manager", "/console/claims?status=all&flag=round_amount&page=2"),
    ("senior_manager", "/console/claims?dealer=D001&period={current_period}"),
    ("manager", "/console/claims/{own_claim}"),
    ("manager", "/console/pre-approvals"),
    ("manager", "/console/claims/report"),
    ("admin", "/admin/budgets"),
    ("admin", "/admin/claims/payments"),
    ("admin", "/admin/claims/payments.csv"),
    ("dealer_owner", "/dealer/violations"),
    ("dealer_owner", "/dealer/violations/{own_violation}"),
    ("manager", "/console/violations"),
    ("senior_manager", "/console/violations?status=all&page=2"),
    ("manager", "/console/violations/{proposed_violation}"),
    ("manager", "/console/dealers/D001/violations/new"),
    ("dealer_staff", "/disputes/directory?q=D"),
    ("dealer_owner", "/disputes/new"),
    ("dealer_owner", "/disputes/{cross_dispute}"),
    ("manager", "/disputes/{cross_dispute}"),
    ("mediator", "/disputes/{cross_dispute}"),
    ("mediator", "/mediation/"),
    ("admin", "/mediation/?queue=overdue&page=2"),
    ("manager", "/referee/suspicions"),
    ("senior_manager", "/referee/suspicions?page=2"),
    ("manager", "/referee/suspicions/{suspicion}"),
    ("admin", "/referee/price-lists"),
    ("admin", "/referee/price-lists/{price_list}"),
    ("manager", "/referee/price-lists/{draft_list}"),
    ("senior_manager", "/referee/products"),
    ("manager", "/referee/territories"),
    ("admin", "/referee/territories/{referee_territory}"),
    ("dealer_owner", "/referee/prices"),
    ("manager", "/referee/shipments"),
    ("inspector", "/referee/field-check"),
    ("dealer_owner", "/referee/field-check"),
    ("inspector", "/referee/field-check/regions?region=朝阳"),
    ("admin", "/campaigns/"),
    ("manager", "/campaigns/{live_campaign}"),
    ("senior_manager", "/campaigns/{requested_campaign}"),
    ("admin", "/campaigns/{settled_campaign}"),
    ("admin", "/campaigns/{draft_campaign}/edit"),
    ("senior_manager", "/campaigns/new"),
    ("dealer_owner", "/campaigns/mine"),
    ("dealer_staff", "/campaigns/mine"),
    ("dealer_owner", "/news/"),
    ("dealer_staff", "/news/{notice}"),
    ("dealer_owner", "/news/{policy}"),
    ("dealer_owner", "/news/policies"),
    ("admin", "/news/manage/"),
    ("manager", "/news/manage/"),
    ("admin", "/news/manage/{notice}"),
    ("manager", "/news/manage/{manager_draft}/edit"),
    ("senior_manager", "/news/manage/new"),
    ("dealer_owner", "/plans/"),
    ("manager", "/plans/"),
    ("dealer_owner", "/plans/{own_plan}"),
    ("manager", "/plans/{own_plan}"),
    ("admin", "/plans/{own_plan}/versions"),
    ("manager", "/plans/visits/"),
    ("dealer_staff", "/plans/visits/"),
    ("manager", "/plans/visits/new"),
    ("manager", "/plans/visits/{own_visit}/edit"),
]


# The review page shows the claim, its flags (and the related claims the reviewer may open), files, budget, the
# dealer's history, the timeline and the next claim, and the matching evidence side by side (our files with their
# pictures, the same files or documents elsewhere, the near pictures by band, which of those claims count: four);
# the dealer page adds violations and disputes to its profile, people, trainees, documents, statements and
# timeline: one query each, still flat.
# The dealer page: ten panels, and for admins the tier history and the days a tier change may start from.
# The start pages carry the "today" inbox: every area's counts in one statement (claims, disputes, appeals, price
# lists, plans, suspicions, imports, the watch list, settlements, the admin's failed jobs and people without a second
# factor), besides the lines that need rows: the dealer's certificates to renew and the next sessions of their
# courses (two queries for all of them), the announcements to acknowledge (one), the budget and the next tier
# (shared with the home's own sections). The review page also finds the previous claim in the queue, and for a
# manager on PostgreSQL reads the portfolio's dealers once (its queue names them by id). The dealer's home adds the
# last eight quarters' attainment (one). Campaigns add two to the dealer's home (its running campaigns, its counted
# sales in all of them: shared by the section and the inbox line).
# A plan's page measures its goals from four areas' figures: sales and target, new districts, certificates,
# pre-approvals and claims (five queries for any number of goals), besides the plan, its goals, actions, version and
# the lists its goal form offers.
RICHER_PAGES = {
    "/plans/{own_plan}": 14,
    "/console/claims/{own_claim}": 17,
    "/console/dealers/D001": 14,
    "/dealer/": 15,
    "/admin/": 8,
    "/console/": 7,
}

_ids = itertools.count()


def next_id() -> int:
    return next(_ids)


def _grow_channel(world: World, factor: int, first_year: int) -> None:
    """Dealers, people and periods in proportion to `factor`, in the same portfolios as the test's users."""
    manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
    own = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
    territory = make_territory()
    current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
    for _ in range(3 * factor):
        dealer = make_dealer(territory=territory, manager=manager)
        make_user(UserRole.DEALER, dealer=dealer, dealer_role=DealerRole.OWNER)
        db.session.add(
            TargetChange(
                dealer_id=dealer.id,
                period_id=current.id,
                new_amount=1_000_000,
                reason="Grown",
                requested_by_id=manager.id,
            )
        )
    for _ in range(2 * factor):
        make_user(UserRole.DEALER, dealer=own.dealer, dealer_role=DealerRole.STAFF)
    for year in range(first_year, first_year + factor):
        grown = make_period(f"{year}-Q1", date(year, 1, 1), date(year, 3, 31), PeriodStatus.CLOSED)
        for kind, amount in ((LedgerKind.REBATE, 150_000), (LedgerKind.PENALTY, -50_000)):
            db.session.add(
                LedgerEntry(
                    dealer_id=own.dealer_id,
                    period_id=grown.id,
                    kind=kind,
                    amount=amount,
                    currency="CNY",
                    booked_on=company_today(),
                    source=f"grown:{next_id()}",
                )
            )
    admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
    for _ in range(factor):
        make_territory()
        make_trainee(own.dealer)
        make_user(UserRole.MANAGER)
        db.session.add(DealerEvent(dealer_id=own.dealer_id, kind=DealerEventKind.PROFILE_UPDATED, actor_id=admin.id))
    for person in db.session.execute(select(User)).scalars().all():
        for _ in range(3):
            db.session.add(Notification(user_id=person.id, kind="account_changed", params={}, link="/account"))
    hooks = WebhookSubscription(
        client_id=int(world.tokens["api_client"]),
        url=f"https://erp.example.test/{next_id()}",
        kinds=["claim.paid"],
        secret="whsec_x",
    )
    db.session.add(hooks)
    db.session.flush()
    for _ in range(factor):
        event = OutboxEvent(kind="claim.paid", subject_type="claim", subject_id=next_id(), payload={})
        db.session.add(event)
        db.session.flush()
        db.session.add(WebhookDelivery(subscription_id=hooks.id, event_id=event.id, attempts=1, response_code=500))
    for _ in range(factor):
        db.session.add(JobFailure(task_name="deliver_outbox", task_id="x", error="RuntimeError: boom", retries_left=0))
        db.session.add(
            OutboxEmail(
                to_address="x@example.test",
                subject="s",
                text_body="t",
                html_body="h",
                message_id=f"<{next_id()}@x>",
                status=OutboxStatus.FAILED,
            )
        )
    for _ in range(2 * factor):
        db.session.add(
            Evidence(
                owner_type="dealer_document",
                owner_id=own.dealer_id,
                original_name="scan.pdf",
                storage_key=f"dealer_document/{next_id():032x}",
                content_type="application/pdf",
                size=10,
                sha256="0" * 64,
                uploaded_by_id=own.id,
            )
        )
    for index in range(5 * factor):
        subject = (own, own.dealer, territory)[index % 3]
        audit_change("test.event", actor=admin, subject=subject, before={"name": "a"}, after={"name": "b"})
    _grow_rebates(world, factor, manager, admin)
    _grow_training(world, factor, own)
    _grow_claims(world, factor, own)
    _grow_disputes(world, factor, own)
    _grow_referee(world, factor, own)
    _grow_campaigns(world, factor, own)
    _grow_news(world, factor, own)
    _grow_plans(world, factor, own)


def _grow_plans(world: World, factor: int, owner: User) -> None:
    """Plans for other dealers, goals of every kind and actions (some overdue, some done) on the own plan with
    accepted versions behind them, and visits, private and shared, to the own dealer and others."""
    manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
    own = db.session.get(BusinessPlan, world.plans.own_plan)
    assert own is not None
    course = db.session.execute(select(Course).limit(1)).scalar_one()
    kind = db.session.execute(select(ActivityType).limit(1)).scalar_one()
    others = db.session.execute(
        select(Dealer.code)
        .where(
            Dealer.manager_id == manager.id,
            Dealer.id.not_in(select(BusinessPlan.dealer_id).where(BusinessPlan.period_id == own.period_id)),
        )
        .limit(2 * factor)
    ).scalars()
    for code in others:
        other = make_plan(code, world.current_period, manager)
        make_action(other)
    for index in range(factor):
        make_goal(own, GoalKind.NEW_OUTLETS, wanted=index + 1)
        make_goal(own, GoalKind.CERTIFIED, course_id=course.id)
        make_goal(own, GoalKind.PROMOTION, wanted=100_000, activity_type_id=kind.id)
        make_action(own, due_on=today() + timedelta(days=index))
        make_action(own, done_on=today())
        db.session.add(
            PlanVersion(
                plan_id=own.id,
                number=100 + next_id(),
                goals=[{"ref": f"g{index}", "kind": "new_outlets", "wanted": 2, "course_id": None,
                        "activity_type_id": None, "note": ""}],
                actions=[{"ref": f"a{index}", "what": "Call", "side": "dealer", "who": "", "due_on": "2030-01-01"}],
                dealer_accepted_by_id=owner.id,
                dealer_accepted_at=utcnow(),
            )
        )  # fmt: skip
        make_visit(world.own_dealer, manager, shared=index % 2 == 0)
        make_visit(world.second_dealer, manager)


def _grow_news(world: World, factor: int, owner: User) -> None:
    """Announcements of every kind and audience, policies in versions, the own dealer's acknowledgements and
    every dealer's acknowledgement of the notice the report counts."""
    admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
    manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
    published = AnnouncementStatus.PUBLISHED
    for index in range(factor):
        made = [
            make_announcement(admin, status=published, must_acknowledge=True, pinned=index % 2 == 0),
            make_announcement(admin, status=published, audience_kind=AudienceKind.TIERS, audience=["gold"]),
            make_announcement(manager, status=published, manager_id=manager.id),
            make_announcement(admin),
            make_announcement(
                admin, status=published, kind=AnnouncementKind.POLICY, policy_key="grown", version=next_id() + 10
            ),
        ]
        make_evidence(owner.dealer, admin, f"Sheet {index}.pdf", "announcement", world.news.notice)
        db.session.add(
            Acknowledgement(
                subject_type="announcement",
                subject_id=made[0].id,
                dealer_id=owner.dealer_id,
                acknowledged_by_id=owner.id,
            )
        )
    acknowledged = select(Acknowledgement.dealer_id).where(Acknowledgement.subject_id == world.news.notice)
    dealers = (
        db.session.execute(select(Dealer.id).where(Dealer.id != owner.dealer_id, Dealer.id.not_in(acknowledged)))
        .scalars()
        .all()
    )
    db.session.add_all(
        Acknowledgement(
            subject_type="announcement", subject_id=world.news.notice, dealer_id=dealer_id, acknowledged_by_id=admin.id
        )
        for dealer_id in dealers[: 2 * factor]
    )


def _grow_campaigns(world: World, factor: int, owner: User) -> None:
    """Campaigns in every status for every dealer, the own dealer's sales of their products, settled ones with
    each dealer's result."""
    current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
    dealers = list(db.session.execute(select(Dealer.id)).scalars())
    for status in CampaignStatus:
        for _ in range(factor):
            campaign = make_campaign(name_en=f"C{next_id()}", skus=[f"S-{next_id()}", "AC-1200"], status=status)
            if status is CampaignStatus.SETTLED:
                db.session.add_all(
                    CampaignResult(campaign_id=campaign.id, dealer_id=dealer_id, units=3, earned=150, reward=150)
                    for dealer_id in dealers
                )
    db.session.add_all(
        SalesLine(
            dealer_id=dealer_id,
            period_id=current.id,
            booked_period_id=current.id,
            sold_on=current.starts_on + timedelta(days=index % 20),
            amount=450_000,
            units=1,
            sku="AC-1200",
            invoice_ref=f"CAMPAIGN-{next_id()}",
        )
        for index in range(factor)
        for dealer_id in (owner.dealer_id, *dealers[:5])
    )


def _grow_referee(world: World, factor: int, owner: User) -> None:
    """Products and prices, regions, dealers that have not acknowledged, and suspicions of the own dealer with
    their evidence lines (more on the one the page shows)."""
    current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
    skus = [f"G-{next_id()}" for _ in range(5 * factor)]
    db.session.add_all(Product(sku=sku, name_en=sku, name_zh=sku) for sku in skus)
    for list_id in (world.referee.price_list, world.referee.draft_list):
        db.session.add_all(
            PriceListItem(price_list_id=list_id, sku=sku, list_price=2_000, floor_price=1_000) for sku in skus
        )
    territory = db.session.execute(
        select(Territory).where(Territory.code == world.referee.referee_territory)
    ).scalar_one()
    held = set(
        db.session.execute(select(TerritoryRegion.region_code).where(TerritoryRegion.territory_id == territory.id))
        .scalars()
        .all()
    )
    unused = [code for code in sorted(regions()) if code not in held][: 3 * factor]
    db.session.add_all(TerritoryRegion(territory_id=territory.id, region_code=code) for code in unused)
    for number in range(factor):
        db.session.add(PriceList(version=1000 + next_id(), name=f"Grown {number}", effective_from=current.ends_on))
    db.session.flush()
    lines = 3 * factor
    line_ids = _inserted(
        SalesLine,
        [
            {
                "dealer_id": owner.dealer_id,
                "period_id": current.id,
                "booked_period_id": current.id,
                "sold_on": current.starts_on,
                "amount": 5_000,
                "units": 1,
                "product_line": "",
                "invoice_ref": f"GROWN-{next_id()}",
                "invoice_key": f"GROWN-{next_id()}",
                "line_no": 0,
                "revision": 0,
                "sku": skus[number % len(skus)],
                "unit_price": 500,
                "ship_to_region": "110105",
            }
            for number in range(lines)
        ],
    )
    own_weeks = _inserted(
        Suspicion,
        [
            {
                "dealer_id": owner.dealer_id,
                "rule": SuspicionRule.OUTSIDE_TERRITORY,
                "week_starts_on": date(1800, 1, 6) + timedelta(days=7 * (next_id() % 300_000)),  # a week of its own
                "status": SuspicionStatus.OPEN,
                "line_count": 1,
                "sighting_count": 0,
                "stake": 50_000,
                "sales_amount": 5_000,
                "worst_gap_basis_points": 0,
                "last_sold_on": current.starts_on,
                "raised_at": utcnow(),
                "reason": "",
            }
            for _ in range(lines // 2)
        ],
    )
    db.session.execute(
        sa.insert(SuspicionLine),
        [
            {
                "suspicion_id": own_weeks[number // 2] if number % 2 else world.referee.suspicion,
                "sales_line_id": line_id,
                "rule": SuspicionRule.OUTSIDE_TERRITORY if number % 2 else SuspicionRule.BELOW_FLOOR,
                "floor_price": 1_000,
                "stake": 500,
                "gap_basis_points": 0,
            }
            for number, line_id in enumerate(line_ids)
            if not number % 2 or number // 2 < len(own_weeks)
        ],
    )
    _grow_sightings(world, factor, owner, skus[0], current.starts_on)


def _inserted(model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Rows inserted in one statement (per batch), their ids in the order given."""
    if not rows:
        return []
    return list(db.session.execute(sa.insert(model).returning(model.id, sort_by_parameter_order=True), rows).scalars())


def _grow_sightings(world: World, factor: int, owner: User, sku: str, day: date) -> None:
    """Shipped codes, and sightings by the inspector and the dealer's owner that are evidence of the own suspicion,
    each with a photo."""
    inspector = db.session.execute(select(User).where(User.email == world.emails["inspector"])).scalar_one()
    db.session.execute(
        sa.insert(CodedShipment),
        [
            {
                "code": f"GROWN-{next_id()}",
                "sku": sku,
                "dealer_id": owner.dealer_id,
                "shipped_on": day,
                "imported_at": utcnow(),
            }
            for _ in range(3 * factor)
        ],
    )
    reporters = [reporter for _ in range(3 * factor) for reporter in (inspector.id, owner.id)]
    sighting_ids = _inserted(
        Sighting,
        [
            {
                "code": f"GROWN-{number}",
                "shipped_to_id": owner.dealer_id,
                "region_code": "110105",
                "shop": "",
                "outcome": SightingOutcome.OUTSIDE_TERRITORY,
                "seen_on": day,
                "reported_by_id": reporter,
                "created_at": utcnow(),
            }
            for number, reporter in enumerate(reporters)
        ],
    )
    db.session.execute(
        sa.insert(SuspicionSighting),
        [
            {
                "suspicion_id": world.referee.suspicion,
                "sighting_id": sighting_id,
                "rule": SuspicionRule.OUTSIDE_TERRITORY,
                "stake": 0,
                "gap_basis_points": 0,
            }
            for sighting_id in sighting_ids
        ],
    )
    db.session.execute(
        sa.insert(Evidence),
        [
            {
                "owner_type": "sighting",
                "owner_id": sighting_id,
                "original_name": "shop.jpg",
                "storage_key": f"sighting/{next_id():032x}",
                "content_type": "image/jpeg",
                "size": 10,
                "sha256": "0" * 64,
                "uploaded_by_id": reporter,
            }
            for sighting_id, reporter in zip(sighting_ids, reporters, strict=True)
        ],
    )


def _grow_disputes(world: World, factor: int, owner: User) -> None:
    """Violations of the own dealer, disputes it is party to, and messages and files on the cross dispute."""
    current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
    mediator = db.session.execute(select(User).where(User.email == world.emails["mediator"])).scalar_one()
    now = utcnow()
    db.session.execute(
        sa.insert(Violation),
        [
            {
                "dealer_id": owner.dealer_id,
                "period_id": current.id,
                "kind": ViolationKind.OTHER,
                "description": "d",
                "penalty": 100,
                "status": list(ViolationStatus)[number % len(ViolationStatus)],
                "booked_period_id": current.id,
                "created_at": now,
            }
            for number in range(3 * factor)
        ],
    )
    db.session.execute(
        sa.insert(Dispute),
        [
            {
                "raised_by_dealer_id": owner.dealer_id,
                "category": DisputeCategory.OTHER,
                "title": f"D{number}",
                "description": "d",
                "status": list(DisputeStatus)[number % len(DisputeStatus)],
                "due_at": now,
                "mediator_id": mediator.id if number % 2 else None,
                "outcome_details": {},
                "summary": "",
                "created_at": now,
            }
            for number in range(3 * factor)
        ],
    )
    cross = world.disputes.cross_dispute
    db.session.execute(
        sa.insert(DisputeMessage),
        [
            {
                "dispute_id": cross,
                "author_id": owner.id if number % 2 else mediator.id,
                "internal": number % 3 == 0,
                "body": f"message {number}",
                "created_at": now,
            }
            for number in range(3 * factor)
        ],
    )
    db.session.execute(
        sa.insert(Evidence),
        [
            {
                "owner_type": "dispute",
                "owner_id": cross,
                "original_name": "quote.pdf",
                "storage_key": f"dispute/{next_id():032x}",
                "content_type": "application/pdf",
                "size": 10,
                "sha256": "2" * 64,
                "uploaded_by_id": owner.id,
                "created_at": now,
            }
            for _number in range(factor)
        ],
    )


def _grow_claims(world: World, factor: int, owner: User) -> None:
    """Claims of the own dealer in every status with flags, events and files, budgets and pre-approval requests."""
    current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
    kind = db.session.get(ActivityType, world.claims.activity_type)
    dealer = owner.dealer
    flagged = {(row[0], row[1]) for row in db.session.execute(select(ClaimFlag.claim_id, ClaimFlag.flag))}
    now = utcnow()
    rows = [
        {
            "dealer_id": dealer.id,
            "period_id": current.id,
            "activity_type_id": kind.id,
            "status": status,
            "title": f"Claim {next_id()}",
            "description": "",
            "activity_start": current.starts_on,
            "activity_end": current.starts_on,
            "vendor": "V",
            "vendor_tax_id": "T",
            "invoice_number": f"G{next_id()}",
            "amount_requested": 1_000 + number,
            "amount_approved": 500 if status.value in ("approved", "paid", "partially_approved") else None,
            "submission_count": 0 if status is ClaimStatus.DRAFT else 1,
            "submitted_at": None if status is ClaimStatus.DRAFT else now - timedelta(days=number % 30),
            "turnaround_seconds": number * 3600 if number % 3 == 0 and status is not ClaimStatus.DRAFT else None,
            "created_by_id": owner.id,
            "created_at": now,
            "updated_at": now,
        }
        for number in range(factor)
        for status in ClaimStatus
    ]
    sent = [
        (claim_id, status)
        for claim_id, status in db.session.execute(sa.insert(Claim).returning(Claim.id, Claim.status), rows)
        if status is not ClaimStatus.DRAFT
    ]
    db.session.execute(
        sa.insert(ClaimFlag),
        [
            {"claim_id": claim_id, "flag": Flag.ROUND_AMOUNT, "related_claims": [world.claims.foreign_claim]}
            for claim_id, _status in sent
        ],
    )
    db.session.execute(
        sa.insert(ClaimEvent),
        [
            {
                "claim_id": claim_id,
                "actor_id": owner.id,
                "from_status": ClaimStatus.DRAFT,
                "to_status": status,
                "note": "n",
                "details": {},
                "occurred_at": now,
            }
            for claim_id, status in sent
        ],
    )
    for number in range(factor):
        own_claim = world.claims.own_claim
        db.session.add(
            ClaimEvent(claim_id=own_claim, actor_id=owner.id, note=f"comment {number}", details={"comment": True})
        )
        flag = list(Flag)[number % len(Flag)]
        if (own_claim, flag) not in flagged:
            flagged.add((own_claim, flag))
            db.session.add(
                ClaimFlag(claim_id=own_claim, flag=flag, related_claims=[own_claim - 1, own_claim + 1, sent[number][0]])
            )
        # A photo of the claim, and its near-duplicate on another claim: the review page shows each pair.
        for claim_id, picture in (
            (own_claim, 0x0123_4567_89AB_CDEF + number),
            (sent[number][0], 0x0123_4567_89AB_CDEF + number ^ 0b11),
        ):
            photo = Evidence(
                owner_type="claim",
                owner_id=claim_id,
                original_name="photo.jpg",
                storage_key=f"claim/{next_id():032x}",
                content_type="image/jpeg",
                size=10,
                sha256=f"{next_id():064x}",
                uploaded_by_id=owner.id,
            )
            db.session.add(photo)
            db.session.flush()
            db.session.add(
                EvidencePicture(
                    evidence_id=photo.id,
                    picture_hash=as_signed(picture),
                    **{f"band{band}": value for band, value in enumerate(bands_of(picture))},
                )
            )
        request = FundRequest(
            dealer_id=dealer.id,
            period_id=current.id,
            activity_type_id=kind.id,
            title="r",
            planned_start=current.starts_on,
            planned_end=current.starts_on,
            estimated_cost=100,
            status=FundRequestStatus.SUBMITTED,
            created_by_id=owner.id,
        )
        db.session.add(request)
    have = set(
        db.session.execute(select(FundAllocation.dealer_id).where(FundAllocation.period_id == current.id)).scalars()
    )
    for found in db.session.execute(select(Dealer.id)).scalars().all():
        if found not in have:
            db.session.add(FundAllocation(dealer_id=found, period_id=current.id, amount=1_000_000))
    db.session.flush()


def _grow_training(world: World, factor: int, owner: User) -> None:
    """Courses, sessions, trainees and enrolments (seated, waiting, completed) in proportion to `factor`."""
    upcoming = db.session.get(CourseSession, world.training.upcoming_session)
    began = db.session.get(CourseSession, world.training.began_session)
    dealer = owner.dealer
    for number in range(factor):
        course = make_course(prerequisites=[upcoming.course])
        make_session(course, capacity=5, starts_in=timedelta(days=5 + number))
        make_session(
            course,
            capacity=5,
            starts_in=timedelta(days=-30 - number),
            enrol_deadline=began.enrol_deadline,
            cancel_deadline=began.cancel_deadline,
        )
        for status, session in (("waitlisted", upcoming), ("enrolled", began), ("completed", began)):
            trainee = make_trainee(dealer)
            done = status == "completed"
            enrollment = make_enrollment(
                session,
                trainee=trainee,
                status=status,
                certificate=f"CERT-{next_id():014d}" if done else None,
                expires_on=today() + timedelta(days=20) if done else None,
            )
            if status == "waitlisted":
                upcoming.last_ticket += 1
                enrollment.waitlist_ticket = upcoming.last_ticket


def _grow_rebates(world: World, factor: int, manager: User, admin: User) -> None:
    """Sales lines, targets, statements, imports and adjustments in proportion to `factor`."""
    current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
    previous = db.session.execute(select(Period).where(Period.code == world.previous_period)).scalar_one()
    own_dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
    last_day = min(current.ends_on, today())
    days = (last_day - current.starts_on).days + 1
    db.session.execute(
        sa.insert(SalesLine),
        [
            {
                "dealer_id": own_dealer.id,
                "period_id": current.id,
                "booked_period_id": current.id,
                "sold_on": current.starts_on + timedelta(days=number % days),
                "amount": 10_000 + number,
                "units": 1,
                "product_line": "Controls",
                "invoice_ref": f"Q{next_id()}",
            }
            for number in range(30 * factor)
        ],
    )
    have = set(db.session.execute(select(Target.dealer_id, Target.period_id)).all())
    portfolio = db.session.execute(select(Dealer.id).where(Dealer.manager_id == manager.id)).scalars().all()
    missing = [
        {"dealer_id": dealer_id, "period_id": period.id, "amount": 1_000_000 + dealer_id}
        for dealer_id in portfolio
        for period in (current, previous)
        if (dealer_id, period.id) not in have
    ]
    if missing:
        db.session.execute(sa.insert(Target), missing)
    for _ in range(2 * factor):
        db.session.add(
            SalesImport(
                filename="s.csv",
                content=b"x",
                size=1,
                uploaded_by_id=manager.id,
                status=ImportStatus.IMPORTED,
                errors=[[2, "date", "bad"]],
            )
        )
        db.session.add(
            Adjustment(
                dealer_id=own_dealer.id,
                booked_period_id=current.id,
                kind=AdjustmentKind.MANUAL,
                amount=100,
                note="n",
                created_by_id=admin.id,
            )
        )
    db.session.flush()
    recompute_statements(current)
    recompute_statements(previous)


@dataclass(frozen=True)
class Measured:
    """What one page cost with the small channel and with ten times the data (or what went wrong asking it)."""

    small: tuple[int, int] | BaseException  # status, statements
    large: tuple[int, int] | BaseException


def _statements(app: Flask, role: str, path: str, world: World) -> tuple[int, int] | BaseException:
    client = app.test_client()
    try:
        log_in(client, world.emails[role])
        path = path.format(**world.placeholders())
        client.get(path)  # warm-up: first-request work is not what is being measured
        with count_queries(app) as statements:
            response = client.get(path)
    except Exception as failure:  # kept for the page's own test to raise
        return failure
    return response.status_code, len(statements)


def _measure_every_page(app: Flask, world: World) -> dict[tuple[str, str], Measured]:
    """Every page asked with the small channel, then all of them again with ten times the data. The channel is
    grown once for all pages (growing it for each page took most of CI's time); a GET changes nothing, so one
    page's request leaves the next page's data as it found it."""
    with app.app_context():
        _grow_channel(world, 10, first_year=1800)
        db.session.commit()
    small = {(role, path): _statements(app, role, path, world) for role, path in PAGES}
    with app.app_context():
        _grow_channel(world, 90, first_year=1900)  # ten times what the first pass had
        db.session.commit()
    return {(role, path): Measured(small[role, path], _statements(app, role, path, world)) for role, path in PAGES}


# Per database, for this worker: measured by the first page's test, inside its rolled-back transaction.
_MEASURED: dict[str, dict[tuple[str, str], Measured]] = {}


@pytest.mark.parametrize(("role", "path"), PAGES)
def test_query_count_stays_flat_with_ten_times_the_data(
    app: Flask, backend: str, request: pytest.FixtureRequest, role: str, path: str
) -> None:
    if backend not in _MEASURED:
        _MEASURED[backend] = _measure_every_page(app, request.getfixturevalue("world"))
    measured = _MEASURED[backend][role, path]
    for asked in (measured.small, measured.large):
        if isinstance(asked, BaseException):
            raise asked
        assert asked[0] == 200, f"{path} as {role}: {asked[0]}"
    small, large = cast(tuple[int, int], measured.small)[1], cast(tuple[int, int], measured.large)[1]
    assert large == small, f"{path} as {role}: {small} statements with the small channel, {large} with ten times"
    assert small <= RICHER_PAGES.get(path.split("?")[0], 10)  # a start page carries its inbox whatever its filter
