"""Joint business plans and the visit log: who plans with whom, changing a plan (a new version once anyone had
accepted the one before), accepting, marking actions done, the review after the period, and visits.

Who: a dealer's owner plans for the dealer (staff read); the dealer's manager, and senior managers and admins for
any dealer, plan for the manufacturer. Each side accepts the version it read; the plan is agreed when both have
accepted the same version and nothing changed since. A plan's row is the lock every change and acceptance takes
first (a conditional UPDATE), so two people acting on one plan at once take turns and each sees the other's work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select, update
from sqlalchemy.exc import IntegrityError

from portal.access import AccessRole, Viewer
from portal.accounts.models import User
from portal.audit.services import record_event
from portal.claims.models import ActivityType
from portal.database import rows_changed
from portal.dates import company_today
from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.dealers.services import dealer_owners, visible_dealers
from portal.extensions import db
from portal.inbox import CountsQuery
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.page_cache import writes_for
from portal.plans import progress
from portal.plans.models import BusinessPlan, PlanAction, PlanGoal, PlanVersion, Visit
from portal.plans.rules import GoalKind, PlanStatus, Side, agreed_by_both, can_move, can_review, compare
from portal.request_locale import gettext as _
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from portal.training.models import Course
from portal.types import label, utcnow
from portal.workflow import move_checked

PLANNERS = (AccessRole.DEALER_OWNER, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
READERS = (*PLANNERS, AccessRole.DEALER_STAFF)
DEALER_PEOPLE = (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
MANUFACTURER = (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
PER_PAGE = 50
WEEK = timedelta(days=7)


def side_of(user: User, dealer: Dealer) -> Side | None:
    """The side the user plans for with this dealer, or None (staff, another dealer, another manager's dealer)."""
    role = user.access_role
    if role is AccessRole.DEALER_OWNER and user.dealer_id == dealer.id:
        return Side.DEALER
    if role in (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN):
        return Side.MANAGER
    if role is AccessRole.MANAGER and dealer.manager_id == user.id:
        return Side.MANAGER
    return None


def _require_side(actor: User, plan: BusinessPlan, wanted: Side | None = None) -> Side:
    side = side_of(actor, plan.dealer)
    if side is None or (wanted is not None and side is not wanted):
        raise Forbidden()
    return side


# --- Reading ----------------------------------------------------------------------------------------------------------


def visible_plans(user: User) -> Select[BusinessPlan]:
    dealers = visible_dealers(user).with_only_columns(Dealer.id).order_by(None)
    return select(BusinessPlan).where(BusinessPlan.dealer_id.in_(dealers))


def get_plan(user: User, plan_id: int) -> BusinessPlan:
    found = db.session.execute(visible_plans(user).where(BusinessPlan.id == plan_id)).unique().scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def plans_query(user: User, period: Period | None) -> Select[BusinessPlan]:
    """A dealer's plans, newest period first; the manufacturer's for one period, by dealer code."""
    query = visible_plans(user).join(Dealer, Dealer.id == BusinessPlan.dealer_id)
    if user.access_role in DEALER_PEOPLE:
        return query.join(Period, Period.id == BusinessPlan.period_id).order_by(Period.starts_on.desc())
    if period is not None:
        query = query.where(BusinessPlan.period_id == period.id)
    return query.order_by(Dealer.code)


def goals_of(plan: BusinessPlan) -> list[PlanGoal]:
    return list(db.session.execute(select(PlanGoal).where(PlanGoal.plan_id == plan.id).order_by(PlanGoal.id)).scalars())


def actions_of(plan: BusinessPlan) -> list[PlanAction]:
    return list(
        db.session.execute(
            select(PlanAction).where(PlanAction.plan_id == plan.id).order_by(PlanAction.due_on, PlanAction.id)
        ).scalars()
    )


def versions_of(plan: BusinessPlan) -> list[PlanVersion]:
    """Newest first."""
    return list(
        db.session.execute(
            select(PlanVersion).where(PlanVersion.plan_id == plan.id).order_by(PlanVersion.number.desc())
        ).scalars()
    )


def current_version(plan: BusinessPlan) -> PlanVersion:
    return db.session.execute(
        select(PlanVersion)
        .where(PlanVersion.plan_id == plan.id, PlanVersion.number == plan.version)
        .execution_options(populate_existing=True)
    ).scalar_one()


def version_changes(versions: list[PlanVersion]) -> dict[int, tuple[list[Any], list[Any]]]:
    """Each version's goals and actions compared with the version before it (the first: all added)."""
    ordered = sorted(versions, key=lambda version: version.number)
    changes: dict[int, tuple[list[Any], list[Any]]] = {}
    previous: PlanVersion | None = None
    for version in ordered:
        changes[version.number] = (
            compare(previous.goals if previous else [], version.goals),
            compare(previous.actions if previous else [], version.actions),
        )
        previous = version
    return changes


def progress_of(plan: BusinessPlan, goals: list[PlanGoal]) -> dict[int, progress.Measure]:
    return progress.measure(plan, goals)


def choices() -> tuple[list[Course], list[ActivityType]]:
    """The courses a certification goal and the activity types a promotion goal may name."""
    courses = list(db.session.execute(select(Course).where(Course.active.is_(True)).order_by(Course.code)).scalars())
    types = list(
        db.session.execute(
            select(ActivityType).where(ActivityType.active.is_(True)).order_by(ActivityType.code)
        ).scalars()
    )
    return courses, types


# --- Starting and changing --------------------------------------------------------------------------------------------


def _event(action: str, actor: User, plan: BusinessPlan, **details: Any) -> None:
    record_event(
        action,
        actor_id=actor.id,
        subject_type="business_plan",
        subject_id=plan.id,
        subject_label=f"{plan.dealer.code} {plan.period.code}",
        details=details or None,
    )


def start_plan(actor: User, dealer: Dealer, period: Period) -> BusinessPlan:
    """A new plan, empty, waiting for both sides; one per dealer and period (the unique key decides a race)."""
    if side_of(actor, dealer) is None:
        raise Forbidden()
    if period.status is not PeriodStatus.OPEN or period.ends_on < company_today():
        raise InvalidInput("period", _("Plans are made for a quarter that is not over yet."))
    plan = BusinessPlan(dealer_id=dealer.id, period_id=period.id, created_by_id=actor.id)
    try:
        with db.session.begin_nested():
            db.session.add(plan)
            db.session.flush()
    except IntegrityError:
        raise InvalidInput(
            "dealer", _("%(dealer)s already has a plan for %(period)s.", dealer=dealer.code, period=period.code)
        ) from None
    db.session.add(PlanVersion(plan_id=plan.id, number=1, changed_by_id=actor.id))
    db.session.flush()
    _event("business_plan.created", actor, plan)
    return plan


def _lock(plan: BusinessPlan, revision: int | None = None, grow: bool = True) -> None:
    """Take the plan's row first: a conditional UPDATE that waits for anyone else acting on the plan and fails if
    it was reviewed meanwhile (or, with `revision`, changed since its person read it)."""
    query = update(BusinessPlan).where(BusinessPlan.id == plan.id, BusinessPlan.status != PlanStatus.REVIEWED)
    if revision is not None:
        query = query.where(BusinessPlan.revision == revision)
    values = {"revision": BusinessPlan.revision + 1} if grow else {"revision": BusinessPlan.revision}
    with writes_for(dealers=[plan.dealer_id]):
        locked = rows_changed(db.session.execute(query.values(**values).execution_options(synchronize_session=False)))
    if locked != 1:
        raise IllegalTransition(_("The plan changed while you were reading it; look at it again."))
    db.session.refresh(plan)


def _changeable_version(actor: User, plan: BusinessPlan) -> PlanVersion:
    """The version a change goes into: the waiting one if nobody has accepted it yet, else a new one (and an
    agreed plan waits for both sides again)."""
    version = current_version(plan)
    if not version.accepted_by_anyone:
        return version
    if plan.status is PlanStatus.AGREED:
        _move(actor, plan, PlanStatus.AWAITING_AGREEMENT, "business_plan.reopened")
    plan.version = version.number + 1
    version = PlanVersion(plan_id=plan.id, number=plan.version, goals=version.goals, actions=version.actions)
    db.session.add(version)
    return version


def _snapshot(actor: User, plan: BusinessPlan, version: PlanVersion) -> None:
    db.session.flush()
    version.goals = [
        {"ref": f"g{goal.id}", "kind": goal.kind.value, "wanted": goal.wanted, "course_id": goal.course_id,
         "activity_type_id": goal.activity_type_id, "note": goal.note}
        for goal in goals_of(plan)
    ]  # fmt: skip
    version.actions = [
        {"ref": f"a{action.id}", "what": action.what, "side": action.side.value, "who": action.who,
         "due_on": action.due_on.isoformat()}
        for action in actions_of(plan)
    ]  # fmt: skip
    version.changed_by_id, version.changed_at = actor.id, utcnow()
    db.session.flush()


def _change(actor: User, plan: BusinessPlan, change: Any, action: str, **details: Any) -> Any:
    _require_side(actor, plan)
    _lock(plan)
    version = _changeable_version(actor, plan)
    result = change()
    _snapshot(actor, plan, version)
    _event(action, actor, plan, version=version.number, **details)
    return result


def _check_goal(values: dict[str, Any]) -> None:
    kind = values["kind"]
    if kind is GoalKind.CERTIFIED and (
        values["course_id"] is None or db.session.get(Course, values["course_id"]) is None
    ):
        raise InvalidInput("course_id", _("Choose the course people are to be certified in."))
    activity_type_id = values["activity_type_id"]
    if (
        kind is GoalKind.PROMOTION
        and activity_type_id is not None
        and db.session.get(ActivityType, activity_type_id) is None
    ):
        raise InvalidInput("activity_type_id", _("Choose an activity type from the list."))
    if kind is not GoalKind.SALES and not values["wanted"]:
        raise InvalidInput("wanted", _("Say how many, or how much, the goal aims at."))


def add_goal(actor: User, plan: BusinessPlan, values: dict[str, Any]) -> PlanGoal:
    _check_goal(values)
    kind = values["kind"]

    def add() -> PlanGoal:
        if kind is GoalKind.SALES and any(goal.kind is GoalKind.SALES for goal in goals_of(plan)):
            raise InvalidInput("kind", _("The plan already has its sales goal: the period's target."))
        goal = PlanGoal(
            plan_id=plan.id,
            kind=kind,
            wanted=None if kind is GoalKind.SALES else values["wanted"],
            course_id=values["course_id"] if kind is GoalKind.CERTIFIED else None,
            activity_type_id=values["activity_type_id"] if kind is GoalKind.PROMOTION else None,
            note=values["note"],
        )
        db.session.add(goal)
        return goal

    return _change(actor, plan, add, "business_plan.goal_added", kind=kind.value)


def remove_goal(actor: User, plan: BusinessPlan, goal_id: int) -> None:
    goal = db.session.get(PlanGoal, goal_id)
    if goal is None or goal.plan_id != plan.id:
        raise NotFound()
    _change(actor, plan, lambda: db.session.delete(goal), "business_plan.goal_removed", kind=goal.kind.value)


def add_action(actor: User, plan: BusinessPlan, values: dict[str, Any]) -> PlanAction:
    def add() -> PlanAction:
        action = PlanAction(plan_id=plan.id, **values)
        db.session.add(action)
        return action

    return _change(actor, plan, add, "business_plan.action_added")


def _action_of(plan: BusinessPlan, action_id: int) -> PlanAction:
    action = db.session.get(PlanAction, action_id)
    if action is None or action.plan_id != plan.id:
        raise NotFound()
    return action


def remove_action(actor: User, plan: BusinessPlan, action_id: int) -> None:
    action = _action_of(plan, action_id)
    _change(actor, plan, lambda: db.session.delete(action), "business_plan.action_removed")


def mark_done(actor: User, plan: BusinessPlan, action_id: int, today: date | None = None) -> PlanAction:
    """Progress, not a change of the plan: no new version. Either side may mark any action done, once."""
    action = _action_of(plan, action_id)
    _require_side(actor, plan)
    _lock(plan, grow=False)
    with writes_for(dealers=[plan.dealer_id]):
        done = rows_changed(
            db.session.execute(
                update(PlanAction)
                .where(PlanAction.id == action.id, PlanAction.done_on.is_(None))
                .values(done_on=today or company_today(), done_by_id=actor.id)
                .execution_options(synchronize_session=False)
            )
        )
    if done != 1:
        raise IllegalTransition(_("This action is already marked done."))
    db.session.refresh(action)
    _event("business_plan.action_done", actor, plan, what=action.what)
    return action


# --- Agreeing ---------------------------------------------------------------------------------------------------------


def _move(actor: User, plan: BusinessPlan, target: PlanStatus, action: str, **values: Any) -> None:
    current = plan.status
    move_checked(
        plan,
        current,
        target,
        legal=can_move(current, target),
        illegal=_("A plan that is %(now)s cannot become %(next)s.", now=label(current), next=label(target)),
        raced=_("Someone else changed this plan at the same time; look at it again."),
        **values,
    )
    _event(action, actor, plan, **{"from": current.value, "to": target.value})


def _people_of_side(plan: BusinessPlan, side: Side) -> list[User | None]:
    if side is Side.DEALER:
        return list(dealer_owners(plan.dealer))
    return [plan.dealer.manager]


def accept(actor: User, plan: BusinessPlan, revision: int) -> bool:
    """The actor's side accepts the plan as it was at `revision` (what they read). Returns True when this made the
    plan agreed. Refused if the plan changed since they read it."""
    side = _require_side(actor, plan)
    if plan.status is not PlanStatus.AWAITING_AGREEMENT:
        raise IllegalTransition(_("This plan is not waiting for agreement."))
    _lock(plan, revision=revision, grow=False)
    if plan.status is not PlanStatus.AWAITING_AGREEMENT:
        raise IllegalTransition(_("This plan is not waiting for agreement."))
    version = current_version(plan)
    if side is Side.DEALER and version.dealer_accepted_at is None:
        version.dealer_accepted_by_id, version.dealer_accepted_at = actor.id, utcnow()
    elif side is Side.MANAGER and version.manager_accepted_at is None:
        version.manager_accepted_by_id, version.manager_accepted_at = actor.id, utcnow()
    else:
        raise IllegalTransition(_("Your side has already accepted this version."))
    db.session.flush()
    _event("business_plan.accepted", actor, plan, version=version.number, side=side.value)
    params = {"dealer": plan.dealer.code, "period": plan.period.code, "version": version.number}
    where = link("plans.plan_page", plan_id=plan.id)
    if agreed_by_both(version.dealer_accepted_at is not None, version.manager_accepted_at is not None):
        _move(actor, plan, PlanStatus.AGREED, "business_plan.agreed", agreed_version=version.number)
        other = Side.MANAGER if side is Side.DEALER else Side.DEALER
        notify(_people_of_side(plan, other), "business_plan_agreed", params, where)
        return True
    other = Side.MANAGER if side is Side.DEALER else Side.DEALER
    notify(_people_of_side(plan, other), "business_plan_to_accept", params, where)
    return False


# --- The review -------------------------------------------------------------------------------------------------------


def review(actor: User, plan: BusinessPlan, notes: str, today: date | None = None) -> BusinessPlan:
    """After the period, the manufacturer's side reviews the plan: each goal as measured now, met or not, is kept
    with the notes; the plan changes no more."""
    _require_side(actor, plan, Side.MANAGER)
    if not can_review(plan.status, plan.period.ends_on, today or company_today()):
        raise IllegalTransition(_("A plan is reviewed once, after its quarter is over."))
    goals = goals_of(plan)
    measures = progress.measure(plan, goals)
    results = [
        {"kind": goal.kind.value, "note": goal.note, "wanted": measures[goal.id].wanted, "course_id": goal.course_id,
         "activity_type_id": goal.activity_type_id,
         "measured": measures[goal.id].measured, "met": measures[goal.id].met}
        for goal in goals
    ]  # fmt: skip
    _move(
        actor,
        plan,
        PlanStatus.REVIEWED,
        "business_plan.reviewed",
        review_notes=notes,
        review_results=results,
        reviewed_by_id=actor.id,
        reviewed_at=utcnow(),
    )
    notify(
        dealer_owners(plan.dealer),
        "business_plan_reviewed",
        {"dealer": plan.dealer.code, "period": plan.period.code},
        link("plans.plan_page", plan_id=plan.id),
    )
    return plan


def comment(actor: User, plan: BusinessPlan, comments: str) -> BusinessPlan:
    """The dealer's owner answers the review (and may change the answer)."""
    _require_side(actor, plan, Side.DEALER)
    if plan.status is not PlanStatus.REVIEWED:
        raise IllegalTransition(_("The dealer comments on the review once the plan is reviewed."))
    plan.dealer_comments, plan.commented_by_id, plan.commented_at = comments, actor.id, utcnow()
    db.session.flush()
    _event("business_plan.commented", actor, plan)
    return plan


# --- What waits -------------------------------------------------------------------------------------------------------


def _open_plans_of(user: Viewer) -> Any:
    if user.access_role in DEALER_PEOPLE:
        return BusinessPlan.dealer_id == user.dealer_id
    if user.access_role is AccessRole.MANAGER:
        return BusinessPlan.dealer_id.in_(select(Dealer.id).where(Dealer.manager_id == user.id))
    return None


@dataclass(frozen=True)
class ActionsDue:
    overdue: int  # past their day and not done
    this_week: int  # due today or in the next six days, not done
    only_plan: int | None  # the plan, when all of them are in one


def actions_due_counts(
    user: Viewer, today: date | ColumnElement[date], week_end: date | ColumnElement[date]
) -> CountsQuery | None:
    """The actions of the user's open plans that are overdue or due before `week_end` (today and the next six
    days), counted in one row (None for a user who sees no plans). A dealer's people see their dealer's; a manager
    their portfolio's."""
    condition = _open_plans_of(user)
    if condition is None:
        return None
    return (
        select(
            func.count(case((PlanAction.due_on < today, PlanAction.id))).label("overdue"),
            func.count(case((PlanAction.due_on >= today, PlanAction.id))).label("this_week"),
            func.min(PlanAction.plan_id).label("first_plan"),
            func.max(PlanAction.plan_id).label("last_plan"),
        )
        .join(BusinessPlan, BusinessPlan.id == PlanAction.plan_id)
        .where(
            condition,
            BusinessPlan.status != PlanStatus.REVIEWED,
            PlanAction.done_on.is_(None),
            PlanAction.due_on < week_end,
        )
    )


def actions_due_of(counts: Mapping[Any, Any]) -> ActionsDue:
    first, last = counts["first_plan"], counts["last_plan"]
    return ActionsDue(
        int(counts["overdue"]), int(counts["this_week"]), int(first) if first is not None and first == last else None
    )


def actions_due(user: User, today: date | None = None) -> ActionsDue:
    day = today or company_today()
    query = actions_due_counts(user, day, day + WEEK)
    return ActionsDue(0, 0, None) if query is None else actions_due_of(db.session.execute(query).one()._mapping)


def awaiting_acceptance_counts(user: Viewer) -> CountsQuery | None:
    """Plans waiting for the user's side to accept their current version, counted (None when this side accepts
    none: staff, and people who see no plans)."""
    condition = _open_plans_of(user)
    if condition is None or user.access_role is AccessRole.DEALER_STAFF:
        return None
    accepted = (
        PlanVersion.dealer_accepted_at
        if user.access_role is AccessRole.DEALER_OWNER
        else PlanVersion.manager_accepted_at
    )
    return (
        select(func.count(BusinessPlan.id).label("waiting"))
        .join(
            PlanVersion,
            (PlanVersion.plan_id == BusinessPlan.id) & (PlanVersion.number == BusinessPlan.version),
        )
        .where(condition, BusinessPlan.status == PlanStatus.AWAITING_AGREEMENT, accepted.is_(None))
    )


# --- Visits -----------------------------------------------------------------------------------------------------------


def visits_query(user: User) -> Select[Visit]:
    """The manufacturer's people: every visit to the dealers they see, private or shared; a dealer's people: the
    visits to their dealer that were shared with them. Newest first."""
    dealers = visible_dealers(user).with_only_columns(Dealer.id).order_by(None)
    query = select(Visit).where(Visit.dealer_id.in_(dealers))
    if user.access_role in DEALER_PEOPLE:
        query = query.where(Visit.shared.is_(True))
    return query.order_by(Visit.visited_on.desc(), Visit.id.desc())


def get_visit(user: User, visit_id: int) -> Visit:
    found = db.session.execute(visits_query(user).where(Visit.id == visit_id)).unique().scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def save_visit(actor: User, visit: Visit | None, dealer: Dealer, values: dict[str, Any]) -> Visit:
    """A manager logs a visit to a dealer they look after; only its writer changes it afterwards."""
    if side_of(actor, dealer) is not Side.MANAGER:
        raise InvalidInput("dealer_code", _("This dealer is not one you look after."))
    if visit is not None and visit.written_by_id != actor.id:
        raise Forbidden()
    if values["visited_on"] > company_today():
        raise InvalidInput("visited_on", _("A visit is logged once it has happened."))
    created, was_shared = visit is None, visit is not None and visit.shared
    if visit is None:
        visit = Visit(written_by_id=actor.id)
        db.session.add(visit)
    visit.dealer_id = dealer.id
    for field in ("visited_on", "attendees", "notes", "follow_ups", "shared"):
        setattr(visit, field, values[field])
    db.session.flush()
    record_event(
        "visit.logged" if created else "visit.changed",
        actor_id=actor.id,
        subject_type="visit",
        subject_id=visit.id,
        subject_label=f"{dealer.code} {visit.visited_on:%Y-%m-%d}",
        details={"shared": visit.shared},
    )
    if visit.shared and not was_shared:
        notify(
            dealer_owners(dealer),
            "visit_shared",
            {"dealer": dealer.code, "day": visit.visited_on.isoformat()},
            link("plans.visits"),
        )
    return visit
