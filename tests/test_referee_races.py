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
from portal.referee import codes
from portal.referee.models import CodedShipment, Suspicion, SuspicionSighting
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
