"""Targets and promotion budgets are one kind of page ("an amount per dealer and period"): the same upload rules
hold for both, so each case runs for both kinds."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.audit.models import AuditEvent
from portal.claims.models import FundAllocation
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.rebates.models import Target
from tests.factories import Channel
from tests.helpers import line_errors_of, logged_in_client


@dataclass(frozen=True)
class Kind:
    role: str
    page: str  # /console/targets or /admin/budgets
    model: type
    header: str  # the English amount column
    chinese_header: str
    audit_action: str
    frozen: str
    period: str  # which of the channel's open periods: targets are set freely only before a period starts


KINDS = [
    Kind(
        "manager", "/console/targets", Target, "target", "目标", "target.set", "its targets are frozen", "open_period"
    ),
    Kind(
        "admin",
        "/admin/budgets",
        FundAllocation,
        "budget",
        "预算",
        "fund_allocation.set",
        "its budgets are frozen",
        "current_period",
    ),
]


def _amount_of(app: Flask, kind: Kind, code: str, period_code: str) -> int | None:
    with app.app_context():
        return db.session.execute(
            sa.select(kind.model.amount)
            .join(Dealer, Dealer.id == kind.model.dealer_id)
            .join(Period, Period.id == kind.model.period_id)
            .where(Dealer.code == code, Period.code == period_code)
        ).scalar_one_or_none()


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_an_excel_export_with_chinese_headers_is_read(app: Flask, channel: Channel, kind: Kind) -> None:
    """Excel's "CSV UTF-8" has a byte-order mark and CRLF line ends, quotes amounts with thousands separators and
    leaves blank lines at the end; a dealer code typed in lower case is the same dealer."""
    client = logged_in_client(app, channel.emails[kind.role])
    content = (
        f'\ufeff经销商代码,{kind.chinese_header}\r\n{channel.own_dealer.lower()},"1,234,567.89"\r\n'
        f'{channel.second_dealer},"2,000"\r\n,\r\n\r\n'
    ).encode()
    saved = client.post(
        f"{kind.page}/{getattr(channel, kind.period)}/import", data={"file": (io.BytesIO(content), "x.csv")}
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert _amount_of(app, kind, channel.own_dealer, getattr(channel, kind.period)) == 123_456_789
    assert _amount_of(app, kind, channel.second_dealer, getattr(channel, kind.period)) == 200_000
    assert "CN¥1,234,567.89" in client.get(f"{kind.page}?period={getattr(channel, kind.period)}").get_data(as_text=True)
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.details).where(AuditEvent.action == kind.audit_action)
        ).scalars()
        assert {(event["period"], event["after"]) for event in events} >= {
            (getattr(channel, kind.period), 123_456_789),
            (getattr(channel, kind.period), 200_000),
        }


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_a_closed_period_takes_no_file_and_no_amount(app: Flask, channel: Channel, kind: Kind) -> None:
    client = logged_in_client(app, channel.emails[kind.role])
    before = _amount_of(app, kind, channel.own_dealer, channel.previous_period)
    content = f"dealer_code,{kind.header}\n{channel.own_dealer},500\n".encode()
    upload = client.post(f"{kind.page}/{channel.previous_period}/import", data={"file": (io.BytesIO(content), "x.csv")})
    assert upload.status_code == 409 and kind.frozen in upload.get_data(as_text=True)
    one = client.post(f"{kind.page}/{channel.previous_period}/{channel.own_dealer}", data={"amount": "500"})
    assert one.status_code == 409 and kind.frozen in one.get_data(as_text=True)
    assert _amount_of(app, kind, channel.own_dealer, channel.previous_period) == before
    page = client.get(f"{kind.page}?period={channel.previous_period}").get_data(as_text=True)
    assert kind.frozen in page and "Upload" not in page


@pytest.mark.usefixtures("claim_records")
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_every_bad_line_is_listed_and_nothing_saved(app: Flask, channel: Channel, kind: Kind) -> None:
    client = logged_in_client(app, channel.emails[kind.role])
    before = _amount_of(app, kind, channel.second_dealer, getattr(channel, kind.period))
    content = (
        f"dealer_code,{kind.header}\n{channel.second_dealer},700\n{channel.second_dealer},800\n"
        f"{channel.foreign_dealer},5\n{channel.own_dealer},abc\n"
    ).encode()
    refused = client.post(
        f"{kind.page}/{getattr(channel, kind.period)}/import", data={"file": (io.BytesIO(content), "x.csv")}
    )
    assert refused.status_code == 422
    rows = line_errors_of(refused.get_data(as_text=True))
    assert [row[0] for row in rows] == ["3", "4", "5"]
    assert rows[0] == ("3", "dealer_code", "Repeats line 2.")
    assert _amount_of(app, kind, channel.second_dealer, getattr(channel, kind.period)) == before
