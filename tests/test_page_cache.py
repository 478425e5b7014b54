"""The page cache, with real commits on a file SQLite database and on PostgreSQL: a page comes from memory only while
nothing was written since it was rendered, whoever wrote it and however, and only to the session it was made for."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import event, func, select, text, update

from portal.accounts.models import DealerRole, User
from portal.database import LARGE_SQLITE_CACHE_KIB, SQLITE_CACHE_KIB, begin_write, use_large_sqlite_cache
from portal.dealers.models import Dealer, DealerStatus
from portal.extensions import db
from portal.page_cache import (
    GENERATION_POSTGRESQL,
    GENERATION_SQLITE,
    RAISE_GENERATION_POSTGRESQL,
    RAISE_GENERATION_SQLITE,
    CachedPage,
    PageCache,
    PageGeneration,
)
from portal.security import LAST_ACTIVITY
from tests.factories import World, make_world
from tests.helpers import BACKENDS, build_app, dispose_app, fresh_database_url, log_in


@pytest.fixture(params=BACKENDS)
def cached(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, World]]:
    url = fresh_database_url(request.param, "page_cache", tmp_path_factory)
    app = build_app(url, PAGE_CACHE_ENTRIES=50, PAGE_CACHE_SECONDS=60)
    with app.app_context():
        upgrade()
        world = make_world()
        db.session.commit()
    try:
        yield app, world
    finally:
        dispose_app(app)


def generation(app: Flask) -> int:
    with app.app_context():
        value = db.session.execute(select(func.coalesce(func.sum(PageGeneration.value), 0))).scalar_one()
        db.session.remove()
        return int(value)


def rename_own_dealer(app: Flask, world: World, name: str) -> None:
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        dealer.name = name
        db.session.commit()
        db.session.remove()


def dashboard(client: FlaskClient) -> tuple[str | None, str]:
    response = client.get("/dealer/")
    assert response.status_code == 200
    return response.headers.get("X-Page-Cache"), response.get_data(as_text=True)


def test_a_page_comes_from_memory_until_anything_is_written(cached: tuple[Flask, World]) -> None:
    app, world = cached
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    first = dashboard(client)
    second = dashboard(client)
    assert first[0] == "miss" and second == ("hit", first[1])

    rename_own_dealer(app, world, "Renamed Trading Co")  # an ORM write in another session
    state, page = dashboard(client)
    assert state == "miss" and "Renamed Trading Co" in page
    assert dashboard(client) == ("hit", page)

    with app.app_context():  # a Core UPDATE through the session
        db.session.execute(update(Dealer).where(Dealer.code == world.own_dealer).values(name="Core Update Co"))
        db.session.commit()
        db.session.remove()
    state, page = dashboard(client)
    assert state == "miss" and "Core Update Co" in page

    with app.app_context(), db.engine.begin() as connection:  # a plain connection, as a command or a job would
        connection.execute(
            text("UPDATE dealers SET name = 'Raw Connection Co' WHERE code = :code"), {"code": world.own_dealer}
        )
    state, page = dashboard(client)
    assert state == "miss" and "Raw Connection Co" in page


def test_reads_and_rolled_back_writes_leave_the_generation_alone(cached: tuple[Flask, World]) -> None:
    app, world = cached
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    before = generation(app)
    for path in ("/dealer/", "/claims/", "/training/", "/dealer/", "/claims/"):
        assert client.get(path).status_code == 200
    with app.app_context():
        db.session.execute(update(Dealer).where(Dealer.code == world.own_dealer).values(name="Never Saved"))
        db.session.rollback()
        db.session.remove()
    assert generation(app) == before
    assert dashboard(client)[0] == "hit"
    rename_own_dealer(app, world, "Saved Once")
    assert generation(app) == before + 1


def test_a_cached_page_is_never_served_to_another_user_session_or_language(cached: tuple[Flask, World]) -> None:
    app, world = cached
    owner, staff = app.test_client(), app.test_client()
    log_in(owner, world.emails["dealer_owner"])
    log_in(staff, world.emails["dealer_staff"])
    state, owner_page = dashboard(owner)
    assert dashboard(owner)[0] == "hit"
    assert dashboard(staff)[0] == "miss"  # the same dealer, another user: rendered for them

    assert owner.post("/language", data={"locale": "zh_Hans"}).status_code in (302, 303)
    state, chinese = dashboard(owner)
    assert state == "miss" and 'lang="zh-Hans"' in chinese and chinese != owner_page

    owner.post("/logout")
    log_in(owner, world.emails["dealer_owner"])  # a new login: a new session token, nothing from the old one
    assert dashboard(owner)[0] == "miss"


def test_a_flashed_message_is_shown_once_and_never_cached(cached: tuple[Flask, World]) -> None:
    app, world = cached
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    dashboard(client)
    assert dashboard(client)[0] == "hit"
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Your claim was saved as a draft.")]
    state, page = dashboard(client)
    assert state is None and "Your claim was saved as a draft." in page
    state, page = dashboard(client)
    assert state == "hit" and "Your claim was saved as a draft." not in page


def test_a_page_expires_after_its_time(cached: tuple[Flask, World], monkeypatch: pytest.MonkeyPatch) -> None:
    app, world = cached
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    clock = [1000.0]
    monkeypatch.setattr("portal.page_cache.time.monotonic", lambda: clock[0])
    assert dashboard(client)[0] == "miss"
    clock[0] += 59
    assert dashboard(client)[0] == "hit"
    clock[0] += 2
    assert dashboard(client)[0] == "miss"


def test_a_hit_is_one_read_of_the_generation_outside_any_transaction(cached: tuple[Flask, World]) -> None:
    """No BEGIN, no user row, no ROLLBACK: on PostgreSQL each of those is a round trip to the server."""
    app, world = cached
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    assert dashboard(client)[0] == "miss"
    statements: list[tuple[str, bool]] = []

    def record(_connection: object, cursor: Any, statement: str, *_args: object) -> None:
        driver_connection = cursor.connection  # sqlite3's or psycopg's own: what the server is really told
        if hasattr(driver_connection, "autocommit") and not hasattr(driver_connection, "in_transaction"):
            outside = driver_connection.autocommit is True
        else:
            outside = not driver_connection.in_transaction
        statements.append((statement, outside))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert dashboard(client)[0] == "hit"
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 1 and statements[0][1] is True
    assert statements[0][0].startswith(GENERATION_SQLITE.split(":scopes")[0]) or statements[0][0].startswith(
        GENERATION_POSTGRESQL.split(":scopes")[0]
    )


@pytest.mark.parametrize("change", ["deactivate", "terminate dealer", "temporary password", "demote"])
def test_a_stored_page_is_never_served_after_the_users_access_changed(cached: tuple[Flask, World], change: str) -> None:
    """The hit is served before the user is loaded: any change to who they are is a write, so it is not a hit."""
    app, world = cached
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    dashboard(client)
    assert dashboard(client)[0] == "hit"
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
        if change == "deactivate":
            user.active = False
        elif change == "terminate dealer":
            user.dealer.status = DealerStatus.TERMINATED
        elif change == "temporary password":
            user.must_change_password = True
        else:
            user.dealer_role = DealerRole.STAFF
        db.session.commit()
        db.session.remove()
    response = client.get("/dealer/")
    assert response.headers.get("X-Page-Cache") != "hit"
    if change == "demote":  # staff may read the dashboard too, but it is rendered for them afresh
        assert response.status_code == 200
    elif change == "temporary password":
        assert response.status_code in (302, 303) and response.headers["Location"].endswith("/account")
    else:
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_an_idle_session_ends_before_a_stored_page_is_served(cached: tuple[Flask, World]) -> None:
    app, world = cached
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    dashboard(client)
    assert dashboard(client)[0] == "hit"
    with client.session_transaction() as session:
        session[LAST_ACTIVITY] = time.time() - app.config["IDLE_TIMEOUT_MINUTES"] * 60 - 5
    response = client.get("/dealer/")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    assert client.get("/dealer/").status_code in (302, 303)  # logged out for good


def test_the_store_keeps_only_the_most_recently_used_pages() -> None:
    store = PageCache(entries=2, seconds=60)
    for key in ("a", "b"):
        store.put((key,), CachedPage((), 1, float("inf"), key.encode(), ()))
    assert store.get(("a",), 1) is not None  # "a" is now the most recent
    store.put(("c",), CachedPage((), 1, float("inf"), b"c", ()))
    assert store.get(("b",), 1) is None and store.get(("a",), 1) is not None and len(store) == 2
    assert store.get(("c",), 2) is None and len(store) == 1  # a newer generation drops the page


def test_a_bulk_writers_large_sqlite_page_cache_is_given_back_with_its_connection(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:

    url = fresh_database_url("sqlite", "large_cache", tmp_path_factory)
    app = build_app(url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})  # one connection, reused
    try:
        with app.app_context():

            def cache_size() -> int:
                return int(db.session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one())

            assert cache_size() == -SQLITE_CACHE_KIB
            db.session.commit()
            begin_write()
            use_large_sqlite_cache()
            assert cache_size() == -LARGE_SQLITE_CACHE_KIB
            db.session.commit()  # the connection goes back to the pool
            assert cache_size() == -SQLITE_CACHE_KIB
    finally:
        dispose_app(app)


def test_the_literal_generation_statements_name_the_models_table() -> None:
    """The SQL is written out in full (no string building for a scanner to doubt); it must follow the model."""
    for statement in (GENERATION_SQLITE, GENERATION_POSTGRESQL, RAISE_GENERATION_SQLITE, RAISE_GENERATION_POSTGRESQL):
        assert f" {PageGeneration.__tablename__} " in statement
