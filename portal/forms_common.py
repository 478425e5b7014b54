"""Field helpers shared by the areas' forms."""

from __future__ import annotations

import enum
import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField, ValidationError
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.money import NumberFormat
from portal.request_locale import lazy_gettext as _l
from portal.types import lazy_label

COMMON_TIMEZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Kolkata",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)
CURRENCIES = ("CNY", "HKD", "USD", "EUR", "JPY", "SGD")


def enum_choices(enum_class: type[enum.Enum], *, blank: Any = None) -> list[SelectChoice]:
    """The members as choices whose labels are translated when the form is shown, not when it is defined (a form
    class's choices are built at import: English on Chinese pages otherwise)."""
    choices = [SelectChoice(member.value, lazy_label(member)) for member in enum_class]
    if blank is not None:
        choices.insert(0, SelectChoice("", blank))
    return choices


# What people separate items of a list with when they type or paste one: commas and semicolons (ASCII or the
# full-width ones of a Chinese keyboard), the enumeration comma, tabs (a spreadsheet's row) and lines.
LIST_SEPARATORS = re.compile(r"[,，、;；\t\r\n]")  # noqa: RUF001 - the full-width separators people type


def split_list(text: str | None) -> list[str]:
    """The items of a typed or pasted list, trimmed, each once, sorted; spaces inside an item are kept."""
    return sorted({part.strip() for part in LIST_SEPARATORS.split(text or "") if part.strip()})


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes (tiers of an audience), validated against the choices."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def optional_int(value: Any) -> int | None:
    """Coerce a select's value to an id, '' meaning none; anything else unparsable also means none."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if -(2**31) <= number < 2**31 else None  # ids fit a 32-bit column; larger ones name nothing


class EmailAddress:
    """Syntax only, no DNS look-up; reserved test domains (example.test) allowed for demos and staging."""

    def __call__(self, form: Any, field: Any) -> None:
        if not field.data:
            return
        try:
            validate_email(field.data, check_deliverability=False, test_environment=True)
        except EmailNotValidError as error:
            raise ValidationError(_l("Enter a valid email address.")) from error


class CsvUploadForm(FlaskForm):
    """A CSV file or an Excel workbook to read: targets, budgets, sales. The uploader says how the file writes
    amounts (a CSV from Excel in much of Europe writes 1.234,56), and may name a workbook's sheet."""

    file = FileField(_l("CSV or Excel file"), validators=[FileRequired(_l("Choose a CSV or Excel file."))])
    number_format = SelectField(
        _l("Amounts in the file"),
        choices=[
            SelectChoice("", _l("Not said: refuse any amount that reads two ways")),
            SelectChoice("point", _l("1,234.56 (decimal point)")),
            SelectChoice("comma", _l("1.234,56 (decimal comma)")),
        ],
        default="",
    )
    sheet = StringField(
        _l("Sheet (workbooks; empty for the first)"), validators=[Optional(), Length(max=100)], default=""
    )

    @property
    def file_number_format(self) -> NumberFormat:
        return NumberFormat(self.number_format.data or "")
