"""The referee's races, with real commits on a file SQLite database and on PostgreSQL, threads released together:
two inspectors reporting the same dealer's goods in one week join one suspicion and both count; two keepers
importing one shipments file at once add each code once and neither fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User, UserRole
from portal.database import begin_write
from portal.extensions import db
from portal.rebates import imports
from portal.rebates.models import SalesImport, SalesLine
from portal.rebates.sales_jobs import check_sales_import, run_sales_import
from portal.referee import codes, detection, suspicions
from portal.referee.models import CodedShipment, Suspicion, SuspicionLine, SuspicionSighting
from portal.referee.rules import SuspicionStatus
from portal.service_errors import IllegalTransition
from tests.factories import make_user, make_world, period
from tests.helpers import BACKENDS, dispose_app, race_app
from tests.threads import run_together


def _as(app: Any, email: str, action: Callable[[User], object]) -> Callable[[Callable[[], Any]], str]:
    def work(wait: Callable[[], Any]) -> str:
        with app.app_context():
            wait()
            begin_write()
            actor = db.session.execute(select(User).where(User.email == email)).scalar_one()
            action(actor)
            db.session.commit()
            return "done"

    return work


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_sightings_at_once_join_one_suspicion_and_both_count(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        make_user(UserRole.INSPECTOR, email="inspector2@example.test")
        day = period(world.current_period).starts_on + timedelta(days=14)
        db.session.commit()

    def report(actor: User) -> None:
        codes.record_sighting(actor, codes.SightingReport(world.referee.shipped_code, "110105", "", None, day))

    try:
        results = run_together(
            [_as(app, email, report) for email in (world.emails["inspector"], "inspector2@example.test")]
        )
        with app.app_context():
            suspicions = db.session.execute(
                select(Suspicion.id, Suspicion.sighting_count).where(Suspicion.sighting_count > 0)
            ).all()
            links = db.session.execute(select(func.count()).select_from(SuspicionSighting)).scalar_one()
    finally:
        dispose_app(app)
    assert results == ["done", "done"]
    assert links == 2
    assert [count for _id, count in suspicions] == [2]


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_one_shipments_file_imported_twice_at_once_adds_each_code_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        db.session.commit()
    content = "code,sku,dealer_code,ship_date\n" + "".join(
        f"RACE-{number:04d},AC-1200,D002,2026-01-05\n" for number in range(200)
    )
    counts: list[tuple[int, int]] = []

    def import_file(actor: User) -> None:
        imported = codes.import_shipments(actor, content.encode())
        counts.append((imported.created, imported.unchanged))

    try:
        results = run_together([_as(app, world.emails[role], import_file) for role in ("admin", "senior_manager")])
        with app.app_context():
            stored = db.session.execute(select(func.count()).where(CodedShipment.code.like("RACE-%"))).scalar_one()
    finally:
        dispose_app(app)
    assert results == ["done", "done"]
    assert stored == 200
    assert sum(created for created, _unchanged in counts) == 200  # each code added once, by one or the other
    assert all(created + unchanged == 200 for created, unchanged in counts)


def _suspected_import(app: Any, world: Any) -> tuple[int, int]:
    """A file of D001's with one line below the floor, imported and detected: the import's id and the suspicion's."""
    with app.app_context():
        day = period(world.current_period).starts_on + timedelta(days=14)
        content = (
            f"dealer_code,date,amount,units,invoice_ref,sku,unit_price\nD001,{day},4000.00,1,VOID-1,AC-1200,4000.00\n"
        )
        manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
        batch = imports.start_sales_import(manager, "sales.csv", content.encode())
        db.session.commit()
        check_sales_import(batch.id)
        imports.confirm_sales_import(manager, db.session.get(SalesImport, batch.id))
        db.session.commit()
        assert run_sales_import(batch.id) == "imported"
        assert detection.detect_import(batch.id) == 1
        db.session.commit()
        evidence = (
            db.session.execute(
                select(SuspicionLine.suspicion_id)
                .join(SalesLine, SalesLine.id == SuspicionLine.sales_line_id)
                .where(SalesLine.import_id == batch.id)
            )
            .scalars()
            .all()
        )
        assert len(evidence) == 1
        return batch.id, evidence[0]


def _void(app: Any, email: str, import_id: int) -> Callable[[Callable[[], Any]], str]:
    return _as(
        app,
        email,
        lambda actor: imports.void_sales_import(actor, db.session.get(SalesImport, import_id), "Sent twice"),
    )


def _make_violation(
    app: Any,
    email: str,
    suspicion_id: int,
    before: Callable[[], Any] = lambda: None,
    after: Callable[[], Any] = lambda: None,
) -> Any:
    def work(wait: Callable[[], Any]) -> str:
        with app.app_context():
            wait()
            before()
            begin_write()
            actor = db.session.execute(select(User).where(User.email == email)).scalar_one()
            found = db.session.get(Suspicion, suspicion_id)
            try:
                suspicions.make_violation(actor, found, "", suspicions.proposed_penalty(found.dealer_id, found.rule))
                db.session.commit()
                return "done"
            except IllegalTransition:
                db.session.rollback()
                return "refused"
            finally:
                after()
                db.session.remove()

    return work


def _outcome(app: Any, suspicion_id: int) -> tuple[SuspicionStatus, int, int, bool]:
    with app.app_context():
        found = db.session.get(Suspicion, suspicion_id)
        assert found is not None
        evidence = db.session.execute(
            select(func.count()).where(SuspicionLine.suspicion_id == suspicion_id)
        ).scalar_one()
        return found.status, found.line_count, evidence, found.violation_id is not None


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_void_and_a_ruling_at_once_never_leave_a_violation_without_its_evidence(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        db.session.commit()
    import_id, suspicion_id = _suspected_import(app, world)
    try:
        results = run_together(
            [
                _void(app, world.emails["manager"], import_id),
                _make_violation(app, world.emails["senior_manager"], suspicion_id),
            ]
        )
        outcome = _outcome(app, suspicion_id)
    finally:
        dispose_app(app)
    assert results[0] == "done"
    if results[1] == "done":  # the ruling first: it keeps the evidence it was made on
        assert outcome == (SuspicionStatus.VIOLATION, 1, 1, True)
    else:  # the void first: nothing is left to rule on
        assert outcome == (SuspicionStatus.DISMISSED, 0, 0, False)
