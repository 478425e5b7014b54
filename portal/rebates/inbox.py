"""What rebates put in the "today" inbox: the dealer's gap to its next tier and what reaching it would pay; the
reviewer's dealers near a tier or behind pace (the watch list); sales imports checked and waiting to be confirmed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Integer, bindparam, case, func

from portal.access import DEALER_USERS, AccessRole
from portal.accounts.models import User
from portal.dates import company_today
from portal.dealers.models import Dealer
from portal.dealers.services import current_period, visible_dealers
from portal.formatting import money
from portal.inbox import CountsQuery, InboxLine, InboxReader, register_inbox_counts, register_inbox_source
from portal.rebates.imports import visible_imports
from portal.rebates.models import RebateStatement, SalesImport
from portal.rebates.queries import behind_pace_in, near_next_tier, period_days
from portal.rebates.rules import ImportStatus
from portal.rebates.services import statement_of
from portal.request_locale import gettext as _
from portal.request_locale import ngettext
from portal.web import link


def import_counts(reader: InboxReader) -> CountsQuery:
    return (
        visible_imports(reader)
        .where(SalesImport.status == ImportStatus.READY)
        .with_only_columns(func.count().label("ready"))
        .order_by(None)
    )


def import_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    ready = int(counts["ready"])
    yield InboxLine(
        ngettext(
            "%(num)s sales import is checked and waits to be confirmed",
            "%(num)s sales imports are checked and wait to be confirmed",
            ready,
        ),
        link("rebates.sales_imports"),
        ready,
    )


def dealer_lines(user: User) -> Iterable[InboxLine]:
    if user.dealer_id is None:
        return
    period = current_period()
    if period is None:
        return
    statement = statement_of(user.dealer_id, period)
    period_code = period.code
    if statement is None or statement.next_tier_sales is None or statement.sales_to_next_tier <= 0:
        return
    yield InboxLine(
        _(
            "%(gap)s more sales reach the next tier this quarter",
            gap=money(statement.sales_to_next_tier, statement.currency),
        ),
        link("rebates.dealer_statement", period_code=period_code),
        detail=_(
            "The rebate would then be %(rebate)s", rebate=money(statement.rebate_at_next_tier, statement.currency)
        ),
    )


def watch_counts(reader: InboxReader) -> CountsQuery:
    """The reader's dealers near their next tier and behind the pace of their target, in the current quarter (the
    quarter and its days are the request's values: no quarter, nothing counted)."""
    days, elapsed = bindparam("watch_days", type_=Integer), bindparam("watch_days_elapsed", type_=Integer)
    return (
        visible_dealers(reader)
        .join(
            RebateStatement,
            (RebateStatement.dealer_id == Dealer.id)
            & (RebateStatement.period_id == bindparam("watch_period_id", type_=Integer)),
        )
        .with_only_columns(
            func.coalesce(func.sum(case((near_next_tier(), 1), else_=0)), 0).label("near"),
            func.coalesce(func.sum(case((behind_pace_in(days, elapsed), 1), else_=0)), 0).label("behind"),
        )
        .order_by(None)
    )


def watch_values(_user: User) -> Mapping[str, Any]:
    period = current_period()
    if period is None:
        return {"watch_period_id": None, "watch_days": 0, "watch_days_elapsed": 0}
    days, elapsed = period_days(period, company_today())
    return {"watch_period_id": period.id, "watch_days": days, "watch_days_elapsed": elapsed}


def watch_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    near, behind = counts["near"], counts["behind"]
    yield InboxLine(
        ngettext("%(num)s dealer is close to its next tier", "%(num)s dealers are close to their next tier", int(near)),
        link("rebates.performance", watch="near_tier"),
        int(near),
    )
    yield InboxLine(
        ngettext(
            "%(num)s dealer is behind the pace of its target",
            "%(num)s dealers are behind the pace of their target",
            int(behind),
        ),
        link("rebates.performance", watch="behind_pace"),
        int(behind),
    )


def register() -> None:
    register_inbox_source(DEALER_USERS, dealer_lines, 50)
    register_inbox_counts((AccessRole.MANAGER, AccessRole.SENIOR_MANAGER), watch_counts, watch_lines, 35, watch_values)
    register_inbox_counts(
        (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN), import_counts, import_lines, 40
    )
