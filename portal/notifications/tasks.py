"""The notifications area's background work: delivering the outbox, on request and every minute."""

from __future__ import annotations

from huey import crontab

from portal.jobs import periodic_task, task
from portal.notifications import mail


@task("deliver_outbox", retries=3, retry_delay=30)
def deliver_outbox() -> dict[str, int]:
    return mail.deliver_outbox()


@periodic_task("deliver_outbox_every_minute", crontab(minute="*"))
def deliver_outbox_every_minute() -> dict[str, int]:
    return mail.deliver_outbox()
