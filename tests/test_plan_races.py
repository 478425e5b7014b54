"""A plan's agreement raced, with real commits on a file SQLite database and on PostgreSQL, threads released
together: the owner and the manager accepting at once leave the plan agreed (neither misses the other's
acceptance); an acceptance racing a change never counts as agreement to what its person did not read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.database import begin_write
from portal.extensions import db
from portal.plans import services
from portal.plans.models import BusinessPlan, PlanVersion
from portal.plans.rules import GoalKind, PlanStatus
from portal.service_errors import IllegalTransition
from tests.factories import make_world
from tests.helpers import BACKENDS, dispose_app, race_app
from tests.threads import acting_as, run_together


def _accepting(plan_id: int) -> Callable[[User, BusinessPlan], Any]:
    return lambda actor, plan: services.accept(actor, plan, plan.revision)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_owner_and_the_manager_accepting_at_once_agree_the_plan(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        db.session.commit()
    plan_id = world.plans.own_plan
    try:
        results = run_together(
            [
                acting_as(app, world.emails[role], BusinessPlan, plan_id, _accepting(plan_id))
                for role in ("dealer_owner", "manager")
            ]
        )
        with app.app_context():
            plan = db.session.get(BusinessPlan, plan_id)
            assert plan is not None
            status, agreed = plan.status, plan.agreed_version
            version = db.session.execute(
                select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.number == 1)
            ).scalar_one()
            both = version.dealer_accepted_at is not None and version.manager_accepted_at is not None
    finally:
        dispose_app(app)
    assert results == ["done", "done"]
    assert both
    assert (status, agreed) == (PlanStatus.AGREED, 1)


def _accept_what_was_read(app: Any, email: str, plan_id: int) -> Callable[[Callable[[], Any]], str]:
    """The owner reads the plan (its revision), waits at the barrier, then accepts what they read."""

    def work(wait: Callable[[], Any]) -> str:
        with app.app_context():
            read = db.session.get(BusinessPlan, plan_id)
            assert read is not None
            revision = read.revision
            db.session.rollback()
            wait()
            begin_write()
            try:
                actor = db.session.execute(select(User).where(User.email == email)).scalar_one()
                plan = db.session.get(BusinessPlan, plan_id)
                assert plan is not None
                services.accept(actor, plan, revision)
                db.session.commit()
                return "done"
            except IllegalTransition:
                db.session.rollback()
                return "refused"
            finally:
                db.session.remove()

    return work


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_an_acceptance_racing_a_change_never_accepts_the_change(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whoever wins, no version holding the manager's new goal carries the owner's acceptance."""
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        db.session.commit()
    plan_id = world.plans.own_plan
    new_goal = {"kind": GoalKind.NEW_OUTLETS, "wanted": 9, "course_id": None, "activity_type_id": None, "note": "raced"}
    try:
        results = run_together(
            [
                _accept_what_was_read(app, world.emails["dealer_owner"], plan_id),
                acting_as(
                    app,
                    world.emails["manager"],
                    BusinessPlan,
                    plan_id,
                    lambda actor, plan: services.add_goal(actor, plan, new_goal),
                ),
            ]
        )
        with app.app_context():
            versions = db.session.execute(select(PlanVersion).where(PlanVersion.plan_id == plan_id)).scalars().all()
            accepted_with_the_change = [
                version.number
                for version in versions
                if version.dealer_accepted_at is not None and any(goal["note"] == "raced" for goal in version.goals)
            ]
            accepted = [version.number for version in versions if version.dealer_accepted_at is not None]
    finally:
        dispose_app(app)
    assert results[1] == "done"
    assert accepted_with_the_change == []
    assert accepted == ([1] if results[0] == "done" else [])
