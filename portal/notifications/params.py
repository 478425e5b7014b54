"""Typed parameters of a notification: what a sentence says about money, a status or a date is stored as a
structured value, never as a string the reader would parse back.

A notification's parameters are kept as JSON and rendered later, in each reader's language. Text people typed
(a claim title, a reason) is a plain string and is always shown as it was typed: a title that reads "money:100:CNY"
or "status:suspended" stays exactly that. Only the dictionaries made here become an amount, a label or a date.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from portal.formatting import local_date, local_datetime, money
from portal.types import label, labelled_enum

Param = str | int | dict[str, Any]


def amount(minor_units: int, currency: str) -> dict[str, Any]:
    """An amount of money in minor units, shown in the reader's locale."""
    return {"type": "money", "amount": int(minor_units), "currency": str(currency)}


def choice(member: enum.Enum, *, lower: bool = False) -> dict[str, Any]:
    """A status or kind, shown with its label in the reader's language (lower case inside a sentence if asked)."""
    return {"type": "label", "enum": type(member).__name__, "value": member.value, "lower": lower}


def day(value: date) -> dict[str, Any]:
    return {"type": "date", "value": value.isoformat()}


def moment(value: datetime) -> dict[str, Any]:
    """A point in time, shown in the reader's time zone."""
    return {"type": "datetime", "value": value.astimezone(UTC).isoformat()}


def render(value: object) -> str:
    """The text a parameter shows. A plain value is shown as it is; a typed one through its formatter; a typed value
    that cannot be read (a removed status, a malformed row) shows nothing rather than its raw form."""
    if not isinstance(value, dict):
        return str(value)
    try:
        return _render_typed(value)
    except (KeyError, ValueError, TypeError, LookupError):
        return ""


def _render_typed(value: dict[str, Any]) -> str:
    kind = value["type"]
    if kind == "money":
        if not isinstance(value["amount"], int) or isinstance(value["amount"], bool):
            raise TypeError("amount")
        return money(value["amount"], str(value["currency"]))
    if kind == "label":
        member = labelled_enum(str(value["enum"]))(value["value"])
        text = label(member)
        return text.lower() if value.get("lower") else text
    if kind == "date":
        return local_date(date.fromisoformat(str(value["value"])))
    if kind == "datetime":
        return local_datetime(datetime.fromisoformat(str(value["value"])))
    raise LookupError(kind)
