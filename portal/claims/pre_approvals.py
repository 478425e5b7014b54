"""Pre-approval of planned activities (trade shows, broadcast advertising): requested by the dealer, decided by
its reviewers, used by one claim, expired when the claim window closes unused."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from portal.access import AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import record_event
from portal.claims.models import (
    ActivityType,
    Claim,
    FundRequest,
    FundRequestStatus,
)
from portal.claims.reviewers import REVIEWERS, second_approvers
from portal.claims.rules import (
    RELEASES_PRE_APPROVAL,
    can_move_request,
)
from portal.dates import company_today
from portal.dealers.models import Dealer, Period
from portal.dealers.rules import NewSubmission
from portal.dealers.services import dealer_owners, refuse_new_submission, visible_dealers
from portal.extensions import db
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.workflow import move_if_still


def move_request(request_id: int, current: FundRequestStatus, target: FundRequestStatus, **values: object) -> bool:
    """Every status write of a pre-approval: legal by the table (rules.REQUEST_TRANSITIONS), and made only if the
    row still has `current`. True if it moved; the callers that must refuse a lost race say so themselves."""
    if not can_move_request(current, target):
        raise IllegalTransition(_("This request cannot change that way."))
    return move_if_still(FundRequest, request_id, current, target, **values)


def request_pre_approval(
    actor: User, period: Period, activity_type_id: int, title: str, planned_start: date, planned_end: date, cost: int
) -> FundRequest:
    """A dealer asks before spending on an activity that needs it; the manager approves or rejects."""
    require_role(actor, AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
    assert actor.dealer is not None
    refuse_new_submission(actor.dealer, NewSubmission.PRE_APPROVAL)
    kind = db.session.get(ActivityType, activity_type_id)
    if kind is None or not kind.active:
        raise InvalidInput("activity_type_id", _("Choose an activity type."))
    if not title.strip():
        raise InvalidInput("title", _("Say what the activity is."))
    if planned_end < planned_start:
        raise InvalidInput("planned_end", _("The activity cannot end before it starts."))
    if cost <= 0 or cost >= 10**13:
        raise InvalidInput("estimated_cost", _("Enter an amount above zero."))
    request = FundRequest(
        dealer_id=actor.dealer_id,
        period_id=period.id,
        activity_type_id=kind.id,
        title=title.strip(),
        planned_start=planned_start,
        planned_end=planned_end,
        estimated_cost=cost,
        status=FundRequestStatus.SUBMITTED,
        created_by_id=actor.id,
    )
    db.session.add(request)
    db.session.flush()
    record_event(
        "fund_request.submitted",
        actor_id=actor.id,
        subject_type="fund_request",
        subject_id=request.id,
        subject_label=request.title,
        details={"cost": cost},
    )
    dealer = db.session.get(Dealer, actor.dealer_id)
    assert dealer is not None
    manager = dealer.manager
    notify(
        [manager] if manager else second_approvers(),
        "pre_approval_requested",
        {"dealer": dealer.name, "title": request.title, "amount": params.amount(cost, dealer.currency)},
        link("claims.console_pre_approvals"),
    )
    return request


def decide_pre_approval(actor: User, request: FundRequest, approve: bool, note: str = "") -> FundRequest:
    """One decision per request: a conditional UPDATE lets the first reviewer through and tells the second."""
    require_role(actor, *REVIEWERS)
    if db.session.execute(visible_dealers(actor).where(Dealer.id == request.dealer_id)).first() is None:
        raise NotFound()
    note = note.strip()
    if not approve and not note:
        raise InvalidInput("note", _("Give the reason; the dealer sees it."))
    target = FundRequestStatus.APPROVED if approve else FundRequestStatus.REJECTED
    if not move_request(request.id, FundRequestStatus.SUBMITTED, target, decided_by_id=actor.id, decision_note=note):
        raise IllegalTransition(_("This request was already decided."))
    db.session.expire(request)
    record_event(
        "fund_request.decided",
        actor_id=actor.id,
        subject_type="fund_request",
        subject_id=request.id,
        subject_label=request.title,
        details={"status": target.value, "note": note},
    )
    dealer = db.session.get(Dealer, request.dealer_id)
    assert dealer is not None
    requester = db.session.get(User, request.created_by_id) if request.created_by_id else None
    people = dealer_owners(dealer)
    kind = "pre_approval_approved" if approve else "pre_approval_rejected"
    notify(
        [*people, requester] if requester and requester not in people else people,
        kind,
        {"title": request.title, "note": note},
        link("claims.pre_approvals"),
    )
    return request


def get_visible_request(user: User, request_id: int) -> FundRequest:
    dealers = visible_dealers(user).with_only_columns(Dealer.id)
    request = db.session.execute(
        select(FundRequest).where(FundRequest.id == request_id, FundRequest.dealer_id.in_(dealers))
    ).scalar_one_or_none()
    if request is None:
        raise NotFound()
    return request


def expire_pre_approvals(today: date | None = None) -> int:
    """Approved requests whose period's claim window has closed without a claim using them expire: they can no
    longer be claimed, and the dealer's list says why. Returns how many expired; the caller commits."""
    closed_before = (today or company_today()) - timedelta(days=current_app.config["CLAIM_WINDOW_DAYS"])
    stale = db.session.execute(
        select(FundRequest.id, FundRequest.title).where(
            FundRequest.status == FundRequestStatus.APPROVED,
            FundRequest.period_id.in_(select(Period.id).where(Period.ends_on < closed_before)),
        )
    ).all()
    expired = 0
    for request_id, title in stale:
        if move_request(request_id, FundRequestStatus.APPROVED, FundRequestStatus.EXPIRED):
            record_event(
                "fund_request.expired",
                actor_id=None,
                subject_type="fund_request",
                subject_id=request_id,
                subject_label=title,
                details={},
            )
            expired += 1
    return expired


def usable_requests(dealer_id: int, keep: int | None = None) -> list[FundRequest]:
    """Approved requests a new claim may refer to (and the one a draft already refers to): not past their period's
    claim window, and not held by another claim (a draft naming it holds it too)."""
    open_since = company_today() - timedelta(days=current_app.config["CLAIM_WINDOW_DAYS"])
    query = select(FundRequest).where(FundRequest.dealer_id == dealer_id)
    held = select(Claim.fund_request_id).where(
        Claim.fund_request_id.is_not(None), Claim.status.not_in(RELEASES_PRE_APPROVAL)
    )
    wanted = (
        (FundRequest.status == FundRequestStatus.APPROVED)
        & FundRequest.period_id.in_(select(Period.id).where(Period.ends_on >= open_since))
        & FundRequest.id.not_in(held)
    )
    if keep is not None:
        wanted = wanted | (FundRequest.id == keep)
    return list(db.session.execute(query.where(wanted).order_by(FundRequest.planned_start)).scalars())
