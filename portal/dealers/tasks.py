"""The dealers area's background work: a tier change scheduled for a later day comes into force on that day."""

from __future__ import annotations

from huey import crontab

from portal.dates import company_today
from portal.dealers import tiers
from portal.extensions import db
from portal.jobs import periodic_task


@periodic_task("apply_due_tier_changes", crontab(minute="5"))
def apply_due_tier_changes() -> int:
    """Hourly, so the company's midnight (16:00 in UTC) is met within the hour whatever the server's zone."""
    changed = tiers.apply_due_tier_changes(company_today())
    db.session.commit()
    return changed
