"""The plan pages: the list (a dealer's plans; the manufacturer's for a quarter), one plan with its goals measured,
its actions and its agreement, its versions compared, the review; and the visit log. Thin: parse, call one
service, commit, redirect or render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.access import AccessRole, allow
from portal.dates import company_today
from portal.dealers import services as dealer_services
from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.extensions import db
from portal.forms_common import SelectChoice
from portal.plans import services
from portal.plans.forms import AcceptForm, ActionForm, CommentForm, GoalForm, ReviewForm, StartPlanForm, VisitForm
from portal.plans.models import BusinessPlan, Visit
from portal.plans.rules import can_review, is_open, is_overdue, may_accept
from portal.request_locale import gettext as _
from portal.request_locale import in_reader_language
from portal.service_errors import NotFound
from portal.web import RowPage, finish_action, page_number

bp = Blueprint("plans", __name__, url_prefix="/plans")


def _plannable_periods() -> list[Period]:
    today = company_today()
    return [
        period
        for period in db.session.execute(dealer_services.periods_newest_first()).scalars()
        if period.status is PeriodStatus.OPEN and period.ends_on >= today
    ][:6]


def _start_form() -> StartPlanForm:
    form = StartPlanForm()
    form.period.choices = [SelectChoice(period.code, period.code) for period in reversed(_plannable_periods())]
    return form


def _render_list(start_form: StartPlanForm, status: int = 200) -> ResponseReturnValue:
    dealer_side = current_user.access_role in services.DEALER_PEOPLE
    period = None if dealer_side else dealer_services.period_for_view(request.args.get("period"))
    plans = RowPage(services.plans_query(current_user, period), page_number(), services.PER_PAGE)
    return (
        render_template(
            "plans/list.html",
            plans=plans,
            period=period,
            periods=dealer_services.recent_periods(),
            start_form=start_form,
            can_start=current_user.access_role in services.PLANNERS,
            dealer_side=dealer_side,
        ),
        status,
    )


@bp.route("/")
@allow(*services.READERS)
def plan_list() -> ResponseReturnValue:
    return _render_list(_start_form())


@bp.route("/new", methods=["POST"])
@allow(*services.PLANNERS)
def start_plan() -> ResponseReturnValue:
    form = _start_form()
    if current_user.access_role is AccessRole.DEALER_OWNER:
        form.dealer_code.data = current_user.dealer.code
    if form.validate_on_submit():
        code = form.dealer()
        dealer = (
            db.session.execute(dealer_services.visible_dealers(current_user).where(Dealer.code == code))
            .unique()
            .scalar_one_or_none()
        )
        if dealer is None:
            form.dealer_code.errors = [_("No dealer you look after has this code.")]
        else:
            done = finish_action(
                form,
                lambda: services.start_plan(current_user, dealer, dealer_services.get_period(form.period.data)),
                lambda plan: (
                    _("The plan is started: add its goals and actions, then accept it."),
                    url_for("plans.plan_page", plan_id=plan.id),
                ),
            )
            if done is not None:
                return done
    return _render_list(form, 422)


def _goal_form(plan: BusinessPlan, formdata: Any = None) -> GoalForm:
    """The goal form; its course and activity choices are filled when it is shown (`_render_plan`), since a posted
    id is checked by the service, not by the list."""
    form = GoalForm() if formdata is None else GoalForm(formdata=formdata)
    form.budget.currency = plan.dealer.currency
    return form


def _render_plan(
    plan: BusinessPlan,
    goal_form: GoalForm | None = None,
    action_form: ActionForm | None = None,
    review_form: ReviewForm | None = None,
    comment_form: CommentForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    goals = services.goals_of(plan)
    actions = services.actions_of(plan)
    today = company_today()
    side = services.side_of(current_user, plan.dealer)
    version = services.current_version(plan)
    courses, activity_types = services.choices()
    goal_form = goal_form or _goal_form(plan)
    goal_form.course_id.choices = [SelectChoice("", "")] + [
        SelectChoice(course.id, f"{course.code} {course.title}") for course in courses
    ]
    goal_form.activity_type_id.choices = [SelectChoice("", "")] + [
        SelectChoice(kind.id, in_reader_language(kind.name_en, kind.name_zh)) for kind in activity_types
    ]
    return (
        render_template(
            "plans/plan.html",
            plan=plan,
            goals=goals,
            measures=services.progress_of(plan, goals),
            actions=actions,
            overdue={action.id for action in actions if is_overdue(action.due_on, action.done_on, today)},
            version=version,
            side=side,
            may_change=side is not None and is_open(plan.status),
            may_accept=may_accept(
                plan.status, side, version.dealer_accepted_at is not None, version.manager_accepted_at is not None
            ),
            accept_form=AcceptForm(formdata=None, revision=str(plan.revision)),
            goal_form=goal_form,
            action_form=action_form or ActionForm(),
            review_form=review_form or ReviewForm(formdata=None),
            comment_form=comment_form or CommentForm(formdata=None, comments=plan.dealer_comments),
            may_review=side is services.Side.MANAGER and can_review(plan.status, plan.period.ends_on, today),
            course_names={course.id: f"{course.code} {course.title}" for course in courses},
            activity_names={kind.id: (kind.name_en, kind.name_zh) for kind in activity_types},
        ),
        status,
    )


@bp.route("/<int:plan_id>")
@allow(*services.READERS)
def plan_page(plan_id: int) -> ResponseReturnValue:
    return _render_plan(services.get_plan(current_user, plan_id))


def _plan_action(plan_id: int, action: Any, message: str) -> ResponseReturnValue:
    plan = services.get_plan(current_user, plan_id)
    return finish_action(
        None, lambda: action(plan), lambda _done: (message, url_for("plans.plan_page", plan_id=plan_id))
    )


def _posted(plan: BusinessPlan, form: Any, change: Callable[[], Any], message: str, shown: str) -> ResponseReturnValue:
    """One of the plan's small forms posted: the service called, back to the plan; a refused form (or a refusal
    the service names a field for) shows the plan again with that form's errors, 422."""
    if form.validate_on_submit():
        done = finish_action(form, change, lambda _result: (message, url_for("plans.plan_page", plan_id=plan.id)))
        if done is not None:
            return done
    return _render_plan(plan, status=422, **{shown: form})


@bp.route("/<int:plan_id>/goals", methods=["POST"])
@allow(*services.PLANNERS)
def add_goal(plan_id: int) -> ResponseReturnValue:
    plan = services.get_plan(current_user, plan_id)
    form = _goal_form(plan, request.form)
    return _posted(
        plan, form, lambda: services.add_goal(current_user, plan, form.values()), _("The goal is added."), "goal_form"
    )


@bp.route("/<int:plan_id>/goals/<int:goal_id>/remove", methods=["POST"])
@allow(*services.PLANNERS)
def remove_goal(plan_id: int, goal_id: int) -> ResponseReturnValue:
    return _plan_action(
        plan_id, lambda plan: services.remove_goal(current_user, plan, goal_id), _("The goal is removed.")
    )


@bp.route("/<int:plan_id>/actions", methods=["POST"])
@allow(*services.PLANNERS)
def add_action(plan_id: int) -> ResponseReturnValue:
    plan = services.get_plan(current_user, plan_id)
    form = ActionForm()
    return _posted(
        plan,
        form,
        lambda: services.add_action(current_user, plan, form.values()),
        _("The action is added."),
        "action_form",
    )


@bp.route("/<int:plan_id>/actions/<int:action_id>/remove", methods=["POST"])
@allow(*services.PLANNERS)
def remove_action(plan_id: int, action_id: int) -> ResponseReturnValue:
    return _plan_action(
        plan_id, lambda plan: services.remove_action(current_user, plan, action_id), _("The action is removed.")
    )


@bp.route("/<int:plan_id>/actions/<int:action_id>/done", methods=["POST"])
@allow(*services.PLANNERS)
def mark_done(plan_id: int, action_id: int) -> ResponseReturnValue:
    return _plan_action(
        plan_id, lambda plan: services.mark_done(current_user, plan, action_id), _("The action is marked done.")
    )


@bp.route("/<int:plan_id>/accept", methods=["POST"])
@allow(*services.PLANNERS)
def accept(plan_id: int) -> ResponseReturnValue:
    plan = services.get_plan(current_user, plan_id)
    form = AcceptForm()
    revision = form.read_revision() if form.validate_on_submit() else None
    if revision is None:
        abort(422, description=_("Reload the plan and accept what you read."))
    return finish_action(
        None,
        lambda: services.accept(current_user, plan, revision),
        lambda agreed: (
            _("Both sides have accepted: the plan is agreed.")
            if agreed
            else _("Accepted for your side; the other side is asked to accept it too."),
            url_for("plans.plan_page", plan_id=plan_id),
        ),
    )


@bp.route("/<int:plan_id>/versions")
@allow(*services.READERS)
def versions(plan_id: int) -> ResponseReturnValue:
    plan = services.get_plan(current_user, plan_id)
    found = services.versions_of(plan)
    courses, activity_types = services.choices()
    return render_template(
        "plans/versions.html",
        plan=plan,
        versions=found,
        changes=services.version_changes(found),
        course_names={course.id: f"{course.code} {course.title}" for course in courses},
        activity_names={kind.id: (kind.name_en, kind.name_zh) for kind in activity_types},
    )


@bp.route("/<int:plan_id>/review", methods=["POST"])
@allow(*services.MANUFACTURER)
def review(plan_id: int) -> ResponseReturnValue:
    plan = services.get_plan(current_user, plan_id)
    form = ReviewForm()
    return _posted(
        plan,
        form,
        lambda: services.review(current_user, plan, form.notes.data or ""),
        _("The review is kept with the plan."),
        "review_form",
    )


@bp.route("/<int:plan_id>/comment", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def comment(plan_id: int) -> ResponseReturnValue:
    plan = services.get_plan(current_user, plan_id)
    form = CommentForm()
    return _posted(
        plan,
        form,
        lambda: services.comment(current_user, plan, form.comments.data or ""),
        _("Your comments are kept with the review."),
        "comment_form",
    )


# --- The visit log ----------------------------------------------------------------------------------------------------


@bp.route("/visits/")
@allow(*services.READERS)
def visits() -> ResponseReturnValue:
    return render_template(
        "plans/visits.html",
        visits=db.paginate(services.visits_query(current_user), page=page_number(), per_page=services.PER_PAGE),
        can_log=current_user.access_role in services.MANUFACTURER,
    )


def _render_visit_form(form: VisitForm, visit: Visit | None, status: int = 200) -> ResponseReturnValue:
    return render_template("plans/visit_form.html", form=form, visit=visit), status


def _save_visit(form: VisitForm, visit: Visit | None) -> ResponseReturnValue:
    if form.validate_on_submit():
        dealer = (
            db.session.execute(dealer_services.visible_dealers(current_user).where(Dealer.code == form.dealer()))
            .unique()
            .scalar_one_or_none()
        )
        if dealer is None:
            form.dealer_code.errors = [_("No dealer you look after has this code.")]
        else:
            done = finish_action(
                form,
                lambda: services.save_visit(current_user, visit, dealer, form.values()),
                lambda _visit: (_("The visit is in the log."), url_for("plans.visits")),
            )
            if done is not None:
                return done
    return _render_visit_form(form, visit, 422)


@bp.route("/visits/new", methods=["GET", "POST"])
@allow(*services.MANUFACTURER)
def new_visit() -> ResponseReturnValue:
    form = VisitForm()
    if request.method == "GET":
        form.dealer_code.data = request.args.get("dealer", "")[:32]
        form.visited_on.data = company_today()
        return _render_visit_form(form, None)
    return _save_visit(form, None)


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
@allow(*services.MANUFACTURER)
def edit_visit(visit_id: int) -> ResponseReturnValue:
    visit = services.get_visit(current_user, visit_id)
    if visit.written_by_id != current_user.id:
        raise NotFound()  # another manager's visit: read in the log, changed by its writer only
    if request.method == "GET":
        form = VisitForm(formdata=None, obj=visit)
        form.dealer_code.data = visit.dealer.code
        return _render_visit_form(form, visit)
    return _save_visit(VisitForm(), visit)
