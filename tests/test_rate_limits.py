"""Login rate limits, counting failed attempts only: per address, per account and client, and a short per-account
slowdown for unknown browsers that never holds up the account's known devices; the owner is told of an attack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select

from portal.accounts.models import User
from portal.api import clients as api_clients
from portal.extensions import db, limiter
from portal.notifications.models import OutboxEmail
from tests.factories import PASSWORD, World, make_world
from tests.helpers import build_app, dispose_app, log_in, migrated_database_url, start_two_factor_login
from tests.threads import run_together


@pytest.fixture
def limited_app(tmp_path: Path) -> Iterator[tuple[Flask, World]]:
    app = build_app(
        f"sqlite:///{tmp_path / 'limits.db'}",
        RATELIMIT_ENABLED=True,
        LOGIN_LIMIT_PER_ACCOUNT_AND_CLIENT="3 per 10 minutes",
        LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes",
        LOGIN_LIMIT_PER_ADDRESS="6 per 10 minutes",
        LOGIN_WARNING_AFTER=4,
    )
    with app.app_context():
        upgrade()
        world = make_world()
        db.session.commit()
    yield app, world
    limiter.enabled = False
    dispose_app(app)


def _attempt(app: Flask, email: str, password: str, address: str = "192.0.2.10") -> int:
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address})
    return response.status_code


def test_one_client_guessing_one_account_is_stopped_but_the_owner_elsewhere_gets_in(
    limited_app: tuple[Flask, World],
) -> None:
    app, world = limited_app
    email = world.emails["manager"]
    assert [_attempt(app, email, "wrong") for _ in range(3)] == [200, 200, 200]
    assert _attempt(app, email, PASSWORD) == 429  # that client, for that account: blocked, right password or not
    blocked = app.test_client().post(
        "/login", data={"email": email, "password": "wrong"}, environ_base={"REMOTE_ADDR": "192.0.2.10"}
    )
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert "per 10 minutes" not in blocked.get_data(as_text=True)
    assert _attempt(app, email, PASSWORD, "198.51.100.7") == 303  # the owner at the office


def test_wrong_passwords_from_everywhere_never_lock_the_owners_known_device_out(
    limited_app: tuple[Flask, World],
) -> None:
    app, world = limited_app
    email = world.emails["manager"]
    owner = app.test_client()
    assert owner.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303  # a known device now
    assert owner.get_cookie("portal_device") is not None
    owner.post("/logout")
    attacker = [_attempt(app, email, "wrong", f"203.0.113.{n}") for n in range(8)]  # one guess per address
    assert attacker == [200] * 5 + [429] * 3  # unknown browsers together: slowed down after five
    assert _attempt(app, email, PASSWORD, "192.0.2.200") == 429  # a new browser waits its turn as well
    back = owner.post(
        "/login", data={"email": email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "203.0.113.1"}
    )
    assert back.status_code == 303  # the known device: in, even from an address the attacker used
    # the slowdown is short: once its window has passed, an unknown browser with the right password gets in
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6), tick=True):
        assert _attempt(app, email, PASSWORD, "192.0.2.201") == 303


def test_a_device_cookie_for_another_account_or_forged_counts_for_nothing(limited_app: tuple[Flask, World]) -> None:
    app, world = limited_app
    admin_device = app.test_client()
    assert admin_device.post("/login", data={"email": world.emails["admin"], "password": PASSWORD}).status_code == 303
    admin_device.post("/logout")
    email = world.emails["manager"]
    statuses = [admin_device.post("/login", data={"email": email, "password": "wrong"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # a stranger to the manager's account, limited like any browser
    forged = app.test_client()
    forged.set_cookie("portal_device", "eyJ1c2VyIjoxfQ.forged")
    assert [forged.post("/login", data={"email": email, "password": "wrong"}).status_code for _ in range(1)] == [429]


def test_the_owner_is_told_once_an_hour_that_someone_is_guessing(limited_app: tuple[Flask, World]) -> None:

    app, world = limited_app
    email = world.emails["mediator"]
    for n in range(6):
        _attempt(app, email, "wrong", f"203.0.113.{n % 3}")

    def warnings() -> list[str]:
        with app.app_context():
            user_id = db.session.execute(select(User.id).where(User.email == email)).scalar_one()
            return list(
                db.session.execute(
                    select(OutboxEmail.text_body).where(
                        OutboxEmail.user_id == user_id,
                        OutboxEmail.subject == "Someone is trying to log in to your account",
                    )
                ).scalars()
            )

    told = warnings()
    assert len(told) == 1 and "4 wrong passwords were tried for your account in the last hour, from 3 places" in told[0]
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61), tick=True):
        for n in range(4):
            _attempt(app, email, "wrong", f"198.51.100.{n}")
    assert len(warnings()) == 2  # a new hour, a new warning
    assert _attempt(app, "nobody@example.test", "wrong") == 200  # unknown addresses answer alike, and tell nobody


def test_failed_attempts_from_one_address_block_that_address(limited_app: tuple[Flask, World]) -> None:
    app, world = limited_app
    emails = [f"guess{n}@example.test" for n in range(6)]
    assert [_attempt(app, email, "wrong") for email in emails] == [200] * 6
    assert _attempt(app, world.emails["admin"], PASSWORD) == 429
    assert _attempt(app, world.emails["admin"], PASSWORD, address="203.0.113.5") == 303


def test_successful_logins_do_not_count(limited_app: tuple[Flask, World]) -> None:
    app, world = limited_app
    assert [_attempt(app, world.emails["mediator"], PASSWORD) for _ in range(8)] == [303] * 8


def test_forgot_password_is_limited_per_account_whether_or_not_it_exists(
    limited_app: tuple[Flask, World],
) -> None:
    app, world = limited_app
    app.config.update(FORGOT_LIMIT_PER_ACCOUNT="2 per hour", FORGOT_LIMIT_PER_ADDRESS="50 per hour")
    for email in (world.emails["manager"], "nobody@example.test"):
        statuses = [
            app.test_client()
            .post("/password/forgot", data={"email": email}, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
            .status_code
            for n in range(3)
        ]
        assert statuses == [303, 303, 429]


def test_wrong_second_factor_codes_are_limited_per_account(limited_app: tuple[Flask, World]) -> None:
    """Six wrong codes in ten minutes, through however many fresh logins: a million codes stay out of reach."""

    app, world = limited_app
    statuses = []
    for _ in range(4):
        client = app.test_client()
        start_two_factor_login(client, world.emails["two_factor_manager"])
        statuses += [client.post("/login/two-factor", data={"code": "000000"}).status_code for _ in range(2)]
    assert statuses == [422] * 6 + [429] * 2


def test_guessing_the_password_through_the_account_forms_is_limited(limited_app: tuple[Flask, World]) -> None:
    """A copied session cannot guess the password through the forms that ask for it: six wrong in ten minutes."""

    app, world = limited_app
    client = app.test_client()
    log_in(client, world.emails["manager"])
    form = {
        "current_password": "guess",
        "new_password": "a long new password",
        "confirm_password": "a long new password",
    }
    statuses = [client.post("/account/password", data=form).status_code for _ in range(3)]
    statuses += [client.post("/account/two-factor/setup", data={"password": "guess"}).status_code for _ in range(3)]
    statuses.append(
        client.post("/account/email", data={"new_email": "x@example.test", "password": PASSWORD}).status_code
    )
    assert statuses == [422] * 6 + [429]


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_many_wrong_passwords_at_once_send_one_warning(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Six wrong passwords released together, each over the warning's threshold: one email, the conditional UPDATE
    deciding (checked: without its condition every one of them sends one)."""

    app = build_app(
        migrated_database_url(backend_name, "login_warning_race", tmp_path_factory),
        LOGIN_WARNING_AFTER=1,
        SQLITE_BUSY_TIMEOUT_MS=60000,
    )
    with app.app_context():
        world = make_world()
        db.session.commit()
    email = world.emails["mediator"]

    def guess(wait):  # type: ignore[no-untyped-def]
        client = app.test_client()
        wait()
        return client.post("/login", data={"email": email, "password": "wrong"}).status_code

    try:
        assert run_together([guess for _ in range(6)]) == [200] * 6
        with app.app_context():
            user_id = db.session.execute(select(User.id).where(User.email == email)).scalar_one()
            warnings = db.session.execute(
                select(OutboxEmail.id).where(OutboxEmail.user_id == user_id, OutboxEmail.subject.startswith("Someone"))
            ).all()
    finally:
        dispose_app(app)
    assert len(warnings) == 1


def test_each_api_token_has_its_own_rate_limit(tmp_path: Path) -> None:
    """Past the limit a client gets 429 as a problem document; another client's token is not slowed."""
    app = build_app(f"sqlite:///{tmp_path / 'api-limits.db'}", RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    try:
        with app.app_context():
            upgrade()
            world = make_world()
            admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
            _first, busy = api_clients.create_client(admin, "Busy ERP", ["statements:read"], [])
            _second, calm = api_clients.create_client(admin, "Calm BI", ["statements:read"], [])
            db.session.commit()
        http = app.test_client()
        answers = [http.get("/api/v1/me", headers={"Authorization": f"Bearer {busy}"}) for _call in range(4)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        assert answers[-1].mimetype == "application/problem+json"
        assert answers[-1].get_json()["type"] == "urn:dealer-portal:problem:rate-limited"
        assert http.get("/api/v1/me", headers={"Authorization": f"Bearer {calm}"}).status_code == 200
    finally:
        limiter.enabled = False
        dispose_app(app)
