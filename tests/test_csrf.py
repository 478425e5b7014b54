"""Every state-changing route with CSRF protection on: refused without a token and nothing changes; works with one.

The token is accepted in the form and in the X-CSRFToken header that htmx sends from <body hx-headers>.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.extensions import db
from tests.factories import PASSWORD, World

NEW_PASSWORD = "a brand new long password"


def _token(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def _login_with_csrf(client: FlaskClient, email: str) -> None:
    token = _token(client, "/login")
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def _user_state(app: Flask, email: str) -> tuple[str, str, str | None]:
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        return user.password_hash, user.session_token, user.locale


def _audit_count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


# route -> (form data, needs a logged-in user)
STATE_CHANGING: dict[str, tuple[Callable[[World], dict[str, str]], bool]] = {
    "/login": (lambda world: {"email": world.emails["manager"], "password": PASSWORD}, False),
    "/logout": (lambda world: {}, True),
    "/account/password": (
        lambda world: {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        True,
    ),
    "/language": (lambda world: {"locale": "zh_Hans", "next": "/account"}, True),
}


@pytest.fixture
def csrf_on(app: Flask) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_every_post_route_is_covered(app: Flask) -> None:
    post_rules = {rule.rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())}
    assert post_rules == set(STATE_CHANGING)


@pytest.mark.parametrize("path", sorted(STATE_CHANGING))
def test_post_without_token_is_refused_and_changes_nothing(csrf_on: Flask, world: World, path: str) -> None:
    form, needs_login = STATE_CHANGING[path]
    client = csrf_on.test_client()
    if needs_login:
        _login_with_csrf(client, world.emails["manager"])
    before_user = _user_state(csrf_on, world.emails["manager"])
    before_audit = _audit_count(csrf_on)
    response = client.post(path, data=form(world))
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert _user_state(csrf_on, world.emails["manager"]) == before_user
    assert _audit_count(csrf_on) == before_audit
    if needs_login:
        assert client.get("/account").status_code == 200  # still logged in: logout did not happen


@pytest.mark.parametrize("path", sorted(STATE_CHANGING))
def test_post_with_a_wrong_token_is_refused(csrf_on: Flask, world: World, path: str) -> None:
    form, needs_login = STATE_CHANGING[path]
    client = csrf_on.test_client()
    if needs_login:
        _login_with_csrf(client, world.emails["manager"])
    before = _user_state(csrf_on, world.emails["manager"])
    response = client.post(path, data={**form(world), "csrf_token": "forged"}, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    assert _user_state(csrf_on, world.emails["manager"]) == before


@pytest.mark.parametrize("path", sorted(STATE_CHANGING))
def test_post_with_the_token_in_the_form_works(csrf_on: Flask, world: World, path: str) -> None:
    form, needs_login = STATE_CHANGING[path]
    client = csrf_on.test_client()
    if needs_login:
        _login_with_csrf(client, world.emails["manager"])
    token = _token(client, "/account" if needs_login else "/login")
    response = client.post(path, data={**form(world), "csrf_token": token})
    assert response.status_code == 303


def test_htmx_post_with_the_header_token_works(csrf_on: Flask, world: World) -> None:
    client = csrf_on.test_client()
    _login_with_csrf(client, world.emails["manager"])
    html = client.get("/account").get_data(as_text=True)
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html)
    assert header_token, "the CSRF token must travel in hx-headers on <body>"
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        headers={"HX-Request": "true", "X-CSRFToken": header_token.group(1)},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/account"


def test_nothing_changes_on_get(app: Flask, client: FlaskClient, world: World) -> None:
    """GET on every GET route of the app as an admin leaves users and the audit trail as they were."""
    from tests.conftest import log_in

    log_in(client, world.emails["admin"])
    before = (_user_state(app, world.emails["admin"]), _audit_count(app))
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or set()) and not rule.arguments:
            client.get(rule.rule).close()
    client.get(f"/console/dealers/{world.own_dealer}").close()
    assert (_user_state(app, world.emails["admin"]), _audit_count(app)) == before
