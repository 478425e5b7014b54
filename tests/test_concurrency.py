"""Concurrent writers with real commits: simultaneous logins all succeed and every one is audited.

On SQLite a login reads the user, then writes; two such transactions started with a plain BEGIN can deadlock on the
upgrade to a write lock and one fails at once with "database is locked". Writing requests therefore begin with
BEGIN IMMEDIATE (portal/database.py); this test fails when that guard is removed.
"""

from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from portal.accounts.models import UserRole
from portal.audit.models import AuditEvent
from portal.extensions import db
from tests.conftest import BACKENDS, build_app, dispose_app, fresh_database_url
from tests.factories import PASSWORD, make_user

THREADS = 16


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_simultaneous_logins_all_succeed_and_are_all_audited(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(fresh_database_url(backend_name, "races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)
    with app.app_context():
        upgrade()
        emails = [make_user(UserRole.MANAGER).email for _ in range(THREADS)]
        db.session.commit()

    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def log_in(email: str) -> None:
        client = app.test_client()
        client.get("/login")  # let every thread read before any writes
        barrier.wait()
        try:
            statuses.append(client.post("/login", data={"email": email, "password": PASSWORD}).status_code)
        except BaseException as error:  # reported below with the statuses
            errors.append(error)

    threads = [threading.Thread(target=log_in, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with app.app_context():
        succeeded = db.session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "login.succeeded")
        ).scalar_one()
    dispose_app(app)
    assert not errors, errors
    assert sorted(statuses) == [303] * THREADS
    assert succeeded == THREADS
