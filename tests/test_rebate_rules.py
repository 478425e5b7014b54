"""The rebate calculation, proven over whole generated programs: more sales never lower the rebate, boundaries
are exact, rounding follows the one rule, and "sell X more" is the least that reaches the next tier."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.rebates.rules import (
    InvalidProgram,
    Method,
    Tier,
    calculate,
    exact_rebate,
    explain,
    misses_target_at_pace,
    pace_target,
    projection,
    reached_tier,
    rebate,
    round_money,
    sales_needed_for,
    validate_tiers,
)
from portal.rebates.sales_jobs import (
    COPY_LINES_SQL,
    COPY_NEW_LINES_SQL,
    INSERT_STAGED_LINES_SQL,
    SALES_LINE_COLUMNS,
    ParsedLine,
)
from tests.factories import examples

percent = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2)
rate = st.decimals(min_value=Decimal("0"), max_value=Decimal("20"), places=2)


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[Tier], Method]:
    thresholds = sorted(draw(st.sets(percent, min_size=1, max_size=6)))
    rates = sorted(draw(st.lists(rate, min_size=len(thresholds), max_size=len(thresholds))))
    return [Tier(t, r) for t, r in zip(thresholds, rates, strict=True)], draw(st.sampled_from(Method))


money = st.integers(min_value=0, max_value=10**12)
targets = st.integers(min_value=1, max_value=10**11)


@settings(max_examples=examples(400), deadline=None)
@given(program=programs(), target=targets, sales=money, more=money)
def test_more_sales_never_lower_the_rebate(program, target: int, sales: int, more: int) -> None:  # type: ignore[no-untyped-def]
    tiers, method = program
    assert rebate(sales + more, target, tiers, method) >= rebate(sales, target, tiers, method)


@settings(max_examples=examples(300), deadline=None)
@given(program=programs(), target=targets)
def test_boundaries_are_exact(program, target: int) -> None:  # type: ignore[no-untyped-def]
    """One minor unit below a threshold does not reach the tier; the least amount that reaches it does."""
    tiers, _method = program
    for index, tier in enumerate(tiers):
        needed = sales_needed_for(tier.threshold_percent, target)
        assert reached_tier(needed, target, tiers) is not None and reached_tier(needed, target, tiers) >= index
        if needed > 0:
            below = reached_tier(needed - 1, target, tiers)
            assert below is None or below < index


@settings(max_examples=examples(300), deadline=None)
@given(program=programs(), target=targets, sales=money)
def test_rounding_is_once_half_up_of_the_exact_figure(program, target: int, sales: int) -> None:  # type: ignore[no-untyped-def]
    tiers, method = program
    exact = exact_rebate(sales, target, tiers, method)
    result = rebate(sales, target, tiers, method)
    assert abs(Decimal(result) - exact) <= Decimal("0.5")
    if exact - int(exact) == Decimal("0.5"):
        assert result == int(exact) + 1


@settings(max_examples=examples(300), deadline=None)
@given(program=programs(), target=targets, sales=money)
def test_sell_x_more_is_the_least_that_reaches_the_next_tier(program, target: int, sales: int) -> None:  # type: ignore[no-untyped-def]
    tiers, method = program
    outcome = calculate(sales, target, tiers, method)
    if outcome.next_tier is None:
        assert outcome.reached == len(tiers) - 1 and outcome.sales_to_next_tier == 0
        return
    after = reached_tier(sales + outcome.sales_to_next_tier, target, tiers)
    assert after is not None and after >= outcome.next_tier
    if outcome.sales_to_next_tier > 0:
        before = reached_tier(sales + outcome.sales_to_next_tier - 1, target, tiers)
        assert before is None or before < outcome.next_tier
    assert outcome.rebate_at_next_tier >= outcome.rebate


@settings(max_examples=examples(200), deadline=None)
@given(program=programs(), target=targets, sales=money)
def test_stepped_never_pays_more_than_retroactive(program, target: int, sales: int) -> None:  # type: ignore[no-untyped-def]
    """With rates that never fall, paying each band its own rate cannot beat paying the top rate on everything."""
    tiers, _method = program
    assert exact_rebate(sales, target, tiers, Method.STEPPED) <= exact_rebate(sales, target, tiers, Method.RETROACTIVE)


def test_worked_example() -> None:
    """Target 1,000,000.00; tiers 80 % at 1 %, 100 % at 2 %, 120 % at 3 %; sales 1,100,000.00 (110 %)."""
    tiers = [Tier(Decimal(80), Decimal(1)), Tier(Decimal(100), Decimal(2)), Tier(Decimal(120), Decimal(3))]
    target, sales = 100_000_000, 110_000_000
    retro = calculate(sales, target, tiers, Method.RETROACTIVE)
    assert retro.attainment_percent == Decimal(110) and retro.reached == 1
    assert retro.rebate == 2_200_000  # 2 % of 1,100,000.00 = 22,000.00
    assert retro.sales_to_next_tier == 10_000_000 and retro.rebate_at_next_tier == 3_600_000
    stepped = calculate(sales, target, tiers, Method.STEPPED)
    # 800,000-1,000,000 at 1 % = 2,000.00; 1,000,000-1,100,000 at 2 % = 2,000.00
    assert stepped.rebate == 400_000


def test_half_a_minor_unit_rounds_up() -> None:
    tiers = [Tier(Decimal(1), Decimal("0.5"))]
    assert exact_rebate(101, 100, tiers, Method.RETROACTIVE) == Decimal("0.505")
    assert rebate(101, 100, tiers, Method.RETROACTIVE) == 1
    assert round_money(Decimal("2.5")) == 3 and round_money(Decimal("2.4999")) == 2


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [Tier(Decimal(100), Decimal(2)), Tier(Decimal(90), Decimal(3))],
        [Tier(Decimal(80), Decimal(3)), Tier(Decimal(100), Decimal(2))],
        [Tier(Decimal(0), Decimal(1))],
        [Tier(Decimal(50), Decimal(101))],
    ],
)
def test_programs_that_would_break_the_promises_are_refused(tiers: list[Tier]) -> None:
    with pytest.raises(InvalidProgram):
        validate_tiers(tiers)


def test_projection_at_the_current_pace() -> None:
    start, end = date(2026, 10, 1), date(2026, 12, 31)  # 92 days
    assert projection(46_000, start, end, date(2026, 11, 15)) == 92_000  # 46 days gone: double
    assert projection(10, start, end, date(2026, 9, 1)) == 920  # before the start: one day's pace
    assert projection(5_000, start, end, date(2027, 1, 5)) == 5_000  # after the end: what was sold


@given(program=programs(), target=targets, sales=money)
def test_the_explanation_adds_up_to_the_rebate(program, target: int, sales: int) -> None:  # type: ignore[no-untyped-def]
    """The statement page's lines are the calculation itself: their sum, rounded once, is the rebate."""
    tiers, method = program
    bands = explain(sales, target, tiers, method)
    assert round_money(sum((band.amount for band in bands), Decimal(0))) == rebate(sales, target, tiers, method)
    for band in bands:
        assert band.lower < band.upper <= sales
        assert band.amount == (band.upper - band.lower) * band.rate_percent / 100
    if method is Method.STEPPED:
        assert all(left.upper == right.lower for left, right in itertools.pairwise(bands))


@given(
    target=targets,
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    length=st.integers(min_value=0, max_value=120),
    days=st.lists(st.integers(min_value=-5, max_value=130), min_size=2, max_size=2),
)
def test_the_target_pace_rises_to_the_whole_target(target: int, start: date, length: int, days: list[int]) -> None:
    end = start + timedelta(days=length)
    early, late = sorted(days)
    assert pace_target(target, start, end, start + timedelta(days=early)) <= pace_target(
        target, start, end, start + timedelta(days=late)
    )
    assert pace_target(target, start, end, end) == target
    assert pace_target(target, start, end, start - timedelta(days=1)) == 0


@given(sales=money, target=targets, elapsed=st.integers(min_value=0, max_value=91))
def test_missing_the_target_at_pace_means_the_projection_falls_short(sales: int, target: int, elapsed: int) -> None:
    start = date(2026, 10, 1)
    end = date(2026, 12, 31)
    today = start + timedelta(days=elapsed)
    assert misses_target_at_pace(sales, target, start, end, today) is (projection(sales, start, end, today) < target)


def test_the_literal_import_statements_name_the_sales_line_columns() -> None:
    """PostgreSQL imports use SQL written out in full; its column lists must be the ones the rows are built in."""

    columns = ", ".join(SALES_LINE_COLUMNS)
    assert f"({columns}) FROM STDIN" in COPY_LINES_SQL and f"({columns}) FROM STDIN" in COPY_NEW_LINES_SQL
    # A row is the parsed line after its file line number, then the import.
    assert [*ParsedLine._fields[1:], "import_id"] == [
        column.replace("corrects_invoice", "corrects") for column in SALES_LINE_COLUMNS
    ]
    assert f"sales_lines ({columns}) SELECT {columns} FROM" in INSERT_STAGED_LINES_SQL
