"""Campaign settlements and acknowledgements raced, with real commits on a file SQLite database and on
PostgreSQL, threads released together: two people confirming one settlement book it once; two owners of one dealer
acknowledging an announcement at once keep one acknowledgement, and neither fails.

No race with the close of the period the rewards go to: they go to the period of the settlement's day, which
cannot be closed before it has ended and its grace days passed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import DealerRole, User, UserRole
from portal.campaigns import services
from portal.campaigns.models import Campaign, CampaignResult
from portal.campaigns.rules import CampaignStatus
from portal.dealers.models import Acknowledgement, Period
from portal.extensions import db
from portal.news import services as news_services
from portal.news.models import Announcement
from portal.rebates.models import LedgerEntry, SalesLine
from tests.factories import dealer_of, make_campaign, make_user, make_world, period, today
from tests.helpers import BACKENDS, dispose_app, race_app
from tests.threads import acting_as, run_together


def _ended_campaign_with_sales(world_codes: tuple[str, ...], requested_by: User, current: Period) -> int:
    """Ended yesterday, asked to be settled by `requested_by`; each dealer sold 30 AC-1200 in it: 30 x 50.00 each,
    a budget of 2,000.00 that the three dealers' 4,500.00 must share."""
    ended_on = today() - timedelta(days=1)
    campaign = make_campaign(
        starts_on=ended_on - timedelta(days=5),
        ends_on=ended_on,
        budget=200_000,
        status=CampaignStatus.SETTLEMENT_REQUESTED,
        settlement_requested_by_id=requested_by.id,
    )
    for number, code in enumerate(world_codes):
        db.session.add(
            SalesLine(
                dealer_id=dealer_of(code).id,
                period_id=current.id,
                booked_period_id=current.id,
                sold_on=ended_on,
                amount=13_500_000,
                units=30,
                sku="AC-1200",
                invoice_ref=f"RACE-{number}",
            )
        )
    return campaign.id


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_people_confirming_one_settlement_at_once_book_it_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        make_user(UserRole.MANAGER, email="senior2@example.test", name="Second Senior", is_senior=True)
        current = period(world.current_period)
        if current.starts_on > today() - timedelta(days=6):
            pytest.skip("the campaign's days must fall in the open quarter")
        campaign_id = _ended_campaign_with_sales(
            (world.own_dealer, world.second_dealer, world.foreign_dealer), admin, current
        )
        db.session.commit()
    try:
        results = run_together(
            [
                acting_as(app, email, Campaign, campaign_id, services.settle)
                for email in (world.emails["senior_manager"], "senior2@example.test")
            ]
        )
        with app.app_context():
            booked = db.session.execute(
                select(func.count(), func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.source == f"campaign:{campaign_id}"
                )
            ).one()
            kept = db.session.execute(
                select(func.count()).where(CampaignResult.campaign_id == campaign_id)
            ).scalar_one()
            settled = db.session.get(Campaign, campaign_id)
            assert settled is not None
            status, total = settled.status, settled.settled_total
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert status is CampaignStatus.SETTLED
    assert tuple(booked) == (3, 200_000) and total == 200_000  # three shares of the budget, booked once
    assert kept == 3


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_owners_of_one_dealer_acknowledging_at_once_keep_one_acknowledgement(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Both presses succeed (the second finds the first's); the dealer has one acknowledgement."""
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        make_user(
            UserRole.DEALER,
            email="owner1b@example.test",
            dealer=dealer_of(world.own_dealer),
            dealer_role=DealerRole.OWNER,
        )
        db.session.commit()
    try:
        results = run_together(
            [
                acting_as(app, email, Announcement, world.news.notice, news_services.acknowledge)
                for email in (world.emails["dealer_owner"], "owner1b@example.test")
            ]
        )
        with app.app_context():
            kept = db.session.execute(
                select(func.count()).where(
                    Acknowledgement.subject_type == "announcement", Acknowledgement.subject_id == world.news.notice
                )
            ).scalar_one()
    finally:
        dispose_app(app)
    assert results == ["done", "done"]
    assert kept == 1
