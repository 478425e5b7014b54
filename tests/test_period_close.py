"""A period's life is guarded: it closes after its end plus the grace days, by two people (an admin asks after the
preview, a senior manager or another admin confirms), and an admin may reopen it with a reason while nothing of it
is paid: what the close booked is reversed, the statements recomputed, the dealers told."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.extensions import db
from portal.notifications.models import Notification
from portal.rebates import ledger
from portal.rebates.models import LedgerEntry, LedgerKind, RebateStatement, StatementStatus
from portal.rebates.services import recompute_statements
from tests.factories import Channel, make_sales, period
from tests.helpers import logged_in_client, past_the_grace_days

pytestmark = pytest.mark.calendar


def status_of(app: Flask, code: str) -> PeriodStatus:
    with app.app_context():
        return db.session.execute(sa.select(Period.status).where(Period.code == code)).scalar_one()


def ends_on(app: Flask, code: str):  # type: ignore[no-untyped-def]
    with app.app_context():
        return period(code).ends_on


@pytest.mark.usefixtures("rebate_records")
def test_no_close_before_the_end_and_the_grace_days(app: Flask, channel: Channel) -> None:
    last_day = ends_on(app, channel.current_period)
    for days_after, allowed in ((0, False), (9, False), (10, True)):
        with past_the_grace_days(last_day + timedelta(days=days_after - 11)):
            admin = logged_in_client(app, channel.emails["admin"])
            answer = admin.post(f"/admin/periods/{channel.current_period}/close")
            if not allowed:
                assert answer.status_code == 409
                assert "can close from" in answer.get_data(as_text=True)
            else:
                assert answer.status_code == 303
    assert status_of(app, channel.current_period) is PeriodStatus.OPEN  # asked for, not closed: one person


@pytest.mark.usefixtures("rebate_records", "dispute_records")
def test_two_people_close_after_reading_the_preview(app: Flask, channel: Channel) -> None:
    last_day = ends_on(app, channel.current_period)
    with app.app_context():
        totals = db.session.execute(
            sa.select(
                sa.func.count(), sa.func.sum(RebateStatement.rebate), sa.func.sum(RebateStatement.net_payable)
            ).where(RebateStatement.period.has(code=channel.current_period))
        ).one()
    with past_the_grace_days(last_day):
        admin = logged_in_client(app, channel.emails["admin"])
        preview = admin.get(f"/admin/periods/{channel.current_period}/close").get_data(as_text=True)
        assert "Statements in CNY" in preview and f"{totals[0]} dealers" in preview
        assert "Sales files checked but not imported yet" in preview  # the two ready imports of the channel
        assert "Violations waiting for confirmation" in preview and f"{channel.own_dealer}: CN¥1,000.00" in preview
        assert admin.post(f"/admin/periods/{channel.current_period}/close").status_code == 303
        # The one who asked cannot confirm; nothing is closed by one person.
        refused = admin.post(f"/admin/periods/{channel.current_period}/close/confirm")
        assert refused.status_code == 409 and "not the one who asked" in refused.get_data(as_text=True)
        with app.app_context():
            told = db.session.execute(
                sa.select(sa.func.count()).where(Notification.kind == "period_close_requested")
            ).scalar_one()
            assert told >= 1  # the senior manager and the other admins
            second = db.session.execute(sa.select(Dealer).where(Dealer.code == channel.second_dealer)).scalar_one()
            make_sales(second, period(channel.current_period), [1_000_000], prefix="LATE")
            recompute_statements(period(channel.current_period), [second.id])
            db.session.commit()
        senior = logged_in_client(app, channel.emails["senior_manager"])
        page = senior.get(f"/admin/periods/{channel.current_period}/close").get_data(as_text=True)
        assert "Statements changed since the close was asked for" in page and channel.second_dealer in page
        assert senior.post(f"/admin/periods/{channel.current_period}/close/confirm").status_code == 303
    assert status_of(app, channel.current_period) is PeriodStatus.CLOSED
    with app.app_context():
        final = db.session.execute(
            sa.select(sa.func.count()).where(
                RebateStatement.period.has(code=channel.current_period),
                RebateStatement.status == StatementStatus.FINAL,
            )
        ).scalar_one()
        booked = db.session.execute(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.period.has(code=channel.current_period)
            )
        ).scalar_one()
        net = db.session.execute(
            sa.select(sa.func.sum(RebateStatement.net_payable)).where(
                RebateStatement.period.has(code=channel.current_period)
            )
        ).scalar_one()
    assert final == totals[0] and booked == net


@pytest.mark.usefixtures("rebate_records")
def test_reopening_reverses_the_close_and_tells_the_dealers(app: Flask, channel: Channel) -> None:
    """The previous quarter is closed and unpaid: reopening it needs a reason, reverses its entries (new entries,
    nothing edited), makes its statements provisional again and tells the owners; a paid one cannot reopen."""
    admin = logged_in_client(app, channel.emails["admin"])
    with app.app_context():
        own_id = db.session.execute(sa.select(Dealer.id).where(Dealer.code == channel.own_dealer)).scalar_one()
        before = ledger.balances([own_id])[own_id]
        entries_before = db.session.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one()
    assert before == 2_100_000
    missing = admin.post(f"/admin/periods/{channel.previous_period}/reopen", data={"reason": " "})
    assert missing.status_code == 422 and "Say why the period reopens" in missing.get_data(as_text=True)
    answer = admin.post(
        f"/admin/periods/{channel.previous_period}/reopen", data={"reason": "A sales file of the quarter was missed."}
    )
    assert answer.status_code == 303
    assert status_of(app, channel.previous_period) is PeriodStatus.OPEN
    with app.app_context():
        assert ledger.balances([own_id])[own_id] == 0
        reversals = (
            db.session.execute(sa.select(LedgerEntry.amount).where(LedgerEntry.kind == LedgerKind.REVERSAL))
            .scalars()
            .all()
        )
        total = db.session.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one()
        assert total == 2 * entries_before and -2_100_000 in reversals  # each entry reversed once
        statuses = set(
            db.session.execute(
                sa.select(RebateStatement.status).where(RebateStatement.period.has(code=channel.previous_period))
            ).scalars()
        )
        assert statuses == {StatementStatus.PROVISIONAL}
        told = (
            db.session.execute(sa.select(Notification.params).where(Notification.kind == "rebate_period_reopened"))
            .scalars()
            .all()
        )
        assert told and told[0]["reason"] == "A sales file of the quarter was missed."


@pytest.mark.usefixtures("rebate_records")
def test_a_period_with_a_paid_statement_cannot_reopen(app: Flask, channel: Channel) -> None:
    admin = logged_in_client(app, channel.emails["admin"])
    with app.app_context():
        statement_id = db.session.execute(
            sa.select(RebateStatement.id)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(Dealer.code == channel.own_dealer, RebateStatement.period.has(code=channel.previous_period))
        ).scalar_one()
    paid = admin.post("/admin/statements/pay", data={"reference": "BANK-9", "statement_id": [str(statement_id)]})
    assert paid.status_code == 303
    refused = admin.post(f"/admin/periods/{channel.previous_period}/reopen", data={"reason": "Try"})
    assert refused.status_code == 409 and "are paid: it cannot reopen" in refused.get_data(as_text=True)
    assert status_of(app, channel.previous_period) is PeriodStatus.CLOSED


@pytest.mark.usefixtures("rebate_records")
def test_a_withdrawn_request_needs_asking_again(app: Flask, channel: Channel) -> None:
    last_day = ends_on(app, channel.current_period)
    with past_the_grace_days(last_day):
        admin = logged_in_client(app, channel.emails["admin"])
        assert admin.post(f"/admin/periods/{channel.current_period}/close").status_code == 303
        assert admin.post(f"/admin/periods/{channel.current_period}/close/withdraw").status_code == 303
        senior = logged_in_client(app, channel.emails["senior_manager"])
        refused = senior.post(f"/admin/periods/{channel.current_period}/close/confirm")
        assert refused.status_code == 409 and "an admin asks for it first" in refused.get_data(as_text=True)
    assert status_of(app, channel.current_period) is PeriodStatus.OPEN
