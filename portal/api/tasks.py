"""The API's background work: webhook deliveries, asked for after each commit that stored events, and every minute
for the retries that came due (and whatever a lost queue message missed)."""

from __future__ import annotations

from huey import crontab

from portal.api import webhooks
from portal.jobs import periodic_task, task
from portal.outbox import DELIVER_TASK


@task(DELIVER_TASK)
def deliver_webhooks() -> int:
    return webhooks.deliver_due()


@periodic_task("deliver_webhooks_due", crontab(minute="*"))
def deliver_webhooks_due() -> int:
    return webhooks.deliver_due()
