"""Dates, times, months, percentages and money in one style per locale, through Babel: 2026年12月5日 13:51 and
Dec 5, 2026 1:51 PM (never 12/5/26 nor seconds), 2026年10月 (never 10月 2026), 96% (never 96 %), the time zone as
people say it (北京时间), and amounts that fit a phone's tile: compact from 100,000 up with the exact one kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Flask, render_template_string
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.claims.models import ClaimStatus
from portal.formatting import (
    compact_money,
    local_date,
    local_datetime,
    money,
    money_shape,
    month_name,
    number_shape,
    percent,
)
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


def test_templates_translate_in_the_locale_of_the_moment_force_locale_included(app: Flask) -> None:
    """The one-step lookup (portal.request_locale) follows `force_locale` in and out, as a notice in its recipient's
    language needs, for `_`, `ngettext` and the `label` of a status alike."""
    page = "{{ _('Claims') }}|{{ ngettext('%(num)s day left', '%(num)s days left', 2) }}|{{ status|label }}"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        chinese = render_template_string(page, status=ClaimStatus.SUBMITTED)
        with force_locale("en"):
            english = render_template_string(page, status=ClaimStatus.SUBMITTED)
        assert render_template_string(page, status=ClaimStatus.SUBMITTED) == chinese
    assert chinese.startswith("费用核销|") and chinese.endswith("|已提交") and "2" in chinese
    assert english == "Claims|2 days left|Submitted"


def test_template_gettext_formats_and_escapes_as_jinja_does(app: Flask) -> None:
    """A message is always a format string ('%%' reads '%') and the values put into it are escaped."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        shown = render_template_string("{{ _('100%% of %(name)s', name=name) }}|{{ _('50%%') }}", name="<b>A&B</b>")
    assert shown == "100% of &lt;b&gt;A&amp;B&lt;/b&gt;|50%"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)  # the app is only read
@given(
    minor=st.integers(min_value=-(10**13), max_value=10**13),
    currency=st.sampled_from(["CNY", "HKD", "USD", "JPY"]),
    day=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    language=st.sampled_from(["en", "zh-CN"]),
)
def test_amounts_and_days_read_as_babel_writes_them(
    app: Flask, minor: int, currency: str, day: datetime, language: str
) -> None:
    """The filters read the locale in one step; what they write is still Babel's, computed here with the locale
    named outright: money in the currency's decimals, a moment as the day it is in Beijing."""
    locale = Locale.parse("zh_Hans" if language == "zh-CN" else "en")
    moment = day.replace(tzinfo=UTC)
    places = 0 if currency == "JPY" else 2
    with app.test_request_context(headers={"Accept-Language": language}):
        assert money(minor, currency) == babel_numbers.format_currency(
            Decimal(minor).scaleb(-places), currency, locale=locale
        )
        beijing_day = (moment + timedelta(hours=8)).date()  # Shanghai keeps no summer time
        assert (
            local_date(moment)
            == local_date(beijing_day)
            == babel_dates.format_date(beijing_day, "medium", locale=locale)
        )


LOCALES_SEEN = ["en", "zh_Hans", "de_DE", "fr_FR", "ja", "ar_EG", "nl_NL", "en_IN", "de_CH"]


@settings(max_examples=300)
@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["CNY", "HKD", "USD", "JPY", "EUR", "KWD"]),
    locale_name=st.sampled_from(LOCALES_SEEN),
)
def test_an_amount_written_from_its_learnt_shape_is_what_babel_writes(
    minor: int, currency: str, locale_name: str
) -> None:
    """The quick way to write whole minor units (portal.formatting.money_shape) gives Babel's text, character for
    character, in every locale it learns a shape for (groups of two, as India writes them, it leaves to Babel)."""
    locale = Locale.parse(locale_name)
    shape = money_shape(locale, currency)
    if locale_name in ("en", "zh_Hans"):
        assert shape is not None  # the portal's two languages always take the quick way
    if shape is not None:
        exact = Decimal(minor).scaleb(-babel_numbers.get_currency_precision(currency))
        assert shape.write(minor) == babel_numbers.format_currency(exact, currency, locale=locale)


@settings(max_examples=400)
@given(
    value=st.one_of(
        st.integers(min_value=0, max_value=10**9),
        st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False),
        st.floats(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False),
    ),
    locale_name=st.sampled_from(LOCALES_SEEN),
)
def test_a_percentage_written_from_its_learnt_shape_is_what_babel_writes(
    value: int | Decimal | float, locale_name: str
) -> None:
    """The quick way to write a percentage and its figure (portal.formatting.number_shape) gives Babel's text for
    the same value cut to two decimals, character for character, in every locale it learns a shape for."""
    locale = Locale.parse(locale_name)
    shape = number_shape(locale)
    if locale_name in ("en", "zh_Hans"):
        assert shape is not None  # the portal's two languages always take the quick way
    if shape is not None:
        cut = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)  # the cut, computed here again
        assert shape.write(cut) == babel_numbers.format_decimal(cut, format="#,##0.##", locale=locale)
        assert shape.percent_prefix + shape.write(cut) + shape.percent_suffix == babel_numbers.format_percent(
            cut / 100, format="#,##0.##%", locale=locale
        )
