"""Violations and disputes: record, confirm and appeal violations; raise, mediate and settle disputes.

Every status moves through move_if_still (the transition tables in rules.py), so two people acting at once get
one change and one clear refusal. Outcomes take effect inside the same transaction as the resolution, once: the
conditional move lets only one resolution through, and the rows an outcome creates carry a unique source.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Integer, Select, bindparam, case, func, or_, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from portal.access import DEALER_USERS, AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.claims import services as claims
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.database import contains_pattern, read
from portal.dates import company_today
from portal.dealers.models import Dealer, Period, PeriodStatus, Territory
from portal.dealers.services import as_listed, current_period, dealer_owners, visible_dealers
from portal.disputes.models import Dispute, DisputeMessage, Violation
from portal.disputes.roles import MEDIATORS, RECORDERS, mediators
from portal.disputes.rules import (
    ACTIVE,
    BETWEEN_DEALERS,
    DisputeCategory,
    DisputeStatus,
    Outcome,
    ViolationKind,
    ViolationStatus,
    can_appeal,
    can_move_dispute,
    outcomes_for,
)
from portal.disputes.violations import (
    REFUND_SOURCE_PREFIX,
    move_violation,
    recompute_for,
    tell_dealer_of_violation,
    visible_violations,
)
from portal.evidence.services import OwnerRules, register_owner
from portal.extensions import db
from portal.formatting import money
from portal.money import MAX_MONEY
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.outbox import EventKind, emit
from portal.rebates import ledger
from portal.rebates.models import AdjustmentKind, RebateStatement
from portal.rebates.services import book_adjustment
from portal.request_locale import gettext as _
from portal.request_memo import remembered
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from portal.types import UTCDateTime, label, utcnow
from portal.web import PAGE_LIMIT, PAGE_OFFSET, StatementPage, page_of_statement
from portal.workflow import move_checked, move_if_still

# --- Violations ------------------------------------------------------------------------------------------------------


def appeal_violation(actor: User, violation: Violation, reason: str, today: date | None = None) -> Dispute:
    """The dealer (even a suspended one) appeals within the window: the violation is appealed and a dispute opens."""
    require_role(actor, *DEALER_USERS)
    if actor.dealer_id != violation.dealer_id:
        raise NotFound()
    today = today or company_today()
    if not can_appeal(violation.status, violation.appeal_until, today):
        raise IllegalTransition(_("This violation can no longer be appealed."))
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why the decision is wrong; the mediator reads it."))
    move_violation(violation, actor, ViolationStatus.CONFIRMED, ViolationStatus.APPEALED)
    title = _("Appeal: %(kind)s", kind=label(violation.kind))
    return _open_dispute(
        actor, violation.dealer, None, DisputeCategory.VIOLATION_APPEAL, title, reason, violation_id=violation.id
    )


# --- Disputes: who sees them -----------------------------------------------------------------------------------------


def visible_disputes(user: User) -> Select[Dispute]:
    """Parties see their disputes; managers those of their dealers; senior managers, mediators and admins all."""
    role = user.access_role
    query = select(Dispute)
    if role in (AccessRole.MEDIATOR, AccessRole.ADMIN, AccessRole.SENIOR_MANAGER):
        return query
    if role in DEALER_USERS:
        return query.where(
            or_(Dispute.raised_by_dealer_id == user.dealer_id, Dispute.respondent_dealer_id == user.dealer_id)
        )
    dealers = visible_dealers(user).with_only_columns(Dealer.id)
    return query.where(or_(Dispute.raised_by_dealer_id.in_(dealers), Dispute.respondent_dealer_id.in_(dealers)))


def get_visible_dispute(user: User, dispute_id: int) -> Dispute:
    dispute = db.session.execute(visible_disputes(user).where(Dispute.id == dispute_id)).scalar_one_or_none()
    if dispute is None:
        raise NotFound()
    return dispute


def sees_internal_notes(user: User) -> bool:
    return user.access_role in MEDIATORS


def thread(user: User, dispute: Dispute) -> list[DisputeMessage]:
    query = select(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id)
    if not sees_internal_notes(user):
        query = query.where(DisputeMessage.internal.is_(False))
    return list(db.session.execute(query.order_by(DisputeMessage.created_at, DisputeMessage.id)).scalars())


def directory_query(text: str = "") -> Select[str, str, str]:
    """The dealer directory a dealer picks the other party from: name, code and territory, nothing else."""
    query = select(Dealer.code, Dealer.name, Territory.name).join(Territory, Territory.id == Dealer.territory_id)
    if text:
        pattern = contains_pattern(text)
        query = query.where(or_(Dealer.name.ilike(pattern, escape="\\"), Dealer.code.ilike(pattern, escape="\\")))
    return query.order_by(Dealer.code)


# --- Disputes: raising and the parties' part -------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeInput:
    category: DisputeCategory
    title: str
    description: str
    respondent_code: str = ""
    claim_id: int | None = None
    statement_id: int | None = None


def _note(
    dispute: Dispute,
    actor: User | None,
    before: DisputeStatus | None,
    after: DisputeStatus | None,
    body: str = "",
    internal: bool = False,
) -> DisputeMessage:
    message = DisputeMessage(
        dispute_id=dispute.id,
        author_id=actor.id if actor else None,
        internal=internal,
        body=body,
        from_status=before,
        to_status=after,
    )
    db.session.add(message)
    return message


def _open_dispute(
    actor: User,
    raiser: Dealer,
    respondent: Dealer | None,
    category: DisputeCategory,
    title: str,
    description: str,
    **links: int | None,
) -> Dispute:
    due = utcnow() + timedelta(days=current_app.config["DISPUTE_RESPONSE_DAYS"])
    dispute = Dispute(
        raised_by_dealer_id=raiser.id,
        respondent_dealer_id=respondent.id if respondent else None,
        category=category,
        title=title[:200],
        description=description,
        status=DisputeStatus.OPEN,
        due_at=due,
        raised_by_id=actor.id,
        **links,
    )
    db.session.add(dispute)
    db.session.flush()
    _note(dispute, actor, None, DisputeStatus.OPEN)
    audit_change("dispute.raised", actor=actor, subject=dispute, after={"category": category.value})
    told = {"dealer": raiser.name, "title": dispute.title, "category": params.choice(category)}
    dispute_link = link("disputes.dispute_page", dispute_id=dispute.id)
    notify([*mediators(), *managers_of(dispute)], "dispute_raised", told, dispute_link)
    if respondent is not None:
        notify(dealer_owners(respondent), "dispute_against_you", told, dispute_link)
    return dispute


def raise_dispute(actor: User, data: DisputeInput) -> Dispute:
    """A dealer complains about another dealer or contests a decision; links must be its own objects."""

    require_role(actor, *DEALER_USERS)
    raiser = db.session.get(Dealer, actor.dealer_id)
    assert raiser is not None
    if data.category is DisputeCategory.VIOLATION_APPEAL:
        raise InvalidInput("category", _("Appeal a violation from its page."))
    if not data.title.strip():
        raise InvalidInput("title", _("Give the dispute a short title."))
    if not data.description.strip():
        raise InvalidInput("description", _("Describe what happened."))
    respondent = None
    if data.respondent_code.strip():
        respondent = db.session.execute(
            select(Dealer).where(Dealer.code == data.respondent_code.strip().upper())
        ).scalar_one_or_none()
        if respondent is None or respondent.id == raiser.id:
            raise InvalidInput("respondent", _("Choose another dealer from the directory."))
    if data.category in BETWEEN_DEALERS and respondent is None:
        raise InvalidInput("respondent", _("Name the other dealer for this kind of dispute."))
    if data.claim_id is not None:
        claim = db.session.get(Claim, data.claim_id)
        if claim is None or claim.dealer_id != raiser.id:
            raise InvalidInput("claim_id", _("Choose one of your claims."))
    if data.statement_id is not None:
        statement = db.session.get(RebateStatement, data.statement_id)
        if statement is None or statement.dealer_id != raiser.id:
            raise InvalidInput("statement_id", _("Choose one of your statements."))
    if data.category is DisputeCategory.CLAIM_DECISION and data.claim_id is None:
        raise InvalidInput("claim_id", _("Choose the claim the decision was about."))
    return _open_dispute(
        actor,
        raiser,
        respondent,
        data.category,
        data.title.strip(),
        data.description.strip(),
        claim_id=data.claim_id,
        statement_id=data.statement_id,
    )


def _move(
    dispute: Dispute,
    actor: User | None,
    current: DisputeStatus,
    target: DisputeStatus,
    body: str = "",
    **values: object,
) -> None:
    move_checked(
        dispute,
        current,
        target,
        legal=can_move_dispute(current, target),
        illegal=_("A dispute cannot go from %(current)s to %(target)s.", current=label(current), target=label(target)),
        raced=_("This dispute was already changed by someone else. Reload the page."),
        **values,
    )
    _note(dispute, actor, current, target, body)
    audit_change(
        "dispute.moved", actor=actor, subject=dispute, before={"status": current.value}, after={"status": target.value}
    )


def is_party(user: User, dispute: Dispute) -> bool:
    return user.access_role in DEALER_USERS and user.dealer_id in dispute.party_ids()


def holds(user: User, dispute: Dispute) -> bool:
    """The mediator the dispute is assigned to acts and writes in it; other mediators read it. An administrator
    acts on any (they hand disputes over and stand in)."""
    return user.access_role is AccessRole.ADMIN or (
        user.access_role is AccessRole.MEDIATOR and dispute.mediator_id == user.id
    )


def can_write(user: User, dispute: Dispute) -> bool:
    """While the dispute is active, its parties and the mediator who holds it write (messages, notes, files);
    managers and the other mediators read."""
    if dispute.status not in ACTIVE:
        return False
    return is_party(user, dispute) or holds(user, dispute)


def post_message(actor: User, dispute: Dispute, body: str, internal: bool = False) -> DisputeMessage:
    """A party's message (the awaited party's answer puts the dispute back in mediation) or a mediator's message
    or internal note."""
    if not can_write(actor, dispute):
        if dispute.status not in ACTIVE:
            raise IllegalTransition(_("This dispute is closed."))
        if actor.access_role in MEDIATORS:
            _require_mediator(actor, dispute)  # says why: another mediator has it, or nobody has taken it yet
        raise NotFound() if actor.access_role in DEALER_USERS else Forbidden()
    body = body.strip()
    if not body:
        raise InvalidInput("body", _("Write a message first."))
    if len(body) > 8000:
        raise InvalidInput("body", _("Keep a message under 8,000 characters."))
    internal = internal and sees_internal_notes(actor)
    message = _note(dispute, actor, None, None, body, internal)
    if (
        is_party(actor, dispute)
        and dispute.status is DisputeStatus.AWAITING_PARTY
        and actor.dealer_id == dispute.awaiting_dealer_id
    ):
        _move(
            dispute,
            actor,
            DisputeStatus.AWAITING_PARTY,
            DisputeStatus.IN_MEDIATION,
            awaiting_dealer_id=None,
            awaiting_until=None,
        )
    db.session.flush()
    if not internal:
        _tell_about_message(actor, dispute)
    return message


def _party_people(dispute: Dispute, dealer_ids: Iterable[int]) -> list[User]:
    people: list[User] = []
    for dealer_id in dealer_ids:
        dealer = db.session.get(Dealer, dealer_id)
        if dealer is not None:
            people.extend(dealer_owners(dealer))
    return people


def _tell_about_message(actor: User, dispute: Dispute) -> None:
    others = [dealer_id for dealer_id in dispute.party_ids() if dealer_id != actor.dealer_id]
    people = _party_people(dispute, others)
    if dispute.mediator is not None and dispute.mediator_id != actor.id:
        people.append(dispute.mediator)
    notify(
        people,
        "dispute_message",
        {"title": dispute.title, "name": actor.name},
        link("disputes.dispute_page", dispute_id=dispute.id),
    )


def withdraw_dispute(actor: User, dispute: Dispute, reason: str = "") -> Dispute:
    """The raiser withdraws; an appeal withdrawn leaves the violation as it was decided (upheld)."""
    require_role(actor, *DEALER_USERS)
    if actor.dealer_id != dispute.raised_by_dealer_id:
        raise NotFound() if actor.dealer_id not in dispute.party_ids() else Forbidden()
    current = dispute.status
    if current not in ACTIVE:
        raise IllegalTransition(_("This dispute is closed."))
    _move(dispute, actor, current, DisputeStatus.WITHDRAWN, reason.strip(), closed_at=utcnow())
    if dispute.violation_id:
        _settle_appeal(dispute, actor, ViolationStatus.UPHELD)
    _tell_parties_closed(dispute, "dispute_withdrawn")
    return dispute


# --- Mediation -------------------------------------------------------------------------------------------------------


_MEDIATOR_ID = bindparam("mediator_id", type_=Integer)
_NOW = bindparam("now", type_=UTCDateTime())


@functools.lru_cache(maxsize=8)
def _mediation_queue_of(queue: str) -> Select[Dispute]:
    """One queue's page statement, built once: the mediator and the moment are parameters (see mediation_page)."""
    # The list shows the parties' codes and the mediator's name: not every column of two dealers, their
    # territories, the mediator's account and its dealer, which the models' joined loading would bring per row.
    query = (
        select(Dispute)
        .where(Dispute.status.in_(ACTIVE))
        .options(
            joinedload(Dispute.raiser).options(*as_listed()),
            joinedload(Dispute.respondent).options(*as_listed()),
            joinedload(Dispute.mediator).options(load_only(User.name), lazyload(User.dealer)),
        )
    )
    if queue == "unassigned":
        query = query.where(Dispute.mediator_id.is_(None))
    elif queue == "mine":
        query = query.where(Dispute.mediator_id == _MEDIATOR_ID)
    elif queue == "overdue":
        query = query.where(Dispute.due_at < _NOW)
    return query.order_by(Dispute.due_at, Dispute.id).limit(PAGE_LIMIT).offset(PAGE_OFFSET)


def mediation_page(user: User, queue: str, total: int) -> StatementPage:
    """The asked-for page of unassigned, mine, overdue or all active disputes, the nearest deadline first; `total` is
    the queue's count (its tab shows it). The statement is built once per queue and kept: building it and computing
    SQLAlchemy's cache key for it cost more than running it."""
    require_role(user, *MEDIATORS)
    return page_of_statement(_mediation_queue_of(queue), {"mediator_id": user.id, "now": utcnow()}, total=total)


@dataclass(frozen=True)
class MediationCounts:
    """What the mediation queues hold for one mediator; the queue tabs and the start page's inbox show them."""

    mine: int
    mine_overdue: int
    unassigned: int
    overdue: int
    active: int


def mediation_counts(user: User) -> MediationCounts:
    """One grouped query over the active disputes, once per request (the tabs and the inbox both ask)."""
    return remembered(("mediation_counts", user.id), lambda: _mediation_counts(user))


_MINE = Dispute.mediator_id == _MEDIATOR_ID
_OVERDUE = Dispute.due_at < _NOW
_MEDIATION_COUNTS = select(
    func.coalesce(func.sum(case((_MINE, 1), else_=0)), 0),
    func.coalesce(func.sum(case((_MINE & _OVERDUE, 1), else_=0)), 0),
    func.coalesce(func.sum(case((Dispute.mediator_id.is_(None), 1), else_=0)), 0),
    func.coalesce(func.sum(case((_OVERDUE, 1), else_=0)), 0),
    func.count(),
).where(Dispute.status.in_(ACTIVE))


def _mediation_counts(user: User) -> MediationCounts:
    counted = read(_MEDIATION_COUNTS, {"mediator_id": user.id, "now": utcnow()}).one()
    return MediationCounts(*(int(count) for count in counted))


def queue_counts(user: User) -> dict[str, int]:
    """How many disputes each queue holds."""
    counts = mediation_counts(user)
    return {"mine": counts.mine, "unassigned": counts.unassigned, "overdue": counts.overdue, "active": counts.active}


def _require_mediator(actor: User, dispute: Dispute) -> None:
    """Every mediator action but taking an unassigned dispute (and dismissing one) needs the dispute in hand."""
    require_role(actor, *MEDIATORS)
    if holds(actor, dispute):
        return
    if dispute.mediator_id is None:
        raise IllegalTransition(_("Take this dispute first: only the mediator who holds a dispute acts in it."))
    raise IllegalTransition(_("Another mediator has this dispute."))


def assign(actor: User, dispute: Dispute, mediator: User) -> Dispute:
    """Take a dispute (assign it to yourself) or, as admin or its mediator, hand it to another mediator."""
    require_role(actor, *MEDIATORS)
    if mediator.access_role is not AccessRole.MEDIATOR or not mediator.active:
        raise InvalidInput("mediator", _("Choose an active mediator."))
    current = dispute.status
    if current not in ACTIVE:
        raise IllegalTransition(_("This dispute is closed."))
    if current is DisputeStatus.OPEN:
        if not move_if_still(
            Dispute, dispute.id, DisputeStatus.OPEN, DisputeStatus.IN_MEDIATION, mediator_id=mediator.id
        ):
            raise IllegalTransition(_("Someone else took this dispute a moment ago. Reload the page."))
        db.session.expire(dispute)
        _note(dispute, actor, DisputeStatus.OPEN, DisputeStatus.IN_MEDIATION, mediator.name)
    else:
        _require_mediator(actor, dispute)
        dispute.mediator_id = mediator.id
        _note(dispute, actor, None, None, _("Handed to %(name)s.", name=mediator.name), internal=True)
    audit_change("dispute.assigned", actor=actor, subject=dispute, after={"mediator": mediator.id})
    if mediator.id != actor.id:
        notify(
            [mediator],
            "dispute_assigned",
            {"title": dispute.title},
            link("disputes.dispute_page", dispute_id=dispute.id),
        )
    db.session.flush()
    return dispute


def request_information(actor: User, dispute: Dispute, party_dealer_id: int, message: str, days: int) -> Dispute:
    """Ask one party for something by a deadline; its answer (or the deadline) puts the dispute back in mediation."""
    _require_mediator(actor, dispute)
    if party_dealer_id not in dispute.party_ids():
        raise InvalidInput("party", _("Choose one of the parties."))
    message = message.strip()
    if not message:
        raise InvalidInput("message", _("Say what you need from the party."))
    if not 1 <= days <= 60:
        raise InvalidInput("days", _("Give between 1 and 60 days."))
    until = utcnow() + timedelta(days=days)
    _move(
        dispute,
        actor,
        DisputeStatus.IN_MEDIATION,
        DisputeStatus.AWAITING_PARTY,
        message,
        awaiting_dealer_id=party_dealer_id,
        awaiting_until=until,
        mediator_id=dispute.mediator_id or actor.id,
    )
    notify(
        _party_people(dispute, [party_dealer_id]),
        "dispute_info_requested",
        {"title": dispute.title, "note": message, "until": params.moment(until)},
        link("disputes.dispute_page", dispute_id=dispute.id),
    )
    return dispute


def lapse_party_deadlines(now: datetime | None = None) -> int:
    """The periodic job: a party that let its deadline pass puts the dispute back in mediation."""
    now = now or utcnow()
    lapsed = db.session.execute(
        select(Dispute).where(Dispute.status == DisputeStatus.AWAITING_PARTY, Dispute.awaiting_until < now)
    ).scalars()
    count = 0
    for dispute in list(lapsed):
        if move_if_still(
            Dispute,
            dispute.id,
            DisputeStatus.AWAITING_PARTY,
            DisputeStatus.IN_MEDIATION,
            awaiting_dealer_id=None,
            awaiting_until=None,
        ):
            _note(
                dispute,
                None,
                DisputeStatus.AWAITING_PARTY,
                DisputeStatus.IN_MEDIATION,
                _("The party's deadline passed."),
            )
            count += 1
    db.session.flush()
    return count


def internal_note(actor: User, dispute: Dispute, body: str) -> DisputeMessage:
    _require_mediator(actor, dispute)
    return post_message(actor, dispute, body, internal=True)


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    summary: str
    party_dealer_id: int | None = None  # who a warning, penalty or adjustment is for
    amount: int = 0  # a penalty (positive) or an adjustment (signed, minor units)


def outcome_choices(dispute: Dispute) -> list[Outcome]:
    return outcomes_for(
        dispute.category, has_claim=dispute.claim_id is not None, has_violation=dispute.violation_id is not None
    )


def _checked_resolution(actor: User, dispute: Dispute, resolution: Resolution) -> Dealer | None:
    """Every check of a resolution before it is applied (or described); the party it applies to, if any."""
    _require_mediator(actor, dispute)
    if not resolution.summary.strip():
        raise InvalidInput("summary", _("Write the summary both parties will read."))
    if resolution.outcome not in outcome_choices(dispute):
        raise InvalidInput("outcome", _("Choose an outcome that fits this dispute."))
    party = None
    if resolution.outcome in (Outcome.WARNING, Outcome.PENALTY, Outcome.REBATE_ADJUSTMENT):
        if resolution.party_dealer_id not in dispute.party_ids():
            raise InvalidInput("party", _("Choose the party the outcome applies to."))
        party = db.session.get(Dealer, resolution.party_dealer_id)
    if resolution.outcome is Outcome.PENALTY and not 0 < resolution.amount < MAX_MONEY:
        raise InvalidInput("amount", _("Enter the penalty, above zero."))
    if resolution.outcome is Outcome.REBATE_ADJUSTMENT and (
        resolution.amount == 0 or abs(resolution.amount) >= MAX_MONEY
    ):
        raise InvalidInput("amount", _("Enter the adjustment: positive pays the dealer, negative takes back."))
    if dispute.status not in (DisputeStatus.IN_MEDIATION, DisputeStatus.AWAITING_PARTY):
        raise IllegalTransition(_("This dispute was already settled, or nobody has taken it yet."))
    return party


def resolution_effects(actor: User, dispute: Dispute, resolution: Resolution) -> list[str]:
    """What applying this outcome would do, in the words the mediator confirms before it is applied: the money and
    who bears it, the claim or violation it changes. Reads only; refuses what `resolve` would refuse."""
    party = _checked_resolution(actor, dispute, resolution)
    outcome, amount = resolution.outcome, resolution.amount
    period = current_period()
    period_code = period.code if period is not None else "—"
    effects: list[str] = []
    if outcome is Outcome.WARNING and party is not None:
        effects.append(
            _(
                "%(dealer)s gets a confirmed warning in %(period)s, without a penalty.",
                dealer=party.name,
                period=period_code,
            )
        )
    elif outcome is Outcome.PENALTY and party is not None:
        effects.append(
            _(
                "%(dealer)s gets a confirmed violation with a penalty of %(amount)s, deducted on its %(period)s "
                "statement.",
                dealer=party.name,
                amount=money(amount, party.currency),
                period=period_code,
            )
        )
    elif outcome is Outcome.REBATE_ADJUSTMENT and party is not None:
        shown = money(abs(amount), party.currency)
        effects.append(
            _("%(amount)s is paid to %(dealer)s on its open statement.", amount=shown, dealer=party.name)
            if amount > 0
            else _("%(amount)s is taken back from %(dealer)s on its open statement.", amount=shown, dealer=party.name)
        )
    elif outcome is Outcome.REOPEN_CLAIM:
        claim = db.session.get(Claim, dispute.claim_id) if dispute.claim_id else None
        if claim is not None:
            effects.append(
                _("The rejected claim “%(title)s” goes back to its reviewer, to be decided again.", title=claim.title)
            )
    elif outcome in (Outcome.UPHOLD_VIOLATION, Outcome.OVERTURN_VIOLATION):
        violation = db.session.get(Violation, dispute.violation_id) if dispute.violation_id else None
        if violation is not None:
            penalty = money(violation.penalty, violation.dealer.currency)
            effects.append(
                _("The violation stands, with its penalty of %(amount)s.", amount=penalty)
                if outcome is Outcome.UPHOLD_VIOLATION
                else _("The violation is overturned: its penalty of %(amount)s leaves the statement.", amount=penalty)
            )
    else:
        effects.append(_("No money moves and no record changes."))
    effects.append(_("The dispute is closed; both parties are told and read the summary."))
    return effects


def resolve(actor: User, dispute: Dispute, resolution: Resolution) -> Dispute:
    """Record the outcome and a summary both parties see; the outcome takes effect now, and only once: a second
    resolve (even at the same moment) finds the dispute no longer active and is refused."""
    party = _checked_resolution(actor, dispute, resolution)
    summary = resolution.summary.strip()
    current = dispute.status
    if current not in (DisputeStatus.IN_MEDIATION, DisputeStatus.AWAITING_PARTY):
        raise IllegalTransition(_("This dispute was already settled, or nobody has taken it yet."))
    details = {"party": resolution.party_dealer_id, "amount": resolution.amount}
    _move(
        dispute,
        actor,
        current,
        DisputeStatus.RESOLVED,
        summary,
        outcome=resolution.outcome,
        summary=summary,
        outcome_details=details,
        closed_at=utcnow(),
        mediator_id=dispute.mediator_id or actor.id,
    )
    _apply(actor, dispute, resolution, party)
    emit(
        EventKind.DISPUTE_RESOLVED,
        "dispute",
        dispute.id,
        dispute.raised_by_dealer_id,
        outcome=resolution.outcome.value,
    )
    _tell_parties_closed(dispute, "dispute_resolved")
    return dispute


def _apply(actor: User, dispute: Dispute, resolution: Resolution, party: Dealer | None) -> None:
    """What an outcome does. Runs once per dispute: `resolve` let exactly one caller through the conditional move."""

    source = f"dispute:{dispute.id}"
    outcome = resolution.outcome
    if outcome in (Outcome.WARNING, Outcome.PENALTY):
        assert party is not None
        today = company_today()
        period = current_period()
        if period is None or period.status is not PeriodStatus.OPEN:
            raise IllegalTransition(_("No period is open today to book the penalty in."))
        violation = Violation(
            dealer_id=party.id,
            period_id=period.id,
            kind=_violation_kind(dispute),
            description=resolution.summary.strip(),
            penalty=resolution.amount if outcome is Outcome.PENALTY else 0,
            status=ViolationStatus.CONFIRMED,
            recorded_by_id=actor.id,
            confirmed_by_id=actor.id,
            confirmed_on=today,
            booked_period_id=period.id,
            source=source,
            appeal_until=None,
        )
        db.session.add(violation)
        db.session.flush()
        recompute_for(violation)
        tell_dealer_of_violation(violation)
    elif outcome is Outcome.REBATE_ADJUSTMENT:
        assert party is not None
        book_adjustment(
            actor, party, resolution.amount, resolution.summary.strip(), kind=AdjustmentKind.MANUAL, source=source
        )
    elif outcome is Outcome.REOPEN_CLAIM:
        claim = db.session.get(Claim, dispute.claim_id)
        if claim is None or claim.status is not ClaimStatus.REJECTED:
            raise IllegalTransition(_("Only a rejected claim can be reviewed again."))
        # The dealer disputed in time: the claim window is counted to the day the dispute was raised.
        claims.reopen(actor, claim, resolution.summary.strip(), disputed_on=company_today(dispute.created_at))
    elif outcome is Outcome.UPHOLD_VIOLATION:
        _settle_appeal(dispute, actor, ViolationStatus.UPHELD)
    elif outcome is Outcome.OVERTURN_VIOLATION:
        _settle_appeal(dispute, actor, ViolationStatus.OVERTURNED)


def _violation_kind(dispute: Dispute) -> ViolationKind:
    return {
        DisputeCategory.PRICING_CONFLICT: ViolationKind.PRICE_BELOW_FLOOR,
        DisputeCategory.TERRITORY_CONFLICT: ViolationKind.CROSS_TERRITORY,
    }.get(dispute.category, ViolationKind.OTHER)


def _settle_appeal(dispute: Dispute, actor: User, target: ViolationStatus) -> None:
    """An overturned penalty leaves the statement: recomputed while its period is open, else given back as a
    refund naming the period it corrects: exactly what the dealer's account bore for it (deducted from a rebate or
    carried as a negative balance), no more."""

    violation = db.session.get(Violation, dispute.violation_id)
    if violation is None or violation.status is not ViolationStatus.APPEALED:
        return
    move_violation(violation, actor, ViolationStatus.APPEALED, target)
    if target is not ViolationStatus.OVERTURNED or violation.penalty == 0:
        return
    booked = db.session.get(Period, violation.booked_period_id) if violation.booked_period_id else None
    if booked is not None and booked.status is PeriodStatus.OPEN:
        recompute_for(violation)
    elif booked is not None and (borne := -ledger.booked_for(f"violation:{violation.id}")) > 0:
        book_adjustment(
            actor,
            violation.dealer,
            borne,
            _("Penalty overturned on appeal"),
            kind=AdjustmentKind.PENALTY_OVERTURNED,
            corrects=booked,
            source=f"{REFUND_SOURCE_PREFIX}{violation.id}",
        )


def dismiss(actor: User, dispute: Dispute, reason: str) -> Dispute:
    """Dismissed with a reason both parties read; a dismissed appeal leaves the violation standing (upheld)."""
    require_role(actor, *MEDIATORS)
    if actor.access_role is AccessRole.MEDIATOR and dispute.mediator_id not in (None, actor.id):
        raise IllegalTransition(_("Another mediator has this dispute."))
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Give the reason both parties will read."))
    current = dispute.status
    if current not in ACTIVE:
        raise IllegalTransition(_("This dispute was already settled."))
    _move(
        dispute,
        actor,
        current,
        DisputeStatus.DISMISSED,
        reason,
        summary=reason,
        closed_at=utcnow(),
        mediator_id=dispute.mediator_id or actor.id,
    )
    if dispute.violation_id:
        _settle_appeal(dispute, actor, ViolationStatus.UPHELD)
    _tell_parties_closed(dispute, "dispute_resolved")
    return dispute


def _tell_parties_closed(dispute: Dispute, kind: str) -> None:
    status = dispute.status
    notify(
        [*_party_people(dispute, sorted(dispute.party_ids())), *managers_of(dispute)],
        kind,
        {"title": dispute.title, "status": params.choice(status, lower=True), "note": dispute.summary},
        link("disputes.dispute_page", dispute_id=dispute.id),
    )


def managers_of(dispute: Dispute) -> list[User]:
    """The channel managers of the dealers involved: they may read the dispute."""
    ids = sorted(dispute.party_ids())
    return list(
        db.session.execute(
            select(User).join(Dealer, Dealer.manager_id == User.id).where(Dealer.id.in_(ids)).distinct()
        ).scalars()
    )


# --- Evidence files of violations and disputes --------------------------------------------------------------------


VIOLATION_FILES = "violation"
DISPUTE_FILES = "dispute"


def register_evidence_owners() -> None:
    """A violation's files: whoever sees the violation; added by its dealers' staff while it waits for confirmation.
    A dispute's files: whoever may read the dispute; added by the parties and the mediator while it is active."""

    def violation_of(user: User, violation_id: int) -> Violation | None:
        return db.session.execute(visible_violations(user).where(Violation.id == violation_id)).scalar_one_or_none()

    def can_add_to_violation(user: User, violation_id: int) -> bool:
        violation = violation_of(user, violation_id)
        return violation is not None and user.access_role in RECORDERS and violation.status is ViolationStatus.PROPOSED

    def dispute_of(user: User, dispute_id: int) -> Dispute | None:
        return db.session.execute(visible_disputes(user).where(Dispute.id == dispute_id)).scalar_one_or_none()

    def can_add_to_dispute(user: User, dispute_id: int) -> bool:
        dispute = dispute_of(user, dispute_id)
        return dispute is not None and can_write(user, dispute)

    register_owner(
        VIOLATION_FILES,
        OwnerRules(
            can_view=lambda user, owner_id: violation_of(user, owner_id) is not None,
            can_add=can_add_to_violation,
            can_remove=lambda user, evidence: (
                evidence.uploaded_by_id == user.id and can_add_to_violation(user, evidence.owner_id)
            ),
        ),
    )
    register_owner(
        DISPUTE_FILES,
        OwnerRules(
            can_view=lambda user, owner_id: dispute_of(user, owner_id) is not None,
            can_add=can_add_to_dispute,
            can_remove=lambda user, evidence: (
                evidence.uploaded_by_id == user.id and can_add_to_dispute(user, evidence.owner_id)
            ),
        ),
    )
