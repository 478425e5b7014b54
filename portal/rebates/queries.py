"""Read models of the partner side: the dealer's dashboard and the manager's portfolio performance and watch list.

A bounded number of queries whatever the data size: statements carry the figures, sales are grouped by day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select

from portal.accounts.models import User
from portal.database import read
from portal.dealers.models import Dealer, Period, Territory
from portal.dealers.services import matching_code_or_name, visible_dealers
from portal.extensions import db
from portal.rebates import rules
from portal.rebates.models import RebateStatement, SalesLine
from portal.rebates.services import outcome_of


@dataclass(frozen=True)
class Month:
    first_day: date
    sales: int
    pace_share: int  # the part of the target an even pace puts in this month
    partial: bool  # the month is not over yet


@dataclass(frozen=True)
class Dashboard:
    period: Period
    statement: RebateStatement | None
    outcome: rules.Outcome | None
    projected_sales: int
    projected_outcome: rules.Outcome | None
    pace_target_today: int
    misses_target: bool
    months: list[Month]
    scale_max: Decimal  # the attainment % at the right end of the bar


def effective_today(period: Period, today: date) -> date:
    """Pace is measured up to today, or to the period's end once it is over (or before it has begun: its start)."""
    return min(max(today, period.starts_on), period.ends_on)


_SALES_BY_DAY = (
    select(SalesLine.sold_on, func.sum(SalesLine.amount))
    .where(SalesLine.dealer_id == bindparam("dealer_id"), SalesLine.period_id == bindparam("period_id"))
    .group_by(SalesLine.sold_on)
)  # built once: the dealer's home runs it on every visit


def monthly_sales(dealer: Dealer, period: Period, target: int, today: date) -> list[Month]:
    rows = read(_SALES_BY_DAY, {"dealer_id": dealer.id, "period_id": period.id}).all()
    by_month: dict[tuple[int, int], int] = {}
    for day, amount in rows:
        by_month[(day.year, day.month)] = by_month.get((day.year, day.month), 0) + int(amount)
    months = []
    day = period.starts_on
    while day <= period.ends_on:
        next_month = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
        last = min(date.fromordinal(next_month.toordinal() - 1), period.ends_on)
        share = rules.pace_target(target, period.starts_on, period.ends_on, last) - rules.pace_target(
            target, period.starts_on, period.ends_on, date.fromordinal(day.toordinal() - 1)
        )
        months.append(Month(day, by_month.get((day.year, day.month), 0), share, today < last))
        day = next_month
    return months


def bar_scale(statement: RebateStatement | None) -> Decimal:
    """The attainment % at the right end of the bar: room for the top tier and the attainment (capped at 300 %)."""
    if statement is None:
        return Decimal(120)
    thresholds = [Decimal(threshold) / 100 for threshold, _rate in statement.tiers]
    highest = max(thresholds, default=Decimal(100))
    return max(Decimal(120), highest + 10, min(statement.attainment_percent, Decimal(300)))


def dashboard(dealer: Dealer, period: Period, statement: RebateStatement | None, today: date) -> Dashboard:
    outcome = outcome_of(statement) if statement else None
    sales = statement.sales if statement else 0
    target = statement.target if statement else 0
    day = effective_today(period, today)
    projected = rules.projection(sales, period.starts_on, period.ends_on, day)
    projected_outcome = (
        rules.calculate(projected, target, statement.rule_tiers, statement.method)
        if statement and statement.method and statement.tiers
        else None
    )
    return Dashboard(
        period=period,
        statement=statement,
        outcome=outcome,
        projected_sales=projected,
        projected_outcome=projected_outcome,
        pace_target_today=rules.pace_target(target, period.starts_on, period.ends_on, day),
        misses_target=rules.misses_target_at_pace(sales, target, period.starts_on, period.ends_on, day),
        months=monthly_sales(dealer, period, target, today),
        scale_max=bar_scale(statement),
    )


# --- Manager: portfolio performance -----------------------------------------------------------------------------------

PERFORMANCE_SORTS = ("code", "name", "attainment", "sales", "rebate", "gap")


@dataclass(frozen=True)
class PerformanceFilter:
    text: str = ""
    territory_id: int | None = None
    watch: str = ""  # "", "near_tier", "behind_pace"
    sort: str = "attainment"
    descending: bool = True


def period_days(period: Period, today: date) -> tuple[int, int]:
    """The period's days, and how many of them have passed by today (all of them once it has ended)."""
    total = (period.ends_on - period.starts_on).days + 1
    elapsed = (effective_today(period, today) - period.starts_on).days + 1
    return total, elapsed


def near_next_tier():
    """Within 10 % of the next tier: the sales still missing are at most a tenth of what that tier needs."""
    return and_(
        RebateStatement.next_tier_sales.is_not(None),
        RebateStatement.sales_to_next_tier > 0,
        RebateStatement.sales_to_next_tier * 10 <= RebateStatement.next_tier_sales,
    )


def behind_pace(period: Period, today: date) -> ColumnElement[bool]:
    """The pace so far, continued to the period's end, stays below the target (no division, so exact)."""
    return behind_pace_in(*period_days(period, today))


def behind_pace_in(days: int | ColumnElement[int], elapsed: int | ColumnElement[int]) -> ColumnElement[bool]:
    """`behind_pace` for a period of `days` days of which `elapsed` have passed (numbers or parameters)."""
    return and_(RebateStatement.target > 0, RebateStatement.sales * days < RebateStatement.target * elapsed)


def performance_query(user: User, period: Period, wanted: PerformanceFilter, today: date) -> Select:
    query = (
        visible_dealers(user)
        .join(Territory, Territory.id == Dealer.territory_id)
        .outerjoin(
            RebateStatement, and_(RebateStatement.dealer_id == Dealer.id, RebateStatement.period_id == period.id)
        )
        .add_columns(RebateStatement)
    )
    query = matching_code_or_name(query, wanted.text)
    if wanted.territory_id is not None:
        query = query.where(Dealer.territory_id == wanted.territory_id)
    if wanted.watch == "near_tier":
        query = query.where(near_next_tier())
    elif wanted.watch == "behind_pace":
        query = query.where(behind_pace(period, today))
    columns = {
        "code": Dealer.code,
        "name": Dealer.name,
        "attainment": func.coalesce(RebateStatement.attainment_hundredths, -1),
        "sales": func.coalesce(RebateStatement.sales, -1),
        "rebate": func.coalesce(RebateStatement.rebate, -1),
        "gap": func.coalesce(RebateStatement.sales_to_next_tier, -1),
    }
    column = columns.get(wanted.sort, columns["attainment"])
    return query.order_by(column.desc() if wanted.descending else column.asc(), Dealer.code)


def watch_list(user: User, period: Period, today: date, limit: int = 8) -> tuple[Sequence[Any], Sequence[Any]]:
    """Dealers close to their next tier (smallest gap first) and dealers whose pace misses the target (worst first)."""
    base = (
        visible_dealers(user)
        .join(RebateStatement, and_(RebateStatement.dealer_id == Dealer.id, RebateStatement.period_id == period.id))
        .add_columns(RebateStatement)
    )
    near = (
        db.session.execute(
            base.where(near_next_tier()).order_by(RebateStatement.sales_to_next_tier, Dealer.code).limit(limit)
        )
        .unique()
        .all()
    )
    behind = (
        db.session.execute(
            base.where(behind_pace(period, today))
            .order_by(RebateStatement.attainment_hundredths, Dealer.code)
            .limit(limit)
        )
        .unique()
        .all()
    )
    return near, behind


def projected_attainment(statement: RebateStatement | None, period: Period, today: date) -> Decimal | None:
    if statement is None or statement.target <= 0:
        return None
    projected = rules.projection(statement.sales, period.starts_on, period.ends_on, effective_today(period, today))
    return rules.attainment(projected, statement.target)


@dataclass(frozen=True)
class QuarterAttainment:
    period_code: str
    attainment: Decimal | None  # as shown (cut to two decimals); None without a target
    reached_tier: bool


TREND_QUARTERS = 8
_TREND = (
    select(Period.code, RebateStatement.sales, RebateStatement.target, RebateStatement.reached_tier)
    .join(Period, Period.id == RebateStatement.period_id)
    .where(RebateStatement.dealer_id == bindparam("dealer_id"))
    .order_by(Period.starts_on.desc())
    .limit(TREND_QUARTERS)
)  # built once: the dealer's home runs it on every visit


def attainment_trend(dealer: Dealer) -> list[QuarterAttainment]:
    """The dealer's attainment over its last eight statements, oldest first: is this quarter better than usual? One
    query, from the statements themselves (what the dealer was paid on), never recomputed here."""
    rows = read(_TREND, {"dealer_id": dealer.id}).all()
    return [
        QuarterAttainment(code, rules.attainment_shown(sales, target), reached is not None)
        for code, sales, target, reached in reversed(rows)
    ]
