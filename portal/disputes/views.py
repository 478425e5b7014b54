"""Pages of the referee side: the dealer's violations and disputes, the manager's violations, the dispute page
(parties, their managers, mediators) and the mediator's queues. Thin: parse, call one service, commit, redirect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from portal.access import CHANNEL_MANAGERS, DEALER_USERS, AccessRole, allow
from portal.accounts.models import User
from portal.claims.models import Claim
from portal.dates import company_today
from portal.dealers import services as dealer_services
from portal.dealers.documents import uploaders
from portal.dealers.models import Dealer, Period
from portal.disputes import roles as dispute_roles
from portal.disputes import services
from portal.disputes import violations as dispute_violations
from portal.disputes.forms import (
    AppealForm,
    AssignForm,
    DismissForm,
    DisputeForm,
    MessageForm,
    RequestInfoForm,
    ResolveForm,
    ViolationForm,
    WithdrawDisputeForm,
)
from portal.disputes.models import Dispute, Violation
from portal.disputes.rules import ACTIVE, DisputeCategory, Outcome, ViolationKind, ViolationStatus, can_appeal
from portal.evidence import services as evidence_services
from portal.evidence.forms import UploadForm
from portal.evidence.views import upload_then
from portal.extensions import db
from portal.page_cache import cached_page
from portal.rebates.models import RebateStatement
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput
from portal.types import label
from portal.web import RowPage, finish_action, page_number, show_service_error

bp = Blueprint("disputes", __name__)
CONSOLE = (CHANNEL_MANAGERS, AccessRole.ADMIN)
READERS = (DEALER_USERS, CHANNEL_MANAGERS, AccessRole.MEDIATOR, AccessRole.ADMIN)


def _files(owner_type: str, owner_id: int) -> dict[str, Any]:
    found = evidence_services.evidence_of(owner_type, owner_id)
    rules = evidence_services.owner_rules(owner_type)
    return {
        "documents": found,
        "uploaders": uploaders(found),
        "can_add": rules.can_add(current_user, owner_id),
        "empty_text": _("No files attached yet."),
    }


# --- Violations: the dealer's side -----------------------------------------------------------------------------------


@bp.route("/dealer/violations")
@allow(DEALER_USERS)
def dealer_violations() -> ResponseReturnValue:
    violations = db.paginate(
        dispute_violations.visible_violations(current_user).order_by(Violation.id.desc()),
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    disputes = db.paginate(
        services.visible_disputes(current_user).order_by(Dispute.id.desc()),
        page=page_number("disputes_page"),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template("disputes/dealer_violations.html", violations=violations, disputes=disputes)


def _render_dealer_violation(
    violation: Violation, form: AppealForm | None = None, status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "disputes/dealer_violation.html",
        violation=violation,
        form=form or AppealForm(formdata=None),
        may_appeal=can_appeal(violation.status, violation.appeal_until, company_today()),
        appeal=db.session.execute(select(Dispute).where(Dispute.violation_id == violation.id)).scalar_one_or_none(),
        **_files(services.VIOLATION_FILES, violation.id),
    ), status


@bp.route("/dealer/violations/<int:violation_id>")
@allow(DEALER_USERS)
def dealer_violation(violation_id: int) -> ResponseReturnValue:
    return _render_dealer_violation(dispute_violations.get_visible_violation(current_user, violation_id))


@bp.route("/dealer/violations/<int:violation_id>/appeal", methods=["POST"])
@allow(DEALER_USERS)
def appeal(violation_id: int) -> ResponseReturnValue:
    violation = dispute_violations.get_visible_violation(current_user, violation_id)
    form = AppealForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.appeal_violation(current_user, violation, form.reason.data or ""),
            lambda dispute: (
                _("Your appeal is with the mediators; the penalty waits for their decision."),
                url_for("disputes.dispute_page", dispute_id=dispute.id),
            ),
        )
        if finished:
            return finished
    return _render_dealer_violation(dispute_violations.get_visible_violation(current_user, violation_id), form, 422)


# --- Violations: the console ---------------------------------------------------------------------------------------


@bp.route("/console/violations")
@allow(*CONSOLE)
def console_violations() -> ResponseReturnValue:
    status = request.args.get("status", "proposed")
    query = dispute_violations.visible_violations(current_user)
    if status in ViolationStatus._value2member_map_:
        query = query.where(Violation.status == ViolationStatus(status))
    violations = db.paginate(
        query.order_by(Violation.id.desc()),
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "disputes/console_violations.html", violations=violations, status=status, statuses=list(ViolationStatus)
    )


def _period_choices() -> list[SelectChoice]:
    periods = db.session.execute(dealer_services.periods_newest_first().limit(8)).scalars()
    return [SelectChoice(period.code, period.code) for period in periods]


@bp.route("/console/dealers/<code>/violations/new", methods=["GET", "POST"])
@allow(*CONSOLE)
def record_violation(code: str) -> ResponseReturnValue:
    dealer = dealer_services.get_visible_dealer(current_user, code)
    form = ViolationForm()
    form.period.choices = _period_choices()
    if request.method == "GET" and not form.period.data:
        current = dealer_services.current_period()
        form.period.data = current.code if current else None
    form.penalty.currency = dealer.currency
    if form.validate_on_submit():
        penalty = form.penalty.minor
        period = db.session.execute(select(Period).where(Period.code == form.period.data)).scalar_one_or_none()
        if penalty is not None and period is not None:
            finished = finish_action(
                form,
                lambda: dispute_violations.record_violation(
                    current_user, dealer, period, ViolationKind(form.kind.data), form.description.data or "", penalty
                ),
                lambda violation: (
                    _("The violation is recorded; a senior manager or admin confirms it before it counts."),
                    url_for("disputes.console_violation", violation_id=violation.id),
                ),
            )
            if finished:
                return finished
    status = 422 if request.method == "POST" else 200
    return render_template("disputes/violation_form.html", form=form, dealer=dealer), status


def _render_console_violation(violation: Violation, **extra: Any) -> ResponseReturnValue:
    status = extra.pop("status", 200)
    role = current_user.access_role
    return render_template(
        "disputes/console_violation.html",
        violation=violation,
        can_confirm=violation.status is ViolationStatus.PROPOSED
        and role in dispute_roles.SECOND_PERSON
        and current_user.id != violation.recorded_by_id,
        can_withdraw=violation.status is ViolationStatus.PROPOSED
        and (role is not AccessRole.MANAGER or current_user.id == violation.recorded_by_id),
        appeal=db.session.execute(select(Dispute).where(Dispute.violation_id == violation.id)).scalar_one_or_none(),
        evidence_link=dispute_violations.source_link(violation),
        upload=extra.pop("upload", None) or UploadForm(formdata=None),
        upload_error=extra.pop("upload_error", ""),
        removable=None,
        **_files(services.VIOLATION_FILES, violation.id),
    ), status


@bp.route("/console/violations/<int:violation_id>")
@allow(*CONSOLE)
def console_violation(violation_id: int) -> ResponseReturnValue:
    return _render_console_violation(dispute_violations.get_visible_violation(current_user, violation_id))


@bp.route("/console/violations/<int:violation_id>/evidence", methods=["POST"])
@allow(*CONSOLE)
def violation_evidence(violation_id: int) -> ResponseReturnValue:
    violation = dispute_violations.get_visible_violation(current_user, violation_id)
    return upload_then(
        services.VIOLATION_FILES,
        violation.id,
        url_for("disputes.console_violation", violation_id=violation.id),
        lambda **extra: _render_console_violation(violation, **extra),
    )


@bp.route("/console/violations/<int:violation_id>/confirm", methods=["POST"])
@allow(*CONSOLE)
def confirm_violation(violation_id: int) -> ResponseReturnValue:
    violation = dispute_violations.get_visible_violation(current_user, violation_id)
    return finish_action(
        None,
        lambda: dispute_violations.confirm_violation(current_user, violation),
        lambda _done: (
            _("The violation is confirmed; the dealer is told and may appeal."),
            url_for("disputes.console_violation", violation_id=violation_id),
        ),
    )


@bp.route("/console/violations/<int:violation_id>/withdraw", methods=["POST"])
@allow(*CONSOLE)
def withdraw_violation(violation_id: int) -> ResponseReturnValue:
    violation = dispute_violations.get_visible_violation(current_user, violation_id)
    return finish_action(
        None,
        lambda: dispute_violations.withdraw_violation(current_user, violation),
        lambda _done: (
            _("The violation is withdrawn."),
            url_for("disputes.console_violation", violation_id=violation_id),
        ),
    )


# --- Disputes: raising, the directory ---------------------------------------------------------------------------------


@bp.route("/disputes/directory")
@allow(DEALER_USERS)
def directory() -> ResponseReturnValue:
    text = request.args.get("q", "")[:100]
    rows = RowPage(services.directory_query(text), page_number(), 50)
    return render_template("disputes/directory.html", rows=rows, text=text)


def _dispute_form_choices(form: DisputeForm) -> None:

    dealer_id = current_user.dealer_id
    claims = db.session.execute(
        select(Claim.id, Claim.title)
        .where(Claim.dealer_id == dealer_id, Claim.submission_count > 0)
        .order_by(Claim.id.desc())
        .limit(100)
    ).all()
    statements = db.session.execute(
        select(RebateStatement.id, Period.code)
        .join(Period, Period.id == RebateStatement.period_id)
        .where(RebateStatement.dealer_id == dealer_id)
        .order_by(Period.starts_on.desc())
        .limit(12)
    ).all()
    form.claim_id.choices = [SelectChoice("", _("None"))] + [SelectChoice(row[0], row[1]) for row in claims]
    form.statement_id.choices = [SelectChoice("", _("None"))] + [SelectChoice(row[0], row[1]) for row in statements]


@bp.route("/disputes/new", methods=["GET", "POST"])
@allow(DEALER_USERS)
def new_dispute() -> ResponseReturnValue:
    form = DisputeForm()
    _dispute_form_choices(form)
    if request.method == "GET":
        form.claim_id.data = request.args.get("claim", type=int)
        form.respondent.data = request.args.get("respondent", "")[:16]
    if form.validate_on_submit():
        data = services.DisputeInput(
            category=DisputeCategory(form.category.data),
            title=form.title.data or "",
            description=form.description.data or "",
            respondent_code=form.respondent.data or "",
            claim_id=form.claim_id.data,
            statement_id=form.statement_id.data,
        )
        finished = finish_action(
            form,
            lambda: services.raise_dispute(current_user, data),
            lambda dispute: (
                _("The dispute is raised. A mediator takes it up; you can add files and messages here."),
                url_for("disputes.dispute_page", dispute_id=dispute.id),
            ),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("disputes/dispute_form.html", form=form), status


# --- The dispute page -------------------------------------------------------------------------------------------------


def _render_dispute(dispute: Dispute, **forms: Any) -> ResponseReturnValue:
    status = forms.pop("status", 200)
    is_mediator = current_user.access_role in dispute_roles.MEDIATORS
    parties = [dispute.raiser] + ([dispute.respondent] if dispute.respondent else [])
    party_choices = [SelectChoice(dealer.id, f"{dealer.code} {dealer.name}") for dealer in parties]
    context: dict[str, Any] = {
        "dispute": dispute,
        "thread": services.thread(current_user, dispute),
        "can_write": services.can_write(current_user, dispute),
        "is_mediator": is_mediator,
        "holds": services.holds(current_user, dispute),
        "is_raiser": current_user.access_role in DEALER_USERS and current_user.dealer_id == dispute.raised_by_dealer_id,
        "active": dispute.status in ACTIVE,
        "overdue": dispute.status in ACTIVE and datetime.now(UTC) > dispute.due_at,
        "message_form": forms.get("message_form") or MessageForm(formdata=None),
        "upload": forms.get("upload") or UploadForm(formdata=None),
        "upload_error": forms.get("upload_error", ""),
        "withdraw_form": WithdrawDisputeForm(formdata=None),
        "removable": None,
        **_files(services.DISPUTE_FILES, dispute.id),
        "violation": None,
        "effects": forms.pop("effects", None),
    }
    if dispute.violation_id:
        appealed = db.session.execute(
            dispute_violations.visible_violations(current_user).where(Violation.id == dispute.violation_id)
        ).scalar_one_or_none()
        context["violation"] = appealed
        context["violation_files"] = (
            evidence_services.evidence_of(services.VIOLATION_FILES, appealed.id) if appealed else []
        )
    if is_mediator and dispute.status in ACTIVE:
        assign_form = forms.get("assign_form") or AssignForm(formdata=None)
        assign_form.mediator.choices = [SelectChoice(person.id, person.name) for person in dispute_roles.mediators()]
        info_form = forms.get("info_form") or RequestInfoForm(formdata=None)
        info_form.party.choices = party_choices
        resolve_form = forms.get("resolve_form") or ResolveForm(formdata=None)
        resolve_form.outcome.choices = [
            SelectChoice(outcome.value, label(outcome)) for outcome in services.outcome_choices(dispute)
        ]
        resolve_form.party.choices = [SelectChoice("", _("None")), *party_choices]
        context |= {
            "assign_form": assign_form,
            "info_form": info_form,
            "resolve_form": resolve_form,
            "dismiss_form": forms.get("dismiss_form") or DismissForm(formdata=None),
        }
    return render_template("disputes/dispute.html", **context), status


@bp.route("/disputes/<int:dispute_id>")
@allow(*READERS)
def dispute_page(dispute_id: int) -> ResponseReturnValue:
    return _render_dispute(services.get_visible_dispute(current_user, dispute_id))


def _dispute_action(dispute_id: int, form_name: str, form: Any, action: Any, message: str) -> ResponseReturnValue:
    dispute = services.get_visible_dispute(current_user, dispute_id)
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: action(dispute),
            lambda _done: (message, url_for("disputes.dispute_page", dispute_id=dispute_id)),
        )
        if finished:
            return finished
    return _render_dispute(services.get_visible_dispute(current_user, dispute_id), status=422, **{form_name: form})


@bp.route("/disputes/<int:dispute_id>/messages", methods=["POST"])
@allow(*READERS)
def post_message(dispute_id: int) -> ResponseReturnValue:
    form = MessageForm()
    return _dispute_action(
        dispute_id,
        "message_form",
        form,
        lambda dispute: services.post_message(current_user, dispute, form.body.data or "", bool(form.internal.data)),
        _("Your message is added."),
    )


@bp.route("/disputes/<int:dispute_id>/evidence", methods=["POST"])
@allow(DEALER_USERS, AccessRole.MEDIATOR, AccessRole.ADMIN)
def dispute_evidence(dispute_id: int) -> ResponseReturnValue:
    dispute = services.get_visible_dispute(current_user, dispute_id)
    return upload_then(
        services.DISPUTE_FILES,
        dispute.id,
        url_for("disputes.dispute_page", dispute_id=dispute.id),
        lambda **extra: _render_dispute(dispute, **extra),
    )


@bp.route("/disputes/<int:dispute_id>/withdraw", methods=["POST"])
@allow(DEALER_USERS)
def withdraw_dispute(dispute_id: int) -> ResponseReturnValue:
    form = WithdrawDisputeForm()
    return _dispute_action(
        dispute_id,
        "withdraw_form",
        form,
        lambda dispute: services.withdraw_dispute(current_user, dispute, form.reason.data or ""),
        _("The dispute is withdrawn."),
    )


def _mediator(user_id: int | None) -> Any:

    found = db.session.get(User, user_id) if user_id else None
    if found is None:
        abort(422, description=_("Choose an active mediator."))
    return found


@bp.route("/disputes/<int:dispute_id>/assign", methods=["POST"])
@allow(AccessRole.MEDIATOR, AccessRole.ADMIN)
def assign(dispute_id: int) -> ResponseReturnValue:
    form = AssignForm()
    form.mediator.choices = [SelectChoice(person.id, person.name) for person in dispute_roles.mediators()]
    return _dispute_action(
        dispute_id,
        "assign_form",
        form,
        lambda dispute: services.assign(current_user, dispute, _mediator(form.mediator.data)),
        _("The dispute is assigned."),
    )


@bp.route("/disputes/<int:dispute_id>/take", methods=["POST"])
@allow(AccessRole.MEDIATOR)
def take(dispute_id: int) -> ResponseReturnValue:
    dispute = services.get_visible_dispute(current_user, dispute_id)
    return finish_action(
        None,
        lambda: services.assign(current_user, dispute, current_user),
        lambda _done: (_("The dispute is yours."), url_for("disputes.dispute_page", dispute_id=dispute_id)),
    )


@bp.route("/disputes/<int:dispute_id>/request-information", methods=["POST"])
@allow(AccessRole.MEDIATOR, AccessRole.ADMIN)
def request_information(dispute_id: int) -> ResponseReturnValue:
    form = RequestInfoForm()
    dispute = services.get_visible_dispute(current_user, dispute_id)
    form.party.choices = [SelectChoice(dealer_id, str(dealer_id)) for dealer_id in sorted(dispute.party_ids())]
    return _dispute_action(
        dispute_id,
        "info_form",
        form,
        lambda found: services.request_information(
            current_user, found, form.party.data or 0, form.message.data or "", form.days.data or 0
        ),
        _("The party is asked and told the deadline."),
    )


@bp.route("/disputes/<int:dispute_id>/resolve", methods=["POST"])
@allow(AccessRole.MEDIATOR, AccessRole.ADMIN)
def resolve(dispute_id: int) -> ResponseReturnValue:
    dispute = services.get_visible_dispute(current_user, dispute_id)
    form = ResolveForm()
    form.outcome.choices = [SelectChoice(outcome.value, label(outcome)) for outcome in Outcome]
    form.party.choices = [SelectChoice("", "")] + [
        SelectChoice(dealer_id, str(dealer_id)) for dealer_id in sorted(dispute.party_ids())
    ]
    party = db.session.get(Dealer, form.party.data) if form.party.data else None
    form.amount.currency = party.currency if party else "CNY"
    amount = 0
    if form.is_submitted() and (form.amount.data or "").strip():
        if not form.amount.validate(form):
            return _render_dispute(dispute, status=422, resolve_form=form)
        amount = form.amount.minor or 0

    def resolution() -> services.Resolution:
        return services.Resolution(Outcome(form.outcome.data), form.summary.data or "", form.party.data, amount)

    if form.confirmed.data != "yes":
        # The confirm step: what the outcome would do, shown before anything is applied; nothing changes here.
        if form.validate_on_submit():
            try:
                effects = services.resolution_effects(current_user, dispute, resolution())
            except InvalidInput as error:
                show_service_error(form, error.field, error.message)
            except IllegalTransition as error:
                abort(409, description=error.message)
            else:
                return _render_dispute(dispute, resolve_form=form, effects=effects)
        return _render_dispute(dispute, status=422, resolve_form=form)

    def settle(found: Dispute) -> Dispute:
        return services.resolve(current_user, found, resolution())

    return _dispute_action(
        dispute_id, "resolve_form", form, settle, _("The dispute is resolved; both parties are told.")
    )


@bp.route("/disputes/<int:dispute_id>/dismiss", methods=["POST"])
@allow(AccessRole.MEDIATOR, AccessRole.ADMIN)
def dismiss(dispute_id: int) -> ResponseReturnValue:
    form = DismissForm()
    return _dispute_action(
        dispute_id,
        "dismiss_form",
        form,
        lambda dispute: services.dismiss(current_user, dispute, form.reason.data or ""),
        _("The dispute is dismissed; both parties are told."),
    )


# --- The mediator's home ---------------------------------------------------------------------------------------------

QUEUES = ("mine", "unassigned", "overdue", "active")


@bp.route("/mediation/")
@allow(AccessRole.MEDIATOR, AccessRole.ADMIN)
@cached_page
def mediation_home() -> ResponseReturnValue:
    queue = request.args.get("queue", "mine")
    if queue not in QUEUES:
        queue = "mine"
    counts = services.queue_counts(current_user)
    disputes = services.mediation_page(current_user, queue, counts[queue])  # the tab counted it
    return render_template(
        "disputes/mediation_home.html",
        disputes=disputes,
        queue=queue,
        queues=QUEUES,
        counts=counts,
        now=datetime.now(UTC),
    )


# --- Sections of the dealers' pages -----------------------------------------------------------------------------------


def dealer_console_section(viewer: User, dealer: Dealer) -> dict[str, object]:
    """A dealer's page in the console: its last ten violations and disputes the viewer may see."""
    violations = (
        dispute_violations.visible_violations(viewer)
        .where(Violation.dealer_id == dealer.id)
        .order_by(Violation.id.desc())
    )
    disputes = (
        services.visible_disputes(viewer)
        .where((Dispute.raised_by_dealer_id == dealer.id) | (Dispute.respondent_dealer_id == dealer.id))
        .order_by(Dispute.id.desc())
    )
    return {
        "violations": list(db.session.execute(violations.limit(10)).scalars()),
        "disputes": list(db.session.execute(disputes.limit(10)).scalars()),
    }
