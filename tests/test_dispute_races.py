"""Dispute races with real commits on a file SQLite database and on PostgreSQL, threads released together: two
resolutions sent at once settle the dispute once and apply the outcome once; two mediators taking the same
dispute: one has it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User, UserRole
from portal.disputes import services
from portal.disputes.models import Dispute, DisputeMessage, Violation
from portal.disputes.rules import DisputeStatus, Outcome
from portal.extensions import db
from tests.factories import make_user, make_world
from tests.helpers import BACKENDS, dispose_app, race_app
from tests.threads import acting_as, run_together


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_resolutions_at_once_apply_the_outcome_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        own_id = world.people.own_dealer_id
        db.session.commit()
    dispute_id = world.disputes.cross_dispute

    def resolve(actor: User, dispute: Dispute) -> None:
        services.resolve(actor, dispute, services.Resolution(Outcome.PENALTY, "Below the floor.", own_id, 50_000))

    try:
        results = run_together(
            [acting_as(app, world.emails[role], Dispute, dispute_id, resolve) for role in ("mediator", "admin")]
        )
        with app.app_context():
            penalties = db.session.execute(
                select(func.count()).where(Violation.source == f"dispute:{dispute_id}")
            ).scalar_one()
            resolutions = db.session.execute(
                select(func.count()).where(
                    DisputeMessage.dispute_id == dispute_id, DisputeMessage.to_status == DisputeStatus.RESOLVED
                )
            ).scalar_one()
            status = db.session.get(Dispute, dispute_id).status  # type: ignore[union-attr]
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert (penalties, resolutions, status) == (1, 1, DisputeStatus.RESOLVED)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_mediators_taking_one_dispute(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        second = make_user(UserRole.MEDIATOR, email="mediator2@example.test")
        db.session.commit()
        del second
    dispute_id = world.disputes.foreign_dispute  # open, nobody has it

    def take(actor: User, dispute: Dispute) -> None:
        services.assign(actor, dispute, actor)

    try:
        results = run_together(
            [
                acting_as(app, email, Dispute, dispute_id, take)
                for email in (world.emails["mediator"], "mediator2@example.test")
            ]
        )
        with app.app_context():
            dispute = db.session.get(Dispute, dispute_id)
            assert dispute is not None
            taken = db.session.execute(
                select(func.count()).where(
                    DisputeMessage.dispute_id == dispute_id, DisputeMessage.to_status == DisputeStatus.IN_MEDIATION
                )
            ).scalar_one()
            state = (dispute.status, dispute.mediator_id is not None, taken)
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert state == (DisputeStatus.IN_MEDIATION, True, 1)
