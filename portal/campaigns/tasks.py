"""The campaigns' background work: telling the dealers' owners, once a launch or a settlement committed (a
campaign for every dealer is thousands of notices and emails: never inside the request)."""

from __future__ import annotations

from portal.campaigns import services
from portal.extensions import db
from portal.jobs import task


@task(services.TELL_DEALERS, retries=2, retry_delay=30)
def tell_campaign_dealers(campaign_id: int) -> int:
    told = services.tell_dealers(campaign_id)
    db.session.commit()
    return told
