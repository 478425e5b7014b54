"""The disputes area's background work: a party's deadline that passed lapses, every ten minutes."""

from __future__ import annotations

from huey import crontab

from portal.disputes import services
from portal.extensions import db
from portal.jobs import periodic_task


@periodic_task("lapse_dispute_deadlines", crontab(minute="*/10"))
def lapse_dispute_deadlines() -> int:
    count = services.lapse_party_deadlines()
    db.session.commit()
    return count
