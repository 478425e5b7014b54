"""The referee's lines in the "today" inbox: a channel manager's suspicions waiting for a ruling, and a dealer
owner's price lists still to acknowledge (the rules of the game, read before they are enforced)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for
from sqlalchemy import func, select

from portal.access import AccessRole
from portal.accounts.models import User
from portal.dates import company_today
from portal.dealers.models import Acknowledgement
from portal.extensions import db
from portal.inbox import InboxLine, register_inbox_source
from portal.referee import suspicions
from portal.referee.catalogue import due_lists
from portal.referee.models import PRICE_LIST_ACKNOWLEDGED, PriceList
from portal.referee.rules import PriceListStatus
from portal.request_locale import ngettext


def decider_lines(user: User) -> Iterable[InboxLine]:
    waiting = db.session.execute(suspicions.queued(user).with_only_columns(func.count()).order_by(None)).scalar_one()
    yield InboxLine(
        ngettext("%(num)s suspicion waits for your ruling", "%(num)s suspicions wait for your ruling", waiting),
        url_for("referee.suspicion_queue"),
        waiting,
    )


def owner_lines(user: User) -> Iterable[InboxLine]:
    if user.dealer is None:
        return
    dealer = user.dealer
    today = company_today()
    listed = db.session.execute(  # the dealer's currency's published lists, each with the dealer's receipt if any
        select(PriceList, Acknowledgement.id)
        .outerjoin(
            Acknowledgement,
            (Acknowledgement.subject_type == PRICE_LIST_ACKNOWLEDGED)
            & (Acknowledgement.subject_id == PriceList.id)
            & (Acknowledgement.dealer_id == dealer.id),
        )
        .where(PriceList.status == PriceListStatus.PUBLISHED, PriceList.currency == dealer.currency)
        .order_by(PriceList.effective_from, PriceList.version)
    ).all()
    acknowledged = {price_list.id for price_list, receipt in listed if receipt is not None}
    unread = [
        price_list
        for price_list in due_lists([price_list for price_list, _receipt in listed], today)
        if price_list.id not in acknowledged
    ]
    yield InboxLine(
        ngettext(
            "%(num)s price list to read and acknowledge", "%(num)s price lists to read and acknowledge", len(unread)
        ),
        url_for("referee.dealer_prices"),
        len(unread),
        urgent=any(price_list.effective_from <= today for price_list in unread),  # already in force
    )


def register() -> None:
    register_inbox_source(suspicions.DECIDERS, decider_lines, 32)
    register_inbox_source((AccessRole.DEALER_OWNER,), owner_lines, 55)
