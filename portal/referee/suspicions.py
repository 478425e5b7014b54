"""Deciding suspicions: a channel manager dismisses one with a reason, or makes it a violation that enters the
violations' own flow (a second person confirms it, the dealer may appeal). One decision per suspicion: the status
moves by a conditional update, so two managers deciding at once cannot both succeed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, or_, select

from portal.access import AccessRole, Viewer, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.database import locked_for_share
from portal.dates import company_today
from portal.dealers.models import Dealer, Period
from portal.dealers.services import current_period, visible_dealers
from portal.disputes.models import Violation
from portal.disputes.rules import COUNTING, ViolationKind, ViolationStatus
from portal.disputes.services import VIOLATION_FILES
from portal.disputes.violations import record_violation
from portal.evidence.services import copy_evidence
from portal.extensions import db
from portal.formatting import money
from portal.rebates.models import SalesImport, SalesLine
from portal.referee.codes import SIGHTING_FILES
from portal.referee.detection import withdraw_evidence
from portal.referee.models import Suspicion, SuspicionSighting
from portal.referee.rules import (
    SuspicionRule,
    SuspicionStatus,
    can_move_suspicion,
    record_starts,
    scheduled_penalty,
)
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import label, utcnow
from portal.workflow import move_checked

DECIDERS = (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


VIOLATION_KIND = {
    SuspicionRule.BELOW_FLOOR: ViolationKind.PRICE_BELOW_FLOOR,
    SuspicionRule.OUTSIDE_TERRITORY: ViolationKind.CROSS_TERRITORY,
}


REFEREE_KINDS = tuple(VIOLATION_KIND.values())


def visible_suspicions(user: Viewer) -> Select[Suspicion]:
    """A manager's portfolio's suspicions, every one for senior managers and admins; dealers never see them (only
    the violations some become)."""
    if user.access_role not in DECIDERS:
        return select(Suspicion).where(Suspicion.id.is_(None))
    dealers = visible_dealers(user).with_only_columns(Dealer.id)
    return select(Suspicion).where(Suspicion.dealer_id.in_(dealers))


def queued(user: User) -> Select[Suspicion]:
    """The open suspicions worth a manager's time, newest week first, then the largest."""
    return (
        visible_suspicions(user)
        .where(worth_a_ruling(least_stake()))
        .order_by(Suspicion.week_starts_on.desc(), Suspicion.stake.desc(), Suspicion.id.desc())
    )


def least_stake() -> int:
    """The money at stake below which a suspicion waits unseen (the setting)."""
    return int(current_app.config["REFEREE_MIN_STAKE"])


def worth_a_ruling(least: int | ColumnElement[int]) -> ColumnElement[bool]:
    """An open suspicion with money at stake at least `least`, or something seen in a shop."""
    return (Suspicion.status == SuspicionStatus.OPEN) & or_(Suspicion.stake >= least, Suspicion.sighting_count > 0)


def get_visible_suspicion(user: User, suspicion_id: int) -> Suspicion:
    found = db.session.execute(visible_suspicions(user).where(Suspicion.id == suspicion_id)).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def record_months() -> int:
    """How many months an offence stays on a dealer's record (the setting)."""
    return int(current_app.config["REFEREE_RECORD_MONTHS"])


def record_since(today: date | None = None) -> date:
    """The first day of the dealer's record: offences confirmed before it no longer count (the setting)."""
    return record_starts(today or company_today(), record_months())


def _on_record(dealer_ids: list[int], today: date | None) -> Select[int, int]:
    return select(Violation.dealer_id, func.count()).where(
        Violation.dealer_id.in_(dealer_ids),
        Violation.kind.in_(REFEREE_KINDS),
        Violation.status.in_(COUNTING),
        Violation.confirmed_on >= record_since(today),
    )


def offences(dealer_ids: list[int], today: date | None = None) -> dict[int, int]:
    """Each dealer's price and territory violations that count, confirmed within the record's months: a repeat
    offender has one or more."""
    found = db.session.execute(_on_record(dealer_ids, today).group_by(Violation.dealer_id)).all()
    return {dealer_id: count for dealer_id, count in found}


def offences_by_rule(dealer_id: int, today: date | None = None) -> dict[SuspicionRule, int]:
    """One dealer's offences on record under each of the referee's rules."""
    rules_of = {kind: rule for rule, kind in VIOLATION_KIND.items()}
    found = db.session.execute(
        _on_record([dealer_id], today).add_columns(Violation.kind).group_by(Violation.dealer_id, Violation.kind)
    ).all()
    counts = dict.fromkeys(SuspicionRule, 0)
    for _dealer, count, kind in found:
        counts[rules_of[kind]] = count
    return counts


def proposed_penalty(
    dealer_id: int, rule: SuspicionRule, today: date | None = None, record: dict[SuspicionRule, int] | None = None
) -> int:
    """What the penalty schedule (a setting) sets for the dealer's next offence under the rule; `record` is the
    dealer's `offences_by_rule` when the caller has already read it."""
    schedule = current_app.config["REFEREE_PENALTIES"].get(rule.value, ())
    return scheduled_penalty(schedule, (offences_by_rule(dealer_id, today) if record is None else record)[rule])


def _decide(actor: User, suspicion: Suspicion, target: SuspicionStatus, reason: str, **values: object) -> None:
    move_checked(
        suspicion,
        suspicion.status,
        target,
        legal=can_move_suspicion(suspicion.status, target),
        illegal=_("This suspicion was already decided: %(status)s.", status=label(suspicion.status)),
        raced=_("Someone else decided this suspicion first. Reload the page."),
        decided_by_id=actor.id,
        decided_at=utcnow(),
        reason=reason,
        **values,
    )


def dismiss_suspicion(actor: User, suspicion: Suspicion, reason: str) -> Suspicion:
    """Not a breach after all (a clearance sale agreed, a wrong region in the ERP): the reason is kept."""
    require_role(actor, *DECIDERS)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why this is not a breach; it is kept with the suspicion."))
    _decide(actor, suspicion, SuspicionStatus.DISMISSED, reason[:2000])
    audit_change("suspicion.dismissed", actor=actor, subject=suspicion, after={"reason": reason[:200]})
    return suspicion


def withdraw_voided_lines(actor: User, import_id: int) -> int:
    """A voided import's lines no longer count, so they are no longer evidence of an open suspicion (see
    detection.withdraw_evidence). Returns how many suspicions were dismissed."""
    voided = select(SalesLine.id).where(SalesLine.import_id == import_id, SalesLine.reverses_id.is_(None))
    affected, dismissed = withdraw_evidence(
        voided, actor.id, _("The sales import that gave this suspicion its evidence was voided.")
    )
    if affected:
        audit_change(
            "suspicions.voided_evidence",
            actor=actor,
            subject=db.session.get(SalesImport, import_id),
            after={"suspicions": affected, "dismissed": dismissed},
        )
    return dismissed


def violation_period(suspicion: Suspicion) -> Period:
    """The period of the suspicion's last line, or today's open period when no period covers it."""
    period = db.session.execute(
        select(Period).where(Period.starts_on <= suspicion.last_sold_on, Period.ends_on >= suspicion.last_sold_on)
    ).scalar_one_or_none()
    period = period or current_period()
    if period is None:
        raise IllegalTransition(_("No period covers this suspicion's sales, and none is open."))
    return period


def evidence_summary(suspicion: Suspicion) -> str:
    """What the violation says of its evidence, for the dealer and the second person to read."""
    currency = suspicion.dealer.currency
    if suspicion.rule is SuspicionRule.BELOW_FLOOR:
        return _(
            "%(count)s sales lines in the week of %(week)s sold below the floor price, at worst %(gap)s below it; "
            "%(stake)s below the floor in all.",
            count=suspicion.line_count,
            week=suspicion.week_starts_on.isoformat(),
            gap=f"{suspicion.worst_gap_basis_points / 100:.2f}%",
            stake=money(suspicion.stake, currency),
        )
    return _(
        "%(count)s sales lines in the week of %(week)s were shipped outside the dealer's territory, %(amount)s in all.",
        count=suspicion.line_count,
        week=suspicion.week_starts_on.isoformat(),
        amount=money(suspicion.sales_amount, currency),
    )


def make_violation(
    actor: User, suspicion: Suspicion, description: str, penalty: int, change_reason: str = ""
) -> Violation:
    """The suspicion becomes a proposed violation, with its evidence summed up in the description; a second person
    confirms it in the violations' flow. The penalty is the schedule's unless the recorder says why it differs."""
    require_role(actor, *DECIDERS)
    period = violation_period(suspicion)
    # A void of sales lines holds the periods while it withdraws its evidence: the ruling waits for it, then reads
    # the suspicion again (taken after the suspicion, the period's lock would deadlock with the void).
    db.session.execute(locked_for_share(select(Period.id).where(Period.id == period.id))).all()
    db.session.refresh(suspicion)
    proposed = proposed_penalty(suspicion.dealer_id, suspicion.rule)
    change_reason = change_reason.strip()
    if penalty != proposed and not change_reason:
        raise InvalidInput(
            "change_reason",
            _(
                "The schedule sets %(amount)s for this offence; say why the penalty differs.",
                amount=money(proposed, suspicion.dealer.currency),
            ),
        )
    _decide(actor, suspicion, SuspicionStatus.VIOLATION, (change_reason or description.strip())[:2000])
    written = description.strip()
    text = f"{evidence_summary(suspicion)}\n\n{written}" if written else evidence_summary(suspicion)
    violation = record_violation(actor, suspicion.dealer, period, VIOLATION_KIND[suspicion.rule], text, penalty)
    violation.source = f"suspicion:{suspicion.id}"
    suspicion.violation_id = violation.id
    db.session.flush()
    sightings = db.session.execute(
        select(SuspicionSighting.sighting_id).where(SuspicionSighting.suspicion_id == suspicion.id)
    ).scalars()
    # The photos go with the violation: the dealer and the second person see what was seen, never the sighting.
    copy_evidence(actor, SIGHTING_FILES, list(sightings), VIOLATION_FILES, violation.id)
    audit_change(
        "suspicion.made_violation",
        actor=actor,
        subject=suspicion,
        after={"violation": violation.id, "penalty": penalty},
    )
    return violation


def dealer_violations(dealer_id: int, limit: int = 20) -> list[Violation]:
    """The dealer's price and territory violations it may see (confirmed and after; never proposed or withdrawn
    ones), newest first: what its suspicions became."""
    return list(
        db.session.execute(
            select(Violation)
            .where(
                Violation.dealer_id == dealer_id,
                Violation.kind.in_(REFEREE_KINDS),
                Violation.status.not_in((ViolationStatus.PROPOSED, ViolationStatus.WITHDRAWN)),
            )
            .order_by(Violation.created_at.desc(), Violation.id.desc())
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class Standing:
    """A dealer's standing under one rule: offences on record, and what the next would cost by the schedule."""

    rule: SuspicionRule
    offences: int
    next_penalty: int
    schedule: tuple[int, ...]


def standing_of(dealer_id: int) -> list[Standing]:
    record = offences_by_rule(dealer_id)
    schedules = current_app.config["REFEREE_PENALTIES"]
    return [
        Standing(
            rule,
            record[rule],
            scheduled_penalty(schedules.get(rule.value, ()), record[rule]),
            tuple(schedules.get(rule.value, ())),
        )
        for rule in SuspicionRule
    ]
