"""Violations: recorded by a manager, confirmed by a second person (then the penalty counts on the dealer's
statement), withdrawn, or appealed (which opens a dispute: portal.disputes.services)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date

from flask import current_app
from sqlalchemy import Integer, Select, String, bindparam, cast, exists, literal, or_, select

from portal.access import DEALER_USERS, AccessRole, Viewer, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.dates import company_today
from portal.dealers.closing import CloseFact
from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.dealers.services import current_period, dealer_owners, visible_dealers
from portal.disputes.models import Violation
from portal.disputes.roles import RECORDERS, SECOND_PERSON, senior_managers
from portal.disputes.rules import (
    COUNTING,
    ViolationKind,
    ViolationStatus,
    appeal_deadline,
    can_move_violation,
)
from portal.extensions import db
from portal.formatting import money
from portal.money import MAX_MONEY
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.outbox import EventKind, emit
from portal.rebates.models import Adjustment, AdjustmentKind
from portal.rebates.services import PenaltyLine, recompute_statements, register_penalty_source
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import label
from portal.workflow import move_checked

SourceLink = Callable[[str], str]


_SOURCE_LINKS: dict[str, SourceLink] = {}


def register_source_link(kind: str, link_of: SourceLink) -> None:
    """A higher area that makes violations ("suspicion:<id>") says where their evidence is: the violation's page
    links there."""
    _SOURCE_LINKS[kind] = link_of


def source_link(violation: Violation) -> str | None:
    kind, _sep, ident = (violation.source or "").partition(":")
    link_of = _SOURCE_LINKS.get(kind)
    return link_of(ident) if link_of is not None and ident else None


def visible_violations(user: Viewer) -> Select[Violation]:
    """A dealer's own violations (proposed ones are not shown to it until confirmed); staff see their dealers';
    mediators every violation, since they decide the appeals."""
    if user.access_role is AccessRole.MEDIATOR:
        return select(Violation)
    dealers = visible_dealers(user).with_only_columns(Dealer.id)
    query = select(Violation).where(Violation.dealer_id.in_(dealers))
    if user.access_role in DEALER_USERS:
        query = query.where(Violation.status.not_in((ViolationStatus.PROPOSED, ViolationStatus.WITHDRAWN)))
    return query


def get_visible_violation(user: User, violation_id: int) -> Violation:
    violation = db.session.execute(visible_violations(user).where(Violation.id == violation_id)).scalar_one_or_none()
    if violation is None:
        raise NotFound()
    return violation


def record_violation(
    actor: User, dealer: Dealer, period: Period, kind: ViolationKind, description: str, penalty: int
) -> Violation:
    """A manager records a breach by a dealer of their portfolio; it counts only once a second person confirms it."""
    require_role(actor, *RECORDERS)
    if db.session.execute(visible_dealers(actor).where(Dealer.id == dealer.id)).first() is None:
        raise NotFound()
    description = description.strip()
    if not description:
        raise InvalidInput("description", _("Describe what happened; the dealer reads it."))
    if penalty < 0 or penalty >= MAX_MONEY:
        raise InvalidInput("penalty", _("Enter a penalty of zero or more."))
    violation = Violation(
        dealer_id=dealer.id,
        period_id=period.id,
        kind=kind,
        description=description,
        penalty=penalty,
        status=ViolationStatus.PROPOSED,
        recorded_by_id=actor.id,
    )
    db.session.add(violation)
    db.session.flush()
    audit_change("violation.recorded", actor=actor, subject=violation, after={"penalty": penalty, "kind": kind.value})
    others = [person for person in senior_managers() if person.id != actor.id]
    notify(
        others,
        "violation_proposed",
        {"dealer": dealer.name, "kind": params.choice(kind)},
        link("disputes.console_violation", violation_id=violation.id),
    )
    return violation


# The moves an ERP hears of: a penalty that now counts, and one taken back.
PUBLISHED_MOVES = {
    ViolationStatus.CONFIRMED: EventKind.VIOLATION_CONFIRMED,
    ViolationStatus.OVERTURNED: EventKind.VIOLATION_OVERTURNED,
}


def move_violation(
    violation: Violation, actor: User | None, current: ViolationStatus, target: ViolationStatus, **values: object
) -> None:
    move_checked(
        violation,
        current,
        target,
        legal=can_move_violation(current, target),
        illegal=_(
            "A violation cannot go from %(current)s to %(target)s.", current=label(current), target=label(target)
        ),
        raced=_("This violation was already decided by someone else. Reload the page."),
        **values,
    )
    if target in PUBLISHED_MOVES:
        emit(PUBLISHED_MOVES[target], "violation", violation.id, violation.dealer_id, penalty=violation.penalty)
    audit_change(
        "violation.moved",
        actor=actor,
        subject=violation,
        before={"status": current.value},
        after={"status": target.value},
    )


def booking_period(period: Period) -> Period:
    """A penalty is deducted in its own period while that is open, else in today's open period as a correction."""
    if period.status is PeriodStatus.OPEN:
        return period
    booked = current_period()
    if booked is None or booked.status is not PeriodStatus.OPEN:
        raise IllegalTransition(_("No period is open today to book the penalty in."))
    return booked


def recompute_for(violation: Violation) -> None:

    if violation.booked_period_id is None:
        return
    booked = db.session.get(Period, violation.booked_period_id)
    if booked is not None and booked.status is PeriodStatus.OPEN:
        recompute_statements(booked, [violation.dealer_id])


def confirm_violation(actor: User, violation: Violation, today: date | None = None) -> Violation:
    """A senior manager or admin other than the recorder confirms: the penalty counts and the dealer is told why
    and until when it may appeal."""
    require_role(actor, *SECOND_PERSON)
    if actor.id == violation.recorded_by_id:
        raise IllegalTransition(_("A violation is confirmed by someone other than the person who recorded it."))
    today = today or company_today()
    booked = booking_period(violation.period)
    until = appeal_deadline(today, current_app.config["VIOLATION_APPEAL_DAYS"])
    move_violation(
        violation,
        actor,
        ViolationStatus.PROPOSED,
        ViolationStatus.CONFIRMED,
        confirmed_by_id=actor.id,
        confirmed_on=today,
        appeal_until=until,
        booked_period_id=booked.id,
    )
    recompute_for(violation)
    tell_dealer_of_violation(violation)
    return violation


def tell_dealer_of_violation(violation: Violation) -> None:
    dealer = violation.dealer
    notify(
        dealer_owners(dealer),
        "violation_confirmed",
        {
            "kind": params.choice(violation.kind),
            "amount": params.amount(violation.penalty, dealer.currency),
            "until": params.day(violation.appeal_until) if violation.appeal_until else "",
        },
        link("disputes.dealer_violation", violation_id=violation.id),
    )


def withdraw_violation(actor: User, violation: Violation) -> Violation:
    require_role(actor, *RECORDERS)
    if actor.access_role is AccessRole.MANAGER and actor.id != violation.recorded_by_id:
        raise IllegalTransition(_("Only the person who recorded it, a senior manager or an admin withdraws it."))
    move_violation(violation, actor, ViolationStatus.PROPOSED, ViolationStatus.WITHDRAWN)
    return violation


REFUND_SOURCE_PREFIX = "overturn:"  # the source of the refund of an overturned penalty: "overturn:<violation id>"


_REFUNDED = exists().where(
    Adjustment.source == literal(REFUND_SOURCE_PREFIX) + cast(Violation.id, String),
    Adjustment.kind == AdjustmentKind.PENALTY_OVERTURNED,
)
# Built once, the period and the dealers as parameters: every statement page asks.
_PENALTIES_OF_PERIOD = (
    select(Violation)
    .where(
        Violation.booked_period_id == bindparam("period_id", type_=Integer),
        Violation.penalty > 0,
        or_(Violation.status.in_(COUNTING), (Violation.status == ViolationStatus.OVERTURNED) & _REFUNDED),
    )
    .order_by(Violation.id)
)
_PENALTIES_OF_DEALERS = _PENALTIES_OF_PERIOD.where(Violation.dealer_id.in_(bindparam("dealer_ids", expanding=True)))


def penalty_lines_for(period: Period, dealer_ids: Sequence[int] | None) -> Iterable[object]:
    """The penalty source the statements read: confirmed (or appealed, or upheld) penalties booked in the period.

    A penalty overturned after its period closed was given back by a refund in a later period (_settle_appeal);
    it stays deducted in its own period, so a reopened period closes again with the deduction the refund answers,
    and the dealer is not given the penalty twice."""

    query = _PENALTIES_OF_PERIOD
    values: dict[str, object] = {"period_id": period.id}
    if dealer_ids is not None:
        query, values["dealer_ids"] = _PENALTIES_OF_DEALERS, list(dealer_ids)
    lines = []
    for violation in db.session.execute(query, values).scalars():
        corrects = f" ({violation.period.code})" if violation.period_id != period.id else ""
        lines.append(
            PenaltyLine(
                dealer_id=violation.dealer_id,
                amount=violation.penalty,
                description=f"{label(violation.kind)}{corrects}",
                link=f"/dealer/violations/{violation.id}",
                source=f"violation:{violation.id}",
            )
        )
    return lines


def register_penalties() -> None:

    register_penalty_source(penalty_lines_for)  # type: ignore[arg-type]


def holds_money(dealer_id: int) -> bool:
    """Whether any violation of the dealer exists: its penalty is in the dealer's currency, which is then fixed."""
    return bool(db.session.execute(select(exists().where(Violation.dealer_id == dealer_id))).scalar_one())


def close_facts(period: Period, _requested_at: object) -> list[CloseFact]:
    """Violations of the period still waiting for confirmation: closing leaves them out of its statements."""
    waiting = db.session.execute(
        select(Dealer.code, Violation.penalty, Dealer.currency)
        .join(Dealer, Dealer.id == Violation.dealer_id)
        .where(Violation.period_id == period.id, Violation.status == ViolationStatus.PROPOSED)
        .order_by(Dealer.code, Violation.id)
    ).all()
    return [
        CloseFact(
            _("Violations waiting for confirmation"),
            str(len(waiting)),
            warning=bool(waiting),
            items=tuple(f"{code}: {money(penalty, currency)}" for code, penalty, currency in waiting[:50]),
        )
    ]
