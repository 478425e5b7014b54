"""Demo data that the README's quick start and the browser tests rely on. Idempotent: safe to run again."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject
from sqlalchemy import insert, select, update

from portal.accounts.models import DealerRole, User, UserRole
from portal.accounts.services import hash_password
from portal.campaigns import services as campaign_services
from portal.campaigns.models import Campaign
from portal.campaigns.rules import CampaignStatus, Measure, RewardKind
from portal.claims import pre_approvals as claim_pre_approvals
from portal.claims import services as claims
from portal.claims.models import ActivityType, Claim, FundAllocation
from portal.claims.rules import RejectionReason
from portal.dates import company_today, quarter_of
from portal.dealers import tiers as tier_history
from portal.dealers.audiences import AudienceKind
from portal.dealers.documents import OWNER_TYPE
from portal.dealers.models import (
    Dealer,
    DealerEvent,
    DealerEventKind,
    DealerStatus,
    DealerTier,
    DealerTierChange,
    Period,
    PeriodStatus,
    Territory,
    Trainee,
)
from portal.dealers.services import current_period
from portal.disputes import services as referee
from portal.disputes import violations as dispute_violations
from portal.disputes.models import Dispute
from portal.disputes.rules import DisputeCategory, Outcome, ViolationKind
from portal.evidence.models import Evidence
from portal.evidence.services import add_evidence
from portal.extensions import db
from portal.news import services as news_services
from portal.news.attachments import OWNER_TYPE as ANNOUNCEMENT_FILES
from portal.news.models import Announcement
from portal.news.rules import AnnouncementKind
from portal.notifications.links import Link, link
from portal.notifications.models import Notification
from portal.notifications.params import choice
from portal.plans import services as plan_services
from portal.plans.models import BusinessPlan, Visit
from portal.plans.rules import GoalKind, Side
from portal.rebates import ledger
from portal.rebates.models import ProgramTier, RebateProgram, RebateStatement, SalesLine, StatementStatus, Target
from portal.rebates.rules import Method
from portal.rebates.services import freeze_statements, late_sales_adjustments, recompute_statements
from portal.referee import detection
from portal.referee.models import CodedShipment, PriceList, PriceListItem, Product, TerritoryRegion
from portal.referee.rules import PriceListStatus
from portal.training.models import Course, CourseCategory, CourseSession, Enrollment, EnrollmentStatus
from portal.training.rules import certificate_expiry, new_certificate_number
from portal.types import utcnow

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - published demo credentials

TERRITORIES = (("EAST", "East"), ("NORTH", "North"), ("SOUTH", "South"), ("WEST", "West"))

STAFF_USERS = (
    # email, name, role, senior
    ("manager@demo.test", "Li Wei", UserRole.MANAGER, False),
    ("manager2@demo.test", "Zhang Min", UserRole.MANAGER, True),
    ("mediator@demo.test", "Chen Jing", UserRole.MEDIATOR, False),
    ("admin@demo.test", "Portal Administrator", UserRole.ADMIN, False),
    ("inspector@demo.test", "Sun Hao", UserRole.INSPECTOR, False),
)

DEALERS = (
    # code, name, territory, tier, status, manager email
    ("D001", "Eastern Star Trading", "EAST", DealerTier.GOLD, DealerStatus.ACTIVE, "manager@demo.test"),
    ("D002", "Northern Light Supply", "NORTH", DealerTier.SILVER, DealerStatus.ACTIVE, "manager@demo.test"),
    ("D003", "Southern Harbour Electric", "SOUTH", DealerTier.BRONZE, DealerStatus.ACTIVE, "manager2@demo.test"),
    ("D004", "Western Plains Machinery", "WEST", DealerTier.PLATINUM, DealerStatus.ACTIVE, "manager@demo.test"),
    ("D005", "Pearl River Distribution", "SOUTH", DealerTier.SILVER, DealerStatus.ONBOARDING, "manager2@demo.test"),
    ("D006", "Golden Bridge Trading", "EAST", DealerTier.BRONZE, DealerStatus.SUSPENDED, "manager2@demo.test"),
)

TRAINEES = (
    # dealer code, name, job title
    ("D001", "Sun Hao", "Service technician"),
    ("D001", "Ma Li", "Showroom sales"),
    ("D002", "Gao Jun", "Installer"),
)

DEALER_USERS = (
    # email, name, dealer code, dealer role, locale
    ("dealer@demo.test", "Wang Fang", "D001", DealerRole.OWNER, None),
    ("staff@demo.test", "Liu Yang", "D001", DealerRole.STAFF, None),
    ("dealer2@demo.test", "Zhao Lei", "D002", DealerRole.OWNER, None),
    # the owner of a suspended dealer: reads, answers and appeals, and is told why nothing new can be started
    ("dealer6@demo.test", "Qian Jun", "D006", DealerRole.OWNER, None),
)


def demo_logins() -> list[tuple[str, str]]:
    return [(email, DEMO_PASSWORD) for email, *_ in STAFF_USERS + DEALER_USERS]


def seed_demo(today: date | None = None) -> None:
    """Create or bring up to date the demo territories, periods, users and dealers (caller commits)."""
    today = today or company_today()
    territories = {code: _upsert(Territory, code=code, defaults={"name": name}) for code, name in TERRITORIES}
    _seed_periods(today)
    password_hash = hash_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    for email, name, role, senior in STAFF_USERS:
        users[email] = _ensure_user(email, name, role, password_hash, is_senior=senior)
    dealers: dict[str, Dealer] = {}
    for code, name, territory, tier, status, manager_email in DEALERS:
        dealers[code] = _upsert(
            Dealer,
            code=code,
            defaults={
                "name": name,
                "territory_id": territories[territory].id,
                "tier": tier,
                "status": status,
                "manager_id": users[manager_email].id,
                "currency": "CNY",
                "payee_name": name,
            },
        )
    for dealer in dealers.values():
        _ensure_created_event(dealer)
        tier_history.start_history(dealer)
    _seed_tier_change(dealers["D002"], users["admin@demo.test"], today)
    for code, name, job_title in TRAINEES:
        if not db.session.execute(
            select(Trainee.id).where(Trainee.dealer_id == dealers[code].id, Trainee.name == name)
        ).first():
            db.session.add(Trainee(dealer_id=dealers[code].id, name=name, job_title=job_title))
    for email, name, dealer_code, dealer_role, locale in DEALER_USERS:
        _ensure_user(
            email,
            name,
            UserRole.DEALER,
            password_hash,
            dealer_id=dealers[dealer_code].id,
            dealer_role=dealer_role,
            locale=locale,
        )
    _seed_notifications(dealers)
    _seed_documents(dealers["D001"])
    db.session.flush()
    _seed_rebates(dealers, today)
    _seed_training(dealers, today)
    db.session.flush()
    _seed_claims(dealers, today)
    db.session.flush()
    _seed_disputes(dealers, today)
    db.session.flush()
    _seed_referee(dealers, today)
    db.session.flush()
    _seed_campaigns(today)
    db.session.flush()
    _seed_news(today)
    db.session.flush()
    _seed_plans(dealers, today)
    db.session.flush()


COURSES = (
    # code, title, category, validity months, prerequisite codes, description
    ("TEC-101", "Installing split air conditioners", "technical", 24, (), "Mounting, piping, vacuum and first start."),
    ("TEC-201", "Compressor diagnostics", "technical", 24, ("TEC-101",), "Finding faults with gauges and a meter."),
    (
        "TEC-301",
        "Refrigerant handling safety",
        "compliance",
        12,
        (),
        "The rules for handling and recovering refrigerant.",
    ),
    ("MKT-101", "Showroom merchandising", "marketing", 0, (), "Displays that sell: layout, lighting, price cards."),
    ("MKT-201", "Running a local promotion", "marketing", 0, ("MKT-101",), "Plan, budget and claim a promotion."),
    ("MGT-101", "Dealer finance basics", "management", 0, (), "Margins, stock turns and cash."),
    ("MGT-201", "Leading a sales team", "management", 36, (), "Targets, coaching and weekly reviews."),
    ("CMP-101", "Anti-bribery and fair competition", "compliance", 12, (), "What the law and our contract forbid."),
)
EXTRA_TRAINEES = {
    "D001": ("Zhou Qiang", "Li Na", "Wu Lei", "Xu Jing", "Hu Bin"),
    "D002": ("Guo Hui", "He Yan", "Lin Tao", "Luo Min"),
    "D003": ("Song Jie", "Tang Li", "Han Feng"),
    "D004": ("Feng Yu", "Cao Rui", "Deng Hua"),
}


def _seed_training(dealers: dict[str, Dealer], today: date) -> None:
    """Eight courses with past and upcoming sessions: one nearly full, one full with a waitlist, certificates
    (one expiring within 60 days). Written directly, with seat counts that match the enrolments."""

    if db.session.execute(select(Course.id).limit(1)).first():
        return
    for code, names in EXTRA_TRAINEES.items():
        for name in names:
            db.session.add(Trainee(dealer_id=dealers[code].id, name=name, job_title="Sales"))
    db.session.flush()
    courses: dict[str, Course] = {}
    for code, title, category, months, _needs, description in COURSES:
        courses[code] = Course(
            code=code, title=title, category=CourseCategory(category), validity_months=months, description=description
        )
        db.session.add(courses[code])
    db.session.flush()
    for code, *_rest, needs, _description in COURSES:
        courses[code].prerequisites = [courses[other] for other in needs]
    people = _demo_people(dealers)

    def session(course: str, days: int, capacity: int, place: str = "Shanghai training centre") -> CourseSession:
        start = datetime.combine(today + timedelta(days=days), time(2, 0), UTC)  # 10:00 in Shanghai
        row = CourseSession(
            course_id=courses[course].id,
            starts_at=start,
            ends_at=start + timedelta(hours=7),
            place=place,
            capacity=capacity,
            enrol_deadline=start - timedelta(days=2),
            cancel_deadline=start - timedelta(days=3),
            seats_taken=0,
            last_ticket=0,
        )
        db.session.add(row)
        db.session.flush()
        return row

    def enrol(
        row: CourseSession,
        person: tuple[str, int | None, int | None, int],
        status: EnrollmentStatus,
        completed_on: date | None = None,
    ) -> None:
        key, user_id, trainee_id, dealer_id = person
        ticket = None
        if status is EnrollmentStatus.WAITLISTED:
            row.last_ticket += 1
            ticket = row.last_ticket
        elif status is not EnrollmentStatus.CANCELLED:
            row.seats_taken += 1
        enrollment = Enrollment(
            session_id=row.id,
            dealer_id=dealer_id,
            user_id=user_id,
            trainee_id=trainee_id,
            person_key=key,
            status=status,
            waitlist_ticket=ticket,
        )
        if completed_on is not None:
            enrollment.completed_on = completed_on
            enrollment.certificate_number = new_certificate_number()
            enrollment.certificate_expires_on = certificate_expiry(
                completed_on, courses_by_id[row.course_id].validity_months
            )
        db.session.add(enrollment)

    courses_by_id = {course.id: course for course in courses.values()}
    completed = EnrollmentStatus.COMPLETED
    past_tec = session("TEC-101", -690, 12)  # its certificates (24 months) expire within 60 days
    enrol(past_tec, people["staff@demo.test"], completed, past_tec.starts_at.date())
    enrol(past_tec, people["Gao Jun"], completed, past_tec.starts_at.date())
    past_cmp = session("CMP-101", -320, 20, "Online")
    for name in ("Sun Hao", "Ma Li", "dealer@demo.test"):
        enrol(past_cmp, people[name], completed, past_cmp.starts_at.date())
    enrol(past_cmp, people["dealer2@demo.test"], EnrollmentStatus.NO_SHOW)
    past_mgt = session("MGT-101", -40, 15)
    enrol(past_mgt, people["dealer@demo.test"], completed, past_mgt.starts_at.date())
    enrol(past_mgt, people["dealer2@demo.test"], EnrollmentStatus.ATTENDED)
    enrol(session("MKT-101", -75, 20), people["Ma Li"], completed, today - timedelta(days=75))
    nearly_full = session("TEC-101", 21, 8)
    for name in ("Sun Hao", "Zhou Qiang", "Li Na", "Guo Hui", "He Yan", "Song Jie", "Feng Yu"):
        enrol(nearly_full, people[name], EnrollmentStatus.ENROLLED)
    full = session("TEC-301", 14, 6, "Guangzhou service centre")
    for name in ("Ma Li", "Wu Lei", "Lin Tao", "Tang Li", "Cao Rui", "dealer2@demo.test"):
        enrol(full, people[name], EnrollmentStatus.ENROLLED)
    for name in ("Xu Jing", "Luo Min", "Han Feng"):
        enrol(full, people[name], EnrollmentStatus.WAITLISTED)
    session("TEC-201", 35, 10)
    session("MKT-201", 28, 16)
    enrol(session("MGT-201", 45, 12), people["dealer@demo.test"], EnrollmentStatus.ENROLLED)
    session("CMP-101", 10, 40, "")
    session("MKT-101", 56, 20)
    session("MGT-101", 63, 15, "Beijing office")
    for row in db.session.execute(select(CourseSession).where(CourseSession.place == "")).scalars():
        row.online_link = "https://training.example.com/live/compliance"
    db.session.flush()


def _demo_people(dealers: dict[str, Dealer]) -> dict[str, tuple[str, int | None, int | None, int]]:
    """Person keys of the demo's dealer users (by email) and trainees (by name)."""
    people: dict[str, tuple[str, int | None, int | None, int]] = {}
    for user in db.session.execute(select(User).where(User.dealer_id.is_not(None))).scalars():
        people[user.email] = (f"u{user.id}", user.id, None, user.dealer_id)  # type: ignore[assignment]
    for trainee in db.session.execute(select(Trainee)).scalars():
        people[trainee.name] = (f"t{trainee.id}", None, trainee.id, trainee.dealer_id)
    return people


PROGRAMS = (
    # name, method, dealer tiers, [(threshold %, rate %) in hundredths]
    ("Standard", "retroactive", "bronze,silver", [(9000, 100), (10000, 200), (11000, 300)]),
    ("Premium", "stepped", "gold,platinum", [(8000, 150), (10000, 300), (12000, 450)]),
)
TARGETS = {
    "D001": 120_000_000,
    "D002": 80_000_000,
    "D003": 50_000_000,
    "D004": 200_000_000,
    "D005": 30_000_000,
    "D006": 40_000_000,
}
PRODUCT_LINES = ("Compressors", "Air handlers", "Controls", "Spare parts")


def _seed_rebates(dealers: dict[str, Dealer], today: date) -> None:
    """Programs, targets and daily sales for every seeded quarter; closed quarters final (older ones paid).

    This quarter D001 stands a little short of its second tier (100 %), so the dashboard has a "sell X more" to
    show and D001 is on its manager's watch list; D002 has a late sale from last quarter, booked as an adjustment.
    """

    if db.session.execute(select(SalesLine.id).limit(1)).first():
        return  # sales exist: the demo (or real data) is already there
    periods = list(db.session.execute(select(Period).order_by(Period.starts_on)).scalars())
    for period in periods:
        for name, method, eligible, tiers in PROGRAMS:
            program = RebateProgram(period_id=period.id, name=name, method=Method(method), eligible_tiers=eligible)
            program.tiers = [
                ProgramTier(position=index, threshold_hundredths=threshold, rate_hundredths=rate)
                for index, (threshold, rate) in enumerate(tiers)
            ]
            db.session.add(program)
        for code, amount in TARGETS.items():
            db.session.add(Target(dealer_id=dealers[code].id, period_id=period.id, amount=amount))
    db.session.flush()
    rows = []
    for period in periods:
        is_open = period.status is PeriodStatus.OPEN
        for code, target in TARGETS.items():
            chance = random.Random(f"{code}-{period.code}")  # noqa: S311 - demo figures, not security
            if is_open:
                share = {"D001": 0.96, "D002": 0.58, "D004": 0.83, "D003": 0.47}.get(code, 0.35)
            elif code == "D002" and period is periods[-2]:
                share = 1.04  # a tier reached, so the late sale below changes last quarter's rebate on any day
            else:
                share = chance.uniform(0.82, 1.28)
            total = int(target * share)
            last_day = min(period.ends_on, today)
            days = [
                date.fromordinal(ordinal)
                for ordinal in range(period.starts_on.toordinal(), last_day.toordinal() + 1)
                if chance.random() < 0.45
            ] or [period.starts_on]
            weights = [chance.uniform(0.5, 1.5) for _day in days]
            scale = sum(weights)
            amounts = [int(total * weight / scale) for weight in weights]
            amounts[-1] += total - sum(amounts)
            for number, (day, amount) in enumerate(zip(days, amounts, strict=True), start=1):
                rows.append(
                    {
                        "dealer_id": dealers[code].id,
                        "period_id": period.id,
                        "booked_period_id": period.id,
                        "sold_on": day,
                        "amount": amount,
                        "units": max(amount // 250_000, 1),
                        "product_line": PRODUCT_LINES[number % len(PRODUCT_LINES)],
                        "invoice_ref": f"INV-{code}-{period.code}-{number:04d}",
                    }
                )
    db.session.execute(insert(SalesLine), rows)
    closed = [period for period in periods if period.status is PeriodStatus.CLOSED]
    for period in periods:  # oldest first: each closed quarter's account opens with the one before
        if period.status is not PeriodStatus.CLOSED:
            recompute_statements(period)
            continue
        freeze_statements(period)
        if period is not closed[-1]:
            _pay_demo_period(period)
    if len(periods) >= 2 and periods[-1].status is PeriodStatus.OPEN:
        current, previous = periods[-1], periods[-2]
        db.session.add(
            SalesLine(
                dealer_id=dealers["D002"].id,
                period_id=previous.id,
                booked_period_id=current.id,
                sold_on=previous.ends_on,
                amount=4_500_000,
                units=18,
                product_line="Compressors",
                invoice_ref=f"INV-D002-{previous.code}-LATE",
            )
        )
        db.session.flush()
        late_sales_adjustments(current, [(dealers["D002"].id, previous.id)])
        recompute_statements(current, [dealers["D002"].id])


DEMO_PRODUCTS = (
    # SKU, English name, Chinese name, product line, unit, list price, floor price (fen)
    ("AC-900", "Split air conditioner 9000 BTU", "分体空调 9000 BTU", "Air handlers", "台", 320_000, 280_000),
    ("AC-1200", "Split air conditioner 12000 BTU", "分体空调 12000 BTU", "Air handlers", "台", 420_000, 365_000),
    ("AC-1800", "Split air conditioner 18000 BTU", "分体空调 18000 BTU", "Air handlers", "台", 610_000, 540_000),
    ("CMP-50", "Rotary compressor 5 kW", "转子压缩机 5 kW", "Compressors", "台", 185_000, 160_000),
)


DEMO_REGIONS = {  # the demo territories as administrative regions (GB/T 2260)
    "EAST": ("310000", "320000", "330000"),  # Shanghai, Jiangsu, Zhejiang
    "NORTH": ("110000", "120000", "130000"),  # Beijing, Tianjin, Hebei
    "SOUTH": ("440000", "450000"),  # Guangdong, Guangxi
    "WEST": ("510000", "500000"),  # Sichuan, Chongqing
}


def _seed_referee(dealers: dict[str, Dealer], today: date) -> None:
    """The catalogue, a price list in force since this quarter began and a draft of the next, the territories'
    regions, and some of this quarter's sales with their SKU, price and region: D003 sold below the floor, D004
    shipped into Guangdong, which is D003's territory. Detection then raises the suspicions the queue shows."""
    if db.session.execute(select(Product.id).limit(1)).first():
        return
    current = current_period()
    if current is None:
        return
    for sku, name_en, name_zh, product_line, unit, _list_price, _floor in DEMO_PRODUCTS:
        db.session.add(Product(sku=sku, name_en=name_en, name_zh=name_zh, product_line=product_line, unit=unit))
    admin = db.session.execute(select(User).where(User.email == "admin@demo.test")).scalar_one()
    for version, (name, day, status) in enumerate(
        (
            ("Price list " + current.code, current.starts_on, PriceListStatus.PUBLISHED),
            ("Price list next quarter", current.ends_on + timedelta(days=1), PriceListStatus.DRAFT),
        ),
        start=1,
    ):
        price_list = PriceList(version=version, name=name, effective_from=day, status=status, created_by_id=admin.id)
        if status is PriceListStatus.PUBLISHED:
            price_list.published_by_id, price_list.published_at = admin.id, utcnow()
        db.session.add(price_list)
        db.session.flush()
        rise = 0 if version == 1 else 10_000
        db.session.add_all(
            PriceListItem(price_list_id=price_list.id, sku=sku, list_price=list_price + rise, floor_price=floor + rise)
            for sku, *_names, list_price, floor in DEMO_PRODUCTS
        )
    territories = {territory.code: territory.id for territory in db.session.execute(select(Territory)).scalars()}
    for code, regions in DEMO_REGIONS.items():
        db.session.add_all(TerritoryRegion(territory_id=territories[code], region_code=region) for region in regions)
    db.session.flush()
    for number in range(1, 6):  # one case of five AC-1200 shipped to D001 (East: Shanghai, Jiangsu, Zhejiang)
        db.session.add(
            CodedShipment(
                code=f"QR-DEMO-{number:04d}",
                case_code="CASE-DEMO-01",
                sku="AC-1200",
                dealer_id=dealers["D001"].id,
                shipped_on=current.starts_on,
            )
        )
    marked = []
    for code, sku, price, region, count in (
        ("D003", "AC-1200", 339_000, "440305", 4),  # below the floor of 3,650.00, in its own Shenzhen
        ("D004", "AC-900", 300_000, "440106", 3),  # above the floor, but shipped to Guangzhou
        ("D001", "AC-1800", 560_000, "310115", 6),  # clean: above the floor, in Shanghai
    ):
        lines = db.session.execute(
            select(SalesLine.id, SalesLine.amount)
            .where(SalesLine.dealer_id == dealers[code].id, SalesLine.period_id == current.id)
            .order_by(SalesLine.sold_on.desc(), SalesLine.id)
            .limit(count)
        ).all()
        for line_id, amount in lines:
            units = max(amount // price, 1)
            db.session.execute(
                update(SalesLine)
                .where(SalesLine.id == line_id)
                .values(sku=sku, unit_price=price, ship_to_region=region, units=units)
            )
            marked.append(line_id)
    db.session.flush()
    detection.detect_lines(db.session.execute(select(*detection.CHECKED_COLUMNS).where(SalesLine.id.in_(marked))).all())


def _seed_campaigns(today: date) -> None:
    """Three sales campaigns on the demo's sales: one running for every dealer on the AC-1800 (D001 sold some,
    it ends within the week), one ended that the admin asked to settle (a senior manager confirms it), one settled
    with its rewards on the accounts; and a draft for the gold dealers."""
    current = current_period(today)
    if current is None or db.session.execute(select(Campaign.id).limit(1)).first():
        return
    admin = db.session.execute(select(User).where(User.email == "admin@demo.test")).scalar_one()
    senior = db.session.execute(select(User).where(User.is_senior.is_(True)).order_by(User.id)).scalars().first()
    ended_on = today - timedelta(days=1)
    terms: dict[str, Any] = {"audience_kind": AudienceKind.ALL, "audience": [], "currency": "CNY", "cap": None}
    running = Campaign(
        name_en="AC-1800 autumn push",
        name_zh="AC-1800 秋季冲量",
        description="80.00 for each AC-1800 sold, up to 20,000.00 per dealer.",
        starts_on=current.starts_on,
        ends_on=today + timedelta(days=5),
        skus=["AC-1800"],
        product_lines=[],
        measure=Measure.UNITS,
        reward_kind=RewardKind.PER_UNIT,
        rate=8_000,
        threshold=0,
        budget=5_000_000,
        created_by_id=admin.id,
        **{**terms, "cap": 2_000_000},
    )
    ended = Campaign(
        name_en="Air handler sprint",
        name_zh="空调冲刺",
        description="1,500.00 once 20 air handlers are sold in the sprint.",
        starts_on=ended_on - timedelta(days=30),
        ends_on=ended_on,
        skus=[],
        product_lines=["Air handlers"],
        measure=Measure.UNITS,
        reward_kind=RewardKind.THRESHOLD,
        rate=150_000,
        threshold=20,
        budget=400_000,
        created_by_id=admin.id,
        **terms,
    )
    settled = Campaign(
        name_en="Compressor week",
        name_zh="压缩机周",
        starts_on=ended_on - timedelta(days=60),
        ends_on=ended_on - timedelta(days=40),
        skus=["CMP-50"],
        product_lines=["Compressors"],
        measure=Measure.UNITS,
        reward_kind=RewardKind.PER_UNIT,
        rate=2_500,
        threshold=0,
        budget=2_000_000,
        created_by_id=admin.id,
        **terms,
    )
    draft = Campaign(
        name_en="Gold dealers' AC-1200 challenge",
        name_zh="金牌经销商 AC-1200 挑战",
        starts_on=today + timedelta(days=1),
        ends_on=today + timedelta(days=30),
        skus=["AC-1200"],
        product_lines=[],
        measure=Measure.AMOUNT,
        reward_kind=RewardKind.THRESHOLD,
        rate=500_000,
        threshold=20_000_000,
        budget=2_000_000,
        created_by_id=admin.id,
        **{**terms, "audience_kind": AudienceKind.TIERS, "audience": ["gold"]},
    )
    db.session.add_all((running, ended, settled, draft))
    db.session.flush()
    campaign_services.launch(admin, running)
    for campaign in (ended, settled):  # launched in their day, which has passed
        campaign.status, campaign.launched_at = CampaignStatus.LIVE, utcnow()
        db.session.flush()
        campaign_services.request_settlement(admin, campaign)
    if senior is not None:
        campaign_services.settle(senior, settled)


def _seed_news(today: date) -> None:
    """News for the demo: the penalty schedule in two versions (the second to be acknowledged, pinned), a note to
    the gold dealers, one from a manager to their portfolio, and a draft."""
    if db.session.execute(select(Announcement.id).limit(1)).first():
        return
    admin = db.session.execute(select(User).where(User.email == "admin@demo.test")).scalar_one()
    manager = db.session.execute(select(User).where(User.email == "manager@demo.test")).scalar_one()
    schedule = {"kind": AnnouncementKind.POLICY, "policy_key": "penalty-schedule"}
    made = [
        Announcement(
            title_en="Penalty schedule",
            title_zh="处罚标准",
            body_en="| Breach | First | Again |\n|---|---|---|\n| Below the floor price | warning | 2,000.00 |",
            body_zh="| 违规 | 首次 | 再次 |\n|---|---|---|\n| 低于最低限价 | 警告 | 2,000.00 |",
            created_by_id=admin.id,
            **schedule,
        ),
        Announcement(
            title_en="Penalty schedule 2027",
            title_zh="2027 年处罚标准",
            body_en=(
                "From **1 January** selling outside your territory is penalised too.\n\n"
                "| Breach | First | Again |\n|---|---|---|\n| Below the floor price | warning | 2,000.00 |\n"
                "| Outside the territory | warning | 3,000.00 |"
            ),
            body_zh=(
                "自 **1 月 1 日**起，跨区域销售同样处罚。\n\n"  # noqa: RUF001 - Chinese punctuation
                "| 违规 | 首次 | 再次 |\n|---|---|---|\n| 低于最低限价 | 警告 | 2,000.00 |\n"
                "| 跨区域销售 | 警告 | 3,000.00 |"
            ),
            pinned=True,
            must_acknowledge=True,
            created_by_id=admin.id,
            **schedule,
        ),
        Announcement(
            title_en="Gold dealers: showroom kits arrive in December",
            title_zh="金牌经销商：展厅物料 12 月到货",  # noqa: RUF001 - Chinese punctuation
            body_en="Each gold dealer receives a showroom kit. Tell your channel manager where it should go.",
            body_zh="每个金牌经销商将收到一套展厅物料，请告知渠道经理收货地址。",  # noqa: RUF001 - Chinese punctuation
            audience_kind=AudienceKind.TIERS,
            audience=["gold"],
            created_by_id=admin.id,
        ),
        Announcement(
            title_en="Visits next week",
            title_zh="下周拜访安排",
            body_en="I will visit each of you next week to plan the next quarter.",
            body_zh="下周我将逐一拜访，共同制定下季度计划。",  # noqa: RUF001 - Chinese punctuation
            manager_id=manager.id,
            created_by_id=manager.id,
        ),
    ]
    db.session.add_all(made)
    db.session.add(Announcement(title_en="Spring training dates", title_zh="春季培训日期", created_by_id=admin.id))
    db.session.flush()
    writer = PdfWriter()
    add_text_page(writer, "Penalty schedule 2027")
    sheet = io.BytesIO()
    writer.write(sheet)
    sheet.seek(0)
    add_evidence(admin, ANNOUNCEMENT_FILES, made[1].id, sheet, "处罚标准 2027.pdf")
    for announcement in made:
        news_services.publish(manager if announcement.manager_id else admin, announcement)


def _seed_plans(dealers: dict[str, Dealer], today: date) -> None:
    """D001's plan for this quarter, accepted by its manager and waiting for the owner, with one action overdue;
    two visits to D001, one shared with the dealer and one private."""
    period = current_period(today)
    if period is None or db.session.execute(select(BusinessPlan.id).limit(1)).first():
        return
    manager = db.session.execute(select(User).where(User.email == "manager@demo.test")).scalar_one()
    dealer = dealers["D001"]
    if dealer.manager_id != manager.id:
        return
    event = db.session.execute(select(ActivityType).where(ActivityType.code == "EVENT")).scalar_one()
    plan = plan_services.start_plan(manager, dealer, period)
    goal = {"wanted": None, "course_id": None, "activity_type_id": None, "note": ""}
    plan_services.add_goal(manager, plan, {**goal, "kind": GoalKind.SALES})
    plan_services.add_goal(manager, plan, {**goal, "kind": GoalKind.NEW_OUTLETS, "wanted": 2, "note": "苏州、无锡"})
    plan_services.add_goal(
        manager, plan, {**goal, "kind": GoalKind.PROMOTION, "wanted": 3_000_000, "activity_type_id": event.id}
    )
    for what, side, who, due_on in (
        ("Refit the showroom with the new display", Side.DEALER, "Wang Fang", today - timedelta(days=3)),
        ("Train two sales staff on the AC range", Side.MANAGER, "Li Na", today + timedelta(days=20)),
    ):
        plan_services.add_action(manager, plan, {"what": what, "side": side, "who": who, "due_on": due_on})
    plan_services.accept(manager, plan, plan.revision)
    for days_ago, shared, notes in (
        (6, True, "Walked the showroom with Wang Fang: the AC display needs the new posters."),
        (6, False, "The owner hinted at opening in Wuxi without telling the territory's dealer."),
    ):
        db.session.add(
            Visit(
                dealer_id=dealer.id,
                visited_on=today - timedelta(days=days_ago),
                attendees="Wang Fang, Li Na",
                notes=notes,
                follow_ups="Send the posters" if shared else "",
                shared=shared,
                written_by_id=manager.id,
            )
        )


def _pay_demo_period(period: Period) -> None:
    """Older quarters are paid: each dealer's amount due transferred, as the payment batch would."""
    now = utcnow()
    due = ledger.amounts_due(period)
    for statement in db.session.execute(
        select(RebateStatement).where(RebateStatement.period_id == period.id).order_by(RebateStatement.id)
    ).scalars():
        amount = due.get(statement.dealer_id, 0)
        if amount <= 0:
            continue
        ledger.book_payment(None, statement, amount, f"PAY-{period.code}")
        statement.status = StatementStatus.PAID
        statement.paid_at, statement.paid_reference, statement.paid_amount = now, f"PAY-{period.code}", amount
    db.session.flush()


ACTIVITY_TYPES = (
    # code, English name, Chinese name, needs pre-approval
    ("ADV", "Print and online advertising", "平面与网络广告", False),
    ("DISPLAY", "In-store display", "店内陈列", False),
    ("EVENT", "Promotion event", "促销活动", False),
    ("TRADE_SHOW", "Trade show", "展会", True),
    ("BROADCAST", "Broadcast advertising", "广播电视广告", True),
)
BUDGETS = {"D001": 20_000_000, "D002": 12_000_000, "D003": 8_000_000, "D004": 15_000_000}


def add_text_page(writer: PdfWriter, text: str) -> None:
    """An A4 page saying `text` in Helvetica (ASCII; brackets and backslashes replaced so the string stays one)."""
    page = writer.add_blank_page(width=595, height=842)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    said = text.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]").replace(b"\\", b"/")
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 18 Tf 72 760 Td (" + said + b") Tj ET")
    page[NameObject("/Contents")] = writer._add_object(content)


def _demo_pdf(title: str) -> bytes:
    """A one-page PDF with its title written on the page: another title is another document (the portal compares
    PDFs by what their pages say); the same title gives the same file."""

    writer = PdfWriter()
    add_text_page(writer, title)
    writer.add_metadata({"/Title": title, "/CreationDate": "D:20260101000000Z", "/ModDate": "D:20260101000000Z"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _seed_claims(dealers: dict[str, Dealer], today: date) -> None:
    """Budgets, and claims in every status through the real services: flagged ones (D002 reuses the invoice file of
    a D001 claim), one waiting for a second approval, one paid, and a pending pre-approval request. Submission and
    decision times are then spread over the past days so queue ages and the turnaround report look lived in."""

    for code, name_en, name_zh, needs in ACTIVITY_TYPES:
        _upsert(ActivityType, code=code, defaults={"name_en": name_en, "name_zh": name_zh, "needs_pre_approval": needs})
    periods = claims.claimable_periods(today)
    if not periods:
        return
    for period in periods:
        for code, amount in BUDGETS.items():
            if not db.session.execute(
                select(FundAllocation.id).where(
                    FundAllocation.dealer_id == dealers[code].id, FundAllocation.period_id == period.id
                )
            ).first():
                db.session.add(FundAllocation(dealer_id=dealers[code].id, period_id=period.id, amount=amount))
    db.session.flush()
    demo_dealers = [dealers["D001"].id, dealers["D002"].id]
    if db.session.execute(select(Claim.id).where(Claim.dealer_id.in_(demo_dealers)).limit(1)).first():
        return
    # Claims need an activity that is over: this quarter once two weeks of it have passed, else the one before.
    period = next((found for found in periods if (today - found.starts_on).days >= 14), periods[-1])
    last_day = min(period.ends_on, today - timedelta(days=1))

    def day(back: int) -> date:
        return max(period.starts_on, last_day - timedelta(days=back))

    people = {user.email: user for user in db.session.execute(select(User)).scalars()}
    owner, owner2 = people["dealer@demo.test"], people["dealer2@demo.test"]
    manager, admin = people["manager@demo.test"], people["admin@demo.test"]
    kinds = {kind.code: kind.id for kind in db.session.execute(select(ActivityType)).scalars()}

    def claim(
        actor: User,
        kind: str,
        title: str,
        amount: int,
        start: int,
        end: int,
        invoice: str,
        files: tuple[str, ...] = (),
        request: int | None = None,
    ) -> Claim:
        draft = claims.create_draft(
            actor,
            period,
            claims.ClaimInput(
                activity_type_id=kinds[kind],
                title=title,
                description=f"{title}: see the attached invoice and photos.",
                activity_start=day(start),
                activity_end=day(end),
                vendor="Shanghai Bright Print Co.",
                vendor_tax_id="91310000MA1FL0001X",
                invoice_number=invoice,
                amount=amount,
                fund_request_id=request,
            ),
            today,
        )
        for name in files:
            add_evidence(actor, claims.CLAIM_OWNER, draft.id, io.BytesIO(_demo_pdf(name)), f"{name}.pdf")
        return draft

    def submitted(draft: Claim, actor: User, days_ago: int) -> Claim:
        claims.submit(actor, draft, today)
        db.session.execute(
            update(Claim).where(Claim.id == draft.id).values(submitted_at=utcnow() - timedelta(days=days_ago, hours=3))
        )
        db.session.expire(draft)
        return draft

    def decided(draft: Claim, days_ago: int) -> None:
        db.session.expire(draft)
        when = utcnow() - timedelta(days=days_ago)
        assert draft.submitted_at is not None
        turnaround = int((when - draft.submitted_at).total_seconds())
        db.session.execute(
            update(Claim).where(Claim.id == draft.id).values(decided_at=when, turnaround_seconds=turnaround)
        )

    claim(owner, "DISPLAY", "Spring showroom banners", 280_000, 6, 5, "44031234", ())
    submitted(
        claim(
            owner,
            "DISPLAY",
            "Window display, Nanjing Road",
            320_000,
            12,
            9,
            "44031301",
            ("Invoice 44031301", "Window display photo"),
        ),
        owner,
        3,
    )
    submitted(
        claim(owner2, "ADV", "Local newspaper advert", 458_000, 8, 8, "31002207", ("Invoice 31002207",)), owner2, 1
    )
    catalogue = submitted(
        claim(
            owner,
            "ADV",
            "Spring catalogue printing",
            640_000,
            30,
            28,
            "44030988",
            ("Invoice 44030988", "Catalogue cover"),
        ),
        owner,
        14,
    )
    claims.decide(manager, catalogue, claims.Decision.APPROVE, checked=_flags_of(catalogue))
    decided(catalogue, 10)
    submitted(
        claim(
            owner2,
            "EVENT",
            "Shop opening event",
            1_000_000,
            10,
            9,
            "31002415",
            ("Invoice 44030988", "Opening day photo"),
        ),
        owner2,
        2,
    )  # reuses D001's invoice file
    request = claim_pre_approvals.request_pre_approval(
        owner, period, kinds["TRADE_SHOW"], "Regional trade show booth", day(25), day(22), 2_800_000
    )
    claim_pre_approvals.decide_pre_approval(manager, request, True, "Go ahead; keep the booth invoice.")
    booth = submitted(
        claim(
            owner,
            "TRADE_SHOW",
            "Regional trade show booth",
            2_760_000,
            25,
            22,
            "44031102",
            ("Invoice 44031102", "Booth photo"),
            request.id,
        ),
        owner,
        6,
    )
    claims.decide(
        manager, booth, claims.Decision.APPROVE, reason="Booth and invoice match the request.", checked=_flags_of(booth)
    )
    displays = submitted(
        claim(
            owner2,
            "DISPLAY",
            "In-store display stands",
            800_000,
            35,
            33,
            "31001980",
            ("Invoice 31001980", "Display stands"),
        ),
        owner2,
        20,
    )
    claims.decide(
        manager,
        displays,
        claims.Decision.APPROVE_PART,
        amount=650_000,
        reason="Two of the ten stands are the competitor's brand; those are not covered.",
        checked=_flags_of(displays),
    )
    decided(displays, 16)
    dinner = submitted(
        claim(owner, "EVENT", "Customer dinner", 520_000, 40, 40, "44030870", ("Restaurant receipt",)), owner, 25
    )
    claims.decide(
        manager,
        dinner,
        claims.Decision.REJECT,
        reason="Meals are not a promotion activity.",
        reason_code=RejectionReason.NOT_ELIGIBLE,
    )
    decided(dinner, 21)
    demo_day = submitted(
        claim(owner, "EVENT", "Product demo day", 390_000, 18, 18, "44031150", ("Invoice 44031150",)), owner, 5
    )
    claims.decide(
        manager,
        demo_day,
        claims.Decision.REQUEST_INFO,
        reason="Please attach photos of the demo stand with our products.",
    )
    flyers = submitted(
        claim(owner, "ADV", "Autumn flyers", 215_000, 50, 48, "44030700", ("Invoice 44030700", "Flyer")), owner, 40
    )
    claims.decide(manager, flyers, claims.Decision.APPROVE, checked=_flags_of(flyers))
    decided(flyers, 35)
    claims.pay_claims(admin, [flyers.id], "BANK-2026-1107")
    withdrawn = submitted(
        claim(owner2, "ADV", "Duplicate newspaper advert", 458_000, 8, 8, "31002208", ("Invoice 31002208",)), owner2, 1
    )
    claims.withdraw(owner2, withdrawn, "Entered twice by mistake.")
    fair = today + timedelta(days=20)
    claim_pre_approvals.request_pre_approval(
        owner2, period, kinds["TRADE_SHOW"], "Home appliance fair booth", fair, fair + timedelta(days=2), 1_800_000
    )


def _flags_of(claim: Claim) -> list[str]:
    """The demo's manager has looked at every flag of a claim it approves (a real one ticks each on the page)."""
    return [found.flag.value for found in claims.flags_of(claim)]


def _seed_disputes(dealers: dict[str, Dealer], today: date) -> None:
    """A pricing conflict between D001 and D002 in mediation, an appealed violation of D002 (confirmed by the
    senior manager after the manager recorded it), and a resolved territory dispute that gave D001 a warning."""

    period = current_period(today)
    if period is None or db.session.execute(select(Dispute.id).limit(1)).first():
        return
    people = {user.email: user for user in db.session.execute(select(User)).scalars()}
    owner, owner2 = people["dealer@demo.test"], people["dealer2@demo.test"]
    manager, senior, mediator = people["manager@demo.test"], people["manager2@demo.test"], people["mediator@demo.test"]
    pricing = referee.raise_dispute(
        owner,
        referee.DisputeInput(
            category=DisputeCategory.PRICING_CONFLICT,
            title="D002 sells split units below the floor price in Nanjing",
            description="Three customers showed us D002 quotes at 12 % under the floor price for the KF-35 split unit.",
            respondent_code="D002",
        ),
    )
    referee.assign(mediator, pricing, mediator)
    referee.post_message(owner2, pricing, "Those quotes were for last year's model, cleared with our manager.")
    referee.post_message(mediator, pricing, "Check D002's clearance approval with Li Wei.", internal=True)
    violation = dispute_violations.record_violation(
        manager,
        dealers["D002"],
        period,
        ViolationKind.CROSS_TERRITORY,
        "Twelve units invoiced to customers in Shanghai (EAST), D001's territory.",
        300_000,
    )
    dispute_violations.confirm_violation(senior, violation, today)
    referee.appeal_violation(
        owner2, violation, "The customers bought at our Nanjing shop and took delivery there.", today
    )
    territory = referee.raise_dispute(
        owner2,
        referee.DisputeInput(
            category=DisputeCategory.TERRITORY_CONFLICT,
            title="D001 advertised in Nanjing newspapers",
            description="D001's spring advert ran in the Nanjing Daily, in our territory.",
            respondent_code="D001",
        ),
    )
    referee.assign(mediator, territory, mediator)
    referee.resolve(
        mediator,
        territory,
        referee.Resolution(
            Outcome.WARNING,
            "The advert ran in Nanjing; D001 is warned to keep its advertising in its territory.",
            party_dealer_id=dealers["D001"].id,
        ),
    )


def _seed_documents(dealer: Dealer) -> None:
    """A business licence for D001, stored like any upload, so documents and previews have something to show."""

    if db.session.execute(
        select(Evidence.id).where(Evidence.owner_type == OWNER_TYPE, Evidence.owner_id == dealer.id).limit(1)
    ).first():
        return
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": f"Business licence of {dealer.name}"})
    buffer = io.BytesIO()
    writer.write(buffer)
    buffer.seek(0)
    owner = db.session.execute(select(User).where(User.email == "dealer@demo.test")).scalar_one()
    add_evidence(owner, OWNER_TYPE, dealer.id, buffer, "Business licence.pdf")


def _seed_notifications(dealers: dict[str, Dealer]) -> None:
    """A few unread notifications so the bell has something to say on first login (only for users with none)."""

    welcome: dict[str, list[tuple[str, dict[str, object], Link]]] = {
        "dealer@demo.test": [
            (
                "colleague_added",
                {"name": "Liu Yang", "dealer": dealers["D001"].name},
                link("dealers.dealer_people_page"),
            ),
            ("account_changed", {}, link("accounts.account")),
        ],
        "staff@demo.test": [("account_changed", {}, link("accounts.account"))],
        "dealer2@demo.test": [
            (
                "dealer_status_changed",
                {
                    "dealer": dealers["D002"].name,
                    "old": choice(DealerStatus.ONBOARDING),
                    "new": choice(DealerStatus.ACTIVE),
                    "reason": "Onboarding complete.",
                },
                link("dealers.dealer_home"),
            ),
        ],
        "manager@demo.test": [
            ("portfolio_changed", {"dealer": dealers["D001"].name}, link("dealers.dealer_detail", code="D001")),
            ("portfolio_changed", {"dealer": dealers["D004"].name}, link("dealers.dealer_detail", code="D004")),
        ],
        "manager2@demo.test": [
            (
                "dealer_status_changed",
                {
                    "dealer": dealers["D006"].name,
                    "old": choice(DealerStatus.ACTIVE),
                    "new": choice(DealerStatus.SUSPENDED),
                    "reason": "Repeated sales below the floor price.",
                },
                link("dealers.dealer_detail", code="D006"),
            ),
        ],
    }
    for email, items in welcome.items():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        if db.session.execute(select(Notification.id).where(Notification.user_id == user.id).limit(1)).first():
            continue
        for kind, params, leads_to in items:
            db.session.add(
                Notification(
                    user_id=user.id,
                    kind=kind,
                    params=params,
                    link_endpoint=leads_to.endpoint,
                    link_args=dict(leads_to.args),
                )
            )


def _seed_tier_change(dealer: Dealer, admin: User, today: date) -> None:
    """D002 moves up to gold from the next period: the history shows a scheduled change."""
    starts = tier_history.effective_days(today).next_period
    if not db.session.execute(
        select(DealerTierChange.id).where(
            DealerTierChange.dealer_id == dealer.id, DealerTierChange.effective_from == starts
        )
    ).first():
        db.session.add(
            DealerTierChange(
                dealer_id=dealer.id,
                tier=DealerTier.GOLD,
                effective_from=starts,
                reason="Three quarters in a row above target.",
                changed_by_id=admin.id,
            )
        )


def _ensure_created_event(dealer: Dealer) -> None:
    exists = db.session.execute(
        select(DealerEvent.id).where(DealerEvent.dealer_id == dealer.id, DealerEvent.kind == DealerEventKind.CREATED)
    ).first()
    if not exists:
        db.session.add(DealerEvent(dealer_id=dealer.id, kind=DealerEventKind.CREATED, to_value=dealer.status.value))


def _seed_periods(today: date) -> None:
    """The current quarter (open) and the eight before it (closed)."""
    day = today
    for index in range(9):
        code, start, end = quarter_of(day)
        status = PeriodStatus.OPEN if index == 0 else PeriodStatus.CLOSED
        _upsert(Period, code=code, defaults={"starts_on": start, "ends_on": end, "status": status})
        day = date.fromordinal(start.toordinal() - 1)


def _ensure_user(email: str, name: str, role: UserRole, password_hash: str, **fields: object) -> User:
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None:
        user = User(email=email, name=name, role=role, password_hash=password_hash, **fields)
        db.session.add(user)
        db.session.flush()
    return user


def _upsert(model: Any, *, code: str, defaults: dict[str, object]) -> Any:
    row = db.session.execute(select(model).where(model.code == code)).scalar_one_or_none()
    if row is None:
        row = model(code=code, **defaults)
        db.session.add(row)
        db.session.flush()
    return row
