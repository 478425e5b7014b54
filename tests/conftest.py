"""Test fixtures: one migrated database per back end, a rolled-back transaction per test, a small channel.

Every test that uses `app` runs on SQLite, and again on PostgreSQL when TEST_POSTGRES_URL names a server
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/portal_test); without it those runs are skipped and say so.

Every test runs under a fixed clock (time-machine, ticking from a fixed instant), never the real date: a claim window,
an appeal deadline or "this quarter" then means the same on every day the suite runs. Tests marked `calendar` run
again at the instants where dates break: the first and the last minute of a quarter in the company's time zone
(the first is still the day before in UTC) and 29 February. PORTAL_TEST_CLOCK=<name> runs every test at one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from hypothesis import settings
from sqlalchemy.orm import scoped_session, sessionmaker

from portal.extensions import db, limiter
from tests.factories import (
    THOROUGH,
    CampaignRecords,
    Channel,
    ClaimRecords,
    DisputeRecords,
    NewsRecords,
    PlanRecords,
    RebateRecords,
    RefereeRecords,
    TrainingRecords,
    World,
    make_campaign_records,
    make_channel,
    make_claim_records,
    make_dispute_records,
    make_news_records,
    make_plan_records,
    make_rebate_records,
    make_referee_records,
    make_training_records,
    set_claim_budgets,
    world_of,
)
from tests.helpers import BACKENDS, build_app, dispose_app, fresh_database_url, log_in

T = TypeVar("T")

# Instants in the company's time zone (Asia/Shanghai, UTC+8). The default is an ordinary weekday in the middle of a
# quarter; the others are where calendar arithmetic goes wrong.
CLOCKS = {
    "mid-quarter": "2026-11-16T10:00:00+08:00",
    "quarter-first-day": "2027-01-01T00:10:00+08:00",  # 31 December 16:10 in UTC
    "quarter-last-day": "2026-12-31T23:50:00+08:00",
    "leap-day": "2028-02-29T12:00:00+08:00",
}
DEFAULT_CLOCK = os.environ.get("PORTAL_TEST_CLOCK", "mid-quarter")

# Hypothesis profiles (HYPOTHESIS_PROFILE): "ci" keeps each test's own example count; "thorough" (make test-thorough)
# runs ten times as many, for the tests that set none as well (tests.factories.examples scales those that do).
settings.register_profile("ci", deadline=None)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile("thorough" if THOROUGH else "ci")


def pytest_configure(config: pytest.Config) -> None:
    if DEFAULT_CLOCK not in CLOCKS:
        raise pytest.UsageError(f"PORTAL_TEST_CLOCK must be one of {', '.join(CLOCKS)}")
    config.addinivalue_line("markers", "calendar: depends on today's date; runs again at every instant of CLOCKS")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `calendar` runs once per instant of CLOCKS (its id says which)."""
    if metafunc.definition.get_closest_marker("calendar") is not None and DEFAULT_CLOCK == "mid-quarter":
        metafunc.parametrize("clock", list(CLOCKS), indirect=True)


def clock_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    return str(callspec.params["clock"]) if callspec is not None and "clock" in callspec.params else DEFAULT_CLOCK


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Each test, its fixtures included, starts at its instant and the clock ticks on from there: every thread of
    the process (race workers, the browser tests' server) sees the same time."""
    with time_machine.travel(CLOCKS[clock_of(item)], tick=True):
        yield


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest) -> str:
    """The name of the instant this test runs at (see CLOCKS)."""
    return str(getattr(request, "param", DEFAULT_CLOCK))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The other instants of CLOCKS run on SQLite only: the date rules are Python and the same on both databases,
    and the PostgreSQL run of the same tests at the default instant covers what differs between the databases.
    That keeps CI's time in bounds (381 runs of some of the slowest tests).

    With PORTAL_NO_SKIPS=1 (CI), a skipped test is an error: CI must not go green over skipped PostgreSQL runs."""
    other_instants_on_postgresql = [
        item
        for item in items
        if clock_of(item) != DEFAULT_CLOCK
        and getattr(getattr(item, "callspec", None), "params", {}).get("backend") == "postgresql"
    ]
    if other_instants_on_postgresql:
        chosen = set(map(id, other_instants_on_postgresql))
        config.hook.pytest_deselected(items=other_instants_on_postgresql)
        items[:] = [item for item in items if id(item) not in chosen]
    if os.environ.get("PORTAL_NO_SKIPS") != "1":
        return
    config.pluginmanager.register(_FailOnSkip(), "portal-fail-on-skip")


class _FailOnSkip:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        if report.skipped and not hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = f"skipped, which CI does not allow: {report.longrepr}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def migrated_app(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The application on a database migrated once per run with the real Alembic migrations."""
    app = build_app(fresh_database_url(backend, "test", tmp_path_factory))
    with app.app_context():
        upgrade()
    yield app
    dispose_app(app)


@pytest.fixture
def db_connection(migrated_app: Flask) -> Iterator[sa.Connection]:
    with migrated_app.app_context():
        engine = db.engine
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield connection
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def app(migrated_app: Flask, db_connection: sa.Connection) -> Iterator[Flask]:
    """Each test inside one outer transaction that is rolled back; the app's commits become savepoints."""
    connection = db_connection
    original_session = db.session
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint"), scopefunc=_app_ctx_id
    )
    migrated_app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    limiter.enabled = False  # the limiter is one object; a test app with limits on may have switched it on
    migrated_app.config["EVIDENCE_LOCAL_ROOT"] = str(migrated_app.config["TEST_EVIDENCE_ROOT"])
    try:
        yield migrated_app
    finally:
        with migrated_app.app_context():
            db.session.remove()
        db.session = original_session
        migrated_app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)


def _committed(app: Flask, build: Callable[[], T]) -> T:
    """Build rows and commit them into the test's outer transaction, which is still rolled back at the end."""
    with app.app_context():
        built = build()
        db.session.commit()
        return built


@pytest.fixture
def channel(app: Flask) -> Channel:
    """People, dealers and periods: what every area's records stand on."""
    return _committed(app, make_channel)


@pytest.fixture
def rebate_records(app: Flask, channel: Channel) -> RebateRecords:
    return _committed(app, lambda: make_rebate_records(channel))


@pytest.fixture
def training_records(app: Flask, channel: Channel) -> TrainingRecords:
    return _committed(app, lambda: make_training_records(channel))


@pytest.fixture
def claim_records(app: Flask, channel: Channel) -> ClaimRecords:
    return _committed(app, lambda: make_claim_records(channel))


@pytest.fixture
def budgets_set(app: Flask, channel: Channel) -> Channel:
    """The channel with a promotion budget of 100,000.00 for the own and the foreign dealer this quarter."""
    return _committed(app, lambda: set_claim_budgets(channel, 10_000_000))


@pytest.fixture
def dispute_records(app: Flask, channel: Channel) -> DisputeRecords:
    return _committed(app, lambda: make_dispute_records(channel))


@pytest.fixture
def referee_records(app: Flask, channel: Channel) -> RefereeRecords:
    return _committed(app, lambda: make_referee_records(channel))


@pytest.fixture
def campaign_records(app: Flask, channel: Channel) -> CampaignRecords:
    return _committed(app, lambda: make_campaign_records(channel))


@pytest.fixture
def news_records(app: Flask, channel: Channel) -> NewsRecords:
    return _committed(app, lambda: make_news_records(channel))


@pytest.fixture
def plan_records(app: Flask, channel: Channel) -> PlanRecords:
    return _committed(app, lambda: make_plan_records(channel))


@pytest.fixture
def world(
    channel: Channel,
    rebate_records: RebateRecords,
    training_records: TrainingRecords,
    claim_records: ClaimRecords,
    dispute_records: DisputeRecords,
    referee_records: RefereeRecords,
    campaign_records: CampaignRecords,
    news_records: NewsRecords,
    plan_records: PlanRecords,
) -> World:
    """Every area's records on one channel (the access matrix, the CSRF crawl, pages that show several areas)."""
    return world_of(
        channel,
        rebate_records,
        training_records,
        claim_records,
        dispute_records,
        referee_records,
        campaign_records,
        news_records,
        plan_records,
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def login(client: FlaskClient, channel: Channel):  # type: ignore[no-untyped-def]
    """log_in the shared client as a role of the channel: login("manager")."""

    def _login(role: str) -> FlaskClient:
        log_in(client, channel.emails[role])
        return client

    return _login
