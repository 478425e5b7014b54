"""The claims area's background work: approved pre-approvals whose claim window closed unused expire, nightly."""

from __future__ import annotations

from huey import crontab

from portal.claims import pre_approvals
from portal.extensions import db
from portal.jobs import periodic_task


@periodic_task("expire_pre_approvals", crontab(minute="23", hour="2"))
def expire_pre_approvals() -> int:
    count = pre_approvals.expire_pre_approvals()
    db.session.commit()
    return count
