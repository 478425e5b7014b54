"""Money: integer minor units of one currency, never floats. Parsing what people type, converting for display
and export, one upper bound, and the form field every amount goes through.

An amount typed with more decimals than its currency has (12.345 yuan) is refused rather than rounded: in a claim
or a sales file that is a mistake to show, not to guess. Thousands separators and spaces are allowed, as people
copy them from Excel.
"""

from __future__ import annotations

import enum
import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision
from wtforms import StringField
from wtforms.validators import ValidationError

from portal.request_locale import lazy_gettext as _l

MAX_MONEY = 10**15  # minor units; far above any real amount, far below BigInteger's limit

MONEY_TEXT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")

PLAIN_MONEY_TEXT = re.compile(r"(-?)(\d+)(?:\.(\d+))?")


@functools.cache
def precision(currency: str) -> int:
    """Decimals of the currency (CNY 2, JPY 0); Babel looks it up afresh each time and a sales file asks a million."""
    return int(get_currency_precision(currency))


def to_decimal(minor_units: int | Decimal, currency: str) -> Decimal:
    """1234567 minor units of CNY -> Decimal('12345.67'), exact."""
    return Decimal(minor_units).scaleb(-precision(currency))


def parse_money(text: str, currency: str) -> int:
    """'12,345.67' in CNY -> 1234567 minor units. Raises ValueError (not a number, too many decimals, too large)."""
    cleaned = (text or "").strip().replace(",", "").replace(" ", "").replace("\u00a0", "")
    plain = PLAIN_MONEY_TEXT.fullmatch(cleaned)
    if plain is not None:  # digits, maybe decimals: the usual amount, in whole numbers (a sales file has a million)
        sign, whole, decimals = plain.group(1), plain.group(2), plain.group(3) or ""
        places = precision(currency)
        if len(decimals) > places and decimals[places:].strip("0"):
            raise ValueError("too many decimals")
        minor = int(whole + decimals[:places].ljust(places, "0"))
        if minor >= MAX_MONEY:
            raise ValueError("too large")
        return -minor if sign else minor
    if not MONEY_TEXT.fullmatch(cleaned):
        raise ValueError("not a number")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as error:
        raise ValueError("not a number") from error
    if not amount.is_finite():
        raise ValueError("not a number")
    scaled = amount.scaleb(precision(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError("too many decimals")
    minor = int(scaled)
    if abs(minor) >= MAX_MONEY:
        raise ValueError("too large")
    return minor


GROUPED_MONEY_TEXT = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")  # 1,234,567.89: commas in groups of three

EUROPEAN_GROUPED_MONEY_TEXT = re.compile(r"-?\d{1,3}(?:\.\d{3})+(?:,\d+)?")  # 1.234.567,89

AMBIGUOUS_MONEY_TEXT = re.compile(r"-?\d{1,3}\.\d{3}")  # 1.200: 1.2, or 1,200 written the European way


class MisreadAmount(ValueError):
    """An amount in a file that could be read two ways: refused rather than guessed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "decimal_comma" or "ambiguous"


class NumberFormat(enum.StrEnum):
    """How an uploaded file writes amounts, as the uploader says: not said (anything that reads two ways is
    refused), a decimal point (1,234.56; "1.200" is 1.20) or a decimal comma (1.234,56; "1.200" is 1,200)."""

    UNSAID = ""
    POINT = "point"
    COMMA = "comma"


def parse_file_money(text: str, currency: str, *, number_format: NumberFormat = NumberFormat.UNSAID) -> int:
    """An amount from an uploaded file (sales, targets, budgets), stricter than a form: a comma counts only as a
    thousands separator between groups of three digits ("1234,56" is a decimal comma, refused, never 123,456.00),
    and "1.200" is refused as ambiguous (1.20, or 1,200 with European separators). Raises MisreadAmount for those,
    ValueError for anything else parse_money refuses.

    When the upload says the file uses decimal commas ("1.234,56", Excel in much of Europe), the roles swap: a dot
    only separates groups of three digits, the comma is the decimal mark, and "1,234.56" is refused. When it says
    decimal points, "1.200" is 1.20."""
    cleaned = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if number_format is NumberFormat.COMMA:
        if "." in cleaned:
            if not EUROPEAN_GROUPED_MONEY_TEXT.fullmatch(cleaned):
                raise MisreadAmount("decimal_point")
            cleaned = cleaned.replace(".", "")
        return parse_money(cleaned.replace(",", "."), currency)
    if "," in cleaned:
        if not GROUPED_MONEY_TEXT.fullmatch(cleaned):
            raise MisreadAmount("decimal_comma")
        cleaned = cleaned.replace(",", "")
    elif number_format is NumberFormat.UNSAID and AMBIGUOUS_MONEY_TEXT.fullmatch(cleaned):
        raise MisreadAmount("ambiguous")
    return parse_money(cleaned, currency)


class MoneyField(StringField):
    """An amount typed in the currency the view sets (`form.amount.currency = dealer.currency`) before validating.

    `field.minor` holds the minor units once the form validates (None when left empty and optional). The text
    typed stays in `field.data`, so a refused amount is shown back as typed. Negative amounts are refused unless the
    field allows them; whether zero is allowed is the service's rule (a target must be above zero, a penalty may
    be zero for a warning).
    """

    def __init__(
        self,
        label: Any = None,
        validators: Any = None,
        *,
        allow_negative: bool = False,
        message: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.currency: str | None = None
        self.minor: int | None = None
        self.allow_negative = allow_negative
        self.message = message

    def pre_validate(self, form: Any) -> None:
        self.minor = None
        text = (self.data or "").strip()
        if not text:
            return  # required or not: the field's validators say
        if self.currency is None:
            raise RuntimeError(f"{self.name}: the view sets the currency before validating")
        try:
            amount = parse_money(text, self.currency)
        except ValueError:
            raise ValidationError(self.message or _l("Enter an amount such as 12,000.00.")) from None
        if amount < 0 and not self.allow_negative:
            raise ValidationError(_l("Enter an amount of zero or more."))
        self.minor = amount
