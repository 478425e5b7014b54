"""`flask seed-demo`: the demo channel that the README and later areas rely on, and running it twice changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.accounts.models import DealerRole, User, UserRole
from portal.claims.models import Claim, ClaimFlag, FundRequest, FundRequestStatus
from portal.claims.rules import ClaimStatus, Flag
from portal.dates import quarter_of
from portal.dealers.models import Dealer, DealerStatus, DealerTier, Period, PeriodStatus
from portal.demo import DEMO_PASSWORD, seed_demo
from portal.disputes.models import Dispute, Violation
from portal.disputes.rules import DisputeCategory, DisputeStatus, Outcome, ViolationStatus
from portal.extensions import db
from portal.rebates import rules
from portal.rebates.models import Adjustment, RebateStatement, SalesLine, StatementStatus
from tests.factories import this_quarter, today
from tests.helpers import log_in

# Dates decide here (windows, deadlines, quarters): also run at a quarter's first and last minute and on 29 February.
pytestmark = pytest.mark.calendar


def _counts() -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        db.session.execute(select(func.count()).select_from(model)).scalar_one() for model in (User, Dealer, Period)
    )


def quarters_back(count: int) -> list[str]:
    """The codes of this quarter and the `count` before it, newest first."""
    codes, day = [], today()
    for _ in range(count + 1):
        code, start, _end = quarter_of(day)
        codes.append(code)
        day = start - timedelta(days=1)
    return codes


def test_seed_demo_is_idempotent_and_complete(app: Flask) -> None:
    with app.app_context():
        seed_demo()
        first = _counts()
        seed_demo()
        assert _counts() == first == (9, 6, 9)  # eight people and the inspector
        users = {user.email: user for user in db.session.execute(select(User)).scalars()}
        eastern = db.session.execute(select(Dealer).where(Dealer.code == "D001")).scalar_one()
        northern = db.session.execute(select(Dealer).where(Dealer.code == "D002")).scalar_one()
        assert (eastern.name, eastern.territory.name, eastern.tier, eastern.status) == (
            "Eastern Star Trading",
            "East",
            DealerTier.GOLD,
            DealerStatus.ACTIVE,
        )
        assert (northern.name, northern.territory.name, northern.tier) == (
            "Northern Light Supply",
            "North",
            DealerTier.SILVER,
        )
        assert eastern.manager_id == northern.manager_id == users["manager@demo.test"].id
        assert users["dealer@demo.test"].dealer_id == eastern.id
        assert users["dealer@demo.test"].dealer_role is DealerRole.OWNER
        assert users["staff@demo.test"].dealer_role is DealerRole.STAFF
        assert users["dealer2@demo.test"].dealer_id == northern.id
        tiers = {dealer.tier for dealer in db.session.execute(select(Dealer)).scalars()}
        territories = {dealer.territory.code for dealer in db.session.execute(select(Dealer)).scalars()}
        assert tiers == set(DealerTier) and territories == {"EAST", "NORTH", "SOUTH", "WEST"}
        assert users["manager2@demo.test"].is_senior
        assert users["mediator@demo.test"].role is UserRole.MEDIATOR
        assert users["admin@demo.test"].role is UserRole.ADMIN
        periods = db.session.execute(select(Period).order_by(Period.starts_on)).scalars().all()
        assert [period.code for period in periods] == quarters_back(8)[::-1]
        assert (periods[-1].starts_on, periods[-1].ends_on, periods[-1].status) == (
            *this_quarter()[1:],
            PeriodStatus.OPEN,
        )
        assert all(period.status is PeriodStatus.CLOSED for period in periods[:-1])
        db.session.commit()
    log_in(app.test_client(), "manager2@demo.test", DEMO_PASSWORD)


def test_seed_demo_command_prints_the_logins(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.test" in result.output and DEMO_PASSWORD in result.output


def test_demo_rebates_put_d001_a_little_short_of_its_next_tier(app: Flask) -> None:

    with app.app_context():
        seed_demo()
        lines = db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one()
        seed_demo()
        assert db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one() == lines > 1000
        statements = {
            (statement.dealer.code, statement.period.code): statement
            for statement in db.session.execute(select(RebateStatement)).scalars()
        }
        current, previous, older = quarters_back(5)[0], quarters_back(5)[1], quarters_back(5)[5]
        d001 = statements[("D001", current)]
        assert d001.status is StatementStatus.PROVISIONAL and d001.reached_tier == 0
        assert d001.sales_to_next_tier > 0 and d001.sales_to_next_tier * 10 <= d001.next_tier_sales  # within 10 %
        assert d001.rebate == rules.rebate(d001.sales, d001.target, d001.rule_tiers, d001.method)
        assert statements[("D001", previous)].status is StatementStatus.FINAL
        assert statements[("D001", older)].status is StatementStatus.PAID
        late = db.session.execute(select(Adjustment)).scalar_one()
        assert late.amount > 0 and late.corrects_period.code == previous
        assert statements[("D002", current)].adjustments == late.amount


def test_demo_claims_cover_every_status_a_reused_file_and_a_waiting_request(app: Flask) -> None:

    with app.app_context():
        seed_demo()
        seed_demo()
        claims = {claim.title: claim for claim in db.session.execute(select(Claim)).scalars()}
        assert {claim.status for claim in claims.values()} == set(ClaimStatus)
        assert len(claims) == 11
        # The reused file flags both claims, each naming the other: the earlier one (D001's) as well.
        reused = (
            db.session.execute(
                select(ClaimFlag).where(ClaimFlag.flag == Flag.SAME_EVIDENCE_ELSEWHERE).order_by(ClaimFlag.claim_id)
            )
            .scalars()
            .all()
        )
        assert [flag.related_claims for flag in reused] == [[reused[1].claim_id], [reused[0].claim_id]]
        flagged = [db.session.get(Claim, flag.claim_id) for flag in reused]
        assert {claim.dealer.code for claim in flagged if claim is not None} == {"D001", "D002"}
        waiting = db.session.execute(
            select(FundRequest).where(FundRequest.status == FundRequestStatus.SUBMITTED)
        ).scalar_one()
        assert waiting.title == "Home appliance fair booth"
        assert claims["Regional trade show booth"].status is ClaimStatus.AWAITING_SECOND_APPROVAL


def test_demo_disputes_a_pricing_conflict_in_mediation_an_appeal_and_a_resolved_one(app: Flask) -> None:

    with app.app_context():
        seed_demo()
        seed_demo()
        disputes = {dispute.category: dispute for dispute in db.session.execute(select(Dispute)).scalars()}
        assert len(disputes) == 3
        pricing = disputes[DisputeCategory.PRICING_CONFLICT]
        assert pricing.status is DisputeStatus.IN_MEDIATION and pricing.mediator is not None
        assert (pricing.raiser.code, pricing.respondent.code) == ("D001", "D002")  # type: ignore[union-attr]
        appeal = disputes[DisputeCategory.VIOLATION_APPEAL]
        appealed = db.session.get(Violation, appeal.violation_id)
        assert appealed is not None and appealed.status is ViolationStatus.APPEALED and appealed.penalty > 0
        resolved = disputes[DisputeCategory.TERRITORY_CONFLICT]
        assert resolved.status is DisputeStatus.RESOLVED and resolved.outcome is Outcome.WARNING
