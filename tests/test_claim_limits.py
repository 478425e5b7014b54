"""Review limits are written per currency: a claim is compared with its own currency's limits, and a claim in a
currency without configured limits is never approved in bulk and always goes to a second approver."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.dealers.models import Dealer
from portal.extensions import db
from tests.factories import Channel, ClaimRecords
from tests.helpers import logged_in_client

pytestmark = pytest.mark.calendar


def set_currency(app: Flask, code: str, currency: str) -> None:
    """Written straight to the table: the directory's form refuses this once money exists."""
    with app.app_context():
        db.session.execute(sa.update(Dealer).where(Dealer.code == code).values(currency=currency))
        db.session.commit()


def set_amount(app: Flask, claim_id: int, amount: int) -> None:
    with app.app_context():
        db.session.execute(sa.update(Claim).where(Claim.id == claim_id).values(amount_requested=amount))
        db.session.commit()


def bulk_checkbox(client: FlaskClient, claim_id: int) -> bool:
    return f'id="pick-{claim_id}"' in client.get("/console/claims").get_data(as_text=True)


def status_of(app: Flask, claim_id: int) -> ClaimStatus:
    with app.app_context():
        return db.session.execute(sa.select(Claim.status).where(Claim.id == claim_id)).scalar_one()


def test_a_claim_is_measured_against_its_own_currencys_limits(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    """$800.00 is under the CNY bulk limit written as a bare number (5,000.00), but over the USD one ($700.00)."""
    set_currency(app, channel.own_dealer, "USD")
    manager = logged_in_client(app, channel.emails["manager"])
    set_amount(app, claim_records.own_claim, 80_000)
    assert not bulk_checkbox(manager, claim_records.own_claim)
    refused = manager.post("/console/claims/bulk-approve", data={"claim_ids": [str(claim_records.own_claim)]})
    assert refused.status_code == 409
    assert status_of(app, claim_records.own_claim) is ClaimStatus.SUBMITTED
    set_amount(app, claim_records.own_claim, 60_000)
    assert bulk_checkbox(manager, claim_records.own_claim)
    queue = manager.get("/console/claims").get_data(as_text=True)
    assert re.search(r"up to CN¥5,000\.00, HK\$5,500\.00, \$700\.00 can be approved together", queue)
    review = manager.get(f"/console/claims/{claim_records.own_claim}").get_data(as_text=True)
    assert "Approving more than $2,800.00 goes to a senior manager" in review
    # US$2,900.00 is above USD's threshold: a second person decides.
    set_amount(app, claim_records.own_claim, 290_000)
    manager.post(f"/console/claims/{claim_records.own_claim}/decide", data={"decision": "approve"})
    assert status_of(app, claim_records.own_claim) is ClaimStatus.AWAITING_SECOND_APPROVAL


def test_without_limits_for_the_currency_every_approval_needs_a_second_person(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    set_currency(app, channel.own_dealer, "EUR")
    set_amount(app, claim_records.own_claim, 1_000)  # €10.00: small, but no limit says so
    manager = logged_in_client(app, channel.emails["manager"])
    assert not bulk_checkbox(manager, claim_records.own_claim)
    refused = manager.post("/console/claims/bulk-approve", data={"claim_ids": [str(claim_records.own_claim)]})
    assert refused.status_code == 409
    review = manager.get(f"/console/claims/{claim_records.own_claim}").get_data(as_text=True)
    assert "No review limits are configured for EUR" in review
    manager.post(f"/console/claims/{claim_records.own_claim}/decide", data={"decision": "approve"})
    assert status_of(app, claim_records.own_claim) is ClaimStatus.AWAITING_SECOND_APPROVAL
    senior = logged_in_client(app, channel.emails["senior_manager"])
    senior.post(f"/console/claims/{claim_records.own_claim}/decide", data={"decision": "approve"})
    assert status_of(app, claim_records.own_claim) is ClaimStatus.APPROVED


def test_in_the_home_currency_a_small_claim_is_still_bulk_approvable(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    manager = logged_in_client(app, channel.emails["manager"])
    assert bulk_checkbox(manager, claim_records.own_claim)  # CN¥3,000.00, under CN¥5,000.00
    approved = manager.post("/console/claims/bulk-approve", data={"claim_ids": [str(claim_records.own_claim)]})
    assert approved.status_code == 303
    assert status_of(app, claim_records.own_claim) is ClaimStatus.APPROVED
