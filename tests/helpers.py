"""The one helpers module of the tests: databases and apps of their own, logging in, counting queries, and the
fingerprint that shows a refused request changed nothing. Fixtures live in conftest.py; objects come from factories."""

from __future__ import annotations

import email
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
import sqlalchemy as sa
import time_machine
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from config import normalise_database_url
from portal import create_app
from portal.accounts.models import RecoveryCode, User
from portal.audit.models import AuditEvent
from portal.campaigns.models import Campaign, CampaignResult
from portal.campaigns.services import EDITABLE_FIELDS as CAMPAIGN_FORM_FIELDS
from portal.claims.models import Claim, ClaimEvent, ClaimFlag, FundAllocation, FundRequest
from portal.dealers import closing
from portal.dealers.models import Acknowledgement, Dealer, DealerEvent, Period, Territory, Trainee
from portal.disputes.models import Dispute, DisputeMessage, Violation
from portal.evidence.models import Evidence
from portal.extensions import db
from portal.news.models import Announcement
from portal.news.services import EDITABLE_FIELDS as NEWS_FORM_FIELDS
from portal.notifications.models import Notification, NotificationPreference, OutboxEmail
from portal.plans.models import BusinessPlan, PlanAction, PlanGoal, PlanVersion, Visit
from portal.rebates import imports
from portal.rebates.models import (
    Adjustment,
    ImportStatus,
    LedgerEntry,
    ProgramTier,
    RebateProgram,
    RebateStatement,
    SalesImport,
    SalesLine,
    Target,
)
from portal.rebates.sales_jobs import check_sales_import, run_sales_import
from portal.referee.models import (
    CodedShipment,
    PriceList,
    PriceListItem,
    Product,
    Sighting,
    Suspicion,
    SuspicionSighting,
    TerritoryRegion,
)
from portal.training.models import Course, CoursePrerequisite, CourseSession, Enrollment
from scripts.bench import free_port as free_port  # the one free-port finder, for the scripts and the tests
from tests.factories import PASSWORD

POSTGRES_HINT = (
    "PostgreSQL run skipped: set TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_test "
    "(the database is created if missing) to run the suite on PostgreSQL too"
)


BACKENDS = ["sqlite", "postgresql"]


def postgres_url(database: str) -> str | None:
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        return None
    url = sa.engine.make_url(normalise_database_url(base))
    return url.set(database=database).render_as_string(hide_password=False)


def recreate_postgres_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    admin_engine = sa.create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin_engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin_engine.dispose()


def fresh_database_url(backend: str, name: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database of the given back end, unique to `name` and this worker."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp(name) / 'portal.db'}"
    # pytest-xdist's workers (gw0, gw1...) each get their own databases, named after the one TEST_POSTGRES_URL
    # names: two runs on one server (CI on portal_test, a local run on portal_local) never drop each other's.
    base = sa.engine.make_url(normalise_database_url(os.environ.get("TEST_POSTGRES_URL") or "postgresql:///portal"))
    url = postgres_url(f"{base.database or 'portal'}_{name}{os.environ.get('PYTEST_XDIST_WORKER', '')}")
    if url is None:
        pytest.skip(POSTGRES_HINT)
    recreate_postgres_database(url)
    return url


def build_app(database_url: str, **overrides: Any) -> Flask:
    """A test app; its evidence files go to a temporary folder of their own, never the project's instance/."""

    evidence_root = tempfile.mkdtemp(prefix="portal-evidence-")
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "EVIDENCE_LOCAL_ROOT": evidence_root,
        "TEST_EVIDENCE_ROOT": evidence_root,
        **overrides,
    }
    return create_app("test", settings)


def dispose_app(app: Flask) -> None:
    """Close every pooled connection of a test app (its session first, or its connection outlives the pool)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, **extra: str) -> Any:
    """Log in through the form; a user with an authenticator app gets past the code step with its current code."""
    response = client.post("/login", data={"email": email, "password": password, **extra})
    assert response.status_code == 303, f"login as {email} failed with {response.status_code}"
    if response.headers["Location"].endswith("/login/two-factor"):
        code = {"code": current_totp_code(client.application, email)}
        csrf = {}
        if "csrf_token" in extra:  # the password step began a new session: the code page has its new token
            csrf = {"csrf_token": csrf_token_on(client, "/login/two-factor")}
        response = client.post("/login/two-factor", data={**code, **csrf})
        assert response.status_code == 303, f"code step as {email} failed with {response.status_code}"
    return response


def past_the_grace_days(ends_on: date) -> Any:
    """The company's clock eleven days after a period's last day (10:00 in Shanghai), when it may close; a
    context manager, nested inside the test's own instant."""
    moment = datetime.combine(ends_on + timedelta(days=11), time(10), ZoneInfo("Asia/Shanghai"))
    return time_machine.travel(moment, tick=True)


def close_by_two(period: Period, asker: User, confirmer: User) -> None:
    """A period closed as the portal requires: one admin asks, a second person confirms (services, no HTTP)."""
    closing.request_close(asker, period)
    closing.confirm_close(confirmer, period)


def logged_in_client(app: Flask, email: str) -> FlaskClient:
    """A new client of the app, logged in as `email` (each has its own session, for tests with several people)."""
    client = app.test_client()
    log_in(client, email)
    return client


def csrf_token_on(client: FlaskClient, path: str) -> str | None:
    """The CSRF token a page hands to htmx in <body hx-headers> (the same one its forms carry), if it has one."""
    match = re.search(r'"X-CSRFToken": "([^"]+)"', client.get(path).get_data(as_text=True))
    return match.group(1) if match else None


def current_totp_code(app: Flask, email: str) -> str:
    """The code the user's app shows now. The last step used is forgotten first, as if 30 seconds had passed:
    tests log the same user in many times within one step, and the portal accepts each step once."""

    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        user.totp_last_step = None
        secret = user.totp_secret
        db.session.commit()
        db.session.remove()
    assert secret, f"{email} has no authenticator"
    return pyotp.TOTP(secret).now()


def start_two_factor_login(client: FlaskClient, email: str) -> None:
    """Give the password and stop at the code step (the CSRF token taken from the login page, when it has one)."""
    token = csrf_token_on(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, **({"csrf_token": token} if token else {})}
    )
    assert response.headers.get("Location", "").endswith("/login/two-factor"), response.status_code


@contextmanager
def example_savepoint(connection: sa.Connection) -> Iterator[None]:
    """A clean slate for each Hypothesis example: everything the example wrote is rolled back after it."""
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        if savepoint.is_active:
            savepoint.rollback()


@contextmanager
def count_queries(app: Flask) -> Iterator[list[str]]:
    """Collect the SQL statements executed while the block runs."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO", "BEGIN")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", _record)


def fingerprint(app: Flask) -> tuple[Any, ...]:
    """Everything a state-changing route could touch, to prove a refused request changed nothing."""

    with app.app_context():
        return (
            db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one(),
            db.session.execute(sa.select(sa.func.count()).select_from(DealerEvent)).scalar_one(),
            db.session.execute(
                sa.select(
                    User.id,
                    User.email,
                    User.active,
                    User.role,
                    User.dealer_role,
                    User.password_hash,
                    User.locale,
                    User.totp_secret,
                    User.totp_pending_secret,
                    User.totp_enabled_at,
                    User.totp_last_step,
                    User.two_factor_required,
                ).order_by(User.id)
            ).all(),
            db.session.execute(
                sa.select(RecoveryCode.id, RecoveryCode.code_hash, RecoveryCode.used_at).order_by(RecoveryCode.id)
            ).all(),
            db.session.execute(
                sa.select(Dealer.id, Dealer.code, Dealer.name, Dealer.status, Dealer.manager_id).order_by(Dealer.id)
            ).all(),
            db.session.execute(sa.select(Trainee.id, Trainee.name, Trainee.active).order_by(Trainee.id)).all(),
            db.session.execute(sa.select(Territory.id, Territory.code, Territory.name).order_by(Territory.id)).all(),
            db.session.execute(sa.select(Period.id, Period.code, Period.status).order_by(Period.id)).all(),
            db.session.execute(sa.select(Notification.id, Notification.read_at).order_by(Notification.id)).all(),
            db.session.execute(
                sa.select(NotificationPreference.user_id, NotificationPreference.kind, NotificationPreference.email)
            ).all(),
            db.session.execute(sa.select(OutboxEmail.id, OutboxEmail.status).order_by(OutboxEmail.id)).all(),
            *_rebate_fingerprint(),
            *_training_fingerprint(),
            *_claims_fingerprint(),
            *_disputes_fingerprint(),
            *_referee_fingerprint(),
            *_campaigns_fingerprint(),
            *_plans_fingerprint(),
            db.session.execute(
                sa.select(
                    *(getattr(Announcement, name) for name in ("id", "status", "version", *NEWS_FORM_FIELDS))
                ).order_by(Announcement.id)
            ).all(),
        )


def _plans_fingerprint() -> tuple[Any, ...]:
    """Plans (status, revision, versions, the review), their goals, actions and versions, and the visit log."""
    return (
        db.session.execute(
            sa.select(
                BusinessPlan.id,
                BusinessPlan.status,
                BusinessPlan.revision,
                BusinessPlan.version,
                BusinessPlan.agreed_version,
                BusinessPlan.review_notes,
                BusinessPlan.dealer_comments,
            ).order_by(BusinessPlan.id)
        ).all(),
        db.session.execute(
            sa.select(PlanGoal.id, PlanGoal.kind, PlanGoal.wanted, PlanGoal.note).order_by(PlanGoal.id)
        ).all(),
        db.session.execute(
            sa.select(PlanAction.id, PlanAction.what, PlanAction.due_on, PlanAction.done_on).order_by(PlanAction.id)
        ).all(),
        db.session.execute(
            sa.select(PlanVersion.id, PlanVersion.dealer_accepted_at, PlanVersion.manager_accepted_at).order_by(
                PlanVersion.id
            )
        ).all(),
        db.session.execute(
            sa.select(Visit.id, Visit.dealer_id, Visit.visited_on, Visit.notes, Visit.shared).order_by(Visit.id)
        ).all(),
    )


def _campaigns_fingerprint() -> tuple[Any, ...]:
    """Campaigns (every field a form or a decision writes), their results and the ledger entries settling books."""
    columns = [getattr(Campaign, name) for name in ("id", "status", "settled_total", *CAMPAIGN_FORM_FIELDS)]
    return (
        db.session.execute(sa.select(*columns).order_by(Campaign.id)).all(),
        db.session.execute(sa.select(sa.func.count()).select_from(CampaignResult)).scalar_one(),
        db.session.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one(),
    )


def _referee_fingerprint() -> tuple[Any, ...]:

    return (
        db.session.execute(
            sa.select(Product.id, Product.sku, Product.name_en, Product.name_zh).order_by(Product.id)
        ).all(),
        db.session.execute(
            sa.select(PriceList.id, PriceList.status, PriceList.name, PriceList.effective_from).order_by(PriceList.id)
        ).all(),
        db.session.execute(
            sa.select(PriceListItem.id, PriceListItem.list_price, PriceListItem.floor_price).order_by(PriceListItem.id)
        ).all(),
        db.session.execute(sa.select(Acknowledgement.id).order_by(Acknowledgement.id)).all(),
        db.session.execute(
            sa.select(TerritoryRegion.territory_id, TerritoryRegion.region_code).order_by(TerritoryRegion.id)
        ).all(),
        db.session.execute(
            sa.select(Suspicion.id, Suspicion.status, Suspicion.reason, Suspicion.violation_id).order_by(Suspicion.id)
        ).all(),
        db.session.execute(sa.select(CodedShipment.code, CodedShipment.dealer_id).order_by(CodedShipment.id)).all(),
        db.session.execute(sa.select(sa.func.count()).select_from(Sighting)).scalar_one(),
        db.session.execute(sa.select(sa.func.count()).select_from(SuspicionSighting)).scalar_one(),
    )


def _disputes_fingerprint() -> tuple[Any, ...]:

    return (
        db.session.execute(
            sa.select(Violation.id, Violation.status, Violation.penalty, Violation.description).order_by(Violation.id)
        ).all(),
        db.session.execute(
            sa.select(Dispute.id, Dispute.status, Dispute.mediator_id, Dispute.outcome, Dispute.summary).order_by(
                Dispute.id
            )
        ).all(),
        db.session.execute(sa.select(sa.func.count()).select_from(DisputeMessage)).scalar_one(),
        db.session.execute(sa.select(sa.func.count()).select_from(Adjustment)).scalar_one(),
    )


def _claims_fingerprint() -> tuple[Any, ...]:

    return (
        db.session.execute(
            sa.select(
                Claim.id,
                Claim.status,
                Claim.title,
                Claim.amount_requested,
                Claim.amount_approved,
                Claim.activity_start,
                Claim.activity_end,
                Claim.invoice_number,
                Claim.invoice_code,
                Claim.invoice_type,
                Claim.invoice_total,
                Claim.budget_held,
                Claim.payment_reference,
                Claim.rejection_reason,
            ).order_by(Claim.id)
        ).all(),
        db.session.execute(sa.select(sa.func.count()).select_from(ClaimEvent)).scalar_one(),
        db.session.execute(sa.select(ClaimFlag.claim_id, ClaimFlag.flag).order_by(ClaimFlag.id)).all(),
        db.session.execute(
            sa.select(FundAllocation.dealer_id, FundAllocation.period_id, FundAllocation.amount).order_by(
                FundAllocation.id
            )
        ).all(),
        db.session.execute(
            sa.select(FundRequest.id, FundRequest.status, FundRequest.title).order_by(FundRequest.id)
        ).all(),
        db.session.execute(sa.select(Evidence.id, Evidence.owner_type, Evidence.owner_id).order_by(Evidence.id)).all(),
    )


def _training_fingerprint() -> tuple[Any, ...]:

    return (
        db.session.execute(sa.select(Course.id, Course.code, Course.title, Course.validity_months)).all(),
        db.session.execute(sa.select(CoursePrerequisite.course_id, CoursePrerequisite.required_course_id)).all(),
        db.session.execute(
            sa.select(CourseSession.id, CourseSession.capacity, CourseSession.seats_taken, CourseSession.status)
        ).all(),
        db.session.execute(
            sa.select(Enrollment.id, Enrollment.status, Enrollment.waitlist_ticket, Enrollment.certificate_number)
        ).all(),
    )


def _rebate_fingerprint() -> tuple[Any, ...]:

    return (
        db.session.execute(sa.select(RebateProgram.id, RebateProgram.name, RebateProgram.eligible_tiers)).all(),
        db.session.execute(
            sa.select(ProgramTier.id, ProgramTier.threshold_hundredths, ProgramTier.rate_hundredths)
        ).all(),
        db.session.execute(sa.select(Target.id, Target.amount).order_by(Target.id)).all(),
        db.session.execute(sa.select(sa.func.count(), sa.func.sum(SalesLine.amount))).one(),
        db.session.execute(sa.select(SalesImport.id, SalesImport.status).order_by(SalesImport.id)).all(),
        db.session.execute(sa.select(Adjustment.id, Adjustment.amount).order_by(Adjustment.id)).all(),
        db.session.execute(
            sa.select(RebateStatement.id, RebateStatement.status, RebateStatement.net_payable).order_by(
                RebateStatement.id
            )
        ).all(),
    )


# Per back end, for this worker: a database migrated once, which fresh migrated databases are copied from.
_MIGRATED_TEMPLATES: dict[str, str] = {}


def migrated_database_url(backend: str, name: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of its own, already at the latest migration: a copy of one this worker migrated once (a file copy
    on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), instead of running every migration again per test.
    The migrations themselves are tested from an empty database in tests/test_migrations.py."""
    if backend not in _MIGRATED_TEMPLATES:
        template = fresh_database_url(backend, "migrated_template", tmp_path_factory)
        app = build_app(template)
        with app.app_context():
            upgrade()
        dispose_app(app)
        _MIGRATED_TEMPLATES[backend] = template
    template = _MIGRATED_TEMPLATES[backend]
    if backend == "sqlite":
        target = tmp_path_factory.mktemp(name) / "portal.db"
        shutil.copyfile(sa.engine.make_url(template).database or "", target)
        return f"sqlite:///{target}"
    url = fresh_database_url(backend, name, tmp_path_factory)
    parsed = sa.engine.make_url(url)
    admin_engine = sa.create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin_engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(
            sa.text(f'CREATE DATABASE "{parsed.database}" TEMPLATE "{sa.engine.make_url(template).database}"')
        )
    admin_engine.dispose()
    return url


def race_app(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """A database of its own at the latest migration: threads commit for real."""
    return build_app(migrated_database_url(backend_name, "claim_races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


LINE_ERROR_ROW = re.compile(
    r"<tr><td data-label=\"[^\"]*\">(\d+)</td><td data-label=\"[^\"]*\">([^<]*)</td>"
    r"<td data-label=\"[^\"]*\">(?:<code>([^<]*)</code>|—)</td><td data-label=\"[^\"]*\">([^<]*)</td></tr>"
)


CHINESE_SALES_HEADER = "客户编码,开票日期,价税合计,数量,发票号码,物料编码,含税单价,收货地区编码"


def checked_sales_file(manager_email: str, *lines: str, header: str = CHINESE_SALES_HEADER) -> SalesImport:
    """A file in GB18030 as a Chinese ERP exports it, uploaded by the manager and checked (in an app context):
    the import, ready."""
    content = ("\n".join([header, *lines]) + "\n").encode("gb18030")
    manager = db.session.execute(sa.select(User).where(User.email == manager_email)).scalar_one()
    batch = imports.start_sales_import(manager, "销售明细.csv", content)
    db.session.commit()
    check_sales_import(batch.id)
    checked = db.session.get(SalesImport, batch.id)
    assert checked is not None and checked.status is ImportStatus.READY, checked.errors
    return checked


def imported_sales_file(app: Flask, manager_email: str, *lines: str, header: str = CHINESE_SALES_HEADER) -> int:
    """The same file checked, confirmed and imported; its import's id."""
    with app.app_context():
        batch = checked_sales_file(manager_email, *lines, header=header)
        manager = db.session.execute(sa.select(User).where(User.email == manager_email)).scalar_one()
        imports.confirm_sales_import(manager, batch)
        db.session.commit()
        assert run_sales_import(batch.id) == "imported"
        return batch.id


def line_errors_of(html: str) -> list[tuple[str, str, str]]:
    """The rows of a page's "errors by line" table: (line, column, message), as the person reads them."""
    return [(line, column, unescape(message)) for line, column, _found, message in LINE_ERROR_ROW.findall(html)]


def line_errors_found_of(html: str) -> list[tuple[str, str, str]]:
    """The same rows as (line, column, value found): what the page says it read on that line."""
    return [(line, column, unescape(found)) for line, column, found, _message in LINE_ERROR_ROW.findall(html)]


def walk_pages(client: FlaskClient, path: str, token: str, most: int = 200) -> list[dict[str, Any]]:
    """Every item of an API list, following `next_cursor` page after page (at most `most` pages)."""
    items: list[dict[str, Any]] = []
    cursor = ""
    joiner = "&" if "?" in path else "?"
    for _page in range(most):
        response = client.get(f"{path}{joiner}cursor={cursor}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items.extend(body["items"])
        if body["next_cursor"] is None:
            return items
        cursor = body["next_cursor"]
    raise AssertionError(f"{path}: more than {most} pages")
