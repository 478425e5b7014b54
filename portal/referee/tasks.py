"""The referee's background work: detection over each sales import's new lines, once the import committed, and
the daily reminder to acknowledge price lists."""

from __future__ import annotations

from huey import crontab

from portal.extensions import db
from portal.jobs import periodic_task, run_after_commit, task
from portal.referee import catalogue, detection


@task("detect_suspicions", retries=2, retry_delay=30)
def detect_suspicions(import_id: int) -> int:
    found = detection.detect_import(import_id)
    db.session.commit()
    return found


def queue_detection(import_id: int) -> None:
    """Called by the sales import in its last transaction: detection runs after it commits."""
    run_after_commit("detect_suspicions", import_id)


@periodic_task("remind_price_list_acknowledgements", crontab(minute="17", hour="1"))
def remind_price_list_acknowledgements() -> int:
    """Daily (09:17 in Shanghai): owners who have not acknowledged a price list they must read."""
    reminded = catalogue.remind_unacknowledged()
    db.session.commit()
    return reminded
