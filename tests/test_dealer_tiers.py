"""A dealer's tier has a history, and a period is rated with the tier in force on its first day: moving a dealer
from silver to gold mid-quarter leaves the quarter's rebate as it was earned; an admin may backdate a change to an
open period (with a reason, the dealer told); a closed period is never re-rated."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.accounts.models import DealerRole, UserRole
from portal.audit.models import AuditEvent
from portal.dealers.models import Dealer, DealerTier, DealerTierChange
from portal.dealers.tiers import apply_due_tier_changes, tiers_on
from portal.extensions import db
from portal.notifications.models import Notification
from portal.rebates.models import RebateProgram, RebateStatement
from portal.rebates.services import recompute_statements
from tests.factories import (
    Channel,
    RebateRecords,
    examples,
    make_dealer,
    make_program,
    make_sales,
    make_target,
    make_user,
    period,
    person,
)
from tests.helpers import close_by_two, example_savepoint, logged_in_client, past_the_grace_days

pytestmark = pytest.mark.calendar

TARGET = 100_000_000  # CN¥1,000,000.00
SALES = 105_000_000  # 105 %: the silver program's 100 % tier, 2 %; the gold program's 100 % tier, 4 %
SILVER_TIERS = ((9000, 100), (10000, 200), (11000, 300))
GOLD_TIERS = ((9000, 200), (10000, 400), (11000, 600))


def retroactive_rebate(sales: int, target: int, tiers: tuple[tuple[int, int], ...]) -> int:
    """Written here, apart from the rebate module: the rate of the highest tier reached, on all sales, half up."""
    rate = 0
    for threshold, tier_rate in tiers:
        if sales * 10_000 >= threshold * target:
            rate = tier_rate
    exact = Decimal(sales) * Decimal(rate) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def silver_dealer(app: Flask, channel: Channel) -> str:
    """A silver dealer with a target and sales this quarter; this quarter's programs: one for bronze and silver,
    one for gold and platinum paying twice the rate."""
    with app.app_context():
        current = period(channel.current_period)
        for program in db.session.execute(
            sa.select(RebateProgram).where(RebateProgram.period_id == current.id)
        ).scalars():
            program.eligible_tiers = ""  # kept (statements name it), covering no tier any more
        db.session.flush()
        make_program(current, name="Silver", eligible="bronze,silver", tiers=SILVER_TIERS)
        make_program(current, name="Gold", eligible="gold,platinum", tiers=GOLD_TIERS)
        dealer = make_dealer(tier=DealerTier.SILVER, manager=person(channel.people.manager))
        make_user(
            UserRole.DEALER,
            email=f"owner-{dealer.code.lower()}@example.test",
            name="Silver Owner",
            dealer=dealer,
            dealer_role=DealerRole.OWNER,
        )
        make_target(dealer, current, TARGET)
        make_sales(dealer, current, [SALES])
        recompute_statements(current, [dealer.id])
        db.session.commit()
        return dealer.code


def statement_rebate(app: Flask, code: str, period_code: str) -> tuple[int, str]:
    with app.app_context():
        statement = db.session.execute(
            sa.select(RebateStatement)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(Dealer.code == code, RebateStatement.period.has(code=period_code))
        ).scalar_one()
        return statement.rebate, statement.status.value


def dealer_tier(app: Flask, code: str) -> DealerTier:
    with app.app_context():
        return db.session.execute(sa.select(Dealer.tier).where(Dealer.code == code)).scalar_one()


def change(
    app: Flask, channel: Channel, code: str, tier: str, effective_from: str, why: str = "Good year"
) -> tuple[int, str]:
    admin = logged_in_client(app, channel.emails["admin"])
    response = admin.post(
        f"/console/dealers/{code}/tier", data={"tier": tier, "effective_from": effective_from, "why": why}
    )
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.usefixtures("rebate_records")
def test_a_mid_quarter_upgrade_leaves_the_quarter_as_it_was_earned(app: Flask, channel: Channel) -> None:
    code = silver_dealer(app, channel)
    earned = retroactive_rebate(SALES, TARGET, SILVER_TIERS)
    assert earned == 2_100_000  # CN¥21,000.00, the figure of the report
    assert statement_rebate(app, code, channel.current_period) == (earned, "provisional")
    status, _html = change(app, channel, code, "gold", channel.next_period_start)
    assert status == 303
    # Today the dealer is still silver.
    assert dealer_tier(app, code) is DealerTier.SILVER
    first_day = date.fromisoformat(channel.next_period_start)
    with app.app_context():
        assert apply_due_tier_changes(first_day - timedelta(days=1)) == 0
        # The next quarter begins (the hourly task makes the dealer gold) while this one is still open for late
        # sales: the late import re-rates nothing, and the close freezes the quarter as it was earned, silver.
        assert apply_due_tier_changes(first_day) == 1
        db.session.commit()
    assert dealer_tier(app, code) is DealerTier.GOLD
    with past_the_grace_days(first_day - timedelta(days=1)), app.app_context():
        current = period(channel.current_period)
        dealer = db.session.execute(sa.select(Dealer).where(Dealer.code == code)).scalar_one()
        make_sales(dealer, current, [1], prefix="LATE")
        recompute_statements(current)
        close_by_two(current, person(channel.people.admin), person(channel.people.senior_manager))
        db.session.commit()
        assert tiers_on([dealer.id], first_day - timedelta(days=1)) == {dealer.id: DealerTier.SILVER}
        assert tiers_on([dealer.id], first_day) == {dealer.id: DealerTier.GOLD}
    late = retroactive_rebate(SALES + 1, TARGET, SILVER_TIERS)
    assert statement_rebate(app, code, channel.current_period) == (late, "final")


@pytest.mark.usefixtures("rebate_records")
def test_an_admin_backdates_to_an_open_period_which_is_re_rated_and_the_dealer_told(
    app: Flask, channel: Channel
) -> None:
    code = silver_dealer(app, channel)
    with app.app_context():
        start = period(channel.current_period).starts_on.isoformat()
    status, html = change(app, channel, code, "gold", start, why="Upgrade agreed in October")
    assert status == 303, html
    assert dealer_tier(app, code) is DealerTier.GOLD
    assert statement_rebate(app, code, channel.current_period) == (
        retroactive_rebate(SALES, TARGET, GOLD_TIERS),
        "provisional",
    )
    with app.app_context():
        told = (
            db.session.execute(sa.select(Notification).where(Notification.kind == "dealer_tier_changed"))
            .scalars()
            .all()
        )
        assert len(told) == 1 and told[0].params["reason"] == "Upgrade agreed in October"
        assert told[0].params["old"]["value"] == "silver" and told[0].params["new"]["value"] == "gold"
        audit = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "dealer.tier_changed")).scalar_one()
        assert audit.details["after"] == {"tier": "gold", "effective_from": start}
    page = logged_in_client(app, channel.emails["manager"]).get(f"/console/dealers/{code}").get_data(as_text=True)
    assert "Upgrade agreed in October" in page and "since joining" in page
    assert "Change the tier" not in page  # managers see the history; admins change it


@pytest.mark.usefixtures("rebate_records")
def test_a_closed_period_is_never_re_rated(app: Flask, channel: Channel) -> None:
    with app.app_context():
        previous = period(channel.previous_period)
        previous_start = previous.starts_on.isoformat()
        before = db.session.execute(
            sa.select(RebateStatement.rebate, RebateStatement.net_payable)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(Dealer.code == channel.own_dealer, RebateStatement.period_id == previous.id)
        ).one()
    status, html = change(app, channel, channel.own_dealer, "bronze", previous_start)
    assert status == 422 and "Not a valid choice" in html
    with app.app_context():
        after = db.session.execute(
            sa.select(RebateStatement.rebate, RebateStatement.net_payable)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(Dealer.code == channel.own_dealer, RebateStatement.period.has(code=channel.previous_period))
        ).one()
        assert tuple(after) == tuple(before)
        assert db.session.execute(sa.select(sa.func.count()).select_from(DealerTierChange)).scalar_one() == 0


@pytest.mark.usefixtures("rebate_records")
def test_a_change_needs_a_reason_and_a_different_tier(app: Flask, channel: Channel) -> None:
    status, html = change(app, channel, channel.own_dealer, "platinum", channel.next_period_start, why=" ")
    assert status == 422 and "Say why the tier changes" in html
    status, html = change(app, channel, channel.own_dealer, "gold", channel.next_period_start)  # D001 is gold
    assert status == 422 and "The dealer already has this tier from that day." in html
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(DealerTierChange)).scalar_one() == 0
    manager = logged_in_client(app, channel.emails["manager"])
    refused = manager.post(
        f"/console/dealers/{channel.own_dealer}/tier",
        data={"tier": "bronze", "effective_from": channel.next_period_start, "why": "x"},
    )
    assert refused.status_code == 403


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tier=st.one_of(st.sampled_from([tier.value for tier in DealerTier]), st.text(max_size=12)),
    day=st.one_of(st.just("next"), st.just("start"), st.dates().map(date.isoformat), st.text(max_size=12)),
    why=st.text(max_size=1200),
)
def test_any_tier_form_saves_one_change_or_nothing(
    app: Flask,
    db_connection: sa.Connection,
    channel: Channel,
    rebate_records: RebateRecords,
    tier: str,
    day: str,
    why: str,
) -> None:
    with example_savepoint(db_connection):
        with app.app_context():
            start = period(channel.current_period).starts_on.isoformat()
            before = db.session.execute(sa.select(sa.func.count()).select_from(DealerTierChange)).scalar_one()
        effective = {"next": channel.next_period_start, "start": start}.get(day, day)
        status, _html = change(app, channel, channel.own_dealer, tier, effective, why=why)
        assert status in (303, 400, 422)  # 400: a NUL byte, refused before any form is read
        with app.app_context():
            after = db.session.execute(sa.select(sa.func.count()).select_from(DealerTierChange)).scalar_one()
            told = db.session.execute(
                sa.select(sa.func.count()).select_from(Notification).where(Notification.kind == "dealer_tier_changed")
            ).scalar_one()
        if status == 303:
            assert after in (before + 1, before + 2)  # the change, and the first row of the history if new
            assert told == 1
        else:
            assert (after, told) == (before, 0)
