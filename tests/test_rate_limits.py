"""Login rate limits, per account and per address, counting failed attempts only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from portal.extensions import db, limiter
from tests.conftest import build_app, dispose_app
from tests.factories import PASSWORD, World, make_world


@pytest.fixture
def limited_app(tmp_path: Path) -> Iterator[tuple[Flask, World]]:
    app = build_app(
        f"sqlite:///{tmp_path / 'limits.db'}",
        RATELIMIT_ENABLED=True,
        LOGIN_LIMIT_PER_ACCOUNT="3 per 10 minutes",
        LOGIN_LIMIT_PER_ADDRESS="6 per 10 minutes",
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


def test_failed_attempts_lock_the_account_for_everyone(limited_app: tuple[Flask, World]) -> None:
    app, world = limited_app
    email = world.emails["manager"]
    assert [_attempt(app, email, "wrong", f"192.0.2.{n}") for n in range(3)] == [200, 200, 200]
    blocked = app.test_client().post(
        "/login", data={"email": email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert "per 10 minutes" not in blocked.get_data(as_text=True)
    # the same address may still log in to another account
    assert _attempt(app, world.emails["admin"], PASSWORD, "192.0.2.0") == 303


def test_the_account_limit_ignores_case_and_spaces(limited_app: tuple[Flask, World]) -> None:
    app, _world = limited_app
    spellings = ["manager@example.test", " MANAGER@example.test", "Manager@Example.Test "]
    assert [_attempt(app, spelling, "wrong", f"192.0.2.{n}") for n, spelling in enumerate(spellings)] == [200] * 3
    assert _attempt(app, "manager@example.test", PASSWORD, "192.0.2.99") == 429


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
    from tests.conftest import start_two_factor_login

    app, world = limited_app
    statuses = []
    for _ in range(4):
        client = app.test_client()
        start_two_factor_login(client, world.emails["two_factor_manager"])
        statuses += [client.post("/login/two-factor", data={"code": "000000"}).status_code for _ in range(2)]
    assert statuses == [422] * 6 + [429] * 2
