"""Faults injected half-way: every state-changing route, with the database failing at its middle write (and at its
last), leaves nothing behind; an upload whose file cannot be stored saves no row either.

The routes and valid forms are the ones of the CSRF and Hypothesis tests (tests/state_changing.py). A first run of
each counts the writes its request makes; the second makes the write in the middle fail with a database error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

from portal.evidence.models import Evidence
from portal.evidence.storage import LocalStorage
from portal.extensions import db
from portal.page_cache import WRITE_VERBS
from tests.factories import World
from tests.helpers import example_savepoint, fingerprint, log_in
from tests.state_changing import STATE_CHANGING, Route


class InjectedFault(OperationalError):
    def __init__(self) -> None:
        super().__init__("injected", None, Exception("the database went away half-way"))


@contextmanager
def failing_write(app: Flask, at: int | None) -> Iterator[list[str]]:
    """Count the write statements sent; with `at`, the at-th one (1-based) fails instead of running."""
    writes: list[str] = []

    def on_execute(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:10].upper().startswith(WRITE_VERBS):
            writes.append(statement)
            if at is not None and len(writes) == at:
                raise InjectedFault

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield writes
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)


def post(app: Flask, world: World, route: Route) -> tuple[Any, Any]:
    """Log in (its own writes are not counted), take the fingerprint, then post the route's valid form."""
    client = app.test_client()
    if route.before is not None:
        route.before(client, world)
    elif route.role is not None:
        log_in(client, world.emails[route.role])
    return client, fingerprint(app)


def send(client: Any, world: World, route: Route) -> int:
    try:
        return client.post(route.url(world), data=route.form(world)).status_code
    except InjectedFault:  # the test app lets exceptions through; a served one answers with the 500 page
        return 500


@pytest.mark.parametrize("route", STATE_CHANGING, ids=[route.rule for route in STATE_CHANGING])
def test_a_database_error_half_way_leaves_nothing_behind(
    app: Flask, db_connection: sa.Connection, world: World, route: Route
) -> None:
    with example_savepoint(db_connection):
        client, _before = post(app, world, route)
        with failing_write(app, None) as writes:
            status = send(client, world, route)
        count = len(writes)
    assert count > 0, f"{route.rule} answered {status} and wrote nothing: no fault to inject"
    for at in sorted({(count + 1) // 2, count}):  # the middle write, and the last
        with example_savepoint(db_connection):
            client, before = post(app, world, route)
            with failing_write(app, at):
                status = send(client, world, route)
            assert status == 500, f"{route.rule}: the fault at write {at} of {count} answered {status}"
            assert fingerprint(app) == before, f"{route.rule}: the fault at write {at} of {count} left changes"


UPLOAD_RULES = (
    "/dealer/documents",
    "/claims/<int:claim_id>/evidence",
    "/claims/quick",
    "/console/violations/<int:violation_id>/evidence",
    "/disputes/<int:dispute_id>/evidence",
    "/news/manage/<int:announcement_id>/attachments",
)
UPLOADS = [route for route in STATE_CHANGING if route.rule in UPLOAD_RULES]


@pytest.mark.parametrize("route", UPLOADS, ids=[route.rule for route in UPLOADS])
def test_a_storage_error_saves_no_file_row(
    app: Flask, db_connection: sa.Connection, world: World, route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:

    def broken_put(_storage: object, _key: str, _data: bytes, _content_type: str) -> None:
        raise OSError("the disk is full")

    monkeypatch.setattr(LocalStorage, "put", broken_put)
    with example_savepoint(db_connection):
        client, before = post(app, world, route)
        with app.app_context():
            files = db.session.execute(sa.select(sa.func.count()).select_from(Evidence)).scalar_one()
        try:
            status = client.post(route.url(world), data=route.form(world)).status_code
        except OSError:
            status = 500
        assert status >= 400
        with app.app_context():
            assert db.session.execute(sa.select(sa.func.count()).select_from(Evidence)).scalar_one() == files
        assert fingerprint(app) == before
