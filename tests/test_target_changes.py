"""Targets are governed once their period starts: a change is asked for with a reason, a senior manager other than
the asker decides, the dealer hears the old and new target and why, and the statement shows the history."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.notifications.models import Notification
from portal.rebates import rules
from portal.rebates.models import RebateStatement, Target, TargetChange
from portal.rebates.rules import TargetChangeStatus
from tests.factories import Channel, RebateRecords
from tests.helpers import logged_in_client

pytestmark = pytest.mark.calendar


def target_of(app: Flask, code: str, period_code: str) -> int | None:
    with app.app_context():
        return db.session.execute(
            sa.select(Target.amount)
            .join(Dealer, Dealer.id == Target.dealer_id)
            .join(Period, Period.id == Target.period_id)
            .where(Dealer.code == code, Period.code == period_code)
        ).scalar_one_or_none()


def test_before_a_period_starts_targets_are_set_freely(app: Flask, channel: Channel) -> None:
    manager = logged_in_client(app, channel.emails["manager"])
    saved = manager.post(f"/console/targets/{channel.open_period}/{channel.own_dealer}", data={"amount": "800,000"})
    assert saved.status_code == 303
    assert target_of(app, channel.own_dealer, channel.open_period) == 80_000_000


def test_a_started_periods_target_changes_only_when_a_senior_manager_approves(
    app: Flask, channel: Channel, rebate_records: RebateRecords
) -> None:
    manager = logged_in_client(app, channel.emails["manager"])
    url = f"/console/targets/{channel.current_period}/{channel.second_dealer}"
    missing = manager.post(url, data={"amount": "400,000"})
    assert missing.status_code == 422 and "Say why the target changes" in missing.get_data(as_text=True)
    asked = manager.post(url, data={"amount": "400,000", "reason": "Lost its biggest customer in October."})
    assert asked.status_code == 303
    assert "waits for a senior manager" in manager.get(asked.headers["Location"]).get_data(as_text=True)
    assert target_of(app, channel.second_dealer, channel.current_period) == 50_000_000  # not yet
    with app.app_context():
        change_id = db.session.execute(
            sa.select(TargetChange.id).where(TargetChange.new_amount == 40_000_000)
        ).scalar_one()
    # The manager cannot decide; the senior manager can, once.
    assert manager.post(f"/console/target-changes/{change_id}/approve").status_code == 403
    senior = logged_in_client(app, channel.emails["senior_manager"])
    page = senior.get("/console/target-changes").get_data(as_text=True)
    assert "Lost its biggest customer in October." in page and "CN¥500,000.00" in page
    assert senior.post(f"/console/target-changes/{change_id}/approve").status_code == 303
    assert senior.post(f"/console/target-changes/{change_id}/approve").status_code == 409
    assert target_of(app, channel.second_dealer, channel.current_period) == 40_000_000
    with app.app_context():
        statement = db.session.execute(
            sa.select(RebateStatement)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(Dealer.code == channel.second_dealer, RebateStatement.period.has(code=channel.current_period))
        ).scalar_one()
        # 10,000,000 of 40,000,000 is 25 %: below the first tier, computed here.
        assert statement.target == 40_000_000 and statement.rebate == 0 and 10_000_000 * 100 // 40_000_000 == 25
        decided = db.session.execute(
            sa.select(Notification.params).where(Notification.kind == "target_change_decided")
        ).scalar_one()
        assert decided["decision"]["value"] == TargetChangeStatus.APPROVED.value
    console = manager.get(f"/console/dealers/{channel.second_dealer}/statements/{channel.current_period}")
    html = console.get_data(as_text=True)
    assert "How the target changed" in html and "from CN¥500,000.00 to CN¥400,000.00" in html
    assert rules.awaits_decision(TargetChangeStatus.PENDING) and not rules.awaits_decision(TargetChangeStatus.APPROVED)


def test_the_dealer_hears_the_old_and_new_target_and_why(
    app: Flask, channel: Channel, rebate_records: RebateRecords
) -> None:
    senior = logged_in_client(app, channel.emails["senior_manager"])
    assert senior.post(f"/console/target-changes/{rebate_records.pending_target_change}/approve").status_code == 303
    owner = logged_in_client(app, channel.emails["dealer_owner"])
    bell = owner.get("/notifications/").get_data(as_text=True)
    assert "changed from CN¥1,000,000.00 to CN¥900,000.00: The territory was split." in bell


def test_a_rejection_needs_a_reason_and_changes_nothing(
    app: Flask, channel: Channel, rebate_records: RebateRecords
) -> None:
    senior = logged_in_client(app, channel.emails["senior_manager"])
    url = f"/console/target-changes/{rebate_records.pending_target_change}/reject"
    assert senior.post(url, data={"note": " "}).status_code == 422
    assert senior.post(url, data={"note": "Keep the target: the split starts next quarter."}).status_code == 303
    assert target_of(app, channel.own_dealer, channel.current_period) == 100_000_000
    with app.app_context():
        status = db.session.get(TargetChange, rebate_records.pending_target_change).status  # type: ignore[union-attr]
        assert status is TargetChangeStatus.REJECTED


def test_the_asker_cannot_approve_their_own_change(app: Flask, channel: Channel, rebate_records: RebateRecords) -> None:
    senior = logged_in_client(app, channel.emails["senior_manager"])
    asked = senior.post(
        f"/console/targets/{channel.current_period}/{channel.own_dealer}",
        data={"amount": "1,100,000", "reason": "Raised after the new store opened."},
    )
    assert asked.status_code == 303
    refused = senior.post(f"/console/target-changes/{rebate_records.pending_target_change}/approve")
    assert refused.status_code == 409 and "other than the one who asked" in refused.get_data(as_text=True)
