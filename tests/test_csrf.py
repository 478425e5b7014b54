"""Every state-changing route with CSRF protection on: refused without a token and nothing changes; works with one.

The token is accepted in the form and in the X-CSRFToken header that htmx sends from <body hx-headers>.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import PASSWORD, World
from tests.helpers import csrf_token_on, fingerprint, log_in
from tests.state_changing import NEW_PASSWORD, STATE_CHANGING, Route

ROUTES = {route.rule: route for route in STATE_CHANGING}


def _token(client: FlaskClient, path: str) -> str:
    token = csrf_token_on(client, path)
    assert token, f"no CSRF token on {path}"
    return token


def _client_for(app: Flask, world: World, route: Route) -> FlaskClient:
    client = app.test_client()
    if route.before is not None:
        route.before(client, world)
    elif route.role is not None:
        token = _token(client, "/login")
        log_in(client, world.emails[route.role], csrf_token=token)
        assert client.get("/account").status_code == 200
    return client


@pytest.fixture
def csrf_on(app: Flask) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_every_post_route_is_covered(app: Flask) -> None:
    """Every page's POST. The API's pushes answer a client's bearer token only, which no page holds: a browser's
    cookie (with or without a CSRF token) opens nothing there (tests/test_api_pushes.py shows it)."""
    post_rules = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and not rule.rule.startswith("/api/")
    }
    assert post_rules == set(ROUTES)


# A refused POST changes nothing, so one world and one login serve every route of a role: a world and a login for
# each route and each kind of refusal were two thirds of this file's time. A route brought to its place by `before`
# (a login's code step, a close asked for) gets its own world, since `before` itself changes the world.
SHARED_ROLES = sorted({route.role or "anonymous" for route in STATE_CHANGING if route.before is None})
OWN_WORLD = sorted(route.rule for route in STATE_CHANGING if route.before is not None)
REFUSALS = {
    "no token": ({}, {}),
    "a forged token": ({"csrf_token": "forged"}, {"X-CSRFToken": "forged"}),
}


def _refused(app: Flask, client: FlaskClient, world: World, route: Route, refusal: str) -> list[str]:
    """What went wrong when `route` is posted with `refusal` instead of the session's token; empty when refused."""
    fields, headers = REFUSALS[refusal]
    before = fingerprint(app)
    response = client.post(route.url(world), data={**route.form(world), **fields}, headers=headers)
    problems = []
    if response.status_code != 400:
        problems.append(f"{route.rule} with {refusal}: answered {response.status_code}, not 400")
    elif "This form has expired" not in response.get_data(as_text=True):
        problems.append(f"{route.rule} with {refusal}: the 400 does not say the form has expired")
    if fingerprint(app) != before:
        problems.append(f"{route.rule} with {refusal}: something changed")
    if route.role is not None and client.get("/account").status_code != 200:
        problems.append(f"{route.rule} with {refusal}: the session ended (not even a logout may happen)")
    return problems


@pytest.mark.parametrize("role", SHARED_ROLES)
def test_posts_without_the_right_token_are_refused_and_change_nothing(csrf_on: Flask, world: World, role: str) -> None:
    """Every route of the role, posted with no token and with a forged one (in the form and in htmx's header): 400,
    the page says the form has expired, nothing changes and the user is still logged in."""
    routes = [route for route in STATE_CHANGING if route.before is None and (route.role or "anonymous") == role]
    assert routes
    client = _client_for(csrf_on, world, routes[0])
    problems: list[str] = []
    for route in routes:
        for refusal in REFUSALS:
            found = _refused(csrf_on, client, world, route, refusal)
            if found and route.role is not None:  # a failure may have ended the session: go on logged in again
                client = _client_for(csrf_on, world, route)
            problems += found
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
@pytest.mark.parametrize("rule", OWN_WORLD)
def test_a_route_reached_through_its_own_steps_refuses_a_post_without_the_right_token(
    csrf_on: Flask, world: World, rule: str, refusal: str
) -> None:
    route = ROUTES[rule]
    client = _client_for(csrf_on, world, route)
    assert _refused(csrf_on, client, world, route, refusal) == []


@pytest.mark.parametrize("rule", sorted(ROUTES))
def test_post_with_the_token_in_the_form_works(csrf_on: Flask, world: World, rule: str) -> None:
    route = ROUTES[rule]
    client = _client_for(csrf_on, world, route)
    token = _token(client, "/account" if route.role else "/login")
    before = fingerprint(csrf_on)
    response = client.post(route.url(world), data={**route.form(world), "csrf_token": token})
    assert response.status_code == route.done, response.get_data(as_text=True)[-2000:]
    if rule not in ("/login", "/logout"):  # those two change only the session and the audit trail
        assert fingerprint(csrf_on) != before


def test_htmx_post_with_the_header_token_works(csrf_on: Flask, world: World) -> None:
    client = _client_for(csrf_on, world, ROUTES["/account/password"])
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
    """GET on every GET page the admin and the owner can reach leaves every table as it was."""
    log_in(client, world.emails["admin"])
    before = fingerprint(app)
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or set()) and not rule.arguments:
            client.get(rule.rule).close()
    for path in (
        f"/console/dealers/{world.own_dealer}",
        f"/admin/dealers/{world.own_dealer}/edit",
        f"/admin/territories/{world.people.territory}/edit",
        f"/admin/users/{world.people.staff}/edit",
        f"/admin/periods/{world.open_period}/close",
        f"/console/dealers/{world.own_dealer}/statements/{world.current_period}?extra=5000",
        f"/console/dealers/{world.own_dealer}/statements/{world.previous_period}.csv",
        f"/console/dealers/{world.own_dealer}/adjustments",
        f"/console/sales-imports/{world.rebates.own_import}",
        f"/console/sales-imports/{world.rebates.own_import}/confirm",
        f"/admin/programs/{world.rebates.program}/edit",
        f"/admin/programs/new/{world.current_period}",
        f"/console/targets/{world.current_period}/{world.own_dealer}",
        "/admin/statements/pay",
        f"/training/sessions/{world.training.upcoming_session}",
        f"/console/training/sessions/{world.training.began_session}",
        f"/admin/courses/{world.training.course}/edit",
        f"/admin/training/sessions/{world.training.upcoming_session}/edit",
        f"/training/certificates/{world.training.own_certificate}",
        f"/verify?number={world.training.own_certificate}",
    ):
        client.get(path).close()
    owner = app.test_client()
    log_in(owner, world.emails["dealer_owner"])
    owner.get("/dealer/people").close()
    owner.get(f"/dealer/statements/{world.current_period}?extra=1000").close()
    owner.get(f"/dealer/statements/{world.previous_period}.csv").close()
    owner.get(f"/training/enrollments/{world.training.own_enrollment}.ics").close()
    owner.get(f"/training/sessions/{world.training.upcoming_session}/enrol").close()
    owner.get(f"/dealer/people/trainees/{world.people.own_trainee}/edit").close()
    owner.get(f"/dealer/people/staff/{world.people.staff}/deactivate").close()
    after = fingerprint(app)
    assert after[1:] == before[1:]
    assert after[0] == before[0] + 1  # only the owner's login.succeeded was audited
