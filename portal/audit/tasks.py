"""The audit area's background work: sealing new events into the hash chain every minute."""

from __future__ import annotations

from huey import crontab

from portal.audit import chain
from portal.jobs import periodic_task


@periodic_task("seal_audit_events", crontab(minute="*"))
def seal_audit_events() -> int:
    return chain.seal_pending_events()
