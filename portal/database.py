"""Database engine set-up for SQLite and PostgreSQL.

On SQLite: foreign keys on, WAL, a busy timeout, and pysqlite's own transaction handling replaced by explicit
BEGIN statements (SQLAlchemy's documented recipe) so that savepoints work and writing requests take the write lock
up front with BEGIN IMMEDIATE instead of failing half-way when another writer got there first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, TypeVarTuple, cast

import psycopg
from flask import Flask, request
from psycopg.pq import TransactionStatus
from sqlalchemy import Select, event, text
from sqlalchemy.engine import Connection, CursorResult, Engine, Result

from portal.extensions import db

WRITE_INTENT = "portal_write_intent"
SQLITE_CACHE_KIB = 8 * 1024  # each connection's SQLite page cache (the default is 2 MiB)
LARGE_SQLITE_CACHE_KIB = 256 * 1024
LARGE_SQLITE_CACHE = "portal_large_sqlite_cache"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_Row = TypeVarTuple("_Row")


def init_app(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
            elif engine.dialect.name == "postgresql":
                _end_reads_with_commit(engine)


def register_write_intent(app: Flask) -> None:
    """Requests that may change data (every non-GET) start their transaction as a writer.

    Registered after the access and CSRF checks, so refused requests never take the write lock.
    """

    @app.before_request
    def _declare_write_intent() -> None:
        if request.method not in SAFE_METHODS:
            begin_write()


def begin_write() -> None:
    """Start the session's transaction with write intent (BEGIN IMMEDIATE on SQLite; a plain BEGIN elsewhere).

    A read transaction already open (loading the logged-in user) is ended first, so that the writer holds the lock
    from its first read and everything it reads afterwards, the user included, is current.
    """
    session = db.session()
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_INTENT: True})


def use_large_sqlite_cache() -> None:
    """SQLite: a big page cache for the rest of this transaction, given back when its connection returns to the pool.

    A bulk insert touches index pages all over the file; with a small cache they are spilled and written again many
    times per transaction (a 1,000,000-line import spent most of its time there). Elsewhere: nothing to do.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size=-{LARGE_SQLITE_CACHE_KIB}")
        connection.info[LARGE_SQLITE_CACHE] = True  # the pooled connection's own dictionary, seen at check-in


# Foreign keys that PostgreSQL checks once per statement instead of row by row: a migration replaces each with a
# trigger over the rows a statement wrote (and a guard on the table it points at). The models declare them as keys
# (SQLite keeps them so, where a row's check is cheap); the schema comparison leaves them out on PostgreSQL. Areas
# add the names of their own (`portal.rebates.models`).
STATEMENT_CHECKED_KEYS: set[str] = set()


def read(statement: Select[*_Row], values: Mapping[str, Any] | None = None) -> CursorResult[*_Row]:
    """Plain columns (no mapped entity) read on the session's own connection, in its transaction.

    `db.session.execute` runs the ORM's statement and result set-up even when a statement selects only columns:
    measured at 102 against 56 µs a statement on SQLite, 148 against 86 on PostgreSQL. The dealer's home runs five
    such reads, a manager's claim queue three. Changes waiting in the session are flushed first, as the session's
    own autoflush would (and not inside `no_autoflush`). A statement that loads entities stays with the session.
    """
    session = db.session
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, values)


def compared_in_schema(dialect_name: str) -> Any:
    """Alembic's include_object for a database of this dialect: everything but the keys checked per statement."""

    def include(_object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
        return not (
            dialect_name == "postgresql" and type_ == "foreign_key_constraint" and name in STATEMENT_CHECKED_KEYS
        )

    return include


def contains_pattern(text: str) -> str:
    """An ILIKE pattern for "contains the text"; wildcards the user typed are dropped, not obeyed."""
    return f"%{text.strip().replace('%', '').replace('_', '')}%"


def one_at_a_time(key: int) -> None:
    """Writers of one kind take turns until their transaction ends: an advisory lock on PostgreSQL; on SQLite the
    writing request's BEGIN IMMEDIATE already serialises them. For work that reads what other writers of the same
    kind may be writing at the same moment, with no row to lock (the first seal of a chain, a new claim's flags)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def locked_for_update(query: Select, *of: Any) -> Select:
    """SELECT ... FOR UPDATE on PostgreSQL; on SQLite the writing request's BEGIN IMMEDIATE already holds the lock."""
    if db.session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(of=of or None)
    return query


def locked_for_share(query: Select) -> Select:
    """SELECT ... FOR KEY SHARE on PostgreSQL: waits for a writer holding the rows FOR UPDATE, and keeps them from
    being locked so until this transaction ends, while other readers and sharers go on. On SQLite, as above."""
    if db.session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(read=True, key_share=True)
    return query


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None and record.info.pop(LARGE_SQLITE_CACHE, False):
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")  # frees the pages above it
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # asked for no transaction: each statement stands alone (a cached page's generation check)
        immediate = connection.get_execution_options().get(WRITE_INTENT, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WROTE = "portal_wrote"


def _end_reads_with_commit(engine: Engine) -> None:
    """PostgreSQL: a transaction that only read ends with COMMIT instead of ROLLBACK, so that psycopg keeps its
    prepared statements.

    psycopg prepares a statement on the server once a connection has run it five times, and from then on PostgreSQL
    neither parses nor (once it settles on a generic plan) plans it again; but psycopg forgets every prepared
    statement at each ROLLBACK, and every request that only reads ends with one (the session closing). So no page's
    statements were ever prepared: each was parsed and planned on every visit (the portfolio's inbox statement alone:
    2.7 ms of planning). For a transaction that ran nothing but SELECTs the two endings are the same: nothing to keep
    or undo, and locks (FOR UPDATE, advisory) are released by either. Anything else it ran (an INSERT, a savepoint, a
    statement written by hand that does not start with SELECT) marks the connection, and its ending stays ROLLBACK.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.info[WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("SELECT"):
            connection.info[WROTE] = True

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Connection) -> None:
        if connection.closed or connection.invalidated or connection.info.pop(WROTE, True):
            return
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is None or dbapi_connection.info.transaction_status != TransactionStatus.INTRANS:
            return
        # A broken connection fails here and again at the ROLLBACK that follows, where SQLAlchemy handles it.
        with contextlib.suppress(psycopg.Error):
            dbapi_connection.commit()  # the ROLLBACK that follows finds no transaction and sends nothing


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed: the check of every conditional move ("still as I read it?").
    Session.execute is typed as returning a Result, which has no rowcount; for these statements it is a CursorResult."""
    return cast(CursorResult[Any], result).rowcount
