"""What the ERP pulls besides statements and claims: the ledger entries of a period (summing to what each dealer's
account says) and the violations a second person confirmed, with their changes since a time."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from portal.api import clients
from portal.dealers.models import Dealer, Period
from portal.disputes.models import Violation
from portal.extensions import db
from portal.rebates.models import LedgerEntry
from portal.types import utcnow
from tests.factories import Channel, DisputeRecords, RebateRecords, user
from tests.helpers import count_queries, walk_pages


def _token(app: Flask, channel: Channel, *scopes: str) -> str:
    with app.app_context():
        _made, token = clients.create_client(user(channel, "admin"), f"Reader {scopes}", list(scopes), [])
        db.session.commit()
        return token


def _ledger_period(app: Flask) -> str:
    with app.app_context():
        return db.session.execute(
            select(Period.code).join(LedgerEntry, LedgerEntry.period_id == Period.id).order_by(Period.id).limit(1)
        ).scalar_one()


@pytest.mark.usefixtures("rebate_records")
def test_ledger_entries_of_a_period_add_up_to_each_dealers_movements(app: Flask, channel: Channel) -> None:
    token = _token(app, channel, "statements:read")
    code = _ledger_period(app)
    items = walk_pages(app.test_client(), f"/api/v1/ledger-entries?period={code}&limit=2", token)
    with app.app_context():
        rows = db.session.execute(
            select(Dealer.code, LedgerEntry.amount, LedgerEntry.kind)
            .join(Dealer, Dealer.id == LedgerEntry.dealer_id)
            .join(Period, Period.id == LedgerEntry.period_id)
            .where(Period.code == code)
        ).all()
    expected: dict[str, int] = defaultdict(int)
    for dealer_code, amount, _kind in rows:
        expected[dealer_code] += amount
    summed: dict[str, int] = defaultdict(int)
    for item in items:
        summed[item["dealer_code"]] += item["amount"]
    assert rows and len(items) == len(rows) and summed == expected
    assert [item["id"] for item in items] == sorted(item["id"] for item in items)
    assert {item["kind"] for item in items} == {kind.value for _code, _amount, kind in rows}
    later = (utcnow() + timedelta(minutes=5)).isoformat().replace("+", "%2B")
    assert walk_pages(app.test_client(), f"/api/v1/ledger-entries?period={code}&updated_since={later}", token) == []
    earlier = (utcnow() - timedelta(days=400)).isoformat().replace("+", "%2B")
    since = walk_pages(app.test_client(), f"/api/v1/ledger-entries?period={code}&updated_since={earlier}", token)
    assert len(since) == len(rows)


def test_violations_are_the_confirmed_ones_with_what_changed_since(
    app: Flask, channel: Channel, dispute_records: DisputeRecords
) -> None:
    token = _token(app, channel, "statements:read")
    http = app.test_client()
    items = walk_pages(http, "/api/v1/violations?limit=1", token)
    ids = {item["id"] for item in items}
    assert dispute_records.own_violation in ids and dispute_records.foreign_violation in ids
    assert dispute_records.proposed_violation not in ids  # not confirmed by a second person
    with app.app_context():
        own = db.session.get(Violation, dispute_records.own_violation)
        assert own is not None
        shown = next(item for item in items if item["id"] == own.id)
        assert (shown["penalty"], shown["status"], shown["dealer_code"]) == (
            own.penalty,
            own.status.value,
            channel.own_dealer,
        )
    later = (utcnow() + timedelta(minutes=5)).isoformat().replace("+", "%2B")
    assert walk_pages(http, f"/api/v1/violations?updated_since={later}", token) == []
    earlier = (utcnow() - timedelta(days=1)).isoformat().replace("+", "%2B")
    assert {item["id"] for item in walk_pages(http, f"/api/v1/violations?updated_since={earlier}", token)} == ids


@pytest.mark.parametrize("scope", ["sales:write", "claims:read", "payments:write", "events:read", "dealers:write"])
def test_ledger_and_violations_need_statements_read(app: Flask, channel: Channel, scope: str) -> None:
    token = _token(app, channel, scope)
    http = app.test_client()
    for path in (f"/api/v1/ledger-entries?period={channel.previous_period}", "/api/v1/violations"):
        response = http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403 and response.get_json()["required_scope"] == "statements:read"


@pytest.mark.usefixtures("rebate_records", "dispute_records")
def test_ledger_and_violation_pages_cost_the_same_queries_for_one_or_many(
    app: Flask, channel: Channel, rebate_records: RebateRecords
) -> None:
    token = _token(app, channel, "statements:read")
    code = _ledger_period(app)
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    http.get("/api/v1/me", headers=headers)
    for path in (f"/api/v1/ledger-entries?period={code}", "/api/v1/violations?x=1"):
        with count_queries(app) as one:
            assert http.get(f"{path}&limit=1", headers=headers).status_code == 200
        with count_queries(app) as many:
            assert http.get(f"{path}&limit=500", headers=headers).status_code == 200
        assert len(many) == len(one) <= 4, path
