"""How far a plan's goals are, measured from what the portal already holds, never typed by either side:

- sales: the net amount of the sales lines dated in the period (credit notes and reversals deducted) against the
  period's target;
- new outlets: districts (the sales lines' ship-to) sold into in the period and never before by this dealer;
- people certified: the dealer's people who completed the course in the period, each counted once;
- a promotion: what was pre-approved (approved or used fund requests) and what claims were approved, against the
  budget planned, for the activity type if the goal names one.

At most five queries for a whole plan, whatever its number of goals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, distinct, exists, func, select
from sqlalchemy.orm import aliased

from portal.claims.models import Claim, FundRequest
from portal.claims.rules import APPROVED, FundRequestStatus
from portal.extensions import db
from portal.plans.models import BusinessPlan, PlanGoal
from portal.plans.rules import GoalKind, goal_met
from portal.rebates.models import SalesLine, Target
from portal.training.models import CourseSession, Enrollment
from portal.training.rules import EnrollmentStatus

PRE_APPROVED = (FundRequestStatus.APPROVED, FundRequestStatus.USED)


@dataclass(frozen=True)
class Measure:
    wanted: int | None  # what the goal asks (the target, a count, a budget); None: nothing to reach yet
    measured: int  # what the portal's data say so far
    met: bool | None
    pre_approved: int = 0  # a promotion: what fund requests pre-approved (`measured` is what claims got approved)

    @property
    def percent(self) -> int:
        """For a bar: 0 to 100."""
        if not self.wanted or self.wanted <= 0:
            return 0
        return max(0, min(100, self.measured * 100 // self.wanted))


def _sales(plan: BusinessPlan) -> tuple[int, int | None]:
    sold, target = db.session.execute(
        select(
            select(func.coalesce(func.sum(SalesLine.amount), 0))
            .where(SalesLine.dealer_id == plan.dealer_id, SalesLine.period_id == plan.period_id)
            .scalar_subquery(),
            select(Target.amount)
            .where(Target.dealer_id == plan.dealer_id, Target.period_id == plan.period_id)
            .scalar_subquery(),
        )
    ).one()
    return int(sold), None if target is None else int(target)


def _new_districts(plan: BusinessPlan) -> int:
    earlier = aliased(SalesLine)
    period = plan.period
    return int(
        db.session.execute(
            select(func.count(distinct(SalesLine.ship_to_region))).where(
                SalesLine.dealer_id == plan.dealer_id,
                SalesLine.period_id == plan.period_id,
                SalesLine.ship_to_region.is_not(None),
                SalesLine.amount > 0,
                SalesLine.reverses_id.is_(None),
                ~exists().where(
                    earlier.dealer_id == plan.dealer_id,
                    earlier.ship_to_region == SalesLine.ship_to_region,
                    earlier.sold_on < period.starts_on,
                    earlier.amount > 0,
                ),
            )
        ).scalar_one()
    )


def _certified(plan: BusinessPlan, course_ids: set[int]) -> dict[int, int]:
    period = plan.period
    rows = db.session.execute(
        select(CourseSession.course_id, func.count(distinct(Enrollment.person_key)))
        .join(CourseSession, CourseSession.id == Enrollment.session_id)
        .where(
            Enrollment.dealer_id == plan.dealer_id,
            CourseSession.course_id.in_(course_ids),
            Enrollment.status == EnrollmentStatus.COMPLETED,
            Enrollment.completed_on.between(period.starts_on, period.ends_on),
        )
        .group_by(CourseSession.course_id)
    ).all()
    return {int(course_id): int(count) for course_id, count in rows}


def _promotion_money(plan: BusinessPlan) -> tuple[dict[int, int], dict[int, int]]:
    """(Pre-approved, claims approved) per activity type, in minor units."""
    pre_approved = db.session.execute(
        select(FundRequest.activity_type_id, func.sum(FundRequest.estimated_cost))
        .where(
            FundRequest.dealer_id == plan.dealer_id,
            FundRequest.period_id == plan.period_id,
            FundRequest.status.in_(PRE_APPROVED),
        )
        .group_by(FundRequest.activity_type_id)
    ).all()
    claimed = db.session.execute(
        select(Claim.activity_type_id, func.sum(func.coalesce(Claim.amount_approved, 0)))
        .where(and_(Claim.dealer_id == plan.dealer_id, Claim.period_id == plan.period_id, Claim.status.in_(APPROVED)))
        .group_by(Claim.activity_type_id)
    ).all()
    return (
        defaultdict(int, {int(kind): int(total) for kind, total in pre_approved}),
        defaultdict(int, {int(kind): int(total) for kind, total in claimed}),
    )


def measure(plan: BusinessPlan, goals: list[PlanGoal]) -> dict[int, Measure]:
    """Each goal's measure, by goal id."""
    kinds = {goal.kind for goal in goals}
    measures: dict[int, Measure] = {}
    if GoalKind.SALES in kinds:
        sold, target = _sales(plan)
        for goal in goals:
            if goal.kind is GoalKind.SALES:
                measures[goal.id] = Measure(target, sold, goal_met(target, sold))
    if GoalKind.NEW_OUTLETS in kinds:
        reached = _new_districts(plan)
        for goal in goals:
            if goal.kind is GoalKind.NEW_OUTLETS:
                measures[goal.id] = Measure(goal.wanted, reached, goal_met(goal.wanted, reached))
    if GoalKind.CERTIFIED in kinds:
        certified = _certified(plan, {goal.course_id for goal in goals if goal.course_id is not None})
        for goal in goals:
            if goal.kind is GoalKind.CERTIFIED:
                count = certified.get(goal.course_id or 0, 0)
                measures[goal.id] = Measure(goal.wanted, count, goal_met(goal.wanted, count))
    if GoalKind.PROMOTION in kinds:
        pre_approved, claimed = _promotion_money(plan)
        for goal in goals:
            if goal.kind is GoalKind.PROMOTION:
                if goal.activity_type_id is None:
                    asked, used = sum(pre_approved.values()), sum(claimed.values())
                else:
                    asked, used = pre_approved[goal.activity_type_id], claimed[goal.activity_type_id]
                # A promotion is met when it happened: claims approved for at least its planned budget.
                measures[goal.id] = Measure(goal.wanted, used, goal_met(goal.wanted, used), pre_approved=asked)
    return measures
