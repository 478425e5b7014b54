"""Concurrent writers with real commits: simultaneous logins all succeed and every one is audited.

On SQLite a login reads the user, then writes; two such transactions started with a plain BEGIN can deadlock on the
upgrade to a write lock and one fails at once with "database is locked". Writing requests therefore begin with
BEGIN IMMEDIATE (portal/database.py); this test fails when that guard is removed.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.accounts.models import DealerRole, User, UserRole
from portal.audit.models import AuditEvent
from portal.dealers.models import Dealer, DealerEvent, DealerEventKind
from portal.extensions import db
from portal.notifications.links import link
from portal.notifications.mail import deliver_outbox
from portal.notifications.models import OutboxEmail
from portal.notifications.services import notify
from tests.factories import PASSWORD, make_user, make_world
from tests.helpers import BACKENDS, SmtpServer, build_app, dispose_app, free_port, migrated_database_url
from tests.threads import race_posts

THREADS = 16
WORKERS = 4


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_simultaneous_logins_all_succeed_and_are_all_audited(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(migrated_database_url(backend_name, "races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)
    with app.app_context():
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


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_people_deciding_a_dealers_status_end_with_one_decision(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(migrated_database_url(backend_name, "races", tmp_path_factory))
    with app.app_context():
        world = make_world()
        second_admin = make_user(UserRole.ADMIN).email
        db.session.commit()
    url = f"/console/dealers/{world.own_dealer}/status"
    statuses = race_posts(
        app,
        [
            (world.emails["admin"], url, {"expected": "active", "status": "suspended", "reason": "Price war."}),
            (second_admin, url, {"expected": "active", "status": "terminated", "reason": "Contract ended."}),
            (world.emails["senior_manager"], url, {"expected": "active", "status": "suspended", "reason": "Late."}),
        ],
    )
    with app.app_context():
        changes = (
            db.session.execute(select(DealerEvent).where(DealerEvent.kind == DealerEventKind.STATUS_CHANGED))
            .scalars()
            .all()
        )
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        final_status = dealer.status.value
    dispose_app(app)
    assert sorted(statuses) == [303, 409, 409]
    assert len(changes) == 1 and changes[0].to_value == final_status


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_owners_deactivating_each_other_leave_one_owner(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(migrated_database_url(backend_name, "races", tmp_path_factory))
    with app.app_context():
        world = make_world()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        second_owner = make_user(UserRole.DEALER, dealer=dealer, dealer_role=DealerRole.OWNER)
        first_owner_id, second_owner_id, second_email = world.people.owner, second_owner.id, second_owner.email
        dealer_id = dealer.id
        db.session.commit()
    statuses = race_posts(
        app,
        [
            (world.emails["dealer_owner"], f"/dealer/people/staff/{second_owner_id}/deactivate", {}),
            (second_email, f"/dealer/people/staff/{first_owner_id}/deactivate", {}),
        ],
    )
    with app.app_context():
        active_owners = db.session.execute(
            select(func.count())
            .select_from(User)
            .where(User.dealer_id == dealer_id, User.dealer_role == DealerRole.OWNER, User.active)
        ).scalar_one()
    dispose_app(app)
    assert sorted(statuses) == [303, 403]
    assert active_owners == 1


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_workers_delivering_at_once_send_each_message_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:

    server = SmtpServer(free_port())
    app = build_app(migrated_database_url(backend_name, "races", tmp_path_factory), MAIL_SMTP_PORT=server.port)
    with app.app_context():
        world = make_world()
        people = list(db.session.execute(select(User)).scalars())
        for _ in range(4):
            notify(people, "account_changed", {}, link("accounts.account"))
        db.session.commit()
        expected = db.session.execute(select(func.count()).select_from(OutboxEmail)).scalar_one()
    server.start()
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            try:
                deliver_outbox(limit=1000)
            except BaseException as error:  # reported below
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    server.stop()
    dispose_app(app)
    assert world.emails and not errors, errors
    message_ids = [message["Message-ID"] for message in server.inbox.messages]
    assert len(message_ids) == expected == len(set(message_ids))
