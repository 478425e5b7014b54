"""The referee's lines in the "today" inbox: a channel manager's suspicions waiting for a ruling, and a dealer
owner's price lists still to acknowledge (the rules of the game, read before they are enforced)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Integer, bindparam, case, func, select

from portal.access import AccessRole
from portal.accounts.models import User
from portal.dealers.models import Acknowledgement, Dealer
from portal.inbox import TODAY, CountsQuery, InboxLine, InboxReader, register_inbox_counts
from portal.referee import suspicions
from portal.referee.catalogue import due_to_acknowledge
from portal.referee.models import PRICE_LIST_ACKNOWLEDGED, PriceList
from portal.request_locale import ngettext
from portal.web import link


def decider_counts(reader: InboxReader) -> CountsQuery:
    return (
        suspicions.visible_suspicions(reader)
        .where(suspicions.worth_a_ruling(bindparam("referee_least_stake", type_=Integer)))
        .with_only_columns(func.count().label("waiting"))
    )


def decider_values(_user: User) -> Mapping[str, Any]:
    return {"referee_least_stake": suspicions.least_stake()}


def decider_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    waiting = int(counts["waiting"])
    yield InboxLine(
        ngettext("%(num)s suspicion waits for your ruling", "%(num)s suspicions wait for your ruling", waiting),
        link("referee.suspicion_queue"),
        waiting,
    )


def owner_counts(reader: InboxReader) -> CountsQuery:
    """The price lists of the dealer's currency it must read and has not acknowledged, and of those the ones
    already in force."""
    acknowledged = (
        select(Acknowledgement.id)
        .where(
            Acknowledgement.subject_type == PRICE_LIST_ACKNOWLEDGED,
            Acknowledgement.subject_id == PriceList.id,
            Acknowledgement.dealer_id == reader.dealer_id,
        )
        .exists()
    )
    currency = select(Dealer.currency).where(Dealer.id == reader.dealer_id).scalar_subquery()
    return select(
        func.count(PriceList.id).label("unread"),
        func.count(case((PriceList.effective_from <= TODAY, PriceList.id))).label("in_force"),
    ).where(due_to_acknowledge(TODAY), PriceList.currency == currency, ~acknowledged)


def owner_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    unread = int(counts["unread"])
    yield InboxLine(
        ngettext("%(num)s price list to read and acknowledge", "%(num)s price lists to read and acknowledge", unread),
        link("referee.dealer_prices"),
        unread,
        urgent=bool(counts["in_force"]),  # one of them already applies
    )


def register() -> None:
    register_inbox_counts(suspicions.DECIDERS, decider_counts, decider_lines, 32, decider_values)
    register_inbox_counts((AccessRole.DEALER_OWNER,), owner_counts, owner_lines, 55)
