"""`flask seed-scale` builds the benchmark's channel with bulk inserts: every kind of row in the asked numbers, the
demo logins still working, and the demo manager's portfolio grown with it. Small sizes here; the benchmark uses the
defaults."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.claims.models import Claim
from portal.dealers.models import Dealer
from portal.disputes.models import Dispute
from portal.extensions import db
from portal.rebates.models import RebateStatement, SalesLine
from portal.scale import Scale, seed_scale
from portal.training.models import Enrollment
from tests.helpers import log_in


def count(model: type) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_seed_scale_builds_every_kind_of_row(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        enrolments_before = 0
        counts = seed_scale(
            Scale(dealers=300, sales=20_000, claims=3_000, enrolments=200, disputes=100), report=lambda _line: None
        )
        assert count(Dealer) == 300 and counts["dealers"] == 294  # the six demo dealers, and the rest
        assert count(SalesLine) >= 20_000 and count(Claim) >= 3_000 and count(Dispute) >= 100
        assert count(Enrollment) - enrolments_before >= 200
        assert count(RebateStatement) >= 300  # every dealer has this quarter's statement
        again = seed_scale(Scale(dealers=300), report=lambda _line: None)
        assert again == {} and count(Dealer) == 300  # already big enough: nothing added
    log_in(client, "manager@demo.test", password="demo-password-1")
    assert client.get("/console/").status_code == 200
