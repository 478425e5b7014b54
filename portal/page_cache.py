"""Rendered pages kept in each worker's memory until something they can show is written to the database.

The heavy read pages (a dealer's dashboard and statement, the claim queue) are asked for again and again while
nothing they show has changed. Writes are counted in generations, one row each in page_generations:
- one per dealer ("d:<id>"), raised by a write to a row that belongs to that dealer (a claim, a sales line, an
  enrolment of its people...), and "dealers", raised with any of them;
- one per user ("u:<id>"), raised by a write to what only that user sees (their notifications, their settings);
- "channel", raised by a write to anything every page may show (programs, periods, courses, the dealers themselves);
- named topics ("t:<name>") for what one dealer's write changes on every dealer's page (the seats left in a
  training session).
Each table declares which it raises (register_write_scope, from the area that owns the table); the ORM's flush tells
the rows, and the table's scope turns each row into generations. A write the flush does not explain (a bulk UPDATE,
plain SQL from a command, a table nobody declared) raises "channel" unless it runs inside writes_for(...), which
declares its scope: a missed scope costs cached pages, never serves stale money.

A page records the generations it read: always "channel" and its user's, plus its dealers' (a dealer user's own
dealer, a manager's portfolio) or "dealers" for a reader of every dealer, plus its topics. Generations only go up,
so one number, their sum, tells whether any of them moved. The page is served from memory only while that sum is
unchanged, to the same login session, in the same language and company day, with no message waiting to be flashed,
and for at most PAGE_CACHE_SECONDS (which also keeps the CSRF tokens in its forms young). Everything else is
rendered afresh. PAGE_CACHE_ENTRIES=0 turns it off; the test configuration does, except in the tests of the cache.

A stored page is looked for before the logged-in user is loaded, with one read of the generations outside any
transaction: the session's token names the user, and while their generation holds, that user's row (role, language,
time zone, active or not, temporary password) is the one the page was rendered for, so the access checks it passed
then still pass. On PostgreSQL this makes a hit one round trip instead of four (BEGIN, the user, the generations,
ROLLBACK). While one thread renders a missing page, the others asking for the same page wait for it instead of
rendering it too (a burst after a write costs one render per worker, not one per connection).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, make_response, request, session
from flask_login import current_user
from sqlalchemy import BigInteger, String, event, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column, object_session

from portal.dates import company_today
from portal.extensions import Model, db
from portal.web import wants_fragment

CHANNEL = "channel"
EVERY_DEALER = "dealers"


def dealer_generation(dealer_id: int) -> str:
    return f"d:{dealer_id}"


def user_generation(user_id: int) -> str:
    return f"u:{user_id}"


def topic_generation(topic: str) -> str:
    return f"t:{topic}"


class PageGeneration(Model):
    """How many committed transactions wrote something pages of this scope show; only ever goes up."""

    __tablename__ = "page_generations"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# --- What a write makes stale -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowWrite:
    """One row the flush wrote: the ORM object, which columns changed, and how to look up a parent's owner."""

    row: Any
    connection: Connection

    @functools.cached_property
    def changed(self) -> frozenset[str]:
        """The attributes this flush wrote (asked only by the scopes that depend on which)."""
        return frozenset(attribute.key for attribute in inspect(self.row).attrs if attribute.history.has_changes())

    def values(self, column: str) -> set[Any]:
        """The column's value now and, when this flush changed it, before: a row moved between dealers makes both
        stale."""
        found = {getattr(self.row, column)}
        history = inspect(self.row).attrs[column].history
        found.update(history.deleted or ())
        return {value for value in found if value is not None}

    def parent_values(self, parent: type[Any] | str, key_column: str, columns: Collection[str]) -> set[Any]:
        """The named columns of the parent row this row points to, from the session if loaded, else one query.

        The parent is a model, or a table's name where the model lives in a higher layer (the users an upload names).
        """
        found: set[Any] = set()
        for parent_id in self.values(key_column):
            session = object_session(self.row)
            loaded = None
            if session is not None and not isinstance(parent, str):
                loaded = session.identity_map.get(inspect(parent).identity_key_from_primary_key((parent_id,)))
            if loaded is not None:
                found.update(getattr(loaded, column) for column in columns)
                continue
            table = db.metadata.tables[parent] if isinstance(parent, str) else inspect(parent).local_table
            row = self.connection.execute(
                select(*(table.c[column] for column in columns)).where(table.c.id == parent_id)
            ).one_or_none()
            if row is None:
                found.add(None)  # nothing to ask: the caller fails safe
            else:
                found.update(row)
        return found


Resolver = Callable[[RowWrite], Iterable[str]]


@dataclass(frozen=True)
class WriteScope:
    """What writing one table's rows makes stale. `resolve` is None for a table no cached page shows."""

    kind: str  # "dealer", "user", "channel" or "unseen"
    resolve: Resolver | None
    reason: str = ""


_scopes: dict[str, WriteScope] = {}


def register_write_scope(model: type[Any], scope: WriteScope) -> None:
    """Declared by the area that owns the table, next to the model."""
    _scopes[model.__table__.name] = scope


def declared_scopes() -> dict[str, WriteScope]:
    return dict(_scopes)


def dealer_keys(dealer_ids: Iterable[Any], topics: Iterable[str]) -> list[str]:
    ids = set(dealer_ids)
    if not ids or None in ids:
        return [CHANNEL]  # a row that should belong to a dealer and does not: stale everywhere, never nowhere
    return [*(dealer_generation(int(dealer_id)) for dealer_id in ids), EVERY_DEALER, *map(topic_generation, topics)]


def by_dealer(*columns: str, topics: Iterable[str] = ()) -> WriteScope:
    """A row belonging to the dealers its columns name (at least one must be set)."""
    topic_list = tuple(topics)

    def resolve(write: RowWrite) -> list[str]:
        return dealer_keys(set().union(*(write.values(column) for column in columns)), topic_list)

    return WriteScope("dealer", resolve)


def through(parent: type[Any] | str, key_column: str, *dealer_columns: str, topics: Iterable[str] = ()) -> WriteScope:
    """A row belonging to whichever dealers its parent row belongs to (a claim's events, a plan's goals)."""
    topic_list = tuple(topics)

    def resolve(write: RowWrite) -> list[str]:
        owners = write.parent_values(parent, key_column, dealer_columns) - {None} or {None}
        if not write.values(key_column):
            owners = {None}
        return dealer_keys(owners, topic_list)

    return WriteScope("dealer", resolve)


def by_user(column: str = "user_id") -> WriteScope:
    """A row only its user sees (their notifications, their settings)."""

    def resolve(write: RowWrite) -> list[str]:
        users = write.values(column)
        return [user_generation(int(user_id)) for user_id in users] or [CHANNEL]

    return WriteScope("user", resolve)


CHANNEL_WIDE = WriteScope("channel", lambda _write: [CHANNEL])


def unseen(reason: str) -> WriteScope:
    """A table no cached page reads (the audit trail, queues): writing it makes nothing stale. Say why."""
    return WriteScope("unseen", None, reason)


# --- Noting writes as they happen, raising the generations when they commit --------------------------------------

View = TypeVar("View", bound=Callable[..., Any])
STALE = "portal_stale_generations"
FLUSHED_TABLES = "portal_flushed_tables"
EXPLAINED_TABLES = "portal_explained_tables"
CACHED_VIEW = "portal_cached_page"
SESSION_LOGIN_KEY = "_user_id"  # where Flask-Login keeps what User.get_id gave: the session token
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "TRUNCATE", "MERGE")
WRITE_TARGET = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+"?(\w+)"?', re.IGNORECASE
)
MAX_PAGE_BYTES = 512 * 1024
_engines_with_table: weakref.WeakSet[Engine] = weakref.WeakSet()
_flushing: ContextVar[bool] = ContextVar("portal_flushing", default=False)
_declared: ContextVar[frozenset[str] | None] = ContextVar("portal_declared_scope", default=None)


@contextlib.contextmanager
def writes_for(
    *, dealers: Iterable[int] = (), users: Iterable[int] = (), topics: Iterable[str] = (), channel: bool = False
) -> Iterator[None]:
    """Declare what the bulk writes or plain SQL inside make stale, where the flush cannot tell (the one helper).

    Whatever is written inside raises exactly these generations, whatever the table; nothing declared is "channel".
    """
    with _declaring(_declared_keys(dealers, users, topics, channel)):
        yield


def wrote_directly(
    connection: Connection,
    *,
    dealers: Iterable[int] = (),
    users: Iterable[int] = (),
    topics: Iterable[str] = (),
    channel: bool = False,
) -> None:
    """For writes that bypass SQLAlchemy (a raw cursor's COPY), which no event sees: their scope, recorded on the
    connection as writes_for would have."""
    _stale(connection).update(_declared_keys(dealers, users, topics, channel))


def _declared_keys(
    dealers: Iterable[int], users: Iterable[int], topics: Iterable[str], channel: bool
) -> frozenset[str]:
    keys = {dealer_generation(int(dealer_id)) for dealer_id in dealers}
    if keys:
        keys.add(EVERY_DEALER)
    keys.update(user_generation(int(user_id)) for user_id in users)
    keys.update(topic_generation(topic) for topic in topics)
    if channel or not keys:
        keys.add(CHANNEL)
    return frozenset(keys)


@contextlib.contextmanager
def writes_for_row(row: Any) -> Iterator[None]:
    """A bulk statement that changes this one row (the conditional status UPDATE): its table's declared scope, as if
    the flush had written it. Nothing for a table no cached page shows; "channel" for an undeclared one."""
    scope = _scopes.get(row.__table__.name)
    keys: set[str]
    if scope is None:
        keys = {CHANNEL}
    elif scope.resolve is None:
        keys = set()
    else:
        try:
            keys = set(scope.resolve(RowWrite(row, db.session.connection()))) or {CHANNEL}
        except Exception:  # an owner that cannot be told: stale everywhere, never nowhere
            keys = {CHANNEL}
    with _declaring(frozenset(keys)):
        yield


@contextlib.contextmanager
def _declaring(keys: frozenset[str]) -> Iterator[None]:
    outer = _declared.get()
    token = _declared.set(keys | (outer or frozenset()))
    try:
        yield
    finally:
        _declared.reset(token)


@dataclass(frozen=True)
class CachedPage:
    reads: tuple[str, ...]
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
        self._rendering: dict[tuple[object, ...], threading.Lock] = {}

    @property
    def enabled(self) -> bool:
        return self.entries > 0 and self.seconds > 0

    def peek(self, key: tuple[object, ...]) -> CachedPage | None:
        with self._lock:
            return self._pages.get(key)

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

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    @contextlib.contextmanager
    def rendering(self, key: tuple[object, ...]) -> Iterator[None]:
        """One render of a page at a time in this worker; the others wait for it (their read then hits)."""
        with self._lock:
            lock = self._rendering.setdefault(key, threading.Lock())
        with lock:
            yield
        with self._lock:
            if not lock.locked() and self._rendering.get(key) is lock:
                del self._rendering[key]

    def __len__(self) -> int:
        return len(self._pages)


def init_app(app: Flask) -> None:
    app.extensions["page_cache"] = PageCache(app.config["PAGE_CACHE_ENTRIES"], app.config["PAGE_CACHE_SECONDS"])
    with app.app_context():
        for engine in db.engines.values():
            watch_writes(engine)
    watch_flushes()


def watch_writes(engine: Engine) -> None:
    """Raise the generations a committed transaction made stale, inside it, just before it commits."""
    if event.contains(engine, "before_cursor_execute", _note_write):
        return
    event.listen(engine, "before_cursor_execute", _note_write)
    event.listen(engine, "commit", _raise_generations)
    event.listen(engine, "rollback", _forget_writes)


def watch_flushes() -> None:
    """The ORM's flush tells which rows it wrote: every mapped class, once per process."""
    if event.contains(Model, "after_insert", _note_row):
        return
    for name in ("after_insert", "after_update", "after_delete"):
        event.listen(Model, name, _note_row, propagate=True)
    event.listen(Session, "before_flush", _flush_starts)
    event.listen(Session, "after_flush_postexec", _flush_ends)
    event.listen(Session, "after_rollback", _flush_ends)
    event.listen(Session, "after_soft_rollback", _flush_ends)


def _flush_starts(*_args: Any) -> None:
    _flushing.set(True)


def _flush_ends(*_args: Any) -> None:
    _flushing.set(False)


def _stale(connection: Connection) -> set[str]:
    stale: set[str] = connection.info.setdefault(STALE, set())
    return stale


def _note_write(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    head = statement.lstrip()[:10].upper()
    if not (head.startswith(WRITE_VERBS) or (head.startswith("WITH") and _writes_after_with(statement.upper()))):
        return
    if head.startswith("DROP"):  # a downgrade, or a restore dropping the schema: look for the table again
        _engines_with_table.discard(connection.engine)
    target = WRITE_TARGET.match(statement)
    scope = _scopes.get(target.group(1).lower()) if target else None
    declared = _declared.get()
    if scope is not None and scope.resolve is None:
        return  # a table no cached page shows
    if target is not None and scope is not None and _flushing.get():  # even an autoflush inside writes_for
        connection.info.setdefault(FLUSHED_TABLES, set()).add(target.group(1).lower())  # its rows tell, below
    elif declared is not None:
        _stale(connection).update(declared)  # what the writer declared, whatever the table
    else:
        _stale(connection).add(CHANNEL)  # undeclared, unparsed, or bulk: everything is stale


def _writes_after_with(statement: str) -> bool:
    """A common table expression in front of an INSERT, UPDATE or DELETE."""
    return any(f"{verb} " in statement for verb in ("INSERT", "UPDATE", "DELETE"))


def _note_row(mapper: Mapper[Any], connection: Connection, row: Any) -> None:
    write = RowWrite(row, connection)
    stale = _stale(connection)
    for table in mapper.tables:
        scope = _scopes.get(table.name)
        if scope is None:
            stale.add(CHANNEL)
            continue
        if scope.resolve is not None:
            try:
                keys = list(scope.resolve(write))
            except Exception:  # a row whose owner cannot be told is stale everywhere, never nowhere
                keys = [CHANNEL]
            stale.update(keys or [CHANNEL])
        connection.info.setdefault(EXPLAINED_TABLES, set()).add(table.name)


def _forget_writes(connection: Connection) -> None:
    for key in (STALE, FLUSHED_TABLES, EXPLAINED_TABLES):
        connection.info.pop(key, None)


def stale_generations(connection: Connection) -> set[str]:
    """What committing now would raise: the rows' scopes, and "channel" for any flushed table no row explained."""
    stale = set(connection.info.get(STALE, ()))
    unexplained = connection.info.get(FLUSHED_TABLES, set()) - connection.info.get(EXPLAINED_TABLES, set())
    if unexplained:
        stale.add(CHANNEL)
    return stale


def _raise_generations(connection: Connection) -> None:
    stale = sorted(stale_generations(connection))  # one order for every transaction: no deadlock between them
    _forget_writes(connection)
    if not stale:
        return
    # The raw cursor: the statements join the transaction being committed without going through these events again.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if connection.engine not in _engines_with_table:
            if not _generation_table_exists(connection, cursor):
                return  # a migration that has not created it yet
            _engines_with_table.add(connection.engine)
        sql = RAISE_GENERATION_SQLITE if connection.dialect.name == "sqlite" else RAISE_GENERATION_POSTGRESQL
        cursor.executemany(sql, [(scope,) for scope in stale])
    finally:
        cursor.close()


def _generation_table_exists(connection: Connection, cursor: Any) -> bool:
    if connection.dialect.name == "sqlite":
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'page_generations'")
    else:
        cursor.execute("SELECT to_regclass('page_generations')")
    row = cursor.fetchone()
    return row is not None and row[0] is not None


# Literal SQL on the model's table (tests/test_page_cache.py checks the name): nothing else can reach the server.
# The scopes go as one parameter: a manager's portfolio is a couple of hundred dealers, and as many bound values cost
# more than the rest of a hit (a JSON list on SQLite, an array on PostgreSQL).
GENERATION_SQLITE = (
    "SELECT COALESCE(SUM(value), 0) FROM page_generations WHERE scope IN (SELECT value FROM json_each(:scopes))"
)
GENERATION_POSTGRESQL = "SELECT COALESCE(SUM(value), 0) FROM page_generations WHERE scope = ANY(:scopes)"
RAISE_GENERATION_SQLITE = (
    "INSERT INTO page_generations (scope, value) VALUES (?, 1) "
    "ON CONFLICT (scope) DO UPDATE SET value = page_generations.value + 1"
)
RAISE_GENERATION_POSTGRESQL = (
    "INSERT INTO page_generations (scope, value) VALUES (%s, 1) "
    "ON CONFLICT (scope) DO UPDATE SET value = page_generations.value + 1"
)
_generation_queries = {"sqlite": text(GENERATION_SQLITE), "postgresql": text(GENERATION_POSTGRESQL)}


def _read_generation(connection: Connection, reads: Collection[str]) -> int:
    if connection.dialect.name == "sqlite":
        scopes: object = json.dumps(sorted(reads))
    else:
        scopes = sorted(reads)
    return int(connection.execute(_generation_queries[connection.dialect.name], {"scopes": scopes}).scalar_one())


# --- Reading: which generations a page reads ----------------------------------------------------------------------

DealersRead = Callable[[Any], Collection[int] | None]
_dealers_read: list[DealersRead] = []


def register_dealers_read(rule: DealersRead) -> None:
    """The dealers area says which dealers a user's pages can show (None: every dealer)."""
    _dealers_read[:] = [rule]


def generations_read(user: Any, topics: Iterable[str] = ()) -> tuple[str, ...]:
    reads = {CHANNEL, user_generation(user.id), *map(topic_generation, topics)}
    dealers = _dealers_read[0](user) if _dealers_read else None
    if dealers is None:
        reads.add(EVERY_DEALER)
    else:
        reads.update(dealer_generation(dealer_id) for dealer_id in dealers)
    return tuple(sorted(reads))


def current_generation(reads: Collection[str]) -> int:
    """Read in the request's own transaction, before anything the page shows: the page is at least this new."""
    return _read_generation(db.session.connection(), reads)


def generation_outside_transaction(reads: Collection[str]) -> int:
    """One statement in autocommit mode: no BEGIN and no ROLLBACK around it, and the session left untouched."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return _read_generation(connection, reads)


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
    if (cache := _active_cache()) is None or (key := page_key()) is None or (stored := cache.peek(key)) is None:
        return None
    page = cache.get(key, generation_outside_transaction(stored.reads))
    return None if page is None else _stored_response(page)


def _stored_response(page: CachedPage) -> Response:
    response = Response(page.body, status=200)
    response.headers.clear()
    response.headers.extend(page.headers)
    response.headers["X-Page-Cache"] = "hit"
    return response


def cached_page(view: View | None = None, *, topics: Iterable[str] = ()) -> Any:
    """Store the view's page for serve_unchanged_page (see the module's note); the view runs on every miss.

    `topics` names what the page shows of every dealer's writes (the seats left in a session), besides its own
    dealers'.
    """
    topic_list = tuple(topics)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def render_and_store(*args: Any, **kwargs: Any) -> Any:
            cache = _active_cache()
            if cache is None or request.method != "GET" or not current_user.is_authenticated or "_flashes" in session:
                return view(*args, **kwargs)
            reads = generations_read(current_user, topic_list)
            if "csrf_token" not in session:  # the key is known only after rendering: render without waiting
                return _render_and_store(cache, reads, view, args, kwargs)
            key = page_key()
            if key is None:
                return view(*args, **kwargs)
            with cache.rendering(key):
                stored = cache.peek(key)
                if (
                    stored is not None
                    and stored.reads == reads
                    and stored.expires_at >= time.monotonic()
                    and stored.generation == current_generation(reads)  # rendered while this request waited
                ):
                    return _stored_response(stored)
                return _render_and_store(cache, reads, view, args, kwargs)

        setattr(render_and_store, CACHED_VIEW, True)
        return render_and_store  # type: ignore[return-value]

    return decorate(view) if view is not None else decorate


def _render_and_store(
    cache: PageCache, reads: tuple[str, ...], view: Callable[..., Any], args: Any, kwargs: Any
) -> Response:
    generation = current_generation(reads)
    response = make_response(view(*args, **kwargs))
    # The key after rendering: rendering may have put the session's first CSRF token in the session.
    if _storable(response) and (key := page_key()) is not None:
        headers = tuple((name, value) for name, value in response.headers.items() if name.lower() != "set-cookie")
        page = CachedPage(reads, generation, time.monotonic() + cache.seconds, response.get_data(), headers)
        cache.put(key, page)
        response.headers["X-Page-Cache"] = "miss"
    return response


def _storable(response: Response) -> bool:
    return (
        response.status_code == 200
        and not response.direct_passthrough
        and response.mimetype == "text/html"
        and "_flashes" not in session
        and (response.content_length or 0) <= MAX_PAGE_BYTES
    )


register_write_scope(PageGeneration, unseen("the generations themselves, raised by the raw cursor at commit"))
