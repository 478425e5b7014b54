"""The dealer home's charts as geometry (portal/rebates/charts.py): every bar drawn to the figure it stands for,
inside the plot, each in its own share of the width, and every label where a reader looks for it.

The expectations are worked out here from the figures, in the SVG's own terms (the value axis at x = 40 from
y = 120 for zero to y = 20 for the top of the scale, 310 units of width), not read back from the module.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from portal.rebates.charts import monthly_chart, trend_chart
from portal.rebates.queries import Month, QuarterAttainment

amounts = st.integers(min_value=0, max_value=10**13)
months = st.lists(st.builds(Month, st.just(date(2026, 10, 1)), amounts, amounts, st.booleans()), min_size=1, max_size=3)
quarters = st.lists(
    st.builds(
        QuarterAttainment,
        st.just("2026-Q4"),
        st.one_of(st.none(), st.decimals(min_value=0, max_value=1000, places=2)),
        st.booleans(),
    ),
    min_size=2,
    max_size=8,
)


ROUNDING = 0.0501  # a coordinate is written with one decimal: at most half of that off, and a float's error


def number(text: str) -> float:
    assert text == f"{float(text):.1f}", text  # one decimal, as the SVG gets it
    return float(text)


@given(months)
def test_each_month_is_a_bar_as_tall_as_its_sales_in_its_own_share_of_the_width(drawn: list[Month]) -> None:
    chart = monthly_chart(drawn)
    top = max(1, *(month.sales for month in drawn), *(month.pace_share for month in drawn))
    assert chart.top == top
    share = 310 / len(drawn)
    for index, (month, bar) in enumerate(zip(drawn, chart.bars, strict=True)):
        x, width, height, y = number(bar.x), number(bar.width), number(bar.height), number(bar.y)
        assert abs(height - month.sales * 100 / top) <= ROUNDING
        assert abs((y + height) - 120) <= 2 * ROUNDING  # standing on zero
        assert 40 + index * share <= x and x + width <= 40 + (index + 1) * share + 2 * ROUNDING  # inside its own share
        assert abs(width - share * 0.6) <= ROUNDING
        pace_y = number(bar.pace_y)
        assert abs((120 - pace_y) - month.pace_share * 100 / top) <= ROUNDING
        assert number(bar.pace_x1) < x and number(bar.pace_x2) > x + width  # the mark is wider than the bar
        assert abs(number(bar.label_x) - (x + width / 2)) <= 2 * ROUNDING
        assert number(bar.value_y) <= min(y, pace_y) - 4.9  # above the bar and the mark
        assert 20 - ROUNDING <= y <= 120 and 20 - ROUNDING <= pace_y <= 120  # within the scale
        assert bar.on_pace == (month.sales >= month.pace_share)
        assert (bar.first_day, bar.sales) == (month.first_day, month.sales)


def test_a_period_with_no_months_and_no_sales_draws_nothing_and_keeps_a_scale() -> None:
    assert monthly_chart([]).bars == []
    assert monthly_chart([]).top == 1
    chart = monthly_chart([Month(date(2026, 10, 1), 0, 0, True)])
    assert (chart.top, chart.bars[0].height, chart.bars[0].y) == (1, "0.0", "120.0")


@given(quarters)
def test_each_quarter_is_a_bar_of_its_attainment_against_the_100_percent_line(drawn: list[QuarterAttainment]) -> None:
    chart = trend_chart(drawn)
    best = max([float(quarter.attainment or 0) for quarter in drawn])
    peak = max(120.0, best)  # the scale reaches 120 % at least, and the best quarter
    assert abs((120 - number(chart.target_y)) - 100 * 100 / peak) <= ROUNDING
    assert (
        abs(number(chart.target_label_y) - number(chart.target_y) - 4) <= 2 * ROUNDING
    )  # the 100 % label beside the line
    share = 310 / len(drawn)
    for index, (quarter, bar) in enumerate(zip(drawn, chart.bars, strict=True)):
        x, width, height, y = number(bar.x), number(bar.width), number(bar.height), number(bar.y)
        value = float(quarter.attainment or 0)
        assert abs(height - value * 100 / peak) <= ROUNDING  # never cut: the scale reaches the best quarter
        assert abs((y + height) - 120) <= 2 * ROUNDING and y >= 20 - ROUNDING
        assert 40 + index * share <= x and x + width <= 40 + (index + 1) * share + 2 * ROUNDING
        assert abs(number(bar.value_y) - (y - 5)) <= 2 * ROUNDING
        assert bar.quarter is quarter


def test_a_quarter_far_over_its_target_sets_the_scale_and_others_are_measured_against_it() -> None:
    chart = trend_chart(
        [
            QuarterAttainment("2026-Q2", Decimal("250.00"), True),
            QuarterAttainment("2026-Q3", Decimal("125.00"), True),
            QuarterAttainment("2026-Q4", None, False),
        ]
    )
    heights = [bar.height for bar in chart.bars]
    assert heights == ["100.0", "50.0", "0.0"]
    assert chart.target_y == "80.0"  # 100 % of a 250 % scale: two fifths of the way up from y = 120
