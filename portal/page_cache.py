"""Rendered pages kept in each worker's memory until anything is written to the database.

The heavy read pages (a dealer's dashboard and statement, the claim queue) are asked for again and again while
nothing they show has changed. Every transaction that writes raises one generation number in the same commit, by
whatever route it writes (a request, a background job, a command); a page is served from memory only while the
generation it was rendered under is still the current one, to the same login session, in the same language and
company day, with no message waiting to be flashed, and for at most PAGE_CACHE_SECONDS (which also keeps the CSRF
tokens in its forms young). Everything else is rendered afresh. PAGE_CACHE_ENTRIES=0 turns it off; the test
configuration does, except in the tests of the cache itself.

A stored page is looked for before the logged-in user is loaded, with one read of the generation outside any
transaction: the session's token names the user, and while the generation holds, that user's row (role, language,
time zone, active or not, temporary password) is the one the page was rendered for, so the access checks it passed
then still pass. On PostgreSQL this makes a hit one round trip instead of four (BEGIN, the user, the generation,
ROLLBACK).
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, make_response, request, session
from flask_login import current_user
from sqlalchemy import BigInteger, Integer, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from portal.dates import company_today
from portal.extensions import Model, db
from portal.web import wants_fragment


class DataGeneration(Model):
    """One row whose number goes up in every transaction that writes: a rendered page is current while it holds."""

    __tablename__ = "data_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


View = TypeVar("View", bound=Callable[..., Any])
WROTE = "portal_wrote"
CACHED_VIEW = "portal_cached_page"
SESSION_LOGIN_KEY = "_user_id"  # where Flask-Login keeps what User.get_id gave: the session token
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "TRUNCATE", "MERGE")
MAX_PAGE_BYTES = 512 * 1024
_engines_with_table: weakref.WeakSet[Engine] = weakref.WeakSet()


@dataclass(frozen=True)
class CachedPage:
    generation: int
    expires_at: float
    body: bytes
    headers: tuple[tuple[str, str], ...]


class PageCache:
    """A bounded, least-recently-used store shared by a worker's threads."""

    def __init__(self, entries: int, seconds: int) -> None:
        self.entries = entries
        self.seconds = seconds
        self._pages: OrderedDict[tuple[object, ...], CachedPage] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.entries > 0 and self.seconds > 0

    def get(self, key: tuple[object, ...], generation: int) -> CachedPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.generation != generation or page.expires_at < time.monotonic():
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return page

    def __contains__(self, key: tuple[object, ...]) -> bool:
        with self._lock:
            return key in self._pages

    def put(self, key: tuple[object, ...], page: CachedPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.entries:
                self._pages.popitem(last=False)

    def __len__(self) -> int:
        return len(self._pages)


def init_app(app: Flask) -> None:
    app.extensions["page_cache"] = PageCache(app.config["PAGE_CACHE_ENTRIES"], app.config["PAGE_CACHE_SECONDS"])
    with app.app_context():
        for engine in db.engines.values():
            watch_writes(engine)


def watch_writes(engine: Engine) -> None:
    """Raise the generation inside every committed transaction that wrote, just before it commits."""
    if event.contains(engine, "before_cursor_execute", _note_write):
        return
    event.listen(engine, "before_cursor_execute", _note_write)
    event.listen(engine, "commit", _raise_generation)
    event.listen(engine, "rollback", _forget_write)


def _note_write(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    head = statement.lstrip()[:10].upper()
    if head.startswith(WRITE_VERBS) or (head.startswith("WITH") and _writes_after_with(statement.upper())):
        connection.info[WROTE] = True
        if head.startswith("DROP"):  # a downgrade, or a restore dropping the schema: look for the table again
            _engines_with_table.discard(connection.engine)


def _writes_after_with(statement: str) -> bool:
    """A common table expression in front of an INSERT, UPDATE or DELETE."""
    return any(f"{verb} " in statement for verb in ("INSERT", "UPDATE", "DELETE"))


def _forget_write(connection: Connection) -> None:
    connection.info.pop(WROTE, None)


def _raise_generation(connection: Connection) -> None:
    if not connection.info.pop(WROTE, False):
        return
    # The raw cursor: the statement joins the transaction being committed without going through these events again.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if connection.engine not in _engines_with_table:
            if not _generation_table_exists(connection, cursor):
                return  # a migration that has not created it yet
            _engines_with_table.add(connection.engine)
        cursor.execute(RAISE_GENERATION_SQL)
    finally:
        cursor.close()


def _generation_table_exists(connection: Connection, cursor: Any) -> bool:
    if connection.dialect.name == "sqlite":
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'data_generation'")
    else:
        cursor.execute("SELECT to_regclass('data_generation')")
    row = cursor.fetchone()
    return row is not None and row[0] is not None


# Literal SQL on the model's table (tests/test_page_cache.py checks the name): nothing else can reach the server.
GENERATION_SQL = "SELECT value FROM data_generation WHERE id = 1"
RAISE_GENERATION_SQL = "UPDATE data_generation SET value = value + 1 WHERE id = 1"


def current_generation() -> int | None:
    """Read in the request's own transaction, before anything the page shows: the page is at least this new."""
    return db.session.connection().exec_driver_sql(GENERATION_SQL).scalar_one_or_none()


def generation_outside_transaction() -> int | None:
    """One statement in autocommit mode: no BEGIN and no ROLLBACK around it, and the session left untouched."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.exec_driver_sql(GENERATION_SQL).scalar_one_or_none()


def page_key() -> tuple[object, ...] | None:
    """Everything a page may differ by besides the data; None without a login session.

    The language and time zone follow from the user's row (fixed by the token while the generation holds), the
    language chosen in the session, or the browser's Accept-Language, so those stand in for them.
    """

    token = session.get(SESSION_LOGIN_KEY)
    if not isinstance(token, str):
        return None
    return (
        request.path,
        request.query_string,
        wants_fragment(),
        request.headers.get("HX-Target", ""),
        token,
        session.get("locale"),
        request.headers.get("Accept-Language", ""),
        company_today().isoformat(),
        session.get("csrf_token"),
    )


def _active_cache() -> PageCache | None:
    cache: PageCache | None = current_app.extensions.get("page_cache")
    return cache if cache is not None and cache.enabled else None


def serve_unchanged_page() -> Response | None:
    """Before the user is loaded (registered right after the stale-session check): a stored page, if still current."""
    if request.method != "GET" or request.endpoint is None or "_flashes" in session:
        return None
    if not getattr(current_app.view_functions.get(request.endpoint), CACHED_VIEW, False):
        return None
    if (cache := _active_cache()) is None or (key := page_key()) is None or key not in cache:
        return None
    generation = generation_outside_transaction()
    page = cache.get(key, generation) if generation is not None else None
    if page is None:
        return None
    response = Response(page.body, status=200)
    response.headers.clear()
    response.headers.extend(page.headers)
    response.headers["X-Page-Cache"] = "hit"
    return response


def cached_page(view: View) -> View:
    """Store the view's page for serve_unchanged_page (see the module's note); the view runs on every miss."""

    @functools.wraps(view)
    def render_and_store(*args: Any, **kwargs: Any) -> Any:
        cache = _active_cache()
        if cache is None or request.method != "GET" or not current_user.is_authenticated:
            return view(*args, **kwargs)
        if "_flashes" in session or (generation := current_generation()) is None:
            return view(*args, **kwargs)
        response = make_response(view(*args, **kwargs))
        # The key after rendering: rendering may have put the session's first CSRF token in the session.
        if _storable(response) and (key := page_key()) is not None:
            headers = tuple((name, value) for name, value in response.headers.items() if name.lower() != "set-cookie")
            cache.put(key, CachedPage(generation, time.monotonic() + cache.seconds, response.get_data(), headers))
            response.headers["X-Page-Cache"] = "miss"
        return response

    setattr(render_and_store, CACHED_VIEW, True)
    return render_and_store  # type: ignore[return-value]


def _storable(response: Response) -> bool:
    return (
        response.status_code == 200
        and not response.direct_passthrough
        and response.mimetype == "text/html"
        and "_flashes" not in session
        and (response.content_length or 0) <= MAX_PAGE_BYTES
    )
