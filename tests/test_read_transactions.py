"""PostgreSQL: a request that only read ends its transaction so that psycopg keeps its prepared statements, and a
transaction that wrote anything is still rolled back (portal/database.py, `_end_reads_with_commit`).

psycopg prepares a statement once a connection has run it five times and forgets them all at each ROLLBACK. Every
read-only request ended with one (the session closing), so no page's statements were ever prepared and PostgreSQL
parsed and planned each on every visit. The first test fails when the guard is removed; the others show that the
guard never turns an undone write into a kept one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select, text

from portal.accounts.models import User
from portal.extensions import db
from tests.factories import make_world
from tests.helpers import build_app, dispose_app, log_in, migrated_database_url


@pytest.fixture
def pg_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_app(migrated_database_url("postgresql", "reads", tmp_path_factory), PAGE_CACHE_ENTRIES=0)
    yield app
    dispose_app(app)


def prepared_statements() -> list[str]:
    return list(db.session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars())


def test_a_page_read_again_and_again_runs_prepared_statements(pg_app: Flask) -> None:
    with pg_app.app_context():
        world = make_world()
        db.session.commit()
        db.engine.dispose()  # the visits below start on a connection with nothing prepared
    client = pg_app.test_client()
    log_in(client, world.emails["dealer_owner"])
    for _ in range(7):
        response = client.get("/dealer/")
        assert response.status_code == 200
    with pg_app.app_context():
        prepared = prepared_statements()
    # The statement that loads the signed-in user runs once per request: prepared after the fifth.
    assert any(statement.startswith("SELECT users.id") for statement in prepared), prepared


def test_a_transaction_that_wrote_is_still_rolled_back(pg_app: Flask) -> None:
    with pg_app.app_context():
        world = make_world()
        db.session.commit()
        owner = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
        owner_id, name = owner.id, owner.name
        owner.name = "Written, then undone"
        db.session.flush()
        db.session.rollback()
        # A statement written by hand that changes rows but does not start with SELECT.
        changed = db.session.execute(
            text(
                "WITH changed AS (UPDATE users SET name = 'Also undone' WHERE id = :id RETURNING id) "
                "SELECT count(*) FROM changed"
            ),
            {"id": owner_id},
        ).scalar_one()
        assert changed == 1
        db.session.remove()  # the end of a request: the session closes its transaction
        assert db.session.execute(select(User.name).where(User.id == owner_id)).scalar_one() == name


def test_a_request_that_fails_after_writing_leaves_nothing(pg_app: Flask) -> None:
    with pg_app.app_context():
        world = make_world()
        db.session.commit()
        owner_id = db.session.execute(select(User.id).where(User.email == world.emails["dealer_owner"])).scalar_one()
    with pg_app.test_request_context("/"):
        user = db.session.get(User, owner_id)
        assert user is not None
        user.name = "Half-saved"
        db.session.flush()
    # test_request_context's teardown closed the session without a commit
    with pg_app.app_context():
        assert db.session.execute(select(User.name).where(User.id == owner_id)).scalar_one() != "Half-saved"
