"""The rebate calculation: pure functions over integers and Decimals, no database, no floats.

The one rounding rule: everything is computed exactly with Decimal, and a money result is rounded once, at the
end, half up, to the currency's minor unit (integer minor units in, integer minor units out).

Programs: tiers are (attainment threshold %, rate %), with thresholds strictly increasing and rates not
decreasing (validate_tiers), which is what makes "more sales never lower the rebate" true for both methods.
- retroactive: the rate of the highest tier reached applies to all sales;
- stepped: the sales in each band [threshold_i x target, threshold_i+1 x target) earn that band's rate; sales
  below the first threshold earn nothing.
"""

from __future__ import annotations

import enum
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

from portal.dealers.rules import PeriodStatus
from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels

HUNDRED = Decimal(100)


class StatementStatus(enum.StrEnum):
    PROVISIONAL = "provisional"
    FINAL = "final"
    PAID = "paid"


class ImportStatus(enum.StrEnum):
    VALIDATING = "validating"
    REJECTED = "rejected"
    READY = "ready"
    IMPORTING = "importing"
    IMPORTED = "imported"
    CANCELLED = "cancelled"
    FAILED = "failed"
    VOIDED = "voided"


register_labels(
    {
        StatementStatus.PROVISIONAL: _l("Provisional"),
        StatementStatus.FINAL: _l("Final"),
        StatementStatus.PAID: _l("Paid"),
    }
)


register_labels(
    {
        ImportStatus.VALIDATING: _l("Checking"),
        ImportStatus.REJECTED: _l("Rejected"),
        ImportStatus.READY: _l("Ready to import"),
        ImportStatus.IMPORTING: _l("Importing"),
        ImportStatus.IMPORTED: _l("Imported"),
        ImportStatus.CANCELLED: _l("Cancelled"),
        ImportStatus.FAILED: _l("Failed"),
        ImportStatus.VOIDED: _l("Voided"),
    }
)


STATEMENT_TRANSITIONS: dict[StatementStatus, frozenset[StatementStatus]] = {
    StatementStatus.PROVISIONAL: frozenset({StatementStatus.FINAL}),
    StatementStatus.FINAL: frozenset({StatementStatus.PAID}),
    StatementStatus.PAID: frozenset(),
}


class TargetChangeStatus(enum.StrEnum):
    """A change of a started period's target: asked for with a reason, decided by a senior manager."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


TARGET_CHANGE_TRANSITIONS: dict[TargetChangeStatus, frozenset[TargetChangeStatus]] = {
    TargetChangeStatus.PENDING: frozenset({TargetChangeStatus.APPROVED, TargetChangeStatus.REJECTED}),
    TargetChangeStatus.APPROVED: frozenset(),
    TargetChangeStatus.REJECTED: frozenset(),
}


def awaits_decision(status: TargetChangeStatus) -> bool:
    return status is TargetChangeStatus.PENDING


def can_move_statement(current: StatementStatus, target: StatementStatus) -> bool:
    return target in STATEMENT_TRANSITIONS[current]


def is_provisional(status: StatementStatus) -> bool:
    """Figures still change as sales arrive, until the period closes."""
    return status is StatementStatus.PROVISIONAL


def is_paid(status: StatementStatus) -> bool:
    return status is StatementStatus.PAID


def can_pay_period(period_status: PeriodStatus) -> bool:
    """Statements are paid once their period is closed and they are final."""
    return period_status is PeriodStatus.CLOSED


def can_edit_programs(period_status: PeriodStatus) -> bool:
    return period_status is PeriodStatus.OPEN


IMPORT_TRANSITIONS: dict[ImportStatus, frozenset[ImportStatus]] = {
    ImportStatus.VALIDATING: frozenset({ImportStatus.REJECTED, ImportStatus.READY}),
    ImportStatus.READY: frozenset({ImportStatus.IMPORTING, ImportStatus.CANCELLED}),
    ImportStatus.IMPORTING: frozenset({ImportStatus.IMPORTED, ImportStatus.FAILED}),
    ImportStatus.FAILED: frozenset({ImportStatus.IMPORTING}),
    ImportStatus.REJECTED: frozenset(),
    ImportStatus.IMPORTED: frozenset({ImportStatus.VOIDED}),
    ImportStatus.CANCELLED: frozenset(),
    ImportStatus.VOIDED: frozenset(),
}


def invoice_key(reference: str) -> str:
    """How invoice numbers compare: trimmed, full-width forms folded (NFKC), upper case. "inv-7" sent again is the
    invoice "INV-7" already imported, not a new sale counted twice."""
    if not reference.isascii():
        reference = unicodedata.normalize("NFKC", reference)
    return reference.strip().upper()


def can_move_import(current: ImportStatus, target: ImportStatus) -> bool:
    return target in IMPORT_TRANSITIONS[current]


def import_checked(status: ImportStatus) -> bool:
    """The file was read through: its check report can be shown."""
    return status in (ImportStatus.READY, ImportStatus.IMPORTED, ImportStatus.FAILED, ImportStatus.VOIDED)


def import_finished(status: ImportStatus) -> bool:
    """Its lines were booked (and, if voided since, reversed): what it added can be shown."""
    return status in (ImportStatus.IMPORTED, ImportStatus.VOIDED)


def import_voided(status: ImportStatus) -> bool:
    return status is ImportStatus.VOIDED


def can_confirm_import(status: ImportStatus) -> bool:
    return status is ImportStatus.READY


def can_retry_import(status: ImportStatus) -> bool:
    return status is ImportStatus.FAILED


class Method(enum.StrEnum):
    RETROACTIVE = "retroactive"
    STEPPED = "stepped"


@dataclass(frozen=True)
class Tier:
    threshold_percent: Decimal  # attainment needed, e.g. Decimal("100") for 100 %
    rate_percent: Decimal  # rebate rate, e.g. Decimal("2.5") for 2.5 %


@dataclass(frozen=True)
class Outcome:
    sales: int  # minor units
    target: int  # minor units
    attainment_percent: Decimal  # exact
    reached: int | None  # index of the highest tier reached, None below the first
    rebate: int  # minor units, rounded once
    next_tier: int | None  # index of the next tier, None at the top
    sales_to_next_tier: int  # minor units more to reach it (0 at the top)
    rebate_at_next_tier: int  # the rebate if exactly that much more were sold


class InvalidProgram(ValueError):
    pass


def validate_tiers(tiers: Sequence[Tier]) -> None:
    if not tiers:
        raise InvalidProgram("a program needs at least one tier")
    for tier in tiers:
        if tier.threshold_percent <= 0 or tier.rate_percent < 0 or tier.rate_percent > HUNDRED:
            raise InvalidProgram("thresholds are above 0 % and rates between 0 % and 100 %")
    for lower, higher in itertools.pairwise(tiers):
        if higher.threshold_percent <= lower.threshold_percent:
            raise InvalidProgram("tier thresholds must increase")
        if higher.rate_percent < lower.rate_percent:
            raise InvalidProgram("a higher tier cannot pay a lower rate")


def round_money(amount: Decimal) -> int:
    """The one rounding rule: half up, to whole minor units."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def attainment(sales: int, target: int) -> Decimal:
    if target <= 0:
        return Decimal(0)
    return Decimal(sales) * HUNDRED / Decimal(target)


def attainment_shown(sales: int, target: int) -> Decimal | None:
    """The attainment as every output shows it (page, CSV, spreadsheet), from this one function: None when no
    target is set (there is nothing to attain), otherwise cut, not rounded, to two decimals. Cutting is deliberate:
    99.996 % shows 99.99 %, never a 100.00 % beside "tier not reached" (money, unlike this, rounds half up)."""
    if target <= 0:
        return None
    return attainment(sales, target).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def reached_tier(sales: int, target: int, tiers: Sequence[Tier]) -> int | None:
    """Exact at the boundary: attainment equal to a threshold reaches it (compared without division)."""
    if target <= 0:
        return None
    reached = None
    for index, tier in enumerate(tiers):
        if Decimal(sales) * HUNDRED >= tier.threshold_percent * Decimal(target):
            reached = index
    return reached


@dataclass(frozen=True)
class Band:
    """One line of the explanation: sales from `lower` to `upper` (minor units, exact) earn `rate_percent`."""

    tier: int
    lower: Decimal
    upper: Decimal
    rate_percent: Decimal
    amount: Decimal  # exact minor units, not yet rounded


def explain(sales: int, target: int, tiers: Sequence[Tier], method: Method) -> list[Band]:
    """The calculation line by line; the rebate is the sum of the lines, rounded once."""
    index = reached_tier(sales, target, tiers)
    if index is None or sales <= 0:
        return []
    if method is Method.RETROACTIVE:
        rate = tiers[index].rate_percent
        return [Band(index, Decimal(0), Decimal(sales), rate, Decimal(sales) * rate / HUNDRED)]
    bands = []
    for position in range(index + 1):
        start = tiers[position].threshold_percent * Decimal(target) / HUNDRED
        end = Decimal(sales)
        if position + 1 < len(tiers):
            end = min(end, tiers[position + 1].threshold_percent * Decimal(target) / HUNDRED)
        if end > start:
            rate = tiers[position].rate_percent
            bands.append(Band(position, start, end, rate, (end - start) * rate / HUNDRED))
    return bands


def exact_rebate(sales: int, target: int, tiers: Sequence[Tier], method: Method) -> Decimal:
    return sum((band.amount for band in explain(sales, target, tiers, method)), Decimal(0))


def rebate(sales: int, target: int, tiers: Sequence[Tier], method: Method) -> int:
    return round_money(exact_rebate(sales, target, tiers, method))


def sales_needed_for(threshold_percent: Decimal, target: int) -> int:
    """The smallest whole amount of sales (minor units) whose attainment reaches the threshold."""
    return int((threshold_percent * Decimal(target) / HUNDRED).to_integral_value(rounding=ROUND_CEILING))


def calculate(sales: int, target: int, tiers: Sequence[Tier], method: Method) -> Outcome:
    validate_tiers(tiers)
    sales = max(sales, 0)
    index = reached_tier(sales, target, tiers)
    next_index = 0 if index is None else index + 1
    if target <= 0 or next_index >= len(tiers):
        return Outcome(
            sales, target, attainment(sales, target), index, rebate(sales, target, tiers, method), None, 0, 0
        )
    needed = max(sales_needed_for(tiers[next_index].threshold_percent, target) - sales, 0)
    return Outcome(
        sales=sales,
        target=target,
        attainment_percent=attainment(sales, target),
        reached=index,
        rebate=rebate(sales, target, tiers, method),
        next_tier=next_index,
        sales_to_next_tier=needed,
        rebate_at_next_tier=rebate(sales + needed, target, tiers, method),
    )


def projection(sales_so_far: int, period_start: date, period_end: date, today: date) -> int:
    """Sales at the end of the period if the pace so far continues (inclusive days, rounded half up)."""
    total_days = (period_end - period_start).days + 1
    elapsed = min(max((today - period_start).days + 1, 1), total_days)
    return round_money(Decimal(sales_so_far) * Decimal(total_days) / Decimal(elapsed))


def pace_target(target: int, period_start: date, period_end: date, day: date) -> int:
    """How much of the target an even pace would have sold by the end of `day` (inclusive days, half up)."""
    total_days = (period_end - period_start).days + 1
    elapsed = min(max((day - period_start).days + 1, 0), total_days)
    return round_money(Decimal(target) * Decimal(elapsed) / Decimal(total_days))


def misses_target_at_pace(sales_so_far: int, target: int, period_start: date, period_end: date, today: date) -> bool:
    return target > 0 and projection(sales_so_far, period_start, period_end, today) < target


register_labels(
    {
        Method.RETROACTIVE: _l("Retroactive"),
        Method.STEPPED: _l("Stepped"),
    }
)


register_labels(
    {
        TargetChangeStatus.PENDING: _l("Waiting for approval"),
        TargetChangeStatus.APPROVED: _l("Approved"),
        TargetChangeStatus.REJECTED: _l("Rejected"),
    }
)
