"""Promotion budgets: allocation, approved, pending and left, computed from the claims' statuses."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select

from portal.accounts.models import User
from portal.claims.budgets import budget_of, set_allocation
from portal.claims.models import ActivityType, Claim
from portal.claims.rules import PENDING, ClaimStatus
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.service_errors import IllegalTransition, InvalidInput
from tests.factories import Channel

# Dates decide here (windows, deadlines, quarters): also run at a quarter's first and last minute and on 29 February.
pytestmark = pytest.mark.calendar


def _claim(dealer: Dealer, period: Period, status: ClaimStatus, asked: int, approved: int | None = None) -> None:
    kind = db.session.execute(select(ActivityType).where(ActivityType.code == "display")).scalar_one_or_none()
    if kind is None:
        kind = ActivityType(code="display", name_en="In-store display", name_zh="店内陈列")
        db.session.add(kind)
        db.session.flush()
    db.session.add(
        Claim(
            dealer_id=dealer.id,
            period_id=period.id,
            activity_type_id=kind.id,
            title="Display",
            activity_start=date(2026, 10, 1),
            activity_end=date(2026, 10, 2),
            amount_requested=asked,
            amount_approved=approved,
            budget_held=asked if status in PENDING else 0,
            status=status,
        )
    )
    db.session.flush()


def test_the_budget_counts_each_status_once(app: Flask, channel: Channel) -> None:
    with app.app_context():
        admin = db.session.execute(select(User).where(User.email == channel.emails["admin"])).scalar_one()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.second_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == channel.current_period)).scalar_one()
        set_allocation(admin, dealer, period, 10_000_000)
        for status, asked, approved in (
            (ClaimStatus.DRAFT, 900_000, None),
            (ClaimStatus.SUBMITTED, 1_000_000, None),
            (ClaimStatus.NEEDS_INFO, 200_000, None),
            (ClaimStatus.AWAITING_SECOND_APPROVAL, 3_000_000, None),
            (ClaimStatus.APPROVED, 500_000, 500_000),
            (ClaimStatus.PARTIALLY_APPROVED, 800_000, 600_000),
            (ClaimStatus.PAID, 400_000, 400_000),
            (ClaimStatus.REJECTED, 700_000, None),
            (ClaimStatus.WITHDRAWN, 300_000, None),
        ):
            _claim(dealer, period, status, asked, approved)
        budget = budget_of(dealer, period)
        assert (budget.allocation, budget.approved, budget.pending) == (10_000_000, 1_500_000, 4_200_000)
        assert budget.left == 4_300_000
        with pytest.raises(InvalidInput, match="Claims already hold more"):
            set_allocation(admin, dealer, period, 5_000_000)
        set_allocation(admin, dealer, period, 5_700_000)
        assert budget_of(dealer, period).left == 0
        closed = db.session.execute(select(Period).where(Period.code == channel.previous_period)).scalar_one()
        with pytest.raises(IllegalTransition, match="frozen"):
            set_allocation(admin, dealer, closed, 1)
