"""Sales campaigns: what a dealer's sales earn, counted independently here from the lines the test made (a Chinese
ERP file with its returns among them); the budget shared and never exceeded; the two-person settlement booked on
the accounts and kept when a period is reopened; who sees what; the dealer's home and inbox."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.accounts.models import User
from portal.campaigns import services
from portal.campaigns.models import Campaign, CampaignResult
from portal.campaigns.rules import CampaignStatus, Measure, RewardKind, Terms, next_reward, share_budget
from portal.dealers.audiences import AudienceKind, includes, members_condition, parse_codes
from portal.dealers.models import Dealer, DealerStatus
from portal.extensions import db
from portal.jobs import huey_of
from portal.notifications.models import Notification
from portal.rebates import ledger
from portal.rebates.models import LedgerEntry, LedgerKind, SalesLine
from portal.service_errors import IllegalTransition
from tests.factories import Channel, dealer_of, make_campaign, period, this_quarter, today, user
from tests.helpers import CHINESE_SALES_HEADER, imported_sales_file, logged_in_client

SKUS = ("AC-1200", "AC-900", "FAN-10")
PRODUCT_LINES = ("Compressors", "Fans", "")


@dataclass(frozen=True)
class Sale:
    """A line as the test made it, for the count written here."""

    dealer: str
    sold_on: date
    sku: str | None
    product_line: str
    units: int
    amount: int


def _window() -> tuple[date, date]:
    """The campaign's days: the middle of this quarter (lines are made over the whole quarter)."""
    _code, first, last = this_quarter()
    return first + timedelta(days=10), last - timedelta(days=10)


def _made_sales(channel: Channel, seed: int, count: int) -> list[Sale]:
    """Sales and credit notes of the three dealers over the quarter, straight into the sales lines."""
    chance = random.Random(seed)
    current = period(channel.current_period)
    days = (current.ends_on - current.starts_on).days
    made = []
    for number in range(count):
        code = chance.choice((channel.own_dealer, channel.second_dealer, channel.foreign_dealer))
        units = chance.randint(1, 20)
        sign = -1 if chance.random() < 0.15 else 1  # a credit note: goods returned
        sale = Sale(
            code,
            current.starts_on + timedelta(days=chance.randint(0, days)),
            chance.choice((*SKUS, None)),
            chance.choice(PRODUCT_LINES),
            sign * units,
            sign * units * chance.choice((399_900, 450_000, 129_900)),
        )
        made.append(sale)
        db.session.add(
            SalesLine(
                dealer_id=dealer_of(code).id,
                period_id=current.id,
                booked_period_id=current.id,
                sold_on=sale.sold_on,
                amount=sale.amount,
                units=sale.units,
                sku=sale.sku,
                product_line=sale.product_line,
                invoice_ref=f"GEN-{seed}-{number}",
                corrects_invoice=f"GEN-{seed}-{number - 1}" if sign < 0 else None,
            )
        )
    db.session.flush()
    return made


def _expected(sales: list[Sale], skus: set[str], product_lines: set[str], first: date, last: date) -> dict[str, Sale]:
    """Each dealer's net counted sales, written out: a line counts when it is dated in the window and its SKU or
    its product line is named."""
    totals: dict[str, list[int]] = {}
    for sale in sales:
        if first <= sale.sold_on <= last and (sale.sku in skus or sale.product_line in product_lines):
            total = totals.setdefault(sale.dealer, [0, 0])
            total[0] += sale.units
            total[1] += sale.amount
    return {code: Sale(code, first, None, "", units, amount) for code, (units, amount) in totals.items()}


def _expected_reward(campaign: Campaign, units: int, amount: int) -> int:
    if campaign.reward_kind is RewardKind.PER_UNIT:
        earned = campaign.rate * units if units > 0 else 0
    else:
        reached = units if campaign.measure is Measure.UNITS else amount
        earned = campaign.rate if reached >= campaign.threshold else 0
    return earned if campaign.cap is None else min(campaign.cap, earned)


def _expected_shares(earned: dict[str, int], budget: int) -> dict[str, int]:
    """The budget shared as exact fractions, floored; what is left goes to the largest fractions (then the codes'
    order, as the dealers' ids follow their codes here)."""
    total = sum(earned.values())
    if total <= budget:
        return {code: amount for code, amount in earned.items() if amount}
    exact = {code: Fraction(amount * budget, total) for code, amount in earned.items() if amount}
    floors = {code: int(share) for code, share in exact.items()}
    left = budget - sum(floors.values())
    for code in sorted(exact, key=lambda code: (-(exact[code] - floors[code]), code))[:left]:
        floors[code] += 1
    return {code: share for code, share in floors.items() if share}


def _results_by_code(admin: User, campaign: Campaign) -> dict[str, tuple[int, int, int, int]]:
    return {
        row.dealer.code: (row.progress.units, row.progress.amount, row.earned, row.reward)
        for row in services.results(admin, campaign)
    }


@pytest.fixture
def running(app: Flask, channel: Channel) -> Iterator[int]:
    """A launched campaign over the middle of the quarter, on two SKUs and the Fans line: 12.50 a unit, at most
    1,000.00 a dealer, a budget of 1,500.00 (so the three dealers share it when they all reach their cap)."""
    first, last = _window()
    with app.app_context():
        campaign = make_campaign(
            starts_on=first,
            ends_on=last,
            skus=["AC-1200", "FAN-10"],
            product_lines=["Fans"],
            rate=1_250,
            cap=100_000,
            budget=150_000,
            status=CampaignStatus.LIVE,
        )
        db.session.commit()
        yield campaign.id


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_results_equal_the_count_written_here_over_generated_sales_and_returns(
    app: Flask, channel: Channel, running: int, seed: int
) -> None:
    first, last = _window()
    with app.app_context():
        sales = _made_sales(channel, seed, 400)
        db.session.commit()
    # A Chinese ERP export among them: a sale and, a week later, a return of part of it (negative quantity).
    sold, returned = first + timedelta(days=2), first + timedelta(days=9)
    imported_sales_file(
        app,
        channel.emails["manager"],
        f'D001,{sold},"45,000.00",10,ERP-1,ac-1200,4500,440300,',
        f"D001,{returned},-9000.00,-2,ERP-1R,AC-1200,4500,440300,ERP-1",
        header=CHINESE_SALES_HEADER + ",原发票号",
    )
    sales += [
        Sale("D001", sold, "AC-1200", "", 10, 4_500_000),
        Sale("D001", returned, "AC-1200", "", -2, -900_000),
    ]
    with app.app_context():
        campaign = db.session.get(Campaign, running)
        assert campaign is not None
        expected = _expected(sales, {"AC-1200", "FAN-10"}, {"Fans"}, first, last)
        earned = {code: _expected_reward(campaign, sale.units, sale.amount) for code, sale in expected.items()}
        shares = _expected_shares(earned, campaign.budget)
        admin = user(channel, "admin")
        assert _results_by_code(admin, campaign) == {
            code: (sale.units, sale.amount, earned[code], shares.get(code, 0)) for code, sale in expected.items()
        }


def test_settlement_books_what_the_results_said_once_within_the_budget(
    app: Flask, channel: Channel, running: int
) -> None:
    first, _last = _window()
    with app.app_context():
        sales = _made_sales(channel, 7, 300)
        campaign = db.session.get(Campaign, running)
        assert campaign is not None
        campaign.ends_on = today() - timedelta(days=1)  # as if its last day had passed
        campaign.starts_on = min(first, campaign.ends_on)
        db.session.commit()
        expected = _expected(sales, {"AC-1200", "FAN-10"}, {"Fans"}, campaign.starts_on, campaign.ends_on)
        earned = {code: _expected_reward(campaign, sale.units, sale.amount) for code, sale in expected.items()}
        shares = _expected_shares(earned, campaign.budget)
        admin, senior = user(channel, "admin"), user(channel, "senior_manager")
        services.request_settlement(admin, campaign)
        db.session.commit()
        with pytest.raises(IllegalTransition):  # the one who asked does not confirm
            services.settle(admin, campaign)
        db.session.rollback()
        total = services.settle(senior, campaign)
        db.session.commit()
        entries = db.session.execute(
            select(Dealer.code, LedgerEntry.amount, LedgerEntry.kind)
            .join(Dealer, Dealer.id == LedgerEntry.dealer_id)
            .where(LedgerEntry.source == f"campaign:{running}")
        ).all()
        booked = {code: amount for code, amount, _kind in entries}
        assert booked == shares
        assert {kind for _code, _amount, kind in entries} <= {LedgerKind.CAMPAIGN}
        assert total == sum(shares.values()) <= campaign.budget
        assert db.session.get(Campaign, running).settled_total == total  # type: ignore[union-attr]
        kept = {
            result.dealer.code: (result.units, result.earned, result.reward)
            for result in db.session.execute(select(CampaignResult)).scalars()
        }
        assert kept == {code: (sale.units, earned[code], shares.get(code, 0)) for code, sale in expected.items()}
        with pytest.raises(IllegalTransition):  # settled once: a second confirmation changes nothing
            services.settle(senior, db.session.get(Campaign, running))  # type: ignore[arg-type]
        db.session.rollback()
        # A reopened period takes back what its close booked, never a campaign's reward.
        ledger.reverse_period(admin, period(channel.current_period), "a late correction")
        db.session.commit()
        still = db.session.execute(
            select(LedgerEntry.dealer_id).where(LedgerEntry.source == f"campaign:{running}")
        ).all()
        assert len(still) == len(booked)
        assert ledger.booked_for(f"campaign:{running}") == total


def test_a_budget_smaller_than_the_rewards_is_shared_exactly(app: Flask, channel: Channel) -> None:
    first, last = _window()
    with app.app_context():
        sales = _made_sales(channel, 11, 300)
        campaign = make_campaign(
            starts_on=first, ends_on=last, skus=list(SKUS), rate=777, budget=10_001, status=CampaignStatus.LIVE
        )
        db.session.commit()
        expected = _expected(sales, set(SKUS), set(), first, last)
        earned = {code: _expected_reward(campaign, sale.units, sale.amount) for code, sale in expected.items()}
        assert sum(earned.values()) > campaign.budget  # the test's own premise
        rows = _results_by_code(user(channel, "admin"), campaign)
        assert sum(reward for _u, _a, _e, reward in rows.values()) == campaign.budget
        assert {code: reward for code, (_u, _a, _e, reward) in rows.items() if reward} == _expected_shares(
            earned, campaign.budget
        )


@settings(max_examples=200, deadline=None)
@given(
    rewards=st.dictionaries(st.integers(1, 500), st.integers(0, 10**12), max_size=40),
    budget=st.integers(1, 10**12),
)
def test_sharing_never_exceeds_the_budget_and_stays_within_a_minor_unit_of_the_proportion(
    rewards: dict[int, int], budget: int
) -> None:
    shared = share_budget(rewards, budget)
    total = sum(rewards.values())
    assert sum(shared.values()) <= budget
    if total <= budget:
        assert shared == {dealer: amount for dealer, amount in rewards.items() if amount}
    else:
        assert sum(shared.values()) == budget
        for dealer, amount in rewards.items():
            assert abs(Fraction(amount * budget, total) - shared.get(dealer, 0)) < 1


@given(
    units=st.integers(-50, 500),
    amount=st.integers(-(10**9), 10**10),
    rate=st.integers(1, 10**6),
    threshold=st.integers(1, 10**9),
    cap=st.one_of(st.none(), st.integers(1, 10**8)),
    lump=st.booleans(),
    by_amount=st.booleans(),
)
def test_the_next_reward_is_what_selling_that_much_more_earns(
    units: int, amount: int, rate: int, threshold: int, cap: int | None, lump: bool, by_amount: bool
) -> None:
    measure = Measure.AMOUNT if lump and by_amount else Measure.UNITS
    terms = Terms(measure, RewardKind.THRESHOLD if lump else RewardKind.PER_UNIT, rate, threshold, cap)
    now = terms.reward(units, amount)
    ahead = next_reward(terms, units, amount)
    if ahead.capped:
        assert terms.reward(units + 10**6, amount + 10**12) == now  # nothing more to earn
        return
    more_units = ahead.needed if measure is Measure.UNITS else 0
    more_amount = ahead.needed if measure is Measure.AMOUNT else 0
    assert terms.reward(units + more_units, amount + more_amount) - now == ahead.earns > 0
    if ahead.needed > 1:  # and one unit (or cent) less is not enough
        fewer = terms.reward(units + max(more_units - 1, 0), amount + max(more_amount - 1, 0))
        assert fewer == now


def test_a_manager_sees_the_results_of_their_portfolio_only(app: Flask, channel: Channel, running: int) -> None:
    with app.app_context():
        _made_sales(channel, 5, 200)
        db.session.commit()
        campaign = db.session.get(Campaign, running)
        assert campaign is not None
        assert set(_results_by_code(user(channel, "admin"), campaign)) == {"D001", "D002", "D003"}
        assert set(_results_by_code(user(channel, "manager"), campaign)) == {"D001", "D002"}
    page = logged_in_client(app, channel.emails["manager"]).get(f"/campaigns/{running}").get_data(as_text=True)
    assert "Eastern Star Trading" in page and "Western Wind Retail" not in page


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        (AudienceKind.ALL, []),
        (AudienceKind.TIERS, ["gold"]),
        (AudienceKind.TIERS, ["bronze", "platinum"]),
        (AudienceKind.TERRITORIES, ["NORTH"]),
        (AudienceKind.DEALERS, ["D001", "D003"]),
        (AudienceKind.DEALERS, []),
    ],
)
def test_an_audience_in_sql_and_for_one_dealer_agree(
    app: Flask, channel: Channel, kind: AudienceKind, codes: list[str]
) -> None:
    with app.app_context():
        dealer_of(channel.second_dealer).status = DealerStatus.TERMINATED
        db.session.flush()
        dealers = list(db.session.execute(select(Dealer)).scalars())
        in_sql = set(db.session.execute(select(Dealer.code).where(members_condition(kind, codes))).scalars())
        assert in_sql == {dealer.code for dealer in dealers if includes(kind, codes, dealer)}
        assert channel.second_dealer not in in_sql  # a terminated dealer is in no audience
        db.session.rollback()


def test_codes_pasted_with_chinese_commas_spaces_and_lines_are_read() -> None:
    assert parse_codes("d001，D002、 d003;\nEAST\tnorth  D001") == ["D001", "D002", "D003", "EAST", "NORTH"]


def _form(**changes: str) -> dict[str, str]:
    first, last = _window()
    form = {
        "name_en": "Fan week",
        "name_zh": "风扇周",
        "audience_kind": "dealers",
        "audience_codes": "d001，D002",
        "starts_on": first.isoformat(),
        "ends_on": last.isoformat(),
        "skus": "fan-10\n",
        "product_lines": "",
        "currency": "CNY",
        "measure": "units",
        "reward_kind": "threshold",
        "rate": "500",
        "threshold_units": "30",
        "budget": "2,000.00",
    }
    form.update(changes)
    return form


def test_a_campaign_drafted_launched_and_followed_on_the_dealer_home(app: Flask, channel: Channel) -> None:
    senior = logged_in_client(app, channel.emails["senior_manager"])
    refused = senior.post("/campaigns/new", data=_form(audience_codes="D001, D999"))
    assert refused.status_code == 422 and "D999" in refused.get_data(as_text=True)
    refused = senior.post("/campaigns/new", data=_form(reward_kind="per_unit", measure="amount"))
    assert refused.status_code == 422 and "A reward for each unit counts units sold." in refused.get_data(as_text=True)
    created = senior.post("/campaigns/new", data=_form())
    assert created.status_code == 303
    with app.app_context():
        campaign = db.session.execute(select(Campaign).where(Campaign.name_en == "Fan week")).scalar_one()
        assert (campaign.audience, campaign.skus, campaign.threshold, campaign.rate, campaign.budget) == (
            ["D001", "D002"],
            ["FAN-10"],
            30,
            50_000,
            200_000,
        )
        current = period(channel.current_period)
        first, _last = _window()
        db.session.add(
            SalesLine(
                dealer_id=dealer_of(channel.own_dealer).id,
                period_id=current.id,
                booked_period_id=current.id,
                sold_on=min(first, today()),
                amount=1_200_000,
                units=12,
                sku="FAN-10",
                invoice_ref="FAN-1",
            )
        )
        db.session.commit()
        campaign_id = campaign.id
    owner = logged_in_client(app, channel.emails["dealer_owner"])
    assert "Fan week" not in owner.get("/dealer/").get_data(as_text=True)  # a draft is no dealer's business
    assert senior.post(f"/campaigns/{campaign_id}/launch").status_code == 303
    assert senior.post(f"/campaigns/{campaign_id}/launch").status_code == 409  # launched once
    home = owner.get("/dealer/").get_data(as_text=True)
    if first <= today():
        assert "Fan week" in home and "Sell 18 more units to earn CN¥500.00." in home
    else:
        assert "Fan week" in home and "Starts on" in home
    owner.post("/language", data={"locale": "zh_Hans", "next": "/dealer/"})
    assert "风扇周" in owner.get("/dealer/").get_data(as_text=True)
    foreign = logged_in_client(app, channel.emails["foreign_owner"])
    assert "Fan week" not in foreign.get("/dealer/").get_data(as_text=True)  # D003 is not among the dealers named
    assert foreign.get("/campaigns/mine").status_code == 200


def _start_page(app: Flask, email: str) -> str:
    return logged_in_client(app, email).get("/", follow_redirects=True).get_data(as_text=True)


def test_the_inbox_tells_the_dealer_of_an_ending_campaign_and_the_runners_of_settlements(
    app: Flask, channel: Channel
) -> None:
    with app.app_context():
        make_campaign(
            name_en="Last week",
            starts_on=today() - timedelta(days=3),
            ends_on=today() + timedelta(days=2),
            status=CampaignStatus.LIVE,
        )
        admin = user(channel, "admin")
        make_campaign(
            name_en="Done",
            starts_on=today() - timedelta(days=9),
            ends_on=today() - timedelta(days=1),
            status=CampaignStatus.SETTLEMENT_REQUESTED,
            settlement_requested_by_id=admin.id,
        )
        db.session.commit()
    owner_home = logged_in_client(app, channel.emails["dealer_owner"]).get("/dealer/").get_data(as_text=True)
    assert "1 sales campaign ends within a week" in owner_home and "Last week" in owner_home
    senior = _start_page(app, channel.emails["senior_manager"])
    assert "1 campaign settlement waits for your confirmation" in senior
    admin_page = _start_page(app, channel.emails["admin"])
    assert "campaign settlement waits" not in admin_page  # the admin asked for it


def test_the_owners_concerned_hear_of_a_launch_and_of_a_reward_from_the_worker(app: Flask, channel: Channel) -> None:
    huey_of(app).flush()
    with app.app_context():
        admin = user(channel, "admin")
        campaign = make_campaign(audience_kind=AudienceKind.DEALERS, audience=[channel.own_dealer])
        db.session.commit()
        services.launch(admin, campaign)
        db.session.commit()
        assert [task.name for task in huey_of(app).pending()][-1:] == [services.TELL_DEALERS]
        assert services.tell_dealers(campaign.id) == 1  # what the worker runs
        db.session.commit()
        told = (
            db.session.execute(
                select(User.email)
                .join(Notification, Notification.user_id == User.id)
                .where(Notification.kind == "campaign_launched")
            )
            .scalars()
            .all()
        )
        assert told == [channel.emails["dealer_owner"]]  # D001's owner; not its staff, not another dealer's owner
    huey_of(app).flush()
