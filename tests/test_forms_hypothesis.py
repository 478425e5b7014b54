"""Hostile input to every form: never a 500, never a half-saved record. Each example runs in its own savepoint."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.extensions import db
from tests.factories import PASSWORD, Channel, World, examples
from tests.helpers import example_savepoint, fingerprint, log_in
from tests.state_changing import STATE_CHANGING, Route

FORM_SETTINGS = settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        ["", " ", "\x00", "'; DROP TABLE users; --", "<script>alert(1)</script>", "//evil.example", "é" * 400]
    ),
)


def _user(app: Flask, email: str) -> tuple[str, str, str | None]:
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        return user.password_hash, user.session_token, user.locale


def _audit_count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


@FORM_SETTINGS
@given(email=hostile_text, password=hostile_text, next_url=hostile_text)
def test_login_form(
    app: Flask, db_connection: sa.Connection, channel: Channel, email: str, password: str, next_url: str
) -> None:
    with example_savepoint(db_connection):
        before_users = _user(app, channel.emails["manager"])
        before_audit = _audit_count(app)
        response = app.test_client().post("/login", data={"email": email, "password": password, "next": next_url})
        assert response.status_code in {200, 400, 422}
        assert _user(app, channel.emails["manager"]) == before_users
        assert _audit_count(app) - before_audit in {0, 1}


@FORM_SETTINGS
@given(current=hostile_text, new=hostile_text, confirm=hostile_text, use_real_current=st.booleans())
def test_password_change_form(
    app: Flask,
    db_connection: sa.Connection,
    channel: Channel,
    current: str,
    new: str,
    confirm: str,
    use_real_current: bool,
) -> None:
    with example_savepoint(db_connection):
        client = app.test_client()
        log_in(client, channel.emails["manager"])
        before = _user(app, channel.emails["manager"])
        data = {"current_password": PASSWORD if use_real_current else current, "new_password": new}
        data["confirm_password"] = new if use_real_current else confirm
        response = client.post("/account/password", data=data)
        assert response.status_code in {303, 400, 422}
        after = _user(app, channel.emails["manager"])
        if response.status_code == 303:
            assert after[0] != before[0] and after[1] != before[1]
            assert 12 <= len(new) <= 128
        else:
            assert after == before


@FORM_SETTINGS
@given(locale=hostile_text | st.sampled_from(["en", "zh_Hans"]), next_url=hostile_text, logged_in=st.booleans())
def test_language_form(
    app: Flask, db_connection: sa.Connection, channel: Channel, locale: str, next_url: str, logged_in: bool
) -> None:
    with example_savepoint(db_connection):
        client = app.test_client()
        if logged_in:
            log_in(client, channel.emails["dealer_staff"])
        response = client.post("/language", data={"locale": locale, "next": next_url})
        assert response.status_code in {303, 400}
        if response.status_code == 303:
            location = response.headers["Location"]
            assert location.startswith("/") and not location.startswith("//")
        assert _user(app, channel.emails["dealer_staff"])[2] in {None, "en", "zh_Hans"}


# Every other form (the account forms have their own tests above); action-only routes post no fields.
DIRECTORY_ROUTES = [
    route for route in STATE_CHANGING if route.rule not in ("/login", "/logout", "/language", "/account/password")
]


@pytest.mark.parametrize("route", DIRECTORY_ROUTES, ids=[route.rule for route in DIRECTORY_ROUTES])
@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_directory_form_survives_hostile_input(
    app: Flask, db_connection: sa.Connection, world: World, route: Route, data: st.DataObject
) -> None:
    """Each field either keeps its valid value or gets hostile text: never a 500, and a refusal saves nothing."""
    valid = route.form(world)
    form = {name: data.draw(st.one_of(st.just(value), hostile_text), label=name) for name, value in valid.items()}
    with example_savepoint(db_connection):
        client = app.test_client()
        if route.before is not None:
            route.before(client, world)
        else:
            log_in(client, world.emails[route.role or "manager"])
        before = fingerprint(app)
        response = client.post(route.url(world), data=form)
        # 404: an id that names nothing this user may see (bulk approval of claim "0") is refused as not found.
        assert response.status_code in {route.done, 400, 404, 409, 422}, response.status_code
        if response.status_code != route.done:
            assert fingerprint(app)[1:] == before[1:]


@FORM_SETTINGS
@given(
    params=st.dictionaries(st.sampled_from(["q", "tier", "status", "territory", "sort", "dir", "page"]), hostile_text)
)
def test_portfolio_filters_survive_hostile_input(
    app: Flask, db_connection: sa.Connection, channel: Channel, params: dict[str, str]
) -> None:
    with example_savepoint(db_connection):
        client = app.test_client()
        log_in(client, channel.emails["senior_manager"])
        assert client.get("/console/", query_string=params).status_code in {200, 400}


@FORM_SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(["actor", "action", "subject_type", "subject", "date_from", "date_to", "page"]), hostile_text
    )
)
def test_audit_filters_survive_hostile_input(
    app: Flask, db_connection: sa.Connection, channel: Channel, params: dict[str, str]
) -> None:
    with example_savepoint(db_connection):
        client = app.test_client()
        log_in(client, channel.emails["admin"])
        assert client.get("/audit/", query_string=params).status_code in {200, 400}
        assert client.get(
            "/admin/users", query_string={"q": params.get("actor", ""), "role": params.get("action", "")}
        ).status_code in {200, 400}
