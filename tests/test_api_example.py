"""The README's Python client (docs/examples/erp_client.py) run against the application: the example an integrator
copies works as written."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.api import clients
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.extensions import db
from portal.rebates.models import SalesLine
from tests.factories import Channel, user

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "erp_client.py"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("erp_client", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.usefixtures("claim_records")
def test_the_python_example_pushes_sales_pays_claims_and_reads_events(app: Flask, channel: Channel) -> None:
    example = _example()
    with app.app_context():
        _made, token = clients.create_client(
            user(channel, "admin"), "Example ERP", ["sales:write", "claims:read", "payments:write", "events:read"], []
        )
        db.session.commit()
        approved = db.session.execute(
            select(func.count())
            .select_from(Claim)
            .where(Claim.status.in_((ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)))
        ).scalar_one()
    http = app.test_client()

    def send(method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str]) -> tuple[int, Any]:
        path = url.split("://", 1)[1].split("/", 1)[1]
        answer = http.open("/" + path, method=method, data=json.dumps(body) if body else None, headers=headers)
        return answer.status_code, answer.get_json(silent=True) or {}

    portal = example.Portal("http://portal.test", token, send)
    assert portal.get("/me")["client"] == "Example ERP"
    _items, seen = example.events_since(portal, 0)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    lines = [{"dealer_code": channel.own_dealer, "date": today, "amount": "880.00", "invoice_ref": "EX-1"}]
    assert example.push_sales(portal, lines, "export-1")["imported"] == 1
    assert example.push_sales(portal, lines, "export-1")["imported"] == 1  # the same export: answered again
    corrected = [{**lines[0], "amount": "800.00"}]
    assert example.push_sales(portal, corrected, "export-2")["status"] == "imported"
    with app.app_context():
        total = db.session.execute(select(func.sum(SalesLine.amount)).where(SalesLine.invoice_ref == "EX-1")).scalar()
    assert total == 80000  # 880.00 booked, reversed, 800.00 booked
    assert approved and example.pay_approved_claims(portal, "TRF-EX-1") == approved
    events, _next = example.events_since(portal, seen)
    assert [event["kind"] for event in events].count("claim.paid") == approved
