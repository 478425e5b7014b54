"""Column types shared by every area: aware UTC datetimes on both databases, string-stored enums."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from flask_babel.speaklater import LazyString
from sqlalchemy import DateTime, Enum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from portal import request_locale


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns an aware datetime; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def str_enum(enum_class: type[enum.Enum], length: int = 32) -> Enum:
    """An enum kept as its string value with no database enum type, so migrations stay simple on both back ends."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


_LABELS: dict[tuple[type, object], object] = {}
# The message of each label given as a plain lazy translation, translated in one step when shown
# (portal.request_locale): a status column labels every row.
_LABEL_MESSAGES: dict[tuple[type, object], str] = {}
_LABELLED_ENUMS: dict[str, type[enum.Enum]] = {}


def register_labels(labels: dict[Any, object]) -> None:
    """Translatable display names for enum members, shown through the `label` template filter.

    Keyed by the enum class and value: members of two StrEnums with the same value ("other") compare and hash
    equal, and must not take each other's label. The class is also known by its name, which stored data (a
    notification's typed parameters) uses to find it again: two labelled enums may not share a name."""
    for member, text in labels.items():
        enum_class = type(member)
        known = _LABELLED_ENUMS.setdefault(enum_class.__name__, enum_class)
        if known is not enum_class:
            raise ValueError(f"two labelled enums are called {enum_class.__name__}")
        _LABELS[(enum_class, member.value)] = text
        if isinstance(text, LazyString) and len(text._args) == 1 and not text._kwargs:
            _LABEL_MESSAGES[(enum_class, member.value)] = str(text._args[0])


def labelled_enum(name: str) -> type[enum.Enum]:
    """The labelled enum class of that name (LookupError if none)."""
    return _LABELLED_ENUMS[name]


def lazy_label(member: enum.Enum) -> object:
    """The member's label as registered (a lazy translation, rendered in the reader's language when shown): for
    choices built once, when a form class is defined, which `label` would freeze in the language of that moment."""
    return _LABELS.get((type(member), member.value), member.value)


def label(member: enum.Enum | None) -> str:
    if member is None:
        return ""
    key = (type(member), member.value)
    message = _LABEL_MESSAGES.get(key)
    if message is not None:
        return request_locale.gettext(message)
    return str(_LABELS.get(key, member.value))
