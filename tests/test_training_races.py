"""Seats under load, with real commits on a file SQLite database and on PostgreSQL, threads released together.

- fifty people at once for the last ten seats: exactly ten get in, forty wait in line 1 to 40;
- cancellations racing with enrolments: never a free seat while someone waits, and the seat count always equals
  the people holding a seat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.accounts.models import DealerRole, UserRole
from portal.extensions import db
from portal.training.models import CourseSession, Enrollment, EnrollmentStatus
from portal.training.services import waitlist_positions
from tests.factories import (
    PASSWORD,
    make_course,
    make_dealer,
    make_enrollment,
    make_session,
    make_trainee,
    make_user,
)
from tests.helpers import BACKENDS, build_app, dispose_app, migrated_database_url
from tests.threads import run_together


def _app(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app = build_app(
        migrated_database_url(backend_name, "training_races", tmp_path_factory),
        SQLITE_BUSY_TIMEOUT_MS=60000,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 60, "max_overflow": 10, "pool_timeout": 60},
    )
    return app


def _poster(app: Flask, email: str, url: str, form: dict[str, str]) -> Callable[[Callable[[], Any]], int]:
    def work(wait: Callable[[], Any]) -> int:
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
        wait()
        return client.post(url, data=form).status_code

    return work


def _seat_invariants(session_id: int) -> tuple[int, int, list[int]]:
    session = db.session.get(CourseSession, session_id)
    enrolled = db.session.execute(
        select(func.count()).where(Enrollment.session_id == session_id, Enrollment.status == EnrollmentStatus.ENROLLED)
    ).scalar_one()
    places = sorted(waitlist_positions(session_id).values())
    assert enrolled == session.seats_taken <= session.capacity
    assert not (places and session.seats_taken < session.capacity), "a free seat while someone waits"
    assert places == list(range(1, len(places) + 1))
    return enrolled, session.capacity, places


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_fifty_people_for_the_last_ten_seats(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    app = _app(backend_name, tmp_path_factory)
    with app.app_context():
        dealer = make_dealer()
        owner = make_user(UserRole.DEALER, dealer=dealer, dealer_role=DealerRole.OWNER)
        session = make_session(make_course(), capacity=20)
        for _ in range(10):
            make_enrollment(session, trainee=make_trainee(dealer))
        hopefuls = [make_trainee(dealer).id for _ in range(50)]
        url = f"/training/sessions/{session.id}/enrol"
        session_id, email = session.id, owner.email
        db.session.commit()
    try:
        statuses = run_together([_poster(app, email, url, {"person": f"t{trainee}"}) for trainee in hopefuls])
        with app.app_context():
            enrolled, capacity, places = _seat_invariants(session_id)
            tickets = (
                db.session.execute(
                    select(Enrollment.waitlist_ticket).where(Enrollment.status == EnrollmentStatus.WAITLISTED)
                )
                .scalars()
                .all()
            )
    finally:
        dispose_app(app)
    assert statuses == [303] * 50
    assert (enrolled, capacity) == (20, 20)
    assert places == list(range(1, 41)) and sorted(tickets) == list(range(1, 41))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_cancellations_racing_with_enrolments_leave_no_free_seat_while_someone_waits(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = _app(backend_name, tmp_path_factory)
    with app.app_context():
        dealer = make_dealer()
        owner = make_user(UserRole.DEALER, dealer=dealer, dealer_role=DealerRole.OWNER)
        session = make_session(make_course(), capacity=10)
        seated = [make_enrollment(session, trainee=make_trainee(dealer)).id for _ in range(10)]
        for ticket in range(1, 6):
            waiting = make_enrollment(session, trainee=make_trainee(dealer), status="waitlisted")
            waiting.waitlist_ticket = ticket
        session.last_ticket = 5
        newcomers = [make_trainee(dealer).id for _ in range(10)]
        session_id, email = session.id, owner.email
        db.session.commit()
    workers = [_poster(app, email, f"/training/enrollments/{enrollment}/cancel", {}) for enrollment in seated[:5]]
    workers += [_poster(app, email, f"/training/sessions/{session_id}/enrol", {"person": f"t{t}"}) for t in newcomers]
    try:
        statuses = run_together(workers)
        with app.app_context():
            enrolled, capacity, places = _seat_invariants(session_id)
    finally:
        dispose_app(app)
    assert statuses == [303] * 15
    assert (enrolled, capacity, len(places)) == (10, 10, 10)
