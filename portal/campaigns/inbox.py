"""The campaigns' lines in the "today" inbox: for a dealer, its campaigns ending within a week (what the next
reward needs is on its home); for the people who run campaigns, ended ones to settle and settlements waiting for
a second person."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import case, func, select

from portal.accounts.models import User
from portal.campaigns import services
from portal.campaigns.models import Campaign
from portal.campaigns.rules import CampaignPhase, CampaignStatus
from portal.inbox import TODAY, CountsQuery, InboxLine, InboxReader, register_inbox_counts, register_inbox_source
from portal.request_locale import in_reader_language, ngettext
from portal.web import link


def dealer_lines(user: User) -> Iterable[InboxLine]:
    if user.dealer is None:
        return
    ending = [
        found
        for found in services.dealer_campaigns(user.dealer)
        if found.phase is CampaignPhase.RUNNING and found.days_left <= services.ENDING_SOON_DAYS
    ]
    yield InboxLine(
        ngettext("%(num)s sales campaign ends within a week", "%(num)s sales campaigns end within a week", len(ending)),
        link("campaigns.dealer_campaigns"),
        len(ending),
        detail=", ".join(in_reader_language(found.campaign.name_en, found.campaign.name_zh) for found in ending),
    )


def settlement_counts(reader: InboxReader) -> CountsQuery:
    """Counted in one row: ended campaigns nobody asked to settle yet (`ended`), settlements waiting for this person
    to confirm (`to_confirm`)."""
    ended = (Campaign.status == CampaignStatus.LIVE) & (Campaign.ends_on < TODAY)
    to_confirm = (Campaign.status == CampaignStatus.SETTLEMENT_REQUESTED) & (
        Campaign.settlement_requested_by_id != reader.id
    )
    return select(
        func.coalesce(func.sum(case((ended, 1), else_=0)), 0).label("ended"),
        func.coalesce(func.sum(case((to_confirm, 1), else_=0)), 0).label("to_confirm"),
    ).where(Campaign.status.in_((CampaignStatus.LIVE, CampaignStatus.SETTLEMENT_REQUESTED)))


def runner_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    ended, to_confirm = int(counts["ended"]), int(counts["to_confirm"])
    yield InboxLine(
        ngettext(
            "%(num)s campaign settlement waits for your confirmation",
            "%(num)s campaign settlements wait for your confirmation",
            to_confirm,
        ),
        link("campaigns.campaign_list"),
        to_confirm,
        urgent=True,
    )
    yield InboxLine(
        ngettext("%(num)s ended campaign to settle", "%(num)s ended campaigns to settle", ended),
        link("campaigns.campaign_list"),
        ended,
    )


def register() -> None:
    register_inbox_source(services.DEALER_ROLES, dealer_lines, 58)
    register_inbox_counts(services.RUNNERS, settlement_counts, runner_lines, 45)
