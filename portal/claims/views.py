"""Claim pages: the dealer's budget, claims and pre-approval requests; the reviewer's queue, review page, bulk
approval, pre-approval decisions and report; the admin's budgets and payment batches. Thin: parse, call one
service, commit once, redirect or render."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_login import current_user
from wtforms import SelectChoice

from portal.access import CHANNEL_MANAGERS, DEALER_USERS, AccessRole, allow
from portal.accounts.models import User
from portal.claims import budgets as budget_services
from portal.claims import pre_approvals as request_services
from portal.claims import queries, services
from portal.claims.forms import (
    AskBudgetForm,
    BulkApproveForm,
    ClaimForm,
    CommentForm,
    DecisionForm,
    FundRequestForm,
    PaymentForm,
    QuickClaimForm,
    RequestDecisionForm,
    SecondDecisionForm,
    WithdrawForm,
)
from portal.claims.invoices import InvoiceType
from portal.claims.models import ActivityType, Claim
from portal.claims.rules import ClaimStatus, Flag, RejectionReason, awaits_review, bulk_approvable, claim_deadline
from portal.csv_io import csv_response
from portal.dates import company_today
from portal.dealers import documents
from portal.dealers import services as dealer_services
from portal.dealers.amount_pages import AmountPages, Column
from portal.dealers.models import Dealer
from portal.evidence import services as evidence_services
from portal.evidence.forms import UploadForm
from portal.evidence.views import upload_then
from portal.extensions import db
from portal.formatting import money
from portal.money import to_decimal
from portal.page_cache import cached_page
from portal.request_locale import gettext as _
from portal.request_locale import in_reader_language
from portal.request_locale import lazy_gettext as _l
from portal.service_errors import IllegalTransition, InvalidInput
from portal.types import label
from portal.web import (
    RowPage,
    finish_action,
    page_number,
    redirect_to,
    render_page_or_fragment,
    show_service_error,
)

bp = Blueprint("claims", __name__)
REVIEWERS = (CHANNEL_MANAGERS, AccessRole.ADMIN)
_DEFAULT: Any = object()  # the request's own form, as Flask-WTF reads it


def _activity_name(kind: ActivityType) -> str:
    return in_reader_language(kind.name_en, kind.name_zh)


def _activity_choices() -> list[SelectChoice]:
    kinds = db.session.execute(db.select(ActivityType).where(ActivityType.active).order_by(ActivityType.id)).scalars()
    needs = " · " + _("needs pre-approval")
    return [SelectChoice(kind.id, _activity_name(kind) + (needs if kind.needs_pre_approval else "")) for kind in kinds]


@bp.app_template_filter("rejection_label")
def rejection_label(value: str) -> str:
    return label(RejectionReason(value)) if value in RejectionReason._value2member_map_ else value


@bp.app_template_filter("invoice_type_label")
def invoice_type_label(value: str) -> str:
    return label(InvoiceType(value)) if value in InvoiceType._value2member_map_ else value


@bp.app_template_global("activity_name")
def activity_name_global(kind: ActivityType) -> str:
    return _activity_name(kind)


# --- The dealer's claims ------------------------------------------------------------------------------------------


def _own_claim(claim_id: int) -> Claim:
    claim = services.get_visible_claim(current_user, claim_id)
    if claim.dealer_id != current_user.dealer_id:
        abort(404)
    return claim


@bp.route("/claims/")
@allow(DEALER_USERS)
@cached_page
def dealer_claims() -> ResponseReturnValue:
    dealer = current_user.dealer
    status = request.args.get("status", "")
    claims = queries.dealer_claims_page(dealer.id, status)
    budgets = [(period, budget_services.budget_of(dealer, period)) for period in services.claimable_periods()]
    return render_template(
        "claims/dealer_claims.html",
        dealer=dealer,
        claims=claims,
        budgets=budgets,
        status=status if status in ClaimStatus._value2member_map_ else "",
        statuses=list(ClaimStatus),
        window=current_app.config["CLAIM_WINDOW_DAYS"],
        deadline=claim_deadline,
    )


def _claim_form_choices(form: ClaimForm, keep_request: int | None = None) -> None:
    currency = current_user.dealer.currency
    for money_field in (form.amount, form.invoice_amount_before_tax, form.invoice_tax, form.invoice_total):
        money_field.currency = currency
    form.period.choices = [SelectChoice(period.code, period.code) for period in services.claimable_periods()]
    form.activity_type_id.choices = _activity_choices()
    form.fund_request_id.choices = [SelectChoice("", _("None"))] + [
        SelectChoice(found.id, f"{found.title} · {found.planned_start.isoformat()}")
        for found in request_services.usable_requests(current_user.dealer_id, keep_request)
    ]


def _claim_input(form: ClaimForm) -> services.ClaimInput | None:
    amount = form.amount.minor
    if amount is None:
        return None
    return services.ClaimInput(
        activity_type_id=form.activity_type_id.data or 0,
        title=form.title.data or "",
        description=form.description.data or "",
        activity_start=form.activity_start.data,
        activity_end=form.activity_end.data,
        vendor=form.vendor.data or "",
        vendor_tax_id=form.vendor_tax_id.data or "",
        invoice_number=form.invoice_number.data or "",
        amount=amount,
        fund_request_id=form.fund_request_id.data,
        over_pre_approval_reason=form.over_pre_approval_reason.data or "",
        invoice_type=form.invoice_type.data or "",
        invoice_code=form.invoice_code.data or "",
        invoice_date=form.invoice_date.data,
        invoice_amount_before_tax=form.invoice_amount_before_tax.minor,
        invoice_tax=form.invoice_tax.minor,
        invoice_total=form.invoice_total.minor,
    )


@bp.route("/claims/new", methods=["GET", "POST"])
@allow(DEALER_USERS)
def new_claim() -> ResponseReturnValue:
    form = ClaimForm()
    _claim_form_choices(form)
    if request.method == "GET":
        form.period.data = form.period.data or (form.period.choices[0].value if form.period.choices else "")
    if form.validate_on_submit():
        data = _claim_input(form)
        if data is not None:
            period = dealer_services.get_period(form.period.data)
            finished = finish_action(
                form,
                lambda: services.create_draft(current_user, period, data),
                lambda claim: (
                    _("The draft is saved. Attach the evidence, then submit it."),
                    url_for("claims.claim_page", claim_id=claim.id),
                ),
            )
            if finished:
                return finished
    status = 422 if request.method == "POST" else 200
    return render_template("claims/claim_form.html", form=form, claim=None), status


def _default_activity(dealer_id: int) -> int | None:
    """The activity the dealer claimed last, else the first that needs no pre-approval: most claims repeat one."""
    last = db.session.execute(
        db.select(Claim.activity_type_id)
        .join(ActivityType, ActivityType.id == Claim.activity_type_id)
        .where(Claim.dealer_id == dealer_id, ActivityType.active)
        .order_by(Claim.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is not None:
        return last
    return db.session.execute(
        db.select(ActivityType.id)
        .where(ActivityType.active, ActivityType.needs_pre_approval.is_(False))
        .order_by(ActivityType.id)
        .limit(1)
    ).scalar_one_or_none()


def _quick_form(formdata: Any = _DEFAULT) -> QuickClaimForm:
    """The quick claim's form with its choices, the dealer's currency and, on a fresh page, today's dates."""
    form = QuickClaimForm() if formdata is _DEFAULT else QuickClaimForm(formdata=formdata, meta={"csrf": False})
    form.amount.currency = current_user.dealer.currency
    form.activity_type_id.choices = _activity_choices()
    form.fund_request_id.choices = [SelectChoice("", _("None"))] + [
        SelectChoice(found.id, f"{found.title} · {found.planned_start.isoformat()}")
        for found in request_services.usable_requests(current_user.dealer_id)
    ]
    return form


def _suggested_title(form: QuickClaimForm) -> str:
    kind = db.session.get(ActivityType, form.activity_type_id.data) if form.activity_type_id.data else None
    day = form.activity_end.data or company_today()
    return f"{_activity_name(kind) if kind else _('Claim')} · {format_date(day, 'medium')}"


def _quick_draft(form: QuickClaimForm) -> services.QuickDraft:
    """What the (validated) form holds so far: a field that did not parse is missing, not an error, to the check."""
    return services.QuickDraft(
        activity_type_id=form.activity_type_id.data,
        amount=form.amount.minor,
        activity_start=form.activity_start.data,
        activity_end=form.activity_end.data,
        invoice_number=form.invoice_number.data or "",
        fund_request_id=form.fund_request_id.data,
    )


def _render_quick(form: QuickClaimForm, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "claims/quick_claim.html",
        form=form,
        check=services.check_quick_claim(current_user, _quick_draft(form)),
        currency=current_user.dealer.currency,
        suggested=_suggested_title(form),
    ), status


@bp.route("/claims/quick", methods=["GET", "POST"])
@allow(DEALER_USERS)
def quick_claim() -> ResponseReturnValue:
    """A claim in a few taps from a phone: files, amount, activity, Submit. Rules are checked as the dealer types
    (quick_claim_check); the fields are kept on the phone until the claim is sent."""
    form = _quick_form()
    if request.method == "GET":
        form.activity_type_id.data = _default_activity(current_user.dealer_id)
        form.activity_start.data = form.activity_end.data = company_today()
        form.fund_request_id.data = None
        return _render_quick(form)
    if form.validate_on_submit() and form.amount.minor is not None:
        assert form.activity_start.data is not None and form.activity_end.data is not None
        data = services.ClaimInput(
            activity_type_id=form.activity_type_id.data or 0,
            title=(form.title.data or "").strip() or _suggested_title(form),
            description="",
            activity_start=form.activity_start.data,
            activity_end=form.activity_end.data,
            vendor="",
            vendor_tax_id="",
            invoice_number=form.invoice_number.data or "",
            amount=form.amount.minor,
            fund_request_id=form.fund_request_id.data,
        )
        files = [(upload.stream, upload.filename) for upload in form.files.data or []]
        try:
            result = services.claim_in_one_go(current_user, data, files)
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        except IllegalTransition as error:
            db.session.rollback()
            abort(409, description=error.message)
        else:
            db.session.commit()
            claim_url = url_for("claims.claim_page", claim_id=result.claim.id, sent="quick")
            if result.problems:
                reasons = " ".join(label(problem) for problem in result.problems)
                flash(_("Saved as a draft with its files, not submitted: %(reasons)s", reasons=reasons), "warning")
            else:
                flash(_("The claim is submitted. Your channel manager is told; you can follow it here."), "success")
            return redirect_to(claim_url)
    return _render_quick(form, 422)


@bp.route("/claims/quick/check")
@allow(DEALER_USERS)
def quick_claim_check() -> ResponseReturnValue:
    """The quick claim's rules as the dealer types (htmx): budget left, the last day, every problem, the invoice
    already claimed. Read-only, so a GET; the form's fields arrive as its query."""
    form = _quick_form(request.args)
    form.validate()  # parses what it can; the files are never part of the check
    check = services.check_quick_claim(current_user, _quick_draft(form))
    return render_template("claims/_quick_check.html", check=check, currency=current_user.dealer.currency)


@bp.route("/claims/<int:claim_id>/edit", methods=["GET", "POST"])
@allow(DEALER_USERS)
def edit_claim(claim_id: int) -> ResponseReturnValue:
    claim = _own_claim(claim_id)
    if claim.status not in (ClaimStatus.DRAFT, ClaimStatus.NEEDS_INFO):
        abort(409, description=_("Only a draft, or a claim asked for information, can be changed."))
    form = ClaimForm(obj=claim) if request.method == "GET" else ClaimForm()
    _claim_form_choices(form, claim.fund_request_id)
    form.period.choices = [SelectChoice(claim.period.code, claim.period.code)]
    if request.method == "GET":
        form.period.data = claim.period.code
        form.amount.data = str(to_decimal(claim.amount_requested, claim.dealer.currency))
        for money_field, value in (
            (form.invoice_amount_before_tax, claim.invoice_amount_before_tax),
            (form.invoice_tax, claim.invoice_tax),
            (form.invoice_total, claim.invoice_total),
        ):
            money_field.data = str(to_decimal(value, claim.dealer.currency)) if value is not None else ""
    if form.validate_on_submit():
        data = _claim_input(form)
        if data is not None:
            finished = finish_action(
                form,
                lambda: services.update_draft(current_user, claim, data),
                lambda _result: (_("The claim is saved."), url_for("claims.claim_page", claim_id=claim.id)),
            )
            if finished:
                return finished
    status = 422 if request.method == "POST" else 200
    return render_template("claims/claim_form.html", form=form, claim=claim), status


def _render_claim(
    claim: Claim,
    *,
    upload: UploadForm | None = None,
    upload_error: str = "",
    comment: CommentForm | None = None,
    problems: list[Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    files = evidence_services.evidence_of(services.CLAIM_OWNER, claim.id)
    rules = evidence_services.owner_rules(services.CLAIM_OWNER)
    return render_template(
        "claims/claim.html",
        claim=claim,
        files=files,
        can_add=rules.can_add(current_user, claim.id),
        removable=lambda document: rules.can_remove(current_user, document),
        remove_url=lambda document: url_for("claims.remove_claim_evidence", claim_id=claim.id, evidence_id=document.id),
        uploaders=documents.uploaders(files),
        upload=upload or UploadForm(formdata=None),
        upload_error=upload_error,
        comment_form=comment or CommentForm(formdata=None),
        withdraw_form=WithdrawForm(formdata=None),
        timeline=services.timeline(claim),
        problems=problems if problems is not None else services.problems_before_submitting(claim),
        budget=budget_services.budget_of(claim.dealer, claim.period),
        deadline=claim_deadline(claim.activity_end, current_app.config["CLAIM_WINDOW_DAYS"]),
        refused=problems is not None,
    ), status


@bp.route("/claims/<int:claim_id>")
@allow(DEALER_USERS)
def claim_page(claim_id: int) -> ResponseReturnValue:
    return _render_claim(_own_claim(claim_id))


@bp.route("/claims/<int:claim_id>/evidence", methods=["POST"])
@allow(DEALER_USERS)
def add_claim_evidence(claim_id: int) -> ResponseReturnValue:
    claim = _own_claim(claim_id)
    return upload_then(
        services.CLAIM_OWNER,
        claim.id,
        url_for("claims.claim_page", claim_id=claim.id),
        lambda **extra: _render_claim(_own_claim(claim_id), **extra),
    )


@bp.route("/claims/<int:claim_id>/evidence/<int:evidence_id>/remove", methods=["POST"])
@allow(DEALER_USERS)
def remove_claim_evidence(claim_id: int, evidence_id: int) -> ResponseReturnValue:
    claim = _own_claim(claim_id)
    evidence = evidence_services.get_viewable(current_user, evidence_id)
    if evidence.owner_type != services.CLAIM_OWNER or evidence.owner_id != claim.id:
        abort(404)
    name = evidence.original_name
    return finish_action(
        None,
        lambda: evidence_services.remove_evidence(current_user, evidence),
        lambda _result: (_("%(name)s was removed.", name=name), url_for("claims.claim_page", claim_id=claim.id)),
    )


@bp.route("/claims/<int:claim_id>/submit", methods=["POST"])
@allow(DEALER_USERS)
def submit_claim(claim_id: int) -> ResponseReturnValue:
    claim = _own_claim(claim_id)
    form = WithdrawForm()  # carries only the CSRF token here
    if not form.validate_on_submit():
        abort(400)
    try:
        services.submit(current_user, claim)
    except services.SubmissionRefused as refused:
        db.session.rollback()
        return _render_claim(_own_claim(claim_id), problems=refused.problems, status=422)
    except IllegalTransition as error:
        db.session.rollback()
        abort(409, description=error.message)
    db.session.commit()
    flash(_("The claim is submitted. Your channel manager is told; you can follow it here."), "success")
    return redirect_to(url_for("claims.claim_page", claim_id=claim_id))


@bp.route("/claims/<int:claim_id>/withdraw", methods=["POST"])
@allow(DEALER_USERS)
def withdraw_claim(claim_id: int) -> ResponseReturnValue:
    claim = _own_claim(claim_id)
    form = WithdrawForm()
    if not form.validate_on_submit():
        abort(400)
    return finish_action(
        None,
        lambda: services.withdraw(current_user, claim, form.reason.data or ""),
        lambda _result: (_("The claim is withdrawn."), url_for("claims.claim_page", claim_id=claim_id)),
    )


@bp.route("/claims/<int:claim_id>/comments", methods=["POST"])
@allow(DEALER_USERS, *REVIEWERS)
def comment(claim_id: int) -> ResponseReturnValue:
    is_dealer = current_user.access_role in DEALER_USERS
    claim = _own_claim(claim_id) if is_dealer else services.get_reviewable_claim(current_user, claim_id)
    form = CommentForm()
    page = "claims.claim_page" if is_dealer else "claims.review_page"
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.add_comment(current_user, claim, form.comment.data or ""),
            lambda _event: (_("Your comment is added."), url_for(page, claim_id=claim_id)),
        )
        if finished:
            return finished
    if is_dealer:
        return _render_claim(claim, comment=form, status=422)
    return _render_review(claim, comment=form, status=422)


# --- Pre-approval requests ------------------------------------------------------------------------------------------


@bp.route("/claims/pre-approvals", methods=["GET", "POST"])
@allow(DEALER_USERS)
def pre_approvals() -> ResponseReturnValue:
    form = FundRequestForm()
    form.period.choices = [SelectChoice(period.code, period.code) for period in services.claimable_periods()]
    form.activity_type_id.choices = _activity_choices()
    form.estimated_cost.currency = current_user.dealer.currency
    if form.validate_on_submit():
        cost = form.estimated_cost.minor
        if cost is not None:
            period = dealer_services.get_period(form.period.data)
            finished = finish_action(
                form,
                lambda: request_services.request_pre_approval(
                    current_user,
                    period,
                    form.activity_type_id.data or 0,
                    form.title.data or "",
                    form.planned_start.data,
                    form.planned_end.data,
                    cost,
                ),
                lambda _request: (
                    _("Your request is sent. You are told as soon as it is decided."),
                    url_for("claims.pre_approvals"),
                ),
            )
            if finished:
                return finished
    requests = db.paginate(
        queries.dealer_requests_query(current_user.dealer_id), page=page_number(), per_page=25, error_out=False
    )
    status = 422 if request.method == "POST" else 200
    return render_template("claims/pre_approvals.html", form=form, requests=requests), status


@bp.route("/console/pre-approvals")
@allow(*REVIEWERS)
def console_pre_approvals() -> ResponseReturnValue:
    rows = RowPage(queries.pending_requests_query(current_user), page_number(), current_app.config["PAGE_SIZE"])
    return render_template("claims/console_pre_approvals.html", rows=rows, form=RequestDecisionForm(formdata=None))


@bp.route("/console/pre-approvals/<int:request_id>/decide", methods=["POST"])
@allow(*REVIEWERS)
def decide_request(request_id: int) -> ResponseReturnValue:
    fund_request = request_services.get_visible_request(current_user, request_id)
    form = RequestDecisionForm()
    if not form.validate_on_submit():
        abort(422, description=_("Choose approve or reject."))
    return finish_action(
        None,
        lambda: request_services.decide_pre_approval(
            current_user, fund_request, form.decision.data == "approve", form.note.data or ""
        ),
        lambda decided: (
            _("The request %(title)s is %(status)s.", title=decided.title, status=label(decided.status).lower()),
            url_for("claims.console_pre_approvals"),
        ),
    )


# --- The review console ---------------------------------------------------------------------------------------------


def _queue_context(waiting: queries.Backlog) -> dict[str, Any]:
    wanted = queries.queue_filter(request.args.to_dict())
    # Unfiltered, the queue is what the backlog counted (the page's header shows it): not counted a second time.
    known_total = waiting.submitted + waiting.awaiting_second if wanted == queries.QueueFilter() else None
    claims = queries.queue_page(current_user, wanted, known_total)
    ids = [claim.id for claim in claims.items]
    flags = queries.flags_by_claim(ids)
    return {
        "claims": claims,
        "wanted": wanted,
        "flags": flags,
        "bulk_ids": {
            claim.id
            for claim in claims.items
            if bulk_approvable(
                claim.status,
                bool(flags.get(claim.id)),
                claim.amount_requested,
                services.limits_for(claim.dealer.currency),
            )
        },
        "now": datetime.now(UTC),
    }


# The queue's dealer filter lists a portfolio up to this size; a larger one (a senior manager's whole channel) is
# filtered by typing the dealer's code: five hundred choices are no use on a phone, and cost a render each time.
DEALER_CHOICES_UP_TO = 60


@bp.route("/console/claims")
@allow(*REVIEWERS)
@cached_page
def queue() -> ResponseReturnValue:
    waiting = queries.backlog(current_user)
    context = _queue_context(waiting)
    choices = queries.dealer_choices(current_user, DEALER_CHOICES_UP_TO + 1)
    return render_page_or_fragment(
        "claims/queue.html",
        "claims/_queue.html",
        dealers=choices if len(choices) <= DEALER_CHOICES_UP_TO else None,
        periods=dealer_services.recent_periods(),
        statuses=list(ClaimStatus),
        flag_choices=list(Flag),
        submitted_count=waiting.submitted,
        awaiting_count=waiting.awaiting_second,
        bulk_form=BulkApproveForm(formdata=None),
        bulk_limits=", ".join(money(limits.bulk_up_to, currency) for currency, limits in services.configured_limits()),
        **context,
    )


def _render_review(
    claim: Claim, *, form: Any = None, comment: CommentForm | None = None, status: int = 200
) -> ResponseReturnValue:
    wanted = queries.queue_filter(request.args.to_dict())
    flags = services.flags_of(claim)
    related = {claim_id for flag in flags for claim_id in flag.related_claims}
    related_claims = queries.related_claims(current_user, related)
    matches = services.matching_evidence(claim) if related else []
    budget = budget_services.budget_of(claim.dealer, claim.period)
    history, outcomes = queries.dealer_history(claim)
    second_step = claim.status is ClaimStatus.AWAITING_SECOND_APPROVAL
    can_decide = queries.reviewer_can_decide(current_user, claim)
    if form is None and can_decide:
        form = SecondDecisionForm(formdata=None) if second_step else DecisionForm(formdata=None)
    return render_template(
        "claims/review.html",
        claim=claim,
        files=evidence_services.evidence_of(services.CLAIM_OWNER, claim.id),
        flags=flags,
        openable=set(related_claims),
        related_claims=related_claims,
        matches=matches,
        budget=budget,
        room=services.budget_room(claim, budget) if awaits_review(claim.status) else None,
        ask_form=AskBudgetForm(formdata=None),
        history=history,
        outcomes=outcomes,
        timeline=services.timeline(claim),
        form=form if can_decide else None,
        second_step=second_step,
        comment_form=comment or CommentForm(formdata=None),
        next_id=queries.next_in_queue(current_user, wanted, claim),
        previous_id=queries.previous_in_queue(current_user, wanted, claim),
        queue_args=wanted.as_args(),
        limits=services.limits_for(claim.dealer.currency),
        now=datetime.now(UTC),
    ), status


@bp.route("/console/claims/<int:claim_id>")
@allow(*REVIEWERS)
def review_page(claim_id: int) -> ResponseReturnValue:
    return _render_review(services.get_reviewable_claim(current_user, claim_id))


@bp.route("/console/claims/<int:claim_id>/decide", methods=["POST"])
@allow(*REVIEWERS)
def decide_claim(claim_id: int) -> ResponseReturnValue:
    claim = services.get_reviewable_claim(current_user, claim_id)
    second_step = claim.status is ClaimStatus.AWAITING_SECOND_APPROVAL
    form: DecisionForm | SecondDecisionForm = SecondDecisionForm() if second_step else DecisionForm()
    if isinstance(form, DecisionForm):
        form.amount.currency = claim.dealer.currency
    if form.validate_on_submit():
        decision = services.Decision(form.decision.data)
        amount = None
        if decision is services.Decision.APPROVE_PART and isinstance(form, DecisionForm):
            amount = form.amount.minor
            if amount is None:
                form.amount.errors = [*form.amount.errors, _("Enter an amount such as 12,000.00.")]
        code = form.reason_code.data
        if amount is not None or decision is not services.Decision.APPROVE_PART:
            wanted = queries.queue_filter(request.args.to_dict())
            finished = finish_action(
                form,
                lambda: services.decide(
                    current_user,
                    claim,
                    decision,
                    amount=amount,
                    reason=form.reason.data or "",
                    reason_code=RejectionReason(code) if code in RejectionReason._value2member_map_ else None,
                    checked=[str(value) for value in form.checked.data or []],
                ),
                lambda decided: (
                    _("%(claim)s: %(status)s.", claim=decided.title, status=label(decided.status)),
                    _after_decision(decided, wanted),
                ),
            )
            if finished:
                return finished
    return _render_review(services.get_reviewable_claim(current_user, claim_id), form=form, status=422)


@bp.route("/console/claims/<int:claim_id>/ask-budget", methods=["POST"])
@allow(*REVIEWERS)
def ask_budget(claim_id: int) -> ResponseReturnValue:
    """The budget has less room than the claim: the admins are asked to raise it; the claim keeps waiting."""
    claim = services.get_reviewable_claim(current_user, claim_id)
    form = AskBudgetForm()
    if not form.validate_on_submit():
        abort(400)
    return finish_action(
        None,
        lambda: services.ask_for_budget(current_user, claim, form.note.data or ""),
        lambda _result: (
            _("The admins are asked to raise the budget; the claim waits here."),
            url_for("claims.review_page", claim_id=claim_id),
        ),
    )


def _after_decision(claim: Claim, wanted: queries.QueueFilter) -> str:
    """On to the next claim waiting in the same queue, so a reviewer clears it without going back to the list."""
    following = queries.next_in_queue(current_user, wanted, claim)
    arguments: dict[str, Any] = dict(wanted.as_args())
    if following is None:
        return url_for("claims.queue", **arguments)
    return url_for("claims.review_page", claim_id=following, **arguments)


@bp.route("/console/claims/bulk-approve", methods=["POST"])
@allow(*REVIEWERS)
def bulk_approve() -> ResponseReturnValue:
    form = BulkApproveForm()
    if not form.validate_on_submit() or not form.claim_ids.data:
        abort(422, description=_("Choose the claims to approve."))
    ids = [claim_id for claim_id in form.claim_ids.data if claim_id is not None]
    return finish_action(
        None,
        lambda: services.bulk_approve(current_user, ids),
        lambda count: (_("%(count)s claims approved.", count=count), url_for("claims.queue")),
    )


@bp.route("/console/claims/report")
@allow(*REVIEWERS)
def report() -> ResponseReturnValue:
    period = dealer_services.period_for_view(request.args.get("period") or None, company_today())
    if period is None:
        abort(404)
    median, decided = queries.median_turnaround_days(current_user, period)
    return render_template(
        "claims/report.html",
        period=period,
        periods=dealer_services.recent_periods(),
        rows=RowPage(queries.budget_rows(current_user, period), page_number(), current_app.config["PAGE_SIZE"]),
        median=median,
        decided=decided,
    )


# --- Admin: budgets and payments ------------------------------------------------------------------------------------


BUDGET_PAGES = AmountPages(
    kind=budget_services.BUDGETS,
    list_endpoint="claims.budgets",
    save_endpoint="claims.set_budget",
    import_endpoint="claims.import_budgets",
    rows=queries.budget_rows,
    columns=[
        Column(_l("Allocation"), 1, unset=_l("not set")),
        Column(_l("Approved"), 2),
        Column(_l("Pending"), 3),
    ],
    periods=dealer_services.recent_periods,
    title=lambda period: _("Promotion budgets %(period)s", period=period.code),
    breadcrumb=lambda: (url_for("core.admin_home"), _("Administration")),
    new_amount_heading=lambda: _("New budget"),
    new_amount_label=lambda dealer: _(
        "New budget for %(dealer)s (%(currency)s)", dealer=dealer.name, currency=dealer.currency
    ),
    saved=lambda dealer, period: _(
        "The budget of %(dealer)s for %(period)s is saved.", dealer=dealer.name, period=period.code
    ),
    imported=lambda count, period: _("%(count)s budgets saved for %(period)s.", count=count, period=period.code),
    csv_heading=lambda: _("Set many budgets from a CSV file"),
    csv_hint=lambda: _(
        "An Excel workbook or a CSV file with the columns dealer_code and budget, one dealer per line; CSV in UTF-8, "
        "UTF-16 or GB18030, separated by commas, "
        'semicolons or tabs; write amounts as 1234.56 or "1,234.56". If any line is wrong, nothing is saved and '
        "every error is listed with its line number."
    ),
    csv_button=lambda: _("Upload budgets"),
    empty=lambda: _("No dealers yet."),
    caption=lambda: _("Budgets per dealer"),
    example=lambda: _("Enter an amount such as 12,000.00."),
)


@bp.route("/admin/budgets")
@allow(AccessRole.ADMIN)
def budgets() -> ResponseReturnValue:
    return BUDGET_PAGES.render(dealer_services.get_period_for_view(request.args.get("period") or None, company_today()))


@bp.route("/admin/budgets/<period_code>/<code>", methods=["POST"])
@allow(AccessRole.ADMIN)
def set_budget(period_code: str, code: str) -> ResponseReturnValue:
    return BUDGET_PAGES.save(period_code, code)


@bp.route("/admin/budgets/<period_code>/import", methods=["POST"])
@allow(AccessRole.ADMIN)
def import_budgets(period_code: str) -> ResponseReturnValue:
    return BUDGET_PAGES.upload(period_code)


@bp.route("/admin/claims/payments", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def payments() -> ResponseReturnValue:
    form = PaymentForm()
    if request.method == "POST" and form.validate_on_submit():
        ids = [claim_id for claim_id in form.claim_ids.data or [] if claim_id is not None]
        finished = finish_action(
            form,
            lambda: services.pay_claims(current_user, ids, form.reference.data or ""),
            lambda count: (
                _(
                    "%(count)s claims marked paid with reference %(reference)s.",
                    count=count,
                    reference=form.reference.data,
                ),
                url_for("claims.payments"),
            ),
        )
        if finished:
            return finished
    claims = db.paginate(queries.unpaid_query(), page=page_number(), per_page=100, error_out=False)
    status = 422 if request.method == "POST" else 200
    return render_template("claims/payments.html", claims=claims, form=form), status


@bp.route("/admin/claims/payments.csv")
@allow(AccessRole.ADMIN)
def payments_csv() -> ResponseReturnValue:
    rows = (
        (
            claim.id,
            claim.dealer.code,
            claim.dealer.name,
            claim.dealer.payee_name,
            claim.dealer.payee_bank,
            claim.dealer.payee_account,
            claim.period.code,
            claim.title,
            claim.invoice_number,
            to_decimal(claim.amount_approved or 0, claim.dealer.currency),
            claim.dealer.currency,
            claim.decided_at.date().isoformat() if claim.decided_at else "",
        )
        for claim in db.session.execute(queries.unpaid_query()).scalars()
    )
    header = (
        "claim_id",
        "dealer_code",
        "dealer",
        "payee_name",
        "payee_bank",
        "payee_account",
        "period",
        "title",
        "invoice_number",
        "amount",
        "currency",
        "approved_on",
    )
    return csv_response(header, rows, f"claims-to-pay-{company_today().isoformat()}.csv")


# --- Sections of the dealers' pages -----------------------------------------------------------------------------------


def dealer_home_section(viewer: User, dealer: Dealer) -> dict[str, object]:
    """The dealer's home: the promotion budget of the current period, used and left."""
    current = dealer_services.current_period()
    return {"promotion": budget_services.budget_of(dealer, current) if current else None}
