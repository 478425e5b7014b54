"""Targets put through the API by the pages' governance: set freely before the period starts, asked for (a senior
manager decides) once it started, frozen when closed; the same value again changes nothing and asks nobody twice."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.api import clients
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.notifications.models import Notification
from portal.rebates.models import Target, TargetChange
from portal.rebates.rules import TargetChangeStatus
from tests.factories import Channel, user

PROBLEM = "application/problem+json"


def _token(app: Flask, channel: Channel, *scopes: str) -> str:
    with app.app_context():
        _made, token = clients.create_client(user(channel, "admin"), f"Targets {scopes}", list(scopes), [])
        db.session.commit()
        return token


def _put(http: FlaskClient, token: str, period: str, dealer: str, body: dict[str, Any]) -> Any:
    return http.put(
        f"/api/v1/targets/{period}/{dealer}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def _target(app: Flask, dealer: str, period: str) -> int | None:
    with app.app_context():
        return db.session.execute(
            select(Target.amount)
            .join(Dealer, Dealer.id == Target.dealer_id)
            .join(Period, Period.id == Target.period_id)
            .where(Dealer.code == dealer, Period.code == period)
        ).scalar_one_or_none()


def test_a_target_of_a_period_not_started_is_set(app: Flask, channel: Channel) -> None:
    token = _token(app, channel, "targets:write")
    response = _put(app.test_client(), token, channel.open_period, channel.own_dealer, {"amount": "1,250,000.50"})
    assert response.status_code == 200, response.get_data(as_text=True)
    expected = int(Decimal("1250000.50") * 100)
    assert response.get_json()["outcome"] == "set" and response.get_json()["amount"] == expected
    assert _target(app, channel.own_dealer, channel.open_period) == expected
    again = _put(app.test_client(), token, channel.open_period, channel.own_dealer, {"amount": "1250000.5"})
    assert again.status_code == 200 and again.get_json()["outcome"] == "unchanged"


def test_a_target_of_a_started_period_waits_for_a_senior_manager(app: Flask, channel: Channel) -> None:
    token = _token(app, channel, "targets:write")
    http = app.test_client()
    before = _target(app, channel.own_dealer, channel.current_period)
    unexplained = _put(http, token, channel.current_period, channel.own_dealer, {"amount": "3000000.00"})
    assert unexplained.status_code == 422 and unexplained.get_json()["errors"][0]["field"] == "reason"
    body = {"amount": "3000000.00", "reason": "Annual plan revised in the ERP."}
    asked = _put(http, token, channel.current_period, channel.own_dealer, body)
    assert asked.status_code == 202 and asked.get_json()["outcome"] == "asked"
    assert asked.get_json()["current"] == before and _target(app, channel.own_dealer, channel.current_period) == before
    with app.app_context():
        notices = db.session.execute(select(func.count()).select_from(Notification)).scalar_one()
        waiting = db.session.execute(
            select(TargetChange.new_amount)
            .join(Dealer, Dealer.id == TargetChange.dealer_id)
            .where(Dealer.code == channel.own_dealer, TargetChange.status == TargetChangeStatus.PENDING)
        ).scalar_one()
    assert waiting == 300_000_000
    again = _put(http, token, channel.current_period, channel.own_dealer, body)
    assert again.status_code == 202 and again.get_json()["outcome"] == "already_asked"
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Notification)).scalar_one() == notices


def test_a_closed_periods_targets_are_frozen(app: Flask, channel: Channel) -> None:
    token = _token(app, channel, "targets:write")
    body = {"amount": "1.00", "reason": "Late."}
    response = _put(app.test_client(), token, channel.previous_period, channel.own_dealer, body)
    assert response.status_code == 409 and response.mimetype == PROBLEM


@pytest.mark.parametrize(
    ("period", "dealer", "amount", "status"),
    [
        ("2030-Q1", "NOPE", "1.00", 404),
        ("1999-Q9", "D001", "1.00", 404),
        ("2030-Q1", "D001", "ten", 422),
        ("2030-Q1", "D001", "0", 422),
        ("2030-Q1", "D001", "1.001", 422),
        ("2030-Q1", "D001", "1,5", 422),
    ],
)
def test_targets_that_cannot_be_right_are_problems(
    app: Flask, channel: Channel, period: str, dealer: str, amount: str, status: int
) -> None:
    token = _token(app, channel, "targets:write")
    response = _put(app.test_client(), token, period, dealer, {"amount": amount})
    assert response.status_code == status and response.mimetype == PROBLEM


@pytest.mark.parametrize("scope", ["dealers:write", "sales:write", "statements:read"])
def test_putting_a_target_needs_targets_write(app: Flask, channel: Channel, scope: str) -> None:
    token = _token(app, channel, scope)
    response = _put(app.test_client(), token, channel.open_period, channel.own_dealer, {"amount": "9.00"})
    assert response.status_code == 403 and response.get_json()["required_scope"] == "targets:write"
    assert _target(app, channel.own_dealer, channel.open_period) != 900
