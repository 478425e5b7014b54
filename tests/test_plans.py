"""Joint business plans and the visit log: the two-party agreement with its versions, progress measured from the
portal's figures (compared with a computation written here), overdue actions in both inboxes, the review, and
private or shared visits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from flask import Flask
from sqlalchemy import select

from portal.claims.models import FundRequest, FundRequestStatus
from portal.extensions import db
from portal.plans import services
from portal.plans.models import BusinessPlan, PlanGoal, PlanVersion
from portal.plans.rules import Change, GoalKind, PlanStatus, compare
from portal.rebates.models import SalesLine
from tests.factories import (
    Channel,
    PlanRecords,
    dealer_of,
    make_activity_type,
    make_claim,
    make_goal,
    period,
    today,
    user,
)
from tests.helpers import log_in


def _plan(app: Flask, plan_id: int) -> tuple[PlanStatus, int, int | None, int]:
    with app.app_context():
        plan = db.session.get(BusinessPlan, plan_id)
        assert plan is not None
        return plan.status, plan.version, plan.agreed_version, plan.revision


def _revision_on_page(html: str) -> str:
    found = re.search(r'name="revision"[^>]*value="(\d+)"', html) or re.search(
        r'value="(\d+)"[^>]*name="revision"', html
    )
    assert found, "the page offers no acceptance"
    return found.group(1)


def test_both_sides_accept_a_version_and_a_later_change_asks_both_again(
    app: Flask, channel: Channel, plan_records: PlanRecords
) -> None:
    owner, manager = app.test_client(), app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    log_in(manager, channel.emails["manager"])
    url = f"/plans/{plan_records.own_plan}"
    page = manager.get(url).get_data(as_text=True)
    assert manager.post(f"{url}/accept", data={"revision": _revision_on_page(page)}).status_code == 303
    assert _plan(app, plan_records.own_plan)[0] is PlanStatus.AWAITING_AGREEMENT
    page = owner.get(url).get_data(as_text=True)
    assert "accepted by" in page
    assert owner.post(f"{url}/accept", data={"revision": _revision_on_page(page)}).status_code == 303
    status, version, agreed, _revision = _plan(app, plan_records.own_plan)
    assert (status, version, agreed) == (PlanStatus.AGREED, 1, 1)
    assert "Accept this version" not in owner.get(url).get_data(as_text=True)

    # The owner adds an action: version 2, waiting for both; version 1 stays, agreed and accepted by both.
    added = owner.post(
        f"{url}/actions", data={"what": "开第二家门店", "side": "dealer", "due_on": "2030-03-01", "who": "王"}
    )
    assert added.status_code == 303
    status, version, agreed, _revision = _plan(app, plan_records.own_plan)
    assert (status, version, agreed) == (PlanStatus.AWAITING_AGREEMENT, 2, 1)
    with app.app_context():
        first = db.session.execute(
            select(PlanVersion).where(PlanVersion.plan_id == plan_records.own_plan, PlanVersion.number == 1)
        ).scalar_one()
        assert first.dealer_accepted_at is not None and first.manager_accepted_at is not None
    versions = manager.get(f"{url}/versions").get_data(as_text=True)
    assert "Version 2" in versions and "Version 1" in versions
    assert "开第二家门店" in versions and "Added" in versions
    # A second change before anyone accepted version 2 stays in version 2.
    assert owner.post(f"{url}/goals", data={"kind": "new_outlets", "count": "2"}).status_code == 303
    assert _plan(app, plan_records.own_plan)[1] == 2


def test_an_acceptance_of_what_was_read_before_a_change_is_refused(
    app: Flask, channel: Channel, plan_records: PlanRecords
) -> None:
    owner, manager = app.test_client(), app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    log_in(manager, channel.emails["manager"])
    url = f"/plans/{plan_records.own_plan}"
    read = _revision_on_page(owner.get(url).get_data(as_text=True))
    assert manager.post(f"{url}/goals/{plan_records.own_goal}/remove").status_code == 303
    refused = owner.post(f"{url}/accept", data={"revision": read})
    assert refused.status_code == 409
    assert "changed while you were reading" in refused.get_data(as_text=True)
    with app.app_context():
        version = services.current_version(db.session.get(BusinessPlan, plan_records.own_plan))
        assert version.dealer_accepted_at is None


def test_progress_is_measured_from_sales_returns_and_claims(
    app: Flask, channel: Channel, plan_records: PlanRecords
) -> None:
    """Sales net of a credit note and a reversal; districts new in the quarter (one sold into before does not
    count, nor one reached only by a return); a promotion's approved claims and pre-approvals."""
    with app.app_context():
        plan = db.session.get(BusinessPlan, plan_records.own_plan)
        assert plan is not None
        dealer, quarter = dealer_of(channel.own_dealer), plan.period
        day, before = max(quarter.starts_on, today() - timedelta(days=1)), quarter.starts_on - timedelta(days=40)
        previous = period(channel.previous_period)
        lines = [
            (quarter, day, 1_000_000, "310101", None),
            (quarter, day, 450_000, "310104", None),
            (quarter, day, -120_000, "310105", None),  # a return to a district never sold into: not an outlet
            (quarter, day, -200_000, "310101", None),  # a credit note
            (previous, before, 300_000, "310101", None),  # sold into before the quarter: not new
        ]
        for number, (booked, sold_on, amount, region, reverses) in enumerate(lines):
            db.session.add(
                SalesLine(
                    dealer_id=dealer.id,
                    period_id=booked.id,
                    booked_period_id=booked.id,
                    sold_on=sold_on,
                    amount=amount,
                    invoice_ref=f"PLAN-{number}",
                    ship_to_region=region,
                    reverses_id=reverses,
                )
            )
        kind = make_activity_type("PLANSHOW")
        make_claim(dealer, quarter, kind, status="approved", amount=400_000)
        make_claim(dealer, quarter, kind, status="partially_approved", amount=300_000, approved=120_000)
        make_claim(dealer, quarter, kind, status="rejected", amount=900_000)
        for status, cost in ((FundRequestStatus.APPROVED, 250_000), (FundRequestStatus.REJECTED, 70_000)):
            db.session.add(
                FundRequest(
                    dealer_id=dealer.id,
                    period_id=quarter.id,
                    activity_type_id=kind.id,
                    title="Show",
                    planned_start=day,
                    planned_end=day,
                    estimated_cost=cost,
                    status=status,
                )
            )
        promotion = make_goal(plan, GoalKind.PROMOTION, wanted=500_000, activity_type_id=kind.id)
        db.session.flush()

        every_line = db.session.execute(select(SalesLine).where(SalesLine.dealer_id == dealer.id)).scalars().all()
        expected_sales = sum(line.amount for line in every_line if line.period_id == quarter.id)
        earlier = {line.ship_to_region for line in every_line if line.sold_on < quarter.starts_on and line.amount > 0}
        expected_new = {
            line.ship_to_region
            for line in every_line
            if line.period_id == quarter.id and line.amount > 0 and line.ship_to_region and not line.reverses_id
        } - earlier

        goals = db.session.execute(select(PlanGoal).where(PlanGoal.plan_id == plan.id)).scalars().all()
        measures = services.progress_of(plan, list(goals))
        by_kind = {goal.kind: measures[goal.id] for goal in goals}
        assert by_kind[GoalKind.SALES].measured == expected_sales
        assert by_kind[GoalKind.NEW_OUTLETS].measured == len(expected_new) == 1
        assert by_kind[GoalKind.NEW_OUTLETS].met is False  # 1 of 3
        assert measures[promotion.id].measured == 400_000 + 120_000
        assert measures[promotion.id].pre_approved == 250_000
        assert measures[promotion.id].met is True  # 520,000 of a 500,000 budget
        db.session.rollback()


def test_overdue_actions_show_in_both_inboxes_until_done(
    app: Flask, channel: Channel, plan_records: PlanRecords
) -> None:
    owner, manager, other = app.test_client(), app.test_client(), app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    log_in(manager, channel.emails["manager"])
    log_in(other, channel.emails["other_manager"])
    assert "1 plan action is overdue" in owner.get("/dealer/").get_data(as_text=True)
    console = manager.get("/console/").get_data(as_text=True)
    assert "1 plan action is overdue" in console
    assert "2 business plans wait for your acceptance" in console  # D001's for today's quarter and for 2030-Q1
    assert "1 plan action is overdue" in other.get("/console/").get_data(as_text=True)  # D003's, their own
    url = f"/plans/{plan_records.own_plan}"
    assert "Overdue" in owner.get(url).get_data(as_text=True)
    soon = {"what": "Order the posters", "side": "manager", "due_on": (today() + timedelta(days=3)).isoformat()}
    assert manager.post(f"{url}/actions", data=soon).status_code == 303
    assert "1 plan action is due this week" in owner.get("/dealer/").get_data(as_text=True)
    assert owner.post(f"{url}/actions/{plan_records.own_action}/done").status_code == 303
    assert "overdue" not in owner.get("/dealer/").get_data(as_text=True)
    console = manager.get("/console/").get_data(as_text=True)
    assert "plan action is overdue" not in console and "1 plan action is due this week" in console
    # Marking done is progress: no new version, nothing to accept again.
    assert _plan(app, plan_records.own_plan)[1] == 1


def test_the_inbox_counts_by_the_day_of_each_visit(app: Flask, channel: Channel, plan_records: PlanRecords) -> None:
    """The inbox's statement is built once per role; the day is a value of each visit. An action due in three days
    is due this week, and overdue once its day has passed."""
    owner = app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    url = f"/plans/{plan_records.own_plan}"
    assert owner.post(f"{url}/actions/{plan_records.own_action}/done").status_code == 303
    manager = app.test_client()
    log_in(manager, channel.emails["manager"])
    soon = {"what": "Order the posters", "side": "manager", "due_on": (today() + timedelta(days=3)).isoformat()}
    assert manager.post(f"{url}/actions", data=soon).status_code == 303
    home = owner.get("/dealer/").get_data(as_text=True)
    assert "1 plan action is due this week" in home and "overdue" not in home
    with time_machine.travel(datetime.now(UTC) + timedelta(days=5), tick=False):
        log_in(owner, channel.emails["dealer_owner"])  # signed out meanwhile: a session ends after an hour idle
        later = owner.get("/dealer/").get_data(as_text=True)
    assert "1 plan action is overdue" in later and "due this week" not in later


def test_the_other_managers_inbox_counts_their_own_portfolio_only(
    app: Flask, channel: Channel, plan_records: PlanRecords
) -> None:
    with app.app_context():
        counted = services.actions_due(user(channel, "other_manager"))
        assert counted == services.ActionsDue(1, 0, plan_records.foreign_plan)  # D003's action, not D001's
        assert services.actions_due(user(channel, "dealer_staff")).overdue == 1
        assert services.actions_due(user(channel, "senior_manager")) == services.ActionsDue(0, 0, None)


def test_the_review_keeps_each_goal_met_or_not_and_the_dealer_answers(
    app: Flask, channel: Channel, plan_records: PlanRecords
) -> None:
    with app.app_context():
        plan = db.session.get(BusinessPlan, plan_records.ended_plan)
        make_goal(plan, GoalKind.NEW_OUTLETS, wanted=2, note="Suzhou and Wuxi")
        db.session.commit()
    manager, owner = app.test_client(), app.test_client()
    log_in(manager, channel.emails["manager"])
    log_in(owner, channel.emails["dealer_owner"])
    url = f"/plans/{plan_records.ended_plan}"
    assert owner.post(f"{url}/review", data={"notes": "x"}).status_code == 403
    assert manager.post(f"{url}/review", data={"notes": "Two outlets were planned; none opened."}).status_code == 303
    page = owner.get(url).get_data(as_text=True)
    assert "Not met" in page and "none opened" in page and "Suzhou and Wuxi" in page
    assert owner.post(f"{url}/comment", data={"comments": "房东推迟了。"}).status_code == 303
    assert "房东推迟了。" in manager.get(url).get_data(as_text=True)
    # Reviewed: nothing changes any more.
    assert manager.post(f"{url}/goals", data={"kind": "new_outlets", "count": "1"}).status_code == 409
    assert manager.post(f"{url}/review", data={"notes": "again"}).status_code == 409


def test_a_private_visit_is_never_shown_to_the_dealer(app: Flask, channel: Channel, plan_records: PlanRecords) -> None:
    owner, manager, other = app.test_client(), app.test_client(), app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    log_in(manager, channel.emails["manager"])
    log_in(other, channel.emails["other_manager"])
    dealer_log = owner.get("/plans/visits/").get_data(as_text=True)
    assert "new posters" in dealer_log and "may sell the business" not in dealer_log
    assert "may sell the business" in manager.get("/plans/visits/").get_data(as_text=True)
    assert "may sell the business" not in other.get("/plans/visits/").get_data(as_text=True)
    # Shared later: the owner hears of it once and reads it.
    form = {"dealer_code": channel.own_dealer, "visited_on": today().isoformat(), "notes": "Now shared", "shared": "y"}
    assert manager.post(f"/plans/visits/{plan_records.private_visit}/edit", data=form).status_code == 303
    assert "Now shared" in owner.get("/plans/visits/").get_data(as_text=True)
    refused = manager.post(
        "/plans/visits/new", data={**form, "dealer_code": channel.foreign_dealer, "visited_on": today().isoformat()}
    )
    assert refused.status_code == 422 and "No dealer you look after" in refused.get_data(as_text=True)
    future = manager.post("/plans/visits/new", data={**form, "visited_on": (today() + timedelta(days=3)).isoformat()})
    assert future.status_code == 422


def test_a_dealer_owner_starts_a_plan_for_their_own_dealer_only(
    app: Flask, channel: Channel, plan_records: PlanRecords
) -> None:
    owner = app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    # The owner names another dealer: the portal plans for the owner's own, which has one for 2030-Q1 already.
    refused = owner.post("/plans/new", data={"period": channel.open_period, "dealer_code": channel.foreign_dealer})
    assert refused.status_code == 422 and "already has a plan" in refused.get_data(as_text=True)
    with app.app_context():
        plans = (
            db.session.execute(
                select(BusinessPlan).where(BusinessPlan.dealer_id == dealer_of(channel.foreign_dealer).id)
            )
            .scalars()
            .all()
        )
        assert [plan.id for plan in plans] == [plan_records.foreign_plan]


def test_comparing_versions_names_what_was_added_removed_and_changed() -> None:
    older = [{"ref": "g1", "wanted": 3}, {"ref": "g2", "wanted": 1}, {"ref": "a1", "what": "x", "done_on": None}]
    newer = [
        {"ref": "g1", "wanted": 4},
        {"ref": "g3", "wanted": 2},
        {"ref": "a1", "what": "x", "done_on": "2030-01-02"},
    ]
    changes = [
        (difference.change, (difference.newer or difference.older or {})["ref"]) for difference in compare(older, newer)
    ]
    assert changes == [(Change.CHANGED, "g1"), (Change.ADDED, "g3"), (Change.SAME, "a1"), (Change.REMOVED, "g2")]


def test_every_goal_kind_reads_on_the_page_in_chinese(app: Flask, channel: Channel, plan_records: PlanRecords) -> None:
    owner = app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    owner.post("/language", data={"locale": "zh_Hans"})
    url = f"/plans/{plan_records.own_plan}"
    assert owner.post(f"{url}/goals", data={"kind": "promotion", "budget": "１２,０００.００"}).status_code == 303
    page = owner.get(url).get_data(as_text=True)
    assert "促销（任意活动），预算" in page and "销售：完成本季度目标" in page and "新网点" in page
    assert "CN¥12,000.00" in page or "¥12,000.00" in page
    versions = owner.get(f"{url}/versions").get_data(as_text=True)
    assert "第 1 版" in versions and "促销" in versions
