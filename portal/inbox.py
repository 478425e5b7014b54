"""The "today" inbox on every role's start page: what needs this person now, each line a count and a link to the
place where it is done.

Areas stand on this module, not the other way round: each registers a source, a function of the signed-in user
returning its lines, for the roles it serves. A source answers in one or two queries; a line whose count is zero is
left out, so an empty inbox says "nothing waits for you" instead of a list of zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask
from flask_login import current_user

from portal.access import AccessRole

if TYPE_CHECKING:
    from portal.accounts.models import User


@dataclass(frozen=True)
class InboxAction:
    """A line's one-tap action: a small POST form on the start page (CSRF-protected like every other)."""

    url: str
    label: str
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class InboxLine:
    text: str  # translated, the count already in it ("3 claims wait for your decision")
    url: str
    count: int = 1  # a line with nothing to do (0) is not shown
    urgent: bool = False  # overdue, expiring, flagged: marked so it is seen first
    detail: str = ""  # one more fact: the oldest waits 9 days, the budget's last claim day
    action: InboxAction | None = None  # done right here in one tap (book the next session again)


InboxSource = Callable[["User"], Iterable[InboxLine]]

_SOURCES: list[tuple[int, frozenset[AccessRole], InboxSource]] = []


def register_inbox_source(roles: Iterable[AccessRole], source: InboxSource, position: int) -> None:
    """An area offers lines to the inbox of these roles; smaller positions come first."""
    if all(registered is not source for _position, _roles, registered in _SOURCES):
        _SOURCES.append((position, frozenset(roles), source))
        _SOURCES.sort(key=lambda entry: entry[0])


def inbox_of(user: User) -> list[InboxLine]:
    """The user's lines: urgent ones first, then in the areas' order."""
    lines = [
        line
        for _position, roles, source in _SOURCES
        if user.access_role in roles
        for line in source(user)
        if line.count > 0
    ]
    return sorted(lines, key=lambda line: not line.urgent)


def init_app(app: Flask) -> None:
    @app.context_processor
    def _inbox() -> dict[str, object]:
        return {"today_inbox": lambda: inbox_of(current_user) if current_user.is_authenticated else []}
