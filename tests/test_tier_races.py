"""Two admins changing one dealer's tier at the same moment, with real commits on a file SQLite database and on
PostgreSQL, threads released together: both are recorded in turn (no lost history row, no duplicate first row, no
error), the later one decides the tier from that day, and both are audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts.models import UserRole
from portal.audit.models import AuditEvent
from portal.dealers.models import Dealer, DealerTierChange
from portal.extensions import db
from tests.factories import make_user, make_world
from tests.helpers import BACKENDS, dispose_app, race_app
from tests.threads import race_posts


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_admins_changing_one_tier_at_once(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        second = make_user(UserRole.ADMIN, email="admin2@example.test", name="Second Admin")
        db.session.commit()
        second_email = second.email
    url = f"/console/dealers/{world.second_dealer}/tier"
    try:
        statuses = race_posts(
            app,
            [
                (world.emails["admin"], url, {"tier": "gold", "effective_from": world.next_period_start, "why": "A"}),
                (second_email, url, {"tier": "platinum", "effective_from": world.next_period_start, "why": "B"}),
            ],
        )
        with app.app_context():
            dealer_id = db.session.execute(select(Dealer.id).where(Dealer.code == world.second_dealer)).scalar_one()
            rows = db.session.execute(
                select(DealerTierChange.effective_from, DealerTierChange.tier, DealerTierChange.reason)
                .where(DealerTierChange.dealer_id == dealer_id)
                .order_by(DealerTierChange.effective_from)
            ).all()
            audited = db.session.execute(
                select(func.count()).where(AuditEvent.action == "dealer.tier_changed")
            ).scalar_one()
    finally:
        dispose_app(app)
    assert statuses == [303, 303]
    assert len(rows) == 2  # the first row of the history once, and one row for the day
    assert rows[1][1].value in ("gold", "platinum") and rows[1][2] in ("A", "B")
    assert audited == 2
