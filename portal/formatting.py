"""Locale-aware display of money, numbers and times, as Jinja filters.

Money is an integer number of minor units plus an ISO currency code; it is converted with Decimal (never float)
and formatted by Babel for the current locale.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

from flask import Flask
from flask_babel import format_currency, format_date, format_datetime, format_decimal

from portal.money import precision, to_decimal


def money(minor_units: int, currency: str) -> str:
    return format_currency(to_decimal(minor_units, currency), currency)


def exact_money(minor_units: int | Decimal, currency: str) -> str:
    """An intermediate amount of the calculation, shown with up to two more decimals than the currency has."""
    places = precision(currency)
    pattern = "¤#,##0" + ("." + "0" * places if places else "") + "##"
    return format_currency(to_decimal(minor_units, currency), currency, format=pattern, currency_digits=False)


def number(value: int | Decimal) -> str:
    return format_decimal(value)


def percent_figure(value: int | float | Decimal) -> str:
    """A percentage figure, cut (not rounded) to two decimals so 99.999 % never reads as a reached 100 %."""
    exact = Decimal(str(value)) if not isinstance(value, Decimal) else value
    return format_decimal(exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN), format="#,##0.##")


def month_name(value: date) -> str:
    return format_date(value, "MMM y")


def local_datetime(value: datetime | None, style: str = "medium") -> str:
    """An aware UTC datetime shown in the user's time zone."""
    return format_datetime(value, style) if value is not None else ""


def local_date(value: date | None, style: str = "medium") -> str:
    return format_date(value, style) if value is not None else ""


def init_app(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(number, "number")
    app.add_template_filter(exact_money, "exact_money")
    app.add_template_filter(percent_figure, "percent_figure")
    app.add_template_filter(month_name, "month_name")
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(local_date, "local_date")
