"""The dealer home's two small charts as geometry: where each bar, pace mark and label goes in the SVG's box.

Worked out here, not in the template: the template computed some sixty coordinates with Jinja arithmetic and
`'%.1f'|format` on every visit to the dealer's home (about 1 % of the page's instructions), and here the geometry can
be tested against the figures it draws. The words and amounts on the charts (compact amounts, month
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
class _Slot:
    x: float  # the bar's left edge
    width: float
    middle: float  # where the bar's value and name are written


def _slot(index: int, count: int) -> _Slot:
    """The index-th of `count` equal shares of the plot's width: the bar takes 60 % of it, centred."""
    share = PLOT_WIDTH / count
    x = PLOT_LEFT + share * index + share * 0.2
    return _Slot(x, share * 0.6, x + share * 0.3)


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
    for index, month in enumerate(months):
        slot = _slot(index, len(months))
        height = month.sales / top * PLOT_HEIGHT
        pace_y = PLOT_BOTTOM - month.pace_share / top * PLOT_HEIGHT
        bars.append(
            MonthBar(
                first_day=month.first_day,
                sales=month.sales,
                on_pace=month.sales >= month.pace_share,
                x=_at(slot.x),
                y=_at(PLOT_BOTTOM - height),
                width=_at(slot.width),
                height=_at(height),
                pace_x1=_at(slot.x - 6),
                pace_x2=_at(slot.x + slot.width + 6),
                pace_y=_at(pace_y),
                label_x=_at(slot.middle),
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
    """Attainment bars of the last quarters, oldest first. The scale reaches the best quarter (and 120 % at least),
    so no bar is cut; a quarter without a target has no bar."""
    peak = max([TREND_FLOOR, *(float(quarter.attainment) for quarter in quarters if quarter.attainment)])
    target_y = PLOT_BOTTOM - 100 / peak * PLOT_HEIGHT
    bars = []
    for index, quarter in enumerate(quarters):
        slot = _slot(index, len(quarters))
        height = float(quarter.attainment or 0) / peak * PLOT_HEIGHT
        bars.append(
            QuarterBar(
                quarter=quarter,
                x=_at(slot.x),
                y=_at(PLOT_BOTTOM - height),
                width=_at(slot.width),
                height=_at(height),
                label_x=_at(slot.middle),
                value_y=_at(PLOT_BOTTOM - 5 - height),
            )
        )
    return TrendChart(_at(target_y), _at(target_y + 4), bars)
