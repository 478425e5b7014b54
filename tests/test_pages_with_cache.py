"""Page journeys with the page cache on, on a database that commits for real: every cached page (the dealer's home,
claims and statement, the console's portfolio and claim queue, the mediation home, the training catalogue) is read
twice (the second time from memory), changed by someone else through the portal, and read again. A page that kept
showing what it showed before the change, or showed one person what was rendered for another, fails here.

The rest of the suite runs with the cache off (each test inside a rolled-back transaction, where no commit happens
for the cache to notice); this module is where pages and the cache meet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from portal.extensions import db
from tests.factories import World, make_world
from tests.helpers import BACKENDS, build_app, dispose_app, fresh_database_url, log_in


@pytest.fixture(params=BACKENDS)
def cached(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, World]]:
    app = build_app(
        fresh_database_url(request.param, "pages_with_cache", tmp_path_factory),
        PAGE_CACHE_ENTRIES=200,
        PAGE_CACHE_SECONDS=600,
    )
    with app.app_context():
        upgrade()
        world = make_world()
        db.session.commit()
        db.session.remove()
    try:
        yield app, world
    finally:
        dispose_app(app)


def person(app: Flask, world: World, role: str) -> FlaskClient:
    client = app.test_client()
    log_in(client, world.emails[role])
    return client


def read_twice(client: FlaskClient, path: str) -> str:
    """The page, checked to come from memory the second time (so the next read after a change is a real test)."""
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == second.status_code == 200, path
    assert second.headers.get("X-Page-Cache") == "hit", path
    assert second.get_data(as_text=True) == first.get_data(as_text=True)
    return first.get_data(as_text=True)


def read_after_change(client: FlaskClient, path: str) -> str:
    """Rendered afresh: a miss, or (for the person who just acted) not cached at all while a message is flashed."""
    response = client.get(path)
    assert response.status_code == 200 and response.headers.get("X-Page-Cache") != "hit", path
    return response.get_data(as_text=True)


def test_a_submitted_claim_reaches_the_dealers_list_and_the_managers_queue(cached: tuple[Flask, World]) -> None:
    app, world = cached
    owner, manager = person(app, world, "dealer_owner"), person(app, world, "manager")
    assert "Ready draft" in read_twice(owner, "/claims/")
    assert "Ready draft" not in read_twice(manager, "/console/claims")
    assert owner.post(f"/claims/{world.claims.ready_draft}/submit").status_code == 303
    assert "Ready draft" in read_after_change(manager, "/console/claims")
    listed = read_after_change(owner, "/claims/")
    row = next(row for row in listed.split("<tr") if "Ready draft" in row)
    assert "claim-submitted" in row and "claim-draft" not in row


def test_a_status_change_reaches_the_portfolio_and_the_dealers_home(cached: tuple[Flask, World]) -> None:
    app, world = cached
    owner, manager, admin = (person(app, world, role) for role in ("dealer_owner", "manager", "admin"))
    assert "badge status-suspended" not in read_twice(manager, "/console/")
    home = read_twice(owner, "/dealer/")
    answer = admin.post(
        f"/console/dealers/{world.own_dealer}/status",
        data={"expected": "active", "status": "suspended", "reason": "Price war."},
    )
    assert answer.status_code == 303
    assert "badge status-suspended" in read_after_change(manager, "/console/")
    assert read_after_change(owner, "/dealer/") != home


def test_more_seats_reach_the_catalogue(cached: tuple[Flask, World]) -> None:
    """The upcoming session is full (two seats, two people); the admin makes it five: every dealer sees seats."""
    app, world = cached
    other_dealer, admin = person(app, world, "foreign_owner"), person(app, world, "admin")
    assert "/ 5" not in read_twice(other_dealer, "/training/")
    answer = admin.post(
        f"/admin/training/sessions/{world.training.upcoming_session}/edit",
        data={
            "starts_at": "2031-03-10T10:00",
            "ends_at": "2031-03-10T17:00",
            "place": "Shanghai",
            "online_link": "",
            "capacity": "5",
            "enrol_deadline": "2031-03-08T18:00",
            "cancel_deadline": "2031-03-07T18:00",
        },
    )
    assert answer.status_code == 303
    assert "3 / 5" in read_after_change(other_dealer, "/training/")


def test_a_new_dispute_reaches_the_mediators_home(cached: tuple[Flask, World]) -> None:
    app, world = cached
    owner, mediator = person(app, world, "dealer_owner"), person(app, world, "mediator")
    assert "Below the floor at the fair" not in read_twice(mediator, "/mediation/?queue=unassigned")
    answer = owner.post(
        "/disputes/new",
        data={
            "category": "pricing_conflict",
            "respondent": world.foreign_dealer,
            "claim_id": "",
            "statement_id": "",
            "title": "Below the floor at the fair",
            "description": "Quotes at 12 % under the floor.",
        },
    )
    assert answer.status_code == 303
    assert "Below the floor at the fair" in read_after_change(mediator, "/mediation/?queue=unassigned")


def test_an_adjustment_reaches_the_dealers_statement(cached: tuple[Flask, World]) -> None:
    app, world = cached
    owner, admin = person(app, world, "dealer_owner"), person(app, world, "admin")
    path = f"/dealer/statements/{world.current_period}"
    assert "Goodwill correction" not in read_twice(owner, path)
    answer = admin.post(
        f"/console/dealers/{world.own_dealer}/adjustments",
        data={"amount": "-120.50", "note": "Goodwill correction", "corrects": world.previous_period},
    )
    assert answer.status_code == 303
    assert "Goodwill correction" in read_after_change(owner, path)


def test_one_persons_page_is_never_anothers(cached: tuple[Flask, World]) -> None:
    """Two managers, two portfolios, the same URL: each sees their own, from memory too."""
    app, world = cached
    manager, other_manager = person(app, world, "manager"), person(app, world, "other_manager")
    mine = read_twice(manager, "/console/")
    theirs = read_twice(other_manager, "/console/")
    assert world.own_dealer in mine and world.own_dealer not in theirs
    assert world.foreign_dealer in theirs and world.foreign_dealer not in mine
