"""Two people confirming one period's close at the same moment, with real commits on a file SQLite database and on
PostgreSQL, threads released together: the period closes once and its money is booked once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts.models import UserRole
from portal.dealers import closing
from portal.dealers.models import Period, PeriodStatus
from portal.extensions import db
from portal.rebates.models import LedgerEntry, LedgerKind, RebateStatement
from tests.factories import make_user, make_world, person
from tests.helpers import BACKENDS, dispose_app, past_the_grace_days, race_app
from tests.threads import race_posts


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_confirmations_at_once_close_the_period_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        second_admin = make_user(UserRole.ADMIN, email="admin2@example.test").email
        current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        last_day = current.ends_on
        db.session.commit()
    url = f"/admin/periods/{world.current_period}/close/confirm"
    try:
        with past_the_grace_days(last_day):
            with app.app_context():
                asked = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
                closing.request_close(person(world.people.admin), asked)
                db.session.commit()
            statuses = race_posts(app, [(world.emails["senior_manager"], url, {}), (second_admin, url, {})])
        with app.app_context():
            period_id, status = db.session.execute(
                select(Period.id, Period.status).where(Period.code == world.current_period)
            ).one()
            rebates = db.session.execute(
                select(func.count()).where(LedgerEntry.period_id == period_id, LedgerEntry.kind == LedgerKind.REBATE)
            ).scalar_one()
            with_rebate = db.session.execute(
                select(func.count()).where(RebateStatement.period_id == period_id, RebateStatement.rebate != 0)
            ).scalar_one()
    finally:
        dispose_app(app)
    assert sorted(statuses) == [303, 409]
    assert status is PeriodStatus.CLOSED
    assert rebates == with_rebate > 0  # booked once
