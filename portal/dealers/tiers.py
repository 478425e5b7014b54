"""A dealer's tier over time. A period is rated with the tier in force on its first day, so moving a dealer from
silver to gold mid-quarter never re-rates sales made while silver: the change applies from the next period start.
An admin may backdate it to the start of an open period, with a reason; a closed period is never re-rated (only an
adjustment in an open period corrects it, naming the closed one).

The history is a row per change (`DealerTierChange`); `Dealer.tier` is the tier in force today, written by a change
that is already in force and, for changes that come into force later, by the nightly `apply_due_tier_changes`.
Areas that rate periods (rebates) register a hook to recompute what a backdated change touches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from portal.access import AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.database import locked_for_update
from portal.dates import company_today, quarter_of
from portal.dealers.models import (
    SINCE_JOINING,
    Dealer,
    DealerEvent,
    DealerEventKind,
    DealerTier,
    DealerTierChange,
    Period,
)
from portal.dealers.rules import PeriodStatus
from portal.dealers.services import dealer_owners
from portal.extensions import db
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.outbox import EventKind, emit
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput

TierChangeHook = Callable[[Dealer, date], object]  # the dealer and the first day the change rates
_TIER_CHANGE_HOOKS: list[TierChangeHook] = []


def register_tier_change_hook(hook: TierChangeHook) -> None:
    """Rebates register here to recompute the open periods a change backdated into them now rates differently."""
    if hook not in _TIER_CHANGE_HOOKS:
        _TIER_CHANGE_HOOKS.append(hook)


def can_change_tiers(user: User) -> bool:
    return user.access_role is AccessRole.ADMIN


@dataclass(frozen=True)
class EffectiveDays:
    """The days a tier change may take effect from: the next period's start (the default) and, backdated by an
    admin, the first days of open periods that have begun (newest first)."""

    next_period: date
    backdatable: list[Period]

    @property
    def allowed(self) -> set[date]:
        return {self.next_period} | {period.starts_on for period in self.backdatable}


def effective_days(today: date) -> EffectiveDays:
    """One query: the open periods and those not yet over. The next period starts the day after the period
    containing today ends (or the next period set up, or the next quarter when there is neither)."""
    periods = list(
        db.session.execute(
            select(Period).where(or_(Period.status == PeriodStatus.OPEN, Period.ends_on >= today))
        ).scalars()
    )
    containing = [period for period in periods if period.starts_on <= today <= period.ends_on]
    later = sorted(period.starts_on for period in periods if period.starts_on > today)
    if containing:
        next_period = containing[0].ends_on + timedelta(days=1)
    elif later:
        next_period = later[0]
    else:
        next_period = quarter_of(today)[2] + timedelta(days=1)
    backdatable = sorted(
        (period for period in periods if period.status is PeriodStatus.OPEN and period.starts_on <= today),
        key=lambda period: period.starts_on,
        reverse=True,
    )
    return EffectiveDays(next_period, backdatable)


def tiers_on(dealer_ids: Sequence[int], day: date) -> dict[int, DealerTier]:
    """Each dealer's tier in force on `day`: the latest change from that day or before. Two queries for any number
    of dealers; a dealer without history has had its tier all along."""
    wanted = sorted(set(dealer_ids))
    if not wanted:
        return {}
    found: dict[int, DealerTier] = dict(
        db.session.execute(select(Dealer.id, Dealer.tier).where(Dealer.id.in_(wanted))).all()
    )
    changes = db.session.execute(
        select(DealerTierChange.dealer_id, DealerTierChange.tier)
        .where(DealerTierChange.dealer_id.in_(wanted), DealerTierChange.effective_from <= day)
        .order_by(DealerTierChange.dealer_id, DealerTierChange.effective_from)
    )
    for dealer_id, tier in changes:
        found[dealer_id] = tier  # ordered by day: the last change on or before `day` wins
    return found


def tier_history(dealer: Dealer) -> list[DealerTierChange]:
    """Newest first, scheduled changes included."""
    return list(
        db.session.execute(
            select(DealerTierChange)
            .where(DealerTierChange.dealer_id == dealer.id)
            .order_by(DealerTierChange.effective_from.desc())
        ).scalars()
    )


def start_history(dealer: Dealer, actor: User | None = None) -> None:
    """The first row of a dealer's history: its tier since joining (a new dealer, or the first change of an
    existing one)."""
    exists = db.session.execute(
        select(DealerTierChange.id).where(DealerTierChange.dealer_id == dealer.id).limit(1)
    ).first()
    if exists is None:
        db.session.add(
            DealerTierChange(
                dealer_id=dealer.id,
                tier=dealer.tier,
                effective_from=SINCE_JOINING,
                reason="",
                changed_by_id=actor.id if actor else None,
            )
        )
        db.session.flush()


@dataclass(frozen=True)
class TierChange:
    tier: DealerTier
    effective_from: date
    reason: str


def change_tier(actor: User, dealer: Dealer, change: TierChange) -> DealerTierChange:
    """Record the dealer's tier from a day on: the next period's start, or (backdated) the first day of an open
    period that has begun. The dealer's owners are told the old and new tier, from when, and why."""
    require_role(actor, AccessRole.ADMIN)
    reason = change.reason.strip()
    if not reason:
        raise InvalidInput("why", _("Say why the tier changes; the dealer is told."))
    # Two admins changing one dealer's tier at once take turns: the second reads the history the first wrote (on
    # SQLite the writing request's BEGIN IMMEDIATE already orders them).
    db.session.execute(locked_for_update(select(Dealer.id).where(Dealer.id == dealer.id))).scalar_one()
    if change.effective_from not in effective_days(company_today()).allowed:
        raise InvalidInput(
            "effective_from", _("A tier changes from the next period, or from the start of an open period.")
        )
    start_history(dealer, actor)
    before = tiers_on([dealer.id], change.effective_from)[dealer.id]
    if before is change.tier:
        raise InvalidInput("tier", _("The dealer already has this tier from that day."))
    row = db.session.execute(
        select(DealerTierChange).where(
            DealerTierChange.dealer_id == dealer.id, DealerTierChange.effective_from == change.effective_from
        )
    ).scalar_one_or_none()
    try:
        with db.session.begin_nested():  # two admins recording the same day at once: one of them is told
            if row is None:
                row = DealerTierChange(dealer_id=dealer.id, effective_from=change.effective_from)
                db.session.add(row)
            row.tier, row.reason, row.changed_by_id = change.tier, reason, actor.id
            db.session.flush()
    except IntegrityError:
        raise IllegalTransition(
            _("Someone else changed this dealer's tier at the same moment. Reload the page and check.")
        ) from None
    today = company_today()
    if change.effective_from <= today:
        dealer.tier = tiers_on([dealer.id], today)[dealer.id]
    db.session.add(
        DealerEvent(
            dealer_id=dealer.id,
            kind=DealerEventKind.TIER_CHANGED,
            from_value=before.value,
            to_value=change.tier.value,
            reason=reason,
            actor_id=actor.id,
        )
    )
    audit_change(
        "dealer.tier_changed",
        actor=actor,
        subject=dealer,
        before={"tier": before.value},
        after={"tier": change.tier.value, "effective_from": change.effective_from.isoformat()},
        reason=reason,
    )
    for hook in _TIER_CHANGE_HOOKS:
        hook(dealer, change.effective_from)
    emit(
        EventKind.DEALER_CHANGED,
        "dealer",
        dealer.id,
        dealer.id,
        change="tier_changed",
        code=dealer.code,
        tier=change.tier.value,
        effective_from=change.effective_from.isoformat(),
    )
    notify(
        dealer_owners(dealer),
        "dealer_tier_changed",
        {
            "dealer": dealer.name,
            "old": params.choice(before),
            "new": params.choice(change.tier),
            "day": params.day(change.effective_from),
            "reason": reason,
        },
        link=link("dealers.dealer_home"),
    )
    db.session.flush()
    return row


def apply_due_tier_changes(today: date) -> int:
    """Bring `Dealer.tier` to the tier in force today for dealers whose scheduled change has come into force."""
    dealer_ids = list(
        db.session.execute(
            select(DealerTierChange.dealer_id)
            .where(DealerTierChange.effective_from <= today, DealerTierChange.effective_from > SINCE_JOINING)
            .distinct()
        ).scalars()
    )
    in_force = tiers_on(dealer_ids, today)
    changed = 0
    for dealer in db.session.execute(select(Dealer).where(Dealer.id.in_(dealer_ids))).scalars():
        if dealer.tier is not in_force[dealer.id]:
            dealer.tier = in_force[dealer.id]
            changed += 1
    db.session.flush()
    return changed
