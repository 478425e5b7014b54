"""The news' background work: telling the dealers' people of a published announcement once it committed, and
the daily reminder to acknowledge."""

from __future__ import annotations

from huey import crontab

from portal.extensions import db
from portal.jobs import periodic_task, task
from portal.news import services


@task(services.TELL_READERS, retries=2, retry_delay=30)
def tell_announcement_readers(announcement_id: int) -> int:
    told = services.tell_readers(announcement_id)
    db.session.commit()
    return told


@periodic_task("remind_announcement_acknowledgements", crontab(minute="23", hour="1"))
def remind_announcement_acknowledgements() -> int:
    """Daily (09:23 in Shanghai): owners who have not acknowledged an announcement they must read."""
    reminded = services.remind_unacknowledged()
    db.session.commit()
    return reminded
