"""The dealer home's two small charts as geometry: where each bar, pace mark and label goes in the SVG's box.

Worked out here, not in the template: the template computed some sixty coordinates with Jinja arithmetic and
`'%.1f'|format` on every visit to the dealer's home, a quarter of the rebate section's rendering; and here the
geometry can be tested against the figures it draws. The words and amounts on the charts (compact amounts, month
names, percentages) stay in the template, which knows the reader's language.

Both charts share one plot: a value axis at x = 40 from y = 20 (the top of the scale) to y = 120 (zero), and 310
units of width shared equally by the bars, each bar 60 % of its share and centred in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from portal.rebates.queries import Month, QuarterAttainment

PLOT_LEFT = 40
PLOT_WIDTH = 310
PLOT_BOTTOM = 120  # the y of zero
PLOT_HEIGHT = 100  # from zero to the top of the scale
TREND_FLOOR = 120.0  # the trend's scale reaches at least 120 %, so the 100 % line never sits at the very top


def _at(coordinate: float) -> str:
    """A coordinate as the SVG gets it: one decimal."""
    return f"{coordinate:.1f}"


@dataclass(frozen=True)
class MonthBar:
    first_day: date
    sales: int
    on_pace: bool  # the month's sales reached its share of the target at an even pace
    x: str
    y: str
    width: str
    height: str
    pace_x1: str  # the pace mark: a short line at the month's share of the target, wider than the bar
    pace_x2: str
    pace_y: str
    label_x: str  # the middle of the bar, where its value and its month are written
    value_y: str  # the value sits just above the bar or the pace mark, whichever is higher


@dataclass(frozen=True)
class MonthlyChart:
    top: int  # the value at the top of the scale: the largest month or pace share (at least 1)
    bars: list[MonthBar]


def monthly_chart(months: Sequence[Month]) -> MonthlyChart:
    top = max([1, *(month.sales for month in months), *(month.pace_share for month in months)])
    bars = []
    slot = PLOT_WIDTH / len(months) if months else 0.0
    for index, month in enumerate(months):
        x = PLOT_LEFT + slot * index + slot * 0.2
        height = month.sales / top * PLOT_HEIGHT
        pace_y = PLOT_BOTTOM - month.pace_share / top * PLOT_HEIGHT
        bars.append(
            MonthBar(
                first_day=month.first_day,
                sales=month.sales,
                on_pace=month.sales >= month.pace_share,
                x=_at(x),
                y=_at(PLOT_BOTTOM - height),
                width=_at(slot * 0.6),
                height=_at(height),
                pace_x1=_at(x - 6),
                pace_x2=_at(x + slot * 0.6 + 6),
                pace_y=_at(pace_y),
                label_x=_at(x + slot * 0.3),
                value_y=_at(min(PLOT_BOTTOM - height, pace_y) - 5),
            )
        )
    return MonthlyChart(top, bars)


@dataclass(frozen=True)
class QuarterBar:
    quarter: QuarterAttainment
    x: str
    y: str
    width: str
    height: str
    label_x: str
    value_y: str


@dataclass(frozen=True)
class TrendChart:
    target_y: str  # the dashed line of 100 % attainment
    target_label_y: str
    bars: list[QuarterBar]


def trend_chart(quarters: Sequence[QuarterAttainment]) -> TrendChart:
    """Attainment bars of the last quarters, oldest first; a bar above the scale's top (over 120 % or the best
    quarter) is cut at the top, and a quarter without a target has no bar."""
    peak = max([TREND_FLOOR, *(float(quarter.attainment) for quarter in quarters if quarter.attainment)])
    slot = PLOT_WIDTH / len(quarters) if quarters else 0.0
    target_y = PLOT_BOTTOM - 100 / peak * PLOT_HEIGHT
    bars = []
    for index, quarter in enumerate(quarters):
        value = float(quarter.attainment or 0)
        x = PLOT_LEFT + slot * index + slot * 0.2
        height = min(value, peak) / peak * PLOT_HEIGHT
        bars.append(
            QuarterBar(
                quarter=quarter,
                x=_at(x),
                y=_at(PLOT_BOTTOM - height),
                width=_at(slot * 0.6),
                height=_at(height),
                label_x=_at(x + slot * 0.3),
                value_y=_at(PLOT_BOTTOM - 5 - height),
            )
        )
    return TrendChart(_at(target_y), _at(target_y + 4), bars)
