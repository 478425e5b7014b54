"""Dates, times, months, percentages and money in one style per locale, through Babel: 2026年12月5日 13:51 and
Dec 5, 2026 1:51 PM (never 12/5/26 nor seconds), 2026年10月 (never 10月 2026), 96% (never 96 %), the time zone as
people say it (北京时间), and amounts that fit a phone's tile: compact from 100,000 up with the exact one kept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask, render_template_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.formatting import compact_money, local_date, local_datetime, money, month_name, percent
from portal.i18n import time_zone_name
from tests.factories import Channel
from tests.helpers import logged_in_client

FIVE_TO_SIX = datetime(2026, 12, 5, 5, 51, 42, tzinfo=UTC)  # 13:51 in Shanghai


@pytest.mark.parametrize(
    ("language", "moment", "day", "month", "zone"),
    [
        ("zh-CN", "2026年12月5日 13:51", "2026年12月5日", "2026年10月", "北京时间"),
        (
            "en",
            "Dec 5, 2026 1:51\u202fPM",  # CLDR puts a narrow no-break space before PM
            "Dec 5, 2026",
            "Oct 2026",
            "Beijing time",
        ),
    ],
)
def test_one_style_per_locale(app: Flask, language: str, moment: str, day: str, month: str, zone: str) -> None:
    with app.test_request_context(headers={"Accept-Language": language}):
        assert local_datetime(FIVE_TO_SIX) == moment
        assert local_date(date(2026, 12, 5)) == day
        assert month_name(date(2026, 10, 1)) == month
        assert percent(96) == "96%" and percent(Decimal("99.999")) == "99.99%"  # cut, never rounded up to 100
        assert time_zone_name() == zone


def test_compact_amounts_where_space_is_short(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert compact_money(115_200_000, "CNY") == "¥115.2万"  # 1,152,000.00 yuan: 115.2 ten-thousands
        assert compact_money(9_999_999, "CNY") == money(9_999_999, "CNY")  # under 100,000: exact
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert compact_money(115_200_000, "CNY") == "CN¥1.15M"
        assert compact_money(20_000_000, "CNY") == "CN¥200K"
        shown = render_template_string(
            '{% from "_macros.html" import figure %}{{ figure(115200000, "CNY") }}|{{ figure(123456, "CNY") }}'
        )
        assert 'title="CN¥1,152,000.00" data-exact="CN¥1,152,000.00">CN¥1.15M</span>' in shown
        assert '<span class="tnum">CN¥1,234.56</span>' in shown


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the app is only read
@given(st.integers(min_value=10_000_000, max_value=10**14))
def test_a_compact_amount_is_the_exact_one_rounded_to_its_unit(app: Flask, minor: int) -> None:
    """Read back (K, M, B in English), a compact amount is within half its last digit of the exact one."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        shown = compact_money(minor, "CNY").removeprefix("CN¥")
    units = {"K": Decimal(1_000), "M": Decimal(1_000_000), "B": Decimal(1_000_000_000), "T": Decimal(10**12)}
    unit = units[shown[-1]]
    figure = Decimal(shown[:-1])
    last_digit = Decimal(1).scaleb(figure.as_tuple().exponent) * unit  # type: ignore[arg-type]
    assert abs(figure * unit - Decimal(minor) / 100) <= last_digit / 2


def test_the_footer_says_beijing_time_in_chinese(app: Flask, budgets_set: Channel) -> None:
    client = logged_in_client(app, budgets_set.emails["manager"])
    page = client.get("/console/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "时间均为北京时间。" in page and "Asia/Shanghai" not in page
