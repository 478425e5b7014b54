"""The evidence area's background work: removing stored files no row refers to, once a night."""

from __future__ import annotations

from huey import crontab

from portal.evidence import services
from portal.jobs import periodic_task


@periodic_task("cleanup_evidence_orphans", crontab(minute="17", hour="3"))
def cleanup_evidence_orphans() -> int:
    return services.cleanup_orphans()
