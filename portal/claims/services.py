"""Promotion budgets: what a dealer was given, what is approved, what is pending and what is left.

The claim workflow's services (draft, submit, review, pay) build on this; see rules.py for the table and checks.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, Any

from flask import current_app
from sqlalchemy import Date, Select, bindparam, delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from portal.access import DEALER_USERS, AccessRole, Viewer, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.claims.budgets import Budget, budget_of
from portal.claims.invoices import (
    DIGITAL_NUMBER_DIGITS,
    InvoiceType,
    folded,
    normalised_code,
    normalised_number,
    read_fapiao_qr,
    valid_credit_code,
    vendor_key,
)
from portal.claims.models import (
    ActivityType,
    Claim,
    ClaimEvent,
    ClaimFlag,
    FundAllocation,
    FundRequest,
    FundRequestStatus,
)
from portal.claims.pre_approvals import move_request, usable_requests
from portal.claims.reviewers import REVIEWERS, SECOND_APPROVERS, admins, second_approvers
from portal.claims.rules import (
    APPROVED,
    RELEASES_PRE_APPROVAL,
    SHARED_FLAGS,
    ClaimLimits,
    ClaimStatus,
    FlagFacts,
    Problem,
    Raised,
    RejectionReason,
    Submission,
    approvable_up_to,
    bulk_approvable,
    can_move,
    claim_deadline,
    flags_for,
    held_on_reopening,
    limits_in,
    needs_second_approval,
    reopening_problems,
    submission_problems,
    unchecked_flags,
)
from portal.database import locked_for_update, one_at_a_time
from portal.dates import company_today
from portal.dealers.models import Dealer, Period
from portal.dealers.rules import NewSubmission, can_answer_and_appeal, can_submit_new
from portal.dealers.services import dealer_owners, refuse_new_submission, visible_dealers
from portal.evidence.models import Evidence
from portal.evidence.services import OwnerRules, SameEvidence, add_evidence, register_owner, same_evidence
from portal.evidence.validation import RejectedFile
from portal.extensions import db
from portal.formatting import money
from portal.money import precision
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.outbox import EventKind, emit
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import label, utcnow
from portal.workflow import move_checked

# --- Claims: drafting, submission, withdrawal ------------------------------------------------------------------------

CLAIM_OWNER = "claim"
FLAGS_LOCK_KEY = 7_301_023  # PostgreSQL advisory lock: one submission's flags at a time


@dataclass(frozen=True)
class ClaimInput:
    activity_type_id: int
    title: str
    description: str
    activity_start: date
    activity_end: date
    vendor: str
    vendor_tax_id: str
    invoice_number: str
    amount: int
    fund_request_id: int | None = None
    over_pre_approval_reason: str = ""
    invoice_type: str = ""  # an InvoiceType value, or "" when not given
    invoice_code: str = ""
    invoice_date: date | None = None
    invoice_amount_before_tax: int | None = None
    invoice_tax: int | None = None
    invoice_total: int | None = None


def visible_claims(user: Viewer) -> Select[Claim]:
    """Claims of the dealers the user may see (dealer users: their own dealer's). A draft never submitted is the
    dealer's own work in progress: the console does not see it."""
    dealers = visible_dealers(user).with_only_columns(Dealer.id)
    query = select(Claim).where(Claim.dealer_id.in_(dealers))
    if user.access_role not in DEALER_USERS:
        query = query.where(Claim.submission_count > 0)
    return query


def get_visible_claim(user: User, claim_id: int) -> Claim:
    claim = db.session.execute(visible_claims(user).where(Claim.id == claim_id)).scalar_one_or_none()
    if claim is None:
        raise NotFound()
    return claim


def claimable_periods(today: date | None = None) -> list[Period]:
    """Periods a claim can be made against: begun, and not past the claim window after their end (docs/design.md:
    promotion budgets of a period stay claimable until the claim window after it ends)."""
    today = today or company_today()
    window = current_app.config["CLAIM_WINDOW_DAYS"]
    periods = db.session.execute(_BEGUN_PERIODS, {"today": today}).scalars()
    return [period for period in periods if claim_deadline(period.ends_on, window) >= today]


# Built once: the claims list and every claim form ask it. Eight begun periods cover any claim window of a quarter.
_BEGUN_PERIODS = (
    select(Period)
    .where(Period.starts_on <= bindparam("today", type_=Date()))
    .order_by(Period.starts_on.desc())
    .limit(8)
)


def _check_fields(
    data: ClaimInput, dealer_id: int, keep_request: int | None = None, claim_id: int | None = None
) -> None:
    if not data.title.strip():
        raise InvalidInput("title", _("Give the claim a title."))
    if db.session.get(ActivityType, data.activity_type_id) is None:
        raise InvalidInput("activity_type_id", _("Choose an activity type."))
    if data.fund_request_id is not None:
        holder = claim_holding_request(data.fund_request_id, but_not=claim_id)
        if holder is not None and holder.dealer_id == dealer_id:
            raise _request_taken(holder)
        if data.fund_request_id not in {request.id for request in usable_requests(dealer_id, keep_request)}:
            raise InvalidInput("fund_request_id", _("Choose one of your approved pre-approval requests."))
    if data.amount < 0 or data.amount >= 10**13:
        raise InvalidInput("amount", _("Enter an amount of zero or more."))
    _check_invoice(data)


def _check_invoice(data: ClaimInput) -> None:
    """The fapiao's fields agree with each other; the amount against the total is a submission check."""
    if data.invoice_type and data.invoice_type not in InvoiceType._value2member_map_:
        raise InvalidInput("invoice_type", _("Choose the invoice's type."))
    invoice_type = InvoiceType(data.invoice_type) if data.invoice_type else InvoiceType.OTHER
    chinese = data.invoice_type not in ("", InvoiceType.OTHER)
    number = normalised_number(data.invoice_number, invoice_type)
    if data.invoice_number.strip() and not number:
        raise InvalidInput("invoice_number", _("An invoice number has digits."))
    if invoice_type is InvoiceType.DIGITAL and number and len(number) != DIGITAL_NUMBER_DIGITS:
        raise InvalidInput("invoice_number", _("A fully digital e-invoice has a 20-digit number."))
    if chinese and data.vendor_tax_id.strip() and not valid_credit_code(data.vendor_tax_id):
        raise InvalidInput(
            "vendor_tax_id",
            _("This is not a unified social credit code: 18 characters whose last one is its check character."),
        )
    amounts = (data.invoice_amount_before_tax, data.invoice_tax, data.invoice_total)
    for field, value in zip(("invoice_amount_before_tax", "invoice_tax", "invoice_total"), amounts, strict=True):
        if value is not None and not 0 <= value < 10**13:
            raise InvalidInput(field, _("Enter an amount of zero or more."))
    before_tax, tax, total = amounts
    if before_tax is not None and tax is not None and total is not None and before_tax + tax != total:
        raise InvalidInput("invoice_total", _("The total is the amount before tax plus the tax."))


def _apply(claim: Claim, data: ClaimInput) -> None:
    """The input as stored: invoice numbers and codes as compared (digits only for a Chinese invoice), the total
    computed when only its parts are given. Saving confirms invoice fields read from a QR code."""
    claim.activity_type_id, claim.title, claim.description = data.activity_type_id, data.title.strip(), data.description
    claim.activity_start, claim.activity_end = data.activity_start, data.activity_end
    claim.vendor, claim.vendor_tax_id = data.vendor.strip(), folded(data.vendor_tax_id)
    claim.vendor_key = vendor_key(claim.vendor_tax_id, claim.vendor)
    invoice_type = InvoiceType(data.invoice_type) if data.invoice_type else InvoiceType.OTHER
    claim.invoice_type = data.invoice_type
    claim.invoice_number = normalised_number(data.invoice_number, invoice_type)[:64]
    claim.invoice_code = normalised_code(data.invoice_code)[:20] if invoice_type is not InvoiceType.DIGITAL else ""
    claim.invoice_date = data.invoice_date
    claim.invoice_amount_before_tax, claim.invoice_tax = data.invoice_amount_before_tax, data.invoice_tax
    total = data.invoice_total
    if total is None and data.invoice_amount_before_tax is not None and data.invoice_tax is not None:
        total = data.invoice_amount_before_tax + data.invoice_tax
    claim.invoice_total = total
    claim.invoice_read_from_id = None
    claim.amount_requested = data.amount
    claim.fund_request_id, claim.over_pre_approval_reason = data.fund_request_id, data.over_pre_approval_reason


def claim_holding_request(request_id: int, but_not: int | None = None) -> Claim | None:
    """The claim that holds this pre-approval now (any status that does not release it), other than `but_not`."""
    query = select(Claim).where(Claim.fund_request_id == request_id, Claim.status.not_in(RELEASES_PRE_APPROVAL))
    if but_not is not None:
        query = query.where(Claim.id != but_not)
    return db.session.execute(query.limit(1)).scalar_one_or_none()


def _request_taken(holder: Claim) -> InvalidInput:
    return InvalidInput(
        "fund_request_id",
        _(
            "This pre-approval is already used by the claim “%(title)s” (%(status)s). Withdraw that claim "
            "first, or choose another pre-approval.",
            title=holder.title,
            status=label(holder.status),
        ),
    )


def _write_claim(claim: Claim, data: ClaimInput) -> None:
    """Apply the input and write the claim inside a savepoint. Two drafts naming the same pre-approval at the same
    moment both pass the check above; the partial unique index lets one through, and the other is told which claim
    has it, never a 500. (The savepoint begins before the change: beginning one flushes what is pending.)"""
    try:
        with db.session.begin_nested():
            _apply(claim, data)
            db.session.add(claim)
            db.session.flush()
    except IntegrityError:
        with db.session.no_autoflush:  # the claim still carries the change the index refused
            holder = claim_holding_request(data.fund_request_id or 0, but_not=claim.id)
        if holder is None:
            raise
        raise _request_taken(holder) from None


def create_draft(actor: User, period: Period, data: ClaimInput, today: date | None = None) -> Claim:
    """A dealer user starts a claim; drafts are kept and finished later."""
    require_role(actor, AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
    assert actor.dealer is not None
    refuse_new_submission(actor.dealer, NewSubmission.CLAIM)
    if period.id not in {claimable.id for claimable in claimable_periods(today)}:
        raise InvalidInput("period", _("Claims for this period are closed."))
    assert actor.dealer_id is not None  # a dealer user (required above)
    _check_fields(data, actor.dealer_id)
    claim = Claim(dealer_id=actor.dealer_id, period_id=period.id, status=ClaimStatus.DRAFT, created_by_id=actor.id)
    _write_claim(claim, data)
    _event(claim, actor, None, ClaimStatus.DRAFT, "")
    audit_change("claim.drafted", actor=actor, subject=claim, after={"amount": data.amount})
    return claim


def update_draft(actor: User, claim: Claim, data: ClaimInput) -> None:
    require_role(actor, AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
    if claim.dealer_id != actor.dealer_id:
        raise NotFound()
    if claim.status not in (ClaimStatus.DRAFT, ClaimStatus.NEEDS_INFO):
        raise IllegalTransition(_("Only a draft, or a claim asked for information, can be changed."))
    _check_fields(data, claim.dealer_id, claim.fund_request_id, claim.id)
    _write_claim(claim, data)


def _event(
    claim: Claim,
    actor: User | None,
    before: ClaimStatus | None,
    after: ClaimStatus | None,
    note: str,
    **details: object,
) -> None:
    db.session.add(
        ClaimEvent(
            claim_id=claim.id,
            actor_id=actor.id if actor else None,
            from_status=before,
            to_status=after,
            note=note,
            details=details,
        )
    )


# The moves an ERP hears of (the events feed, webhooks): approved, waiting for the money, and paid.
PUBLISHED_MOVES = {
    ClaimStatus.APPROVED: EventKind.CLAIM_APPROVED,
    ClaimStatus.PARTIALLY_APPROVED: EventKind.CLAIM_APPROVED,
    ClaimStatus.PAID: EventKind.CLAIM_PAID,
}


def _move(
    claim: Claim,
    actor: User,
    current: ClaimStatus,
    target: ClaimStatus,
    note: str = "",
    *,
    reopened: bool = False,
    event_details: Mapping[str, object] | None = None,
    **values: object,
) -> None:
    """The one place a claim's status changes: legal by the table, and still what the caller read (else 409)."""
    move_checked(
        claim,
        current,
        target,
        legal=can_move(current, target, reopened=reopened),
        illegal=_("A claim cannot go from %(current)s to %(target)s.", current=label(current), target=label(target)),
        raced=_("This claim was already decided or changed by someone else. Reload the page."),
        updated_at=utcnow(),
        **values,
    )
    _event(claim, actor, current, target, note, **(event_details or {}))
    if target in PUBLISHED_MOVES:
        emit(
            PUBLISHED_MOVES[target],
            "claim",
            claim.id,
            claim.dealer_id,
            status=target.value,
            amount_approved=claim.amount_approved or 0,
        )
    audit_change(
        "claim.moved",
        actor=actor,
        subject=claim,
        before={"status": current.value},
        after={"status": target.value, "note": note},
    )
    if target in RELEASES_PRE_APPROVAL:
        _release_pre_approval(claim)
    _announce(claim, actor, current, target, note)


def _release_pre_approval(claim: Claim) -> None:
    """A withdrawn or rejected claim frees its pre-approval: the partial unique index stops counting it, and a
    request its submission marked used is approved (claimable) again."""
    if claim.fund_request_id is None:
        return
    move_request(claim.fund_request_id, FundRequestStatus.USED, FundRequestStatus.APPROVED)
    request = db.session.get(FundRequest, claim.fund_request_id)
    if request is not None:
        db.session.refresh(request)


def _dealer_people_to_tell(claim: Claim) -> list[User]:
    """Whoever drafted the claim and the dealer's owners."""
    people = dealer_owners(claim.dealer)
    author = db.session.get(User, claim.created_by_id) if claim.created_by_id else None
    return [*people, author] if author is not None and author not in people else people


def _reviewers_to_tell(claim: Claim) -> list[User]:
    """The dealer's channel manager; without one, the senior managers."""
    manager = claim.dealer.manager
    return [manager] if manager is not None else second_approvers()


def _announce(claim: Claim, actor: User, current: ClaimStatus, target: ClaimStatus, note: str) -> None:
    """Everyone concerned hears of each transition, in their own language (the notification service translates)."""
    currency = claim.dealer.currency
    told: dict[str, object] = {"claim": claim.title, "dealer": claim.dealer.name}
    dealer_link, console_link = (
        link("claims.claim_page", claim_id=claim.id),
        link("claims.review_page", claim_id=claim.id),
    )
    S = ClaimStatus
    if target is S.SUBMITTED and current is S.AWAITING_SECOND_APPROVAL:
        first = db.session.get(User, claim.first_approver_id) if claim.first_approver_id else None
        notify([first] if first else _reviewers_to_tell(claim), "claim_sent_back", {**told, "note": note}, console_link)
    elif target is S.SUBMITTED:
        told["amount"] = params.amount(claim.amount_requested, currency)
        notify(_reviewers_to_tell(claim), "claim_submitted", told, console_link)
    elif target is S.AWAITING_SECOND_APPROVAL:
        told["amount"] = params.amount(claim.amount_approved or 0, currency)
        others = [person for person in second_approvers() if person.id != actor.id]
        notify(others, "claim_second_approval", told, console_link)
    elif target in (S.APPROVED, S.PARTIALLY_APPROVED):
        told |= {"amount": params.amount(claim.amount_approved or 0, currency), "note": note}
        kind = "claim_approved" if target is S.APPROVED else "claim_partially_approved"
        notify(_dealer_people_to_tell(claim), kind, told, dealer_link)
    elif target is S.REJECTED:
        notify(_dealer_people_to_tell(claim), "claim_rejected", {**told, "note": note}, dealer_link)
    elif target is S.NEEDS_INFO:
        notify(_dealer_people_to_tell(claim), "claim_needs_info", {**told, "note": note}, dealer_link)
    elif target is S.PAID:
        told |= {"amount": params.amount(claim.amount_approved or 0, currency), "reference": claim.payment_reference}
        notify(_dealer_people_to_tell(claim), "claim_paid", told, dealer_link)
    elif target is S.WITHDRAWN and current is not S.DRAFT:
        notify(_reviewers_to_tell(claim), "claim_withdrawn", told, console_link)


def _lock_budget(claim: Claim) -> None:
    """Submissions of one dealer and period take turns: the budget row is locked (SQLite: the write lock)."""
    query = select(FundAllocation.id).where(
        FundAllocation.dealer_id == claim.dealer_id, FundAllocation.period_id == claim.period_id
    )
    db.session.execute(locked_for_update(query)).first()


def evidence_hashes(claim_id: int) -> list[str]:
    return list(
        db.session.execute(
            select(Evidence.sha256).where(Evidence.owner_type == CLAIM_OWNER, Evidence.owner_id == claim_id)
        ).scalars()
    )


# Claims another claim is compared with: submitted at least once and not withdrawn (a dealer's draft is its own; a
# rejected claim still counts: the same invoice rejected once is worth knowing).
COMPARED_CLAIMS = (Claim.submission_count > 0, Claim.status != ClaimStatus.WITHDRAWN)


def claims_sharing_invoice(claim: Claim) -> list[int]:
    """Other claims of any dealer with the same invoice: the same number (digits) and, for an invoice with a code,
    the same code or none given; with or without a vendor tax id."""
    if not claim.invoice_number:
        return []
    query = _same_invoice(claim.invoice_number, claim.invoice_code).with_only_columns(Claim.id)
    return list(db.session.execute(query.where(Claim.id != claim.id)).scalars())


def _same_invoice(number: str, code: str) -> Select[Claim]:
    query = select(Claim).where(Claim.invoice_number == number, *COMPARED_CLAIMS)
    if code:
        query = query.where(or_(Claim.invoice_code == code, Claim.invoice_code == ""))
    return query


def _others_since(claim: Claim, since: datetime, *conditions: Any) -> list[tuple[int, int]]:
    query = select(Claim.id, Claim.amount_requested).where(
        Claim.dealer_id == claim.dealer_id,
        Claim.id != claim.id,
        Claim.submitted_at >= since,
        Claim.status.not_in((ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN)),
        *conditions,
        *COMPARED_CLAIMS,
    )
    return [(claim_id, amount) for claim_id, amount in db.session.execute(query)]


def _flag_facts(claim: Claim, today: date, allocation: int) -> FlagFacts:
    config = current_app.config
    now = utcnow()
    same_vendor = (
        _others_since(claim, now - timedelta(days=config["CLAIM_SPLIT_DAYS"]), Claim.vendor_key == claim.vendor_key)
        if claim.vendor_key
        else []
    )
    recent = _others_since(claim, now - timedelta(days=config["CLAIM_RUSH_DAYS"]), Claim.period_id == claim.period_id)
    return FlagFacts(
        amount=claim.amount_requested,
        minor_per_major=10 ** precision(claim.dealer.currency),
        second_approval_threshold=limits.second_approval_above if (limits := limits_for(claim.dealer.currency)) else 0,
        allocation=allocation,
        activity_end=claim.activity_end,
        submitted_on=today,
        claim_window_days=config["CLAIM_WINDOW_DAYS"],
        claims_sharing_evidence=sorted({same.other_owner_id for same in matching_evidence(claim)}),
        claims_sharing_invoice=claims_sharing_invoice(claim),
        same_vendor_claims=same_vendor,
        recent_budget_claims=recent,
    )


def matching_evidence(claim: Claim) -> list[SameEvidence]:
    """The files of other submitted claims that show what this claim's files show, with the distance (a draft's
    files are its own): the flag's facts, and the pairs the reviewer sees side by side."""
    found = same_evidence(CLAIM_OWNER, claim.id)
    if not found:
        return []
    counted = set(
        db.session.execute(
            select(Claim.id).where(Claim.id.in_({same.other_owner_id for same in found}), *COMPARED_CLAIMS)
        ).scalars()
    )
    return [same for same in found if same.other_owner_id in counted]


def _write_flags(claim: Claim, raised: list[Raised]) -> None:
    """The claim's own flags, then its half of every shared flag added to the claims it names: the earlier claim of
    two with the same picture carries the flag too, and leaves the bulk-approval set."""
    db.session.execute(delete(ClaimFlag).where(ClaimFlag.claim_id == claim.id))
    for found in raised:
        db.session.add(ClaimFlag(claim_id=claim.id, flag=found.flag, related_claims=list(found.related_claims)))
    shared = [found for found in raised if found.flag in SHARED_FLAGS and found.related_claims]
    if not shared:
        return
    others = {claim_id for found in shared for claim_id in found.related_claims}
    existing = {
        (flag.claim_id, flag.flag): flag
        for flag in db.session.execute(
            locked_for_update(select(ClaimFlag).where(ClaimFlag.claim_id.in_(others)))
        ).scalars()
    }
    for found in shared:
        group = {claim.id, *found.related_claims}
        for other_id in found.related_claims:
            relations = sorted(group - {other_id})
            flag = existing.get((other_id, found.flag))
            if flag is None:
                flag = existing[(other_id, found.flag)] = ClaimFlag(claim_id=other_id, flag=found.flag)
                flag.related_claims = relations
                db.session.add(flag)
                newly = True
            else:
                merged = sorted(set(flag.related_claims) | set(relations))
                newly = merged != sorted(flag.related_claims)
                flag.related_claims = merged
            if newly:
                db.session.add(
                    ClaimEvent(
                        claim_id=other_id,
                        note=_("Flagged by claim #%(id)s: %(flag)s", id=claim.id, flag=label(found.flag)),
                        details={"flag": found.flag.value, "by_claim": claim.id},
                    )
                )


def _check_submission(
    claim: Claim, today: date, *, reopening: bool = False
) -> tuple[list[Problem], Budget, FundRequest | None]:
    period = claim.period
    budget = budget_of(claim.dealer, period)
    held = claim.budget_held if claim.status is ClaimStatus.NEEDS_INFO else 0  # its own pending amount
    request = db.session.get(FundRequest, claim.fund_request_id) if claim.fund_request_id else None
    submission = Submission(
        amount=claim.amount_requested,
        evidence_count=len(evidence_hashes(claim.id)),
        activity_start=claim.activity_start,
        activity_end=claim.activity_end,
        period_start=period.starts_on,
        period_end=period.ends_on,
        today=today,
        claim_window_days=current_app.config["CLAIM_WINDOW_DAYS"],
        left_in_budget=budget.left + held,
        needs_pre_approval=claim.activity_type.needs_pre_approval,
        pre_approved_amount=_pre_approved(request, claim.dealer_id),
        over_pre_approval_reason=claim.over_pre_approval_reason,
        dealer_may_submit=can_submit_new(claim.dealer.status, NewSubmission.CLAIM) if reopening else may_submit(claim),
        invoice_total=claim.invoice_total,
    )
    problems = reopening_problems(submission) if reopening else submission_problems(submission)
    return problems, budget, request


def _pre_approved(request: FundRequest | None, dealer_id: int) -> int | None:
    """The estimate a claim may reach without a reason: the dealer's own approved (or by this claim used) request."""
    if request is None or request.dealer_id != dealer_id:
        return None
    return request.estimated_cost if request.status in (FundRequestStatus.APPROVED, FundRequestStatus.USED) else None


def may_submit(claim: Claim) -> bool:
    """A draft is a new submission (dealers.rules.can_submit_new); a claim sent back with a request for
    information is an answer, which a suspended dealer may still give."""
    status = claim.dealer.status
    if claim.status is ClaimStatus.NEEDS_INFO:
        return can_answer_and_appeal(status)
    return can_submit_new(status, NewSubmission.CLAIM)


def problems_before_submitting(claim: Claim) -> list[Problem]:
    """What the dealer still has to fix, shown on the draft before they press submit."""
    if claim.status not in (ClaimStatus.DRAFT, ClaimStatus.NEEDS_INFO):
        return []
    return _check_submission(claim, company_today())[0]


class SubmissionRefused(InvalidInput):
    """Every reason at once, so the dealer fixes them all in one go."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("__all__", " ".join(label(problem) for problem in problems))
        self.problems = problems


def submit(actor: User, claim: Claim, today: date | None = None) -> list[Raised]:
    """Check, flag and submit a draft (or a claim answered after a request for information).

    Two submit requests at once make one submission: the conditional UPDATE lets one through, the other is told.
    """
    require_role(actor, AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
    if claim.dealer_id != actor.dealer_id:
        raise NotFound()
    today = today or company_today()
    current = claim.status
    if current not in (ClaimStatus.DRAFT, ClaimStatus.NEEDS_INFO):
        raise IllegalTransition(_("This claim was already submitted."))
    _lock_budget(claim)
    problems, budget, request = _check_submission(claim, today)
    if problems:
        raise SubmissionRefused(problems)
    # Two dealers submitting the same photo at the same moment would each miss the other's claim, still a draft to
    # the other's reading: submissions compute their flags one at a time, each seeing the ones committed before.
    one_at_a_time(FLAGS_LOCK_KEY)
    raised = flags_for(_flag_facts(claim, today, budget.allocation))
    _move(
        claim,
        actor,
        current,
        ClaimStatus.SUBMITTED,
        submitted_at=utcnow(),
        submission_count=Claim.submission_count + 1,
        budget_held=claim.amount_requested,
    )
    _write_flags(claim, raised)
    if request is not None and move_request(request.id, FundRequestStatus.APPROVED, FundRequestStatus.USED):
        db.session.expire(request, ["status"])
    db.session.flush()
    return raised


# --- A claim in one go: the phone's quick claim -----------------------------------------------------------------------


def period_holding(day: date, today: date | None = None) -> Period | None:
    """The claimable period a day falls in: the quick claim's budget is the one of the activity's last day."""
    return next((period for period in claimable_periods(today) if period.starts_on <= day <= period.ends_on), None)


@dataclass(frozen=True)
class QuickDraft:
    """What the quick claim's form holds while the dealer types: any of it may still be missing."""

    activity_type_id: int | None
    amount: int | None
    activity_start: date | None
    activity_end: date | None
    invoice_number: str = ""
    fund_request_id: int | None = None


@dataclass(frozen=True)
class QuickCheck:
    """What the dealer is told before pressing Submit: the budget the claim would be paid from and what is left of
    it, the last day to submit, every problem a submission would meet now (the same checks as submit's), and claims
    that already carry the invoice: the dealer's own named, other dealers' only counted."""

    period: Period | None
    budget: Budget | None
    deadline: date | None
    problems: list[Problem]
    own_with_invoice: list[Claim]
    others_with_invoice: int


def check_quick_claim(actor: User, draft: QuickDraft, today: date | None = None) -> QuickCheck:
    """The live check of the quick claim: read-only, run as the dealer types. Problems are only those the draft
    can show yet (no evidence is the file field's own check)."""
    require_role(actor, AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
    dealer = actor.dealer
    assert dealer is not None
    today = today or company_today()
    period = period_holding(draft.activity_end, today) if draft.activity_end else None
    budget = budget_of(dealer, period) if period is not None else None
    deadline = (
        claim_deadline(draft.activity_end, current_app.config["CLAIM_WINDOW_DAYS"]) if draft.activity_end else None
    )
    kind = db.session.get(ActivityType, draft.activity_type_id) if draft.activity_type_id else None
    problems: list[Problem] = []
    if draft.activity_end is not None and period is None:
        problems.append(Problem.WINDOW_CLOSED if draft.activity_end <= today else Problem.ACTIVITY_NOT_OVER)
    elif period is not None and budget is not None and kind is not None and draft.amount is not None:
        request = db.session.get(FundRequest, draft.fund_request_id) if draft.fund_request_id else None
        facts = Submission(
            amount=draft.amount,
            evidence_count=1,
            activity_start=draft.activity_start or draft.activity_end or today,
            activity_end=draft.activity_end or today,
            period_start=period.starts_on,
            period_end=period.ends_on,
            today=today,
            claim_window_days=current_app.config["CLAIM_WINDOW_DAYS"],
            left_in_budget=budget.left,
            needs_pre_approval=kind.needs_pre_approval,
            pre_approved_amount=_pre_approved(request, dealer.id),
            over_pre_approval_reason="",
            dealer_may_submit=can_submit_new(dealer.status, NewSubmission.CLAIM),
        )
        problems = submission_problems(facts)
    own: list[Claim] = []
    others = 0
    number = normalised_number(draft.invoice_number, InvoiceType.OTHER)
    if number:
        for found in db.session.execute(_same_invoice(number, "").order_by(Claim.id)).scalars():
            if found.dealer_id == dealer.id:
                own.append(found)
            else:
                others += 1
    return QuickCheck(period, budget, deadline, problems, own, others)


@dataclass(frozen=True)
class QuickResult:
    claim: Claim
    problems: list[Problem]  # empty: submitted; else why it stays a draft
    raised: list[Raised]


def claim_in_one_go(
    actor: User, data: ClaimInput, files: Sequence[tuple[IO[bytes], str | None]], today: date | None = None
) -> QuickResult:
    """The quick claim: a draft, its files and the submission in one step. Should the submission be refused after
    all (another claim took the budget since the page checked), the draft and its files stay saved with the reasons,
    so nothing the dealer sent from a phone is lost. A file refused is the caller's to roll back: nothing is kept."""
    today = today or company_today()
    period = period_holding(data.activity_end, today)
    if period is None:
        raise InvalidInput(
            "activity_end", _("No open budget holds this day: claims for it are closed, or it has not come yet.")
        )
    if not files:
        raise InvalidInput("files", _("Add a photo or a PDF of the invoice."))
    claim = create_draft(actor, period, data, today)
    for stream, name in files:
        try:
            add_evidence(actor, CLAIM_OWNER, claim.id, stream, name)
        except RejectedFile as refusal:
            shown = (name or "").replace("\\", "/").rsplit("/", 1)[-1][:100] or _("A file")
            raise InvalidInput("files", f"{shown}: {refusal.message}") from None
    try:
        raised = submit(actor, claim, today)
    except SubmissionRefused as refusal:
        return QuickResult(claim, refusal.problems, [])
    return QuickResult(claim, [], raised)


def withdraw(actor: User, claim: Claim, reason: str = "") -> None:
    require_role(actor, AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
    if claim.dealer_id != actor.dealer_id:
        raise NotFound()
    current = claim.status
    if current not in (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.NEEDS_INFO):
        raise IllegalTransition(_("A decided claim cannot be withdrawn."))
    _move(claim, actor, current, ClaimStatus.WITHDRAWN, reason.strip())
    db.session.flush()


def reopen(actor: User, claim: Claim, note: str, *, disputed_on: date | None = None) -> None:
    """A mediator's outcome: a rejected claim goes back to the reviewers as submitted (docs/design.md: rejected ->
    submitted only through a dispute outcome), after the checks of a submission (reopening_problems): evidence,
    dates, the claim window (counted to the day the dealer disputed: a dispute stops the clock), the pre-approval
    and a suspended dealer. The budget never refuses it: the claim holds what is left (held_on_reopening) and the
    reviewer approves at most that, or asks an admin for a bigger budget."""
    require_role(actor, AccessRole.MEDIATOR, AccessRole.ADMIN)
    if claim.status is not ClaimStatus.REJECTED:
        raise IllegalTransition(_("Only a rejected claim can be reviewed again."))
    _lock_budget(claim)
    keeps_request: dict[str, None] = {}
    if claim.fund_request_id is not None and claim_holding_request(claim.fund_request_id, but_not=claim.id):
        # The rejection freed the pre-approval and another claim uses it now: this one goes back without it.
        keeps_request = {"fund_request_id": None}
        note = _("%(note)s (Its pre-approval is used by another claim now; the claim goes back without it.)", note=note)
        with db.session.no_autoflush:
            claim.fund_request_id = None
    problems, budget, request = _check_submission(claim, disputed_on or company_today(), reopening=True)
    if problems:
        raise SubmissionRefused(problems)
    if request is not None:
        move_request(request.id, FundRequestStatus.APPROVED, FundRequestStatus.USED)
    held = held_on_reopening(claim.amount_requested, budget.left)
    if held < claim.amount_requested:
        note = _(
            "%(note)s (The budget has %(left)s left: the claim holds that much until an admin raises the budget.)",
            note=note,
            left=money(max(budget.left, 0), claim.dealer.currency),
        )
    _move(
        claim,
        actor,
        ClaimStatus.REJECTED,
        ClaimStatus.SUBMITTED,
        note,
        reopened=True,
        submitted_at=utcnow(),
        rejection_reason="",
        decided_at=None,
        turnaround_seconds=None,
        budget_held=held,
        **keeps_request,
    )
    db.session.flush()


def flags_of(claim: Claim) -> list[ClaimFlag]:
    return list(db.session.execute(select(ClaimFlag).where(ClaimFlag.claim_id == claim.id)).scalars())


def timeline(claim: Claim) -> list[ClaimEvent]:
    return list(
        db.session.execute(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.occurred_at, ClaimEvent.id)
        ).scalars()
    )


def limits_for(currency: str) -> ClaimLimits | None:
    """The review limits of a currency, from CLAIM_LIMITS; None where the instance configures none."""
    return limits_in(currency, current_app.config["CLAIM_LIMITS"])


def configured_limits() -> list[tuple[str, ClaimLimits]]:
    """Every currency with limits, for the hints beside bulk approval."""
    return [
        (currency, limits)
        for currency in sorted(current_app.config["CLAIM_LIMITS"])
        if (limits := limits_for(currency)) is not None
    ]


# --- Review: managers decide, a second person above the threshold --------------------------------------------------


class Decision(enum.StrEnum):
    APPROVE = "approve"
    APPROVE_PART = "approve_part"
    REJECT = "reject"
    REQUEST_INFO = "request_info"


def get_reviewable_claim(user: User, claim_id: int) -> Claim:
    require_role(user, *REVIEWERS)
    return get_visible_claim(user, claim_id)


def decide(
    actor: User,
    claim: Claim,
    decision: Decision,
    *,
    amount: int | None = None,
    reason: str = "",
    reason_code: RejectionReason | None = None,
    checked: Collection[str] = (),
) -> Claim:
    """A reviewer's decision. Approving more than the threshold sends the claim to a second approver instead; at
    the second step a senior manager or admin (never the first approver) approves, rejects or sends it back. An
    approval names, in `checked`, every flag the claim carries: the reviewer ticked each one as looked at."""
    require_role(actor, *REVIEWERS)
    reason = reason.strip()
    current = claim.status
    second_step = current is ClaimStatus.AWAITING_SECOND_APPROVAL
    if current not in (ClaimStatus.SUBMITTED, ClaimStatus.AWAITING_SECOND_APPROVAL):
        raise IllegalTransition(_("This claim was already decided."))
    if second_step and (actor.access_role not in SECOND_APPROVERS or actor.id == claim.first_approver_id):
        raise IllegalTransition(_("A second approval is given by a senior manager or an admin other than the first."))
    if decision in (Decision.REJECT, Decision.REQUEST_INFO, Decision.APPROVE_PART) and not reason:
        raise InvalidInput("reason", _("Give the reason; the dealer sees it."))
    if decision is Decision.REJECT and reason_code is None:
        raise InvalidInput("reason_code", _("Choose why the claim is rejected."))
    decided_at = utcnow()
    turnaround = int((decided_at - claim.submitted_at).total_seconds()) if claim.submitted_at else None
    if decision is Decision.REQUEST_INFO:
        target = ClaimStatus.SUBMITTED if second_step else ClaimStatus.NEEDS_INFO  # second step: sent back
        _move(claim, actor, current, target, reason)
        return claim
    if decision is Decision.REJECT:
        assert reason_code is not None
        _move(
            claim,
            actor,
            current,
            ClaimStatus.REJECTED,
            reason,
            decided_at=decided_at,
            rejection_reason=reason_code.value,
            turnaround_seconds=turnaround,
        )
        return claim
    to_approve = claim.amount_requested if decision is Decision.APPROVE else (amount or 0)
    if decision is Decision.APPROVE_PART and (to_approve <= 0 or to_approve >= claim.amount_requested):
        raise InvalidInput("amount", _("A partial approval is above zero and below the amount claimed."))
    if second_step and decision is Decision.APPROVE and claim.amount_approved is not None:
        to_approve = claim.amount_approved  # the amount the first reviewer proposed, which the claim holds
    carried = [found.flag for found in flags_of(claim)]
    unchecked = unchecked_flags(carried, checked)
    if unchecked:
        raise InvalidInput(
            "checked",
            _(
                "Tick each flag once you have looked at it, then approve: %(flags)s.",
                flags=", ".join(str(label(flag)) for flag in unchecked),
            ),
        )
    flags_checked = {"flags_checked": sorted(flag.value for flag in carried)} if carried else {}
    _lock_budget(claim)
    room = budget_room(claim)
    if to_approve > room:
        raise BudgetShort(claim, room)
    if not second_step and needs_second_approval(
        claim.amount_requested, approved_by(actor, claim) + to_approve, limits_for(claim.dealer.currency)
    ):
        _move(
            claim,
            actor,
            current,
            ClaimStatus.AWAITING_SECOND_APPROVAL,
            reason,
            amount_approved=to_approve,
            first_approver_id=actor.id,
            budget_held=to_approve,
            event_details=flags_checked,
        )
        return claim
    target = ClaimStatus.APPROVED if to_approve == claim.amount_requested else ClaimStatus.PARTIALLY_APPROVED
    _move(
        claim,
        actor,
        current,
        target,
        reason,
        amount_approved=to_approve,
        decided_at=decided_at,
        turnaround_seconds=turnaround,
        budget_held=0,
        first_approver_id=claim.first_approver_id if second_step else actor.id,
        event_details=flags_checked,
    )
    return claim


class BudgetShort(InvalidInput):
    """The budget has less room than the approval asks: the reviewer approves at most `room`, or asks an admin."""

    def __init__(self, claim: Claim, room: int) -> None:
        super().__init__(
            "amount",
            _(
                "The budget has room for %(room)s of this claim: approve at most that, or ask an admin to raise the "
                "budget.",
                room=money(room, claim.dealer.currency),
            ),
        )
        self.room = room


def approved_by(reviewer: User, claim: Claim) -> int:
    """What this reviewer has approved at the first step for the claim's dealer in its period (other claims,
    approved in full or in part, paid or not): the second approval counts it with the approval at hand."""
    total = db.session.execute(
        select(func.coalesce(func.sum(Claim.amount_approved), 0)).where(
            Claim.first_approver_id == reviewer.id,
            Claim.dealer_id == claim.dealer_id,
            Claim.period_id == claim.period_id,
            Claim.id != claim.id,
            Claim.status.in_(APPROVED),
        )
    ).scalar_one()
    return int(total or 0)


def budget_room(claim: Claim, budget: Budget | None = None) -> int:
    """The most a waiting claim can be approved for now (shown on the review page, which has the budget)."""
    return approvable_up_to(claim.budget_held, (budget or budget_of(claim.dealer, claim.period)).left)


def ask_for_budget(actor: User, claim: Claim, note: str) -> None:
    """A reviewer whose claim needs more than the budget has asks the admins to raise it; the claim waits."""
    require_role(actor, *REVIEWERS)
    if claim.status not in (ClaimStatus.SUBMITTED, ClaimStatus.AWAITING_SECOND_APPROVAL):
        raise IllegalTransition(_("This claim was already decided."))
    room = budget_room(claim)
    if room >= claim.amount_requested:
        raise IllegalTransition(_("The budget has room for the whole claim."))
    note = note.strip()
    _event(claim, actor, None, None, note, budget_asked=claim.amount_requested - room)
    audit_change("claim.budget_asked", actor=actor, subject=claim, after={"missing": claim.amount_requested - room})
    told = {
        "claim": claim.title,
        "dealer": claim.dealer.name,
        "amount": params.amount(claim.amount_requested - room, claim.dealer.currency),
        "period": claim.period.code,
        "note": note,
        "name": actor.name,
    }
    notify(admins(), "claim_budget_asked", told, link("claims.review_page", claim_id=claim.id))
    db.session.flush()


def bulk_approve(actor: User, claim_ids: list[int]) -> int:
    """Approve many unflagged claims under their currency's bulk limit at once; any other in the list refuses the
    whole batch."""
    require_role(actor, *REVIEWERS)
    claims = [get_reviewable_claim(actor, claim_id) for claim_id in sorted(set(claim_ids))]
    flagged = set(db.session.execute(select(ClaimFlag.claim_id).where(ClaimFlag.claim_id.in_(claim_ids))).scalars())
    for claim in claims:
        limits = limits_for(claim.dealer.currency)
        if not bulk_approvable(claim.status, claim.id in flagged, claim.amount_requested, limits):
            raise IllegalTransition(
                _(
                    "Only submitted, unflagged claims up to the bulk limit are approved together; review %(title)s "
                    "on its own.",
                    title=claim.title,
                )
            )
    for claim in claims:
        decide(actor, claim, Decision.APPROVE)
    return len(claims)


def pay_claims(actor: User, claim_ids: list[int], reference: str) -> int:
    """Admins mark approved claims paid in one batch with the transfer's reference: all of them or none."""
    require_role(actor, AccessRole.ADMIN)
    reference = reference.strip()
    if not reference:
        raise InvalidInput("reference", _("Enter the payment reference from the bank transfer."))
    claims = [db.session.get(Claim, claim_id) for claim_id in sorted(set(claim_ids))]
    if not claims or any(claim is None for claim in claims):
        raise InvalidInput("claim_ids", _("Choose approved claims."))
    now = utcnow()
    for claim in claims:
        assert claim is not None
        _move(claim, actor, claim.status, ClaimStatus.PAID, reference, paid_at=now, payment_reference=reference[:120])
    return len(claims)


# --- Evidence files of a claim ----------------------------------------------------------------------------------------


def register_evidence_owner() -> None:
    """Who may see a claim's files (whoever may see the claim), add them (its dealer's people while the claim can
    change) and remove them (the uploader or a dealer owner, while it can change)."""

    def can_view(user: User, claim_id: int) -> bool:
        return db.session.execute(visible_claims(user).where(Claim.id == claim_id)).first() is not None

    def can_add(user: User, claim_id: int) -> bool:
        claim = db.session.get(Claim, claim_id)
        return (
            claim is not None
            and user.access_role in (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
            and user.dealer_id == claim.dealer_id
            and claim.status in (ClaimStatus.DRAFT, ClaimStatus.NEEDS_INFO)
        )

    def can_remove(user: User, evidence: Evidence) -> bool:
        return can_add(user, evidence.owner_id) and (
            user.access_role is AccessRole.DEALER_OWNER or evidence.uploaded_by_id == user.id
        )

    register_owner(
        CLAIM_OWNER,
        OwnerRules(can_view=can_view, can_add=can_add, can_remove=can_remove, on_added=fill_invoice_from_qr),
    )


def fill_invoice_from_qr(actor: User, evidence: Evidence) -> None:
    """A file with a fapiao's QR code fills the claim's empty invoice fields (type, code, number, date, amount
    before tax); the claim page asks the dealer to check them, and saving the claim confirms them. A claim that
    already names an invoice keeps it: a second invoice's code does not overwrite the first."""
    qr = read_fapiao_qr(evidence.qr_text) if evidence.qr_text else None
    claim = db.session.get(Claim, evidence.owner_id)
    if qr is None or claim is None or claim.invoice_number:
        return
    claim.invoice_type = qr.invoice_type.value
    claim.invoice_code, claim.invoice_number = qr.code, qr.number
    claim.invoice_date = qr.issued_on or claim.invoice_date
    if qr.amount_before_tax is not None and claim.dealer.currency == "CNY":  # a fapiao is in yuan
        claim.invoice_amount_before_tax = int(qr.amount_before_tax.scaleb(precision("CNY")).to_integral_value())
    claim.invoice_read_from_id = evidence.id
    _event(
        claim, actor, None, None, _("Invoice fields read from the QR code of %(name)s.", name=evidence.original_name)
    )
    db.session.flush()


# --- Pre-approval of planned activities (trade shows, broadcast advertising) ------------------------------------------


# --- Comments on the timeline ----------------------------------------------------------------------------------------


def add_comment(actor: User, claim: Claim, text: str) -> ClaimEvent:
    """The dealer and the reviewers talk on the claim's timeline; the other side is told."""
    text = text.strip()
    if not text:
        raise InvalidInput("comment", _("Write a comment first."))
    if len(text) > 4000:
        raise InvalidInput("comment", _("Keep a comment under 4,000 characters."))
    from_dealer = actor.access_role in DEALER_USERS
    if from_dealer and actor.dealer_id != claim.dealer_id:
        raise NotFound()
    event = ClaimEvent(claim_id=claim.id, actor_id=actor.id, note=text, details={"comment": True})
    db.session.add(event)
    db.session.flush()
    told = {"claim": claim.title, "dealer": claim.dealer.name, "name": actor.name}
    if from_dealer:
        notify(_reviewers_to_tell(claim), "claim_comment", told, link("claims.review_page", claim_id=claim.id))
    else:
        notify(_dealer_people_to_tell(claim), "claim_comment", told, link("claims.claim_page", claim_id=claim.id))
    return event
