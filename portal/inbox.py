"""The "today" inbox on every role's start page: what needs this person now, each line a count and a link to the
place where it is done.

Areas stand on this module, not the other way round: each registers a source for the roles it serves. Most lines
are counts, so a source usually declares its counts as a query (an aggregate: one row, whatever the data) and
turns that row into lines. The inbox asks all of a role's count queries in one statement, side by side, and builds
that statement once per role: a source writes its query for an `InboxReader`, whose ids are SQL parameters, and
uses `TODAY` and `NOW` for the day and the moment; anything else a query needs per request (the current quarter,
a setting) it names as a parameter and gives through `values`. Building statements, not running them, was most of
a start page's time: a dozen built per visit were half of a dealer's home.

A source that needs rows, not counts, registers a plain function of the user. A line whose count is zero is left
out, so an empty inbox says "nothing waits for you" instead of a list of zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_login import current_user
from sqlalchemy import BindParameter, Date, Integer, Select, bindparam, select, true

from portal.access import AccessRole, Viewer
from portal.database import read
from portal.dates import company_today
from portal.types import UTCDateTime, utcnow

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
# An aggregate query of one row (no GROUP BY), its columns labelled: a source's counts.
CountsQuery = Select[*tuple[Any, ...]]

TODAY: BindParameter[date] = bindparam("inbox_today", type_=Date)  # the company's day of the request
NOW: BindParameter[datetime] = bindparam("inbox_now", type_=UTCDateTime())  # the request's moment
_USER_ID: BindParameter[int] = bindparam("inbox_user_id", type_=Integer)
_DEALER_ID: BindParameter[int] = bindparam("inbox_dealer_id", type_=Integer)


@dataclass(frozen=True)
class InboxReader:
    """The reader a count query is written for (a `Viewer`): the role is known when the statement is built, the ids
    are parameters given on every request."""

    access_role: AccessRole
    id: BindParameter[int] = _USER_ID
    dealer_id: BindParameter[int] = _DEALER_ID


# The counts of a source for a role; None when nothing counts for that role.
InboxCounts = Callable[[InboxReader], CountsQuery | None]
# The request's values of the parameters a count query names beyond the inbox's own.
InboxValues = Callable[["User"], Mapping[str, Any]]
# The lines of a source from its counts' row, by the columns' labels.
InboxCountedLines = Callable[["User", Mapping[str, Any]], Iterable[InboxLine]]


@dataclass(frozen=True)
class _Source:
    position: int
    roles: frozenset[AccessRole]
    lines: InboxCountedLines
    counts: InboxCounts | None
    values: InboxValues | None
    registered: object  # what the area registered, so a second registration of it is ignored


@dataclass(frozen=True)
class _Prepared:
    """A role's sources, and the one statement of their counts with where each source's columns are in its row."""

    sources: tuple[_Source, ...]
    statement: CountsQuery | None
    columns: dict[int, tuple[str, ...]]  # by the source's index in `sources`


_SOURCES: list[_Source] = []
_PREPARED: dict[AccessRole, _Prepared] = {}


def _register(source: _Source) -> None:
    if all(known.registered is not source.registered for known in _SOURCES):
        _SOURCES.append(source)
        _SOURCES.sort(key=lambda known: known.position)
        _PREPARED.clear()


def register_inbox_source(roles: Iterable[AccessRole], source: InboxSource, position: int) -> None:
    """An area offers lines to the inbox of these roles; smaller positions come first."""
    _register(_Source(position, frozenset(roles), lambda user, _counts: source(user), None, None, source))


def register_inbox_counts(
    roles: Iterable[AccessRole],
    counts: InboxCounts,
    lines: InboxCountedLines,
    position: int,
    values: InboxValues | None = None,
) -> None:
    """An area offers lines made of counts: `counts` gives the query for a role (asked together with the other
    sources'), `lines` the lines from its row, `values` the request's values of any parameter of its own. Smaller
    positions come first."""
    _register(_Source(position, frozenset(roles), lines, counts, values, lines))


def _prepared(role: AccessRole) -> _Prepared:
    """The role's statement, built on its first start page and kept (sources register at start-up, before any)."""
    known = _PREPARED.get(role)
    if known is not None:
        return known
    sources = tuple(source for source in _SOURCES if role in source.roles)
    reader = InboxReader(role)
    subqueries = {}
    for index, source in enumerate(sources):
        query = source.counts(reader) if source.counts is not None else None
        if query is not None:
            subqueries[index] = query.subquery(f"inbox_{index}")
    statement = None
    if subqueries:
        joined = list(subqueries.values())
        statement = select(*(column for subquery in joined for column in subquery.c)).select_from(joined[0])
        for subquery in joined[1:]:
            statement = statement.join(subquery, true())
    prepared = _Prepared(
        sources, statement, {index: tuple(subquery.c.keys()) for index, subquery in subqueries.items()}
    )
    _PREPARED[role] = prepared
    return prepared


def reader_values(user: Viewer) -> dict[str, Any]:
    """The values of an InboxReader's parameters for this user: for any statement built once for a role with
    `InboxReader(role)` (the inbox's, and the lists kept per role)."""
    return {_USER_ID.key: user.id, _DEALER_ID.key: user.dealer_id}


def _counted(user: User, prepared: _Prepared) -> dict[int, Mapping[str, Any]]:
    """Every counting source's row (by its index), from the role's one statement."""
    if prepared.statement is None:
        return {}
    values = reader_values(user) | {TODAY.key: company_today(), NOW.key: utcnow()}
    for index in prepared.columns:
        given = prepared.sources[index].values
        if given is not None:
            values.update(given(user))
    row = read(prepared.statement, values).one()
    rows: dict[int, Mapping[str, Any]] = {}
    start = 0
    for index, names in prepared.columns.items():
        rows[index] = dict(zip(names, row[start : start + len(names)], strict=True))
        start += len(names)
    return rows


def inbox_of(user: User) -> list[InboxLine]:
    """The user's lines: urgent ones first, then in the areas' order."""
    prepared = _prepared(user.access_role)
    rows = _counted(user, prepared)
    lines = [
        line
        for index, source in enumerate(prepared.sources)
        if source.counts is None or index in rows
        for line in source.lines(user, rows.get(index, {}))
        if line.count > 0
    ]
    return sorted(lines, key=lambda line: not line.urgent)


def init_app(app: Flask) -> None:
    @app.context_processor
    def _inbox() -> dict[str, object]:
        return {"today_inbox": lambda: inbox_of(current_user) if current_user.is_authenticated else []}
