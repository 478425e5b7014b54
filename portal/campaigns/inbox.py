"""The campaigns' lines in the "today" inbox: for a dealer, its campaigns ending within a week (what the next
reward needs is on its home); for the people who run campaigns, ended ones to settle and settlements waiting for
a second person."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import url_for
from flask_babel import get_locale

from portal.accounts.models import User
from portal.campaigns import services
from portal.campaigns.rules import CampaignPhase
from portal.inbox import InboxLine, register_inbox_counts, register_inbox_source
from portal.request_locale import ngettext


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
        url_for("campaigns.dealer_campaigns"),
        len(ending),
        detail=", ".join(found.campaign.name_in(str(get_locale())) for found in ending),
    )


def runner_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    ended, to_confirm = int(counts["ended"]), int(counts["to_confirm"])
    yield InboxLine(
        ngettext(
            "%(num)s campaign settlement waits for your confirmation",
            "%(num)s campaign settlements wait for your confirmation",
            to_confirm,
        ),
        url_for("campaigns.campaign_list"),
        to_confirm,
        urgent=True,
    )
    yield InboxLine(
        ngettext("%(num)s ended campaign to settle", "%(num)s ended campaigns to settle", ended),
        url_for("campaigns.campaign_list"),
        ended,
    )


def register() -> None:
    register_inbox_source(services.DEALER_ROLES, dealer_lines, 58)
    register_inbox_counts(services.RUNNERS, services.settlement_counts, runner_lines, 45)
