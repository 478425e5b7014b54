"""Logging in and out, sessions that really end, password changes, the safe `next` redirect."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import portal.accounts.services as account_services
from config import Config
from portal.accounts.models import User
from portal.accounts.services import deactivate_user
from portal.audit.models import AuditEvent
from portal.dealers.models import Dealer, DealerStatus
from portal.extensions import db
from portal.security import LOGGED_IN_AT
from tests.factories import PASSWORD, Channel
from tests.helpers import log_in


def without_csrf_tokens(html: str) -> str:
    """Each response carries a fresh CSRF token; everything else must be identical."""
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    return re.sub(r'name="csrf_token"( type="hidden")? value="[^"]+"', "", html)


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("portal_session")
    assert cookie is not None
    return cookie.value


def _replay(app: Flask, cookie_value: str, path: str = "/account") -> int:
    """A different browser presenting a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("portal_session", cookie_value)
    return thief.get(path).status_code


def test_login_page_has_labelled_fields(client: FlaskClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'autocomplete="current-password"' in html


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("dealer_owner", "/dealer/"),
        ("dealer_staff", "/dealer/"),
        ("manager", "/console/"),
        ("senior_manager", "/console/"),
        ("mediator", "/mediation/"),
        ("admin", "/admin/"),
    ],
)
def test_each_role_lands_on_its_home(client: FlaskClient, channel: Channel, role: str, home: str) -> None:
    response = log_in(client, channel.emails[role])
    assert response.headers["Location"] == home
    assert client.get(home).status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(app: Flask, channel: Channel) -> None:
    unknown = app.test_client().post("/login", data={"email": "nobody@example.test", "password": PASSWORD})
    wrong = app.test_client().post("/login", data={"email": channel.emails["manager"], "password": "wrong password"})
    assert unknown.status_code == wrong.status_code == 200
    assert without_csrf_tokens(unknown.get_data(as_text=True)) == without_csrf_tokens(
        wrong.get_data(as_text=True).replace(channel.emails["manager"], "nobody@example.test")
    )
    assert "The email or password is not correct." in unknown.get_data(as_text=True)


def test_email_is_case_and_space_insensitive(client: FlaskClient, channel: Channel) -> None:
    response = client.post("/login", data={"email": "  MANAGER@Example.TEST ", "password": PASSWORD})
    assert response.status_code == 303


def test_login_records_success_and_failure_in_the_audit_trail(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    client.post("/login", data={"email": channel.emails["manager"], "password": "wrong password"})
    log_in(client, channel.emails["manager"])
    with app.app_context():
        actions = (
            db.session.execute(
                select(AuditEvent.action).where(AuditEvent.action.startswith("login.")).order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
    assert actions == ["login.failed", "login.succeeded"]


def test_login_starts_a_new_session(client: FlaskClient, channel: Channel) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    log_in(client, channel.emails["manager"])
    with client.session_transaction() as session:
        assert "planted" not in session


def test_logout_is_a_post_and_the_old_cookie_is_useless_afterwards(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    log_in(client, channel.emails["dealer_owner"])
    cookie = _session_cookie(client)
    assert _replay(app, cookie) == 200
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert _replay(app, cookie) == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    log_in(client, channel.emails["manager"])
    other_browser = app.test_client()
    log_in(other_browser, channel.emails["manager"])
    old_cookie = _session_cookie(client)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a much longer new password",
            "confirm_password": "a much longer new password",
        },
    )
    assert response.status_code == 303
    assert client.get("/account").status_code == 200
    assert other_browser.get("/account").status_code == 302
    assert _replay(app, old_cookie) == 302
    assert (
        app.test_client()
        .post("/login", data={"email": channel.emails["manager"], "password": "a much longer new password"})
        .status_code
        == 303
    )


def test_password_change_needs_the_current_password(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["manager"])
    with app.app_context():
        before = db.session.execute(select(User.password_hash).where(User.email == channel.emails["manager"])).scalar()
    response = client.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "new_password": "a much longer new password",
            "confirm_password": "a much longer new password",
        },
    )
    assert response.status_code == 422
    assert "This is not your current password." in response.get_data(as_text=True)
    with app.app_context():
        after = db.session.execute(select(User.password_hash).where(User.email == channel.emails["manager"])).scalar()
    assert before == after


def test_password_change_keeps_what_was_typed_out_of_the_page_and_names_the_problem(
    client: FlaskClient, channel: Channel
) -> None:
    log_in(client, channel.emails["manager"])
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm_password": "different"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Use at least 12 characters." in html
    assert "The two new passwords do not match." in html
    assert PASSWORD not in html  # password fields are never echoed back


def test_passwords_are_hashed_with_scrypt(app: Flask, channel: Channel) -> None:
    with app.app_context():
        stored = db.session.execute(select(User.password_hash).where(User.email == channel.emails["admin"])).scalar()
    assert stored is not None and stored.startswith("scrypt:")
    assert PASSWORD not in stored

    assert Config.PASSWORD_HASH_METHOD == "scrypt"


def test_deactivation_ends_sessions_and_blocks_login(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_staff"])
    cookie = _session_cookie(client)
    with app.app_context():
        staff = db.session.execute(select(User).where(User.email == channel.emails["dealer_staff"])).scalar_one()
        owner = db.session.execute(select(User).where(User.email == channel.emails["dealer_owner"])).scalar_one()
        deactivate_user(staff, actor=owner)
        db.session.commit()
    assert _replay(app, cookie) == 302
    response = app.test_client().post("/login", data={"email": channel.emails["dealer_staff"], "password": PASSWORD})
    assert response.status_code == 200
    assert "This account cannot log in." in response.get_data(as_text=True)


def test_users_of_a_terminated_dealer_cannot_log_in_or_keep_a_session(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    log_in(client, channel.emails["dealer_owner"])
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        dealer.status = DealerStatus.TERMINATED
        db.session.commit()
    assert client.get("/dealer/").status_code == 302
    response = app.test_client().post("/login", data={"email": channel.emails["dealer_owner"], "password": PASSWORD})
    assert response.status_code == 200
    assert "This account cannot log in." in response.get_data(as_text=True)


def test_suspended_dealer_users_can_still_log_in(app: Flask, client: FlaskClient, channel: Channel) -> None:
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        dealer.status = DealerStatus.SUSPENDED
        db.session.commit()
    log_in(client, channel.emails["dealer_owner"])
    assert "Suspended" in client.get("/dealer/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account", "/account"),
        ("/console/dealers/D001?tab=people", "/console/dealers/D001?tab=people"),
        ("https://evil.example/phish", "/console/"),
        ("//evil.example/phish", "/console/"),
        ("/\\evil.example", "/console/"),
        ("\\\\evil.example", "/console/"),
        ("javascript:alert(1)", "/console/"),
        ("/\r\nLocation: https://evil.example", "/console/"),
        ("", "/console/"),
    ],
)
def test_next_only_redirects_within_this_site(
    client: FlaskClient, channel: Channel, next_url: str, expected: str
) -> None:
    response = client.post("/login", data={"email": channel.emails["manager"], "password": PASSWORD, "next": next_url})
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_anonymous_visitor_is_sent_to_login_with_next(client: FlaskClient, channel: Channel) -> None:
    response = client.get("/console/dealers/D001")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/console/dealers/D001"
    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="/console/dealers/D001"' in login_page
    assert "Please log in to continue." in login_page


def test_logged_in_user_visiting_login_goes_home(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["mediator"])
    response = client.get("/login")
    assert response.status_code == 303
    assert response.headers["Location"] == "/mediation/"


def test_a_session_ends_after_its_lifetime_however_active(
    app: Flask, client: FlaskClient, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("portal.security.time.time", lambda: clock[0])
    log_in(client, channel.emails["manager"])
    lifetime = app.config["SESSION_LIFETIME_HOURS"] * 3600
    while clock[0] + 50 * 60 < 1_000_000.0 + lifetime:  # busy all day, never idle
        clock[0] += 50 * 60
        assert client.get("/console/").status_code == 200
    clock[0] = 1_000_000.0 + lifetime + 1
    response = client.get("/console/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Your session ended after {app.config['SESSION_LIFETIME_HOURS']} hours." in page
    assert client.get("/console/").status_code == 302  # logged out for good, not only redirected once
    log_in(client, channel.emails["manager"])  # a new login starts a new day
    assert client.get("/console/").status_code == 200


def test_a_login_session_without_its_start_time_is_ended(app: Flask, client: FlaskClient, channel: Channel) -> None:
    """A cookie from before the lifetime existed, or one someone trimmed, does not live for ever."""

    log_in(client, channel.emails["dealer_owner"])
    assert client.get("/dealer/").status_code == 200
    with client.session_transaction() as session:
        del session[LOGGED_IN_AT]
    assert client.get("/dealer/").status_code == 302


def test_unknown_and_known_addresses_cost_one_password_check_of_the_same_kind(
    app: Flask, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The time a failed login takes is the password hash's: each way checks exactly one hash, at the same cost."""

    checked: list[str] = []
    real_check = account_services.check_password_hash

    def recording_check(stored: str, password: str) -> bool:
        checked.append(stored.split("$", 1)[0])  # the method and its cost parameters, e.g. scrypt:1024:8:1
        return real_check(stored, password)

    monkeypatch.setattr(account_services, "check_password_hash", recording_check)
    client = app.test_client()
    client.post("/login", data={"email": "nobody@example.test", "password": "wrong-password-1"})
    unknown = list(checked)
    checked.clear()
    client.post("/login", data={"email": channel.emails["manager"], "password": "wrong-password-1"})
    assert unknown == checked and len(checked) == 1
    assert checked[0].startswith(app.config["PASSWORD_HASH_METHOD"])
