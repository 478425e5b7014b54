"""Locale-aware display of money, numbers and times, as Jinja filters.

Money is an integer number of minor units plus an ISO currency code; it is converted with Decimal (never float)
and formatted by Babel for the current locale. The locale and zone come from `portal.request_locale` (one step,
not Flask-Babel's chain of proxies): a list page formats every cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal

from babel import Locale, dates, numbers
from flask import Flask

from portal.money import precision, to_decimal
from portal.request_locale import current_locale, current_timezone


def money(minor_units: int, currency: str) -> str:
    locale = current_locale()
    if type(minor_units) is int:
        shape = money_shape(locale, currency)
        if shape is not None:
            return shape.write(minor_units)
    return numbers.format_currency(to_decimal(minor_units, currency), currency, locale=locale)


@dataclass(frozen=True)
class MoneyShape:
    """How one locale writes one currency, learnt from Babel: Babel's own formatting spends 16 µs an amount in
    Decimal arithmetic, and a claim queue shows fifty amounts. Whole minor units need none of it."""

    places: int
    group: str
    decimal: str
    prefix: str
    suffix: str
    negative_prefix: str
    negative_suffix: str

    def write(self, minor_units: int) -> str:
        digits = str(abs(minor_units)).rjust(self.places + 1, "0")
        whole, fraction = (digits[: -self.places], digits[-self.places :]) if self.places else (digits, "")
        body = f"{int(whole):,}".replace(",", self.group) + (self.decimal + fraction if self.places else "")
        if minor_units < 0:
            return self.negative_prefix + body + self.negative_suffix
        return self.prefix + body + self.suffix


# 1,234,567 and its decimals as Babel writes them: any prefix, groups of three, a decimal mark, any suffix.
_PROBE = re.compile(r"^(\D*)1(\D+)234(?:\2)567(?:(\D+)(\d+))?(\D*)$")
_SHAPES: dict[tuple[Locale, str], MoneyShape | None] = {}


def money_shape(locale: Locale, currency: str) -> MoneyShape | None:
    """The shape of amounts in this locale and currency, or None where Babel writes them otherwise (groups of two,
    other digits): those amounts are left to Babel."""
    key = (locale, currency)
    if key not in _SHAPES:
        _SHAPES[key] = _learn_shape(locale, currency)
    return _SHAPES[key]


def _learn_shape(locale: Locale, currency: str) -> MoneyShape | None:
    places = precision(currency)
    probe = 1_234_567 * 10**places + int("98765"[:places] or 0)
    written = [
        _PROBE.match(numbers.format_currency(to_decimal(amount, currency), currency, locale=locale))
        for amount in (probe, -probe)
    ]
    positive, negative = written
    if positive is None or negative is None or positive.group(2) != negative.group(2):
        return None
    if (positive.group(4) or "") != "98765"[:places] or (negative.group(4) or "") != "98765"[:places]:
        return None
    shape = MoneyShape(
        places,
        positive.group(2),
        positive.group(3) or "",
        positive.group(1),
        positive.group(5),
        negative.group(1),
        negative.group(5),
    )
    for amount in (0, 5, -5, 1234, 100_000 * 10**places):  # a last check against Babel itself
        if shape.write(amount) != numbers.format_currency(to_decimal(amount, currency), currency, locale=locale):
            return None
    return shape


COMPACT_FROM_MAJOR = 100_000  # below this an amount fits a phone's tile as it is


def compact_money(minor_units: int | Decimal | float, currency: str) -> str:
    """An amount where space is short: CN¥1.15M / ¥115.2万 from 100,000 up, else the exact amount."""
    major = to_decimal(int(minor_units), currency)
    if abs(major) < COMPACT_FROM_MAJOR:
        return money(int(minor_units), currency)
    return numbers.format_compact_currency(major, currency, locale=current_locale(), fraction_digits=2)


def exact_money(minor_units: int | Decimal, currency: str) -> str:
    """An intermediate amount of the calculation, shown with up to two more decimals than the currency has."""
    places = precision(currency)
    pattern = "¤#,##0" + ("." + "0" * places if places else "") + "##"
    return numbers.format_currency(
        to_decimal(minor_units, currency), currency, format=pattern, currency_digits=False, locale=current_locale()
    )


def number(value: int | Decimal) -> str:
    return numbers.format_decimal(value, locale=current_locale())


def percent_figure(value: int | float | Decimal) -> str:
    """A percentage figure, cut (not rounded) to two decimals so 99.999 % never reads as a reached 100 %."""
    cut = _cut(value)
    shape = number_shape(current_locale())
    if shape is not None and cut >= 0:
        return shape.write(cut)
    return numbers.format_decimal(cut, format="#,##0.##", locale=current_locale())


def percent(value: int | float | Decimal) -> str:
    """A percentage as the locale writes it (96%, 96 %), cut like percent_figure: 99.999 never reads 100."""
    cut = _cut(value)
    shape = number_shape(current_locale())
    if shape is not None and cut >= 0:
        return shape.percent_prefix + shape.write(cut) + shape.percent_suffix
    return numbers.format_percent(cut / 100, format="#,##0.##%", locale=current_locale())


def _cut(value: int | float | Decimal) -> Decimal:
    exact = Decimal(str(value)) if not isinstance(value, Decimal) else value
    return exact.quantize(_HUNDREDTH, rounding=ROUND_DOWN)


_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class NumberShape:
    """How one locale writes a figure with up to two decimals ("#,##0.##") and a percentage of it, learnt from
    Babel like MoneyShape: a dashboard's charts and tables write forty percentages, at 20 µs each through Babel."""

    group: str
    decimal: str
    percent_prefix: str
    percent_suffix: str

    def write(self, cut: Decimal) -> str:
        """A non-negative figure already cut to two decimals: groups of three, the decimals without trailing zeros."""
        hundredths = int(cut * 100)
        whole, fraction = divmod(hundredths, 100)
        body = f"{whole:,}".replace(",", self.group)
        if fraction:
            body += self.decimal + f"{fraction:02d}".rstrip("0")
        return body


_NUMBER_PROBE = re.compile(r"^1(\D+)234(?:\1)567(\D+)89$")
_PERCENT_PROBE = re.compile(r"^(\D*)1(\D+)234(?:\2)567(\D+)89(\D*)$")
_NUMBER_SHAPES: dict[Locale, NumberShape | None] = {}


def number_shape(locale: Locale) -> NumberShape | None:
    """The locale's shape of figures and percentages, or None where Babel writes them otherwise (other digits,
    other groups): those are left to Babel."""
    if locale not in _NUMBER_SHAPES:
        _NUMBER_SHAPES[locale] = _learn_number_shape(locale)
    return _NUMBER_SHAPES[locale]


def _learn_number_shape(locale: Locale) -> NumberShape | None:
    figure = _NUMBER_PROBE.match(numbers.format_decimal(Decimal("1234567.89"), format="#,##0.##", locale=locale))
    share = _PERCENT_PROBE.match(numbers.format_percent(Decimal("12345.6789"), format="#,##0.##%", locale=locale))
    if figure is None or share is None or figure.groups() != share.groups()[1:3]:
        return None
    shape = NumberShape(figure.group(1), figure.group(2), share.group(1), share.group(4))
    for probe in ("0", "0.5", "0.05", "7", "99.99", "100", "1000.1", "123456.78"):  # a last check against Babel
        cut = Decimal(probe)
        if shape.write(cut) != numbers.format_decimal(cut, format="#,##0.##", locale=locale):
            return None
        written = shape.percent_prefix + shape.write(cut) + shape.percent_suffix
        if written != numbers.format_percent(cut / 100, format="#,##0.##%", locale=locale):
            return None
    return shape


def month_name(value: date) -> str:
    """A month as the locale names it: Oct 2026, 2026年10月 (never the pattern's "10月 2026")."""
    return dates.format_skeleton("yMMM", value, locale=current_locale())


# The one style of each: a date as "Dec 5, 2026" / "5 Dec 2026" / "2026年12月5日", a time of day without seconds.
def local_datetime(value: datetime | None) -> str:
    """An aware UTC datetime in the user's time zone: the date in its one style, then hours and minutes."""
    if value is None:
        return ""
    zone = current_timezone()
    locale = current_locale()
    in_zone = value.astimezone(zone) if value.tzinfo is not None else value.replace(tzinfo=UTC).astimezone(zone)
    return f"{dates.format_date(in_zone, 'medium', locale=locale)} {dates.format_time(in_zone, 'short', locale=locale)}"


def local_date(value: date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):  # a moment is a day in the reader's zone
        zone = current_timezone()
        value = value.astimezone(zone) if value.tzinfo is not None else value.replace(tzinfo=UTC).astimezone(zone)
    return dates.format_date(value, "medium", locale=current_locale())


def init_app(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(number, "number")
    app.add_template_filter(exact_money, "exact_money")
    app.add_template_filter(percent_figure, "percent_figure")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(compact_money, "compact_money")
    app.add_template_filter(month_name, "month_name")
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(local_date, "local_date")
