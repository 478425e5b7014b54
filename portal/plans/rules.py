"""Joint business plans: the workflow table, the goal kinds, when an action is overdue, when a goal is met, and
how two versions of a plan differ. Pure: no database.

The workflow (docs/design.md): a plan is drafted by either side and waits for agreement; it is agreed when the
dealer's owner and a manager have each accepted its current version; a change after agreement makes a new version
that waits for both again. After the period a manager reviews it (terminal): goals met or not, kept with the plan.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class PlanStatus(enum.StrEnum):
    AWAITING_AGREEMENT = "awaiting_agreement"
    AGREED = "agreed"
    REVIEWED = "reviewed"


class GoalKind(enum.StrEnum):
    SALES = "sales"  # the period's target: linked, never typed
    NEW_OUTLETS = "new_outlets"  # districts sold into for the first time (the sales lines' ship-to)
    CERTIFIED = "certified"  # people certified in a course during the period
    PROMOTION = "promotion"  # a promotion planned with its budget: pre-approved and claimed against it


class Side(enum.StrEnum):
    DEALER = "dealer"
    MANAGER = "manager"


S = PlanStatus
TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    S.AWAITING_AGREEMENT: frozenset({S.AGREED, S.REVIEWED}),
    S.AGREED: frozenset({S.AWAITING_AGREEMENT, S.REVIEWED}),
    S.REVIEWED: frozenset(),
}

register_labels(
    {
        PlanStatus.AWAITING_AGREEMENT: _l("Awaiting agreement"),
        PlanStatus.AGREED: _l("Agreed"),
        PlanStatus.REVIEWED: _l("Reviewed"),
        GoalKind.SALES: _l("Sales against the target"),
        GoalKind.NEW_OUTLETS: _l("New outlets"),
        GoalKind.CERTIFIED: _l("People certified"),
        GoalKind.PROMOTION: _l("Promotion"),
        Side.DEALER: _l("Dealer"),
        Side.MANAGER: _l("Manufacturer"),
    }
)


def can_move(current: PlanStatus, target: PlanStatus) -> bool:
    return target in TRANSITIONS[current]


# The guards pages ask (template globals, registered by the plugin): a page never compares a status itself.
def is_open(status: PlanStatus) -> bool:
    """Goals and actions can still change, and versions be accepted."""
    return status is not S.REVIEWED


def is_agreed(status: PlanStatus) -> bool:
    return status is S.AGREED


def is_reviewed(status: PlanStatus) -> bool:
    return status is S.REVIEWED


def can_review(status: PlanStatus, period_ends_on: date, today: date) -> bool:
    """A plan is reviewed once its period is over, whether or not it was ever agreed."""
    return status is not S.REVIEWED and today > period_ends_on


def is_overdue(due_on: date, done_on: date | None, today: date) -> bool:
    return done_on is None and due_on < today


def goal_met(wanted: int | None, measured: int) -> bool | None:
    """Met when the measure reaches what was wanted; None when there is nothing to reach yet (a sales goal whose
    period has no target)."""
    if wanted is None or wanted <= 0:
        return None
    return measured >= wanted


def agreed_by_both(dealer_accepted: bool, manager_accepted: bool) -> bool:
    return dealer_accepted and manager_accepted


# --- Comparing versions -----------------------------------------------------------------------------------------------


class Change(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    SAME = "same"


register_labels(
    {
        Change.ADDED: _l("Added"),
        Change.REMOVED: _l("Removed"),
        Change.CHANGED: _l("Changed"),
        Change.SAME: _l("Unchanged"),
    }
)


@dataclass(frozen=True)
class Difference:
    change: Change
    older: dict[str, Any] | None
    newer: dict[str, Any] | None


def compare(older: list[dict[str, Any]], newer: list[dict[str, Any]]) -> list[Difference]:
    """Items of two versions (goals, or actions) matched by their `ref`: what was added, removed, changed or kept,
    in the newer version's order, the removed ones last. Whether an action was done is progress, not a change of
    the plan, so `done_on` is not compared."""
    before = {item["ref"]: item for item in older}
    after = {item["ref"]: item for item in newer}

    def terms(item: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in item.items() if key != "done_on"}

    differences = []
    for ref, item in after.items():
        if ref not in before:
            differences.append(Difference(Change.ADDED, None, item))
        elif terms(before[ref]) != terms(item):
            differences.append(Difference(Change.CHANGED, before[ref], item))
        else:
            differences.append(Difference(Change.SAME, before[ref], item))
    differences.extend(Difference(Change.REMOVED, item, None) for ref, item in before.items() if ref not in after)
    return differences


def may_accept(status: PlanStatus, side: Side | None, dealer_accepted: bool, manager_accepted: bool) -> bool:
    """Whether this side still has to accept the version waiting."""
    if side is None or status is not S.AWAITING_AGREEMENT:
        return False
    return not (dealer_accepted if side is Side.DEALER else manager_accepted)
