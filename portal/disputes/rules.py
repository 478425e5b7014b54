"""Violations and disputes: their workflow tables and the pure rules around them. No database here.

Violation (docs/design.md): proposed -> confirmed (by a second person) | withdrawn; a mediator's penalty outcome creates
it confirmed; a warning is a confirmed violation with no penalty; confirmed -> appealed (opens a dispute, within the
appeal window) -> upheld | overturned. When the window passes, it stays confirmed.

Dispute: open -> in_mediation -> awaiting_party -> in_mediation (answer or deadline passed) -> resolved | dismissed;
open, in_mediation and awaiting_party -> withdrawn by the raiser.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class ViolationKind(enum.StrEnum):
    PRICE_BELOW_FLOOR = "price_below_floor"
    CROSS_TERRITORY = "cross_territory"
    FALSE_CLAIM = "false_claim"
    OTHER = "other"


class ViolationStatus(enum.StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    APPEALED = "appealed"
    UPHELD = "upheld"
    OVERTURNED = "overturned"
    WITHDRAWN = "withdrawn"


V = ViolationStatus
VIOLATION_TRANSITIONS: dict[ViolationStatus, frozenset[ViolationStatus]] = {
    V.PROPOSED: frozenset({V.CONFIRMED, V.WITHDRAWN}),
    V.CONFIRMED: frozenset({V.APPEALED}),
    V.APPEALED: frozenset({V.UPHELD, V.OVERTURNED}),
    V.UPHELD: frozenset(),
    V.OVERTURNED: frozenset(),
    V.WITHDRAWN: frozenset(),
}
COUNTING = frozenset({V.CONFIRMED, V.APPEALED, V.UPHELD})  # a penalty in these statuses is deducted


def can_move_violation(current: ViolationStatus, target: ViolationStatus) -> bool:
    return target in VIOLATION_TRANSITIONS[current]


def appeal_deadline(confirmed_on: date, window_days: int) -> date:
    """The last day a confirmed violation can be appealed."""
    return confirmed_on + timedelta(days=window_days)


def can_appeal(status: ViolationStatus, deadline: date | None, today: date) -> bool:
    return status is V.CONFIRMED and deadline is not None and today <= deadline


class DisputeCategory(enum.StrEnum):
    PRICING_CONFLICT = "pricing_conflict"
    TERRITORY_CONFLICT = "territory_conflict"
    CUSTOMER_POACHING = "customer_poaching"
    CLAIM_DECISION = "claim_decision"
    VIOLATION_APPEAL = "violation_appeal"
    REBATE_CALCULATION = "rebate_calculation"
    OTHER = "other"


BETWEEN_DEALERS = frozenset(
    {DisputeCategory.PRICING_CONFLICT, DisputeCategory.TERRITORY_CONFLICT, DisputeCategory.CUSTOMER_POACHING}
)


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    IN_MEDIATION = "in_mediation"
    AWAITING_PARTY = "awaiting_party"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"
    WITHDRAWN = "withdrawn"


D = DisputeStatus
DISPUTE_TRANSITIONS: dict[DisputeStatus, frozenset[DisputeStatus]] = {
    D.OPEN: frozenset({D.IN_MEDIATION, D.WITHDRAWN, D.DISMISSED}),
    D.IN_MEDIATION: frozenset({D.AWAITING_PARTY, D.RESOLVED, D.DISMISSED, D.WITHDRAWN}),
    D.AWAITING_PARTY: frozenset({D.IN_MEDIATION, D.RESOLVED, D.DISMISSED, D.WITHDRAWN}),
    D.RESOLVED: frozenset(),
    D.DISMISSED: frozenset(),
    D.WITHDRAWN: frozenset(),
}
ACTIVE = frozenset({D.OPEN, D.IN_MEDIATION, D.AWAITING_PARTY})


def can_move_dispute(current: DisputeStatus, target: DisputeStatus) -> bool:
    return target in DISPUTE_TRANSITIONS[current]


def is_overdue(status: DisputeStatus, due_at: datetime, now: datetime) -> bool:
    return status in ACTIVE and now > due_at


class Outcome(enum.StrEnum):
    """What a resolution does; each takes effect once, when the dispute is resolved."""

    NO_ACTION = "no_action"
    WARNING = "warning"  # a confirmed violation without penalty for the party named
    PENALTY = "penalty"  # a confirmed violation with a penalty for the party named
    REBATE_ADJUSTMENT = "rebate_adjustment"  # money to (or from) the party named, on its open statement
    REOPEN_CLAIM = "reopen_claim"  # a rejected claim goes back for review
    UPHOLD_VIOLATION = "uphold_violation"
    OVERTURN_VIOLATION = "overturn_violation"  # its penalty leaves the statement


def outcomes_for(category: DisputeCategory, *, has_claim: bool, has_violation: bool) -> list[Outcome]:
    """The outcomes that make sense for a dispute: an appeal is upheld or overturned; a claim can be reopened."""
    if category is DisputeCategory.VIOLATION_APPEAL and has_violation:
        return [Outcome.UPHOLD_VIOLATION, Outcome.OVERTURN_VIOLATION]
    outcomes = [Outcome.NO_ACTION, Outcome.WARNING, Outcome.PENALTY, Outcome.REBATE_ADJUSTMENT]
    if has_claim:
        outcomes.append(Outcome.REOPEN_CLAIM)
    return outcomes


def awaits_confirmation(status: ViolationStatus) -> bool:
    """Recorded, and waiting for a second person to confirm it before it counts."""
    return status is ViolationStatus.PROPOSED


def awaits_party(status: DisputeStatus) -> bool:
    return status is DisputeStatus.AWAITING_PARTY


def can_ask_a_party(status: DisputeStatus) -> bool:
    """The mediator asks a party for information while mediating, which starts the party's deadline."""
    return can_move_dispute(status, DisputeStatus.AWAITING_PARTY)


def can_resolve(status: DisputeStatus) -> bool:
    return can_move_dispute(status, DisputeStatus.RESOLVED)


def is_settled(status: DisputeStatus) -> bool:
    return status in (DisputeStatus.RESOLVED, DisputeStatus.DISMISSED)


# --- Labels, in the reader's language -------------------------------------------------------------------------------

register_labels(
    {
        ViolationKind.PRICE_BELOW_FLOOR: _l("Selling below the floor price"),
        ViolationKind.CROSS_TERRITORY: _l("Selling into another dealer's territory"),
        ViolationKind.FALSE_CLAIM: _l("A false expense claim"),
        ViolationKind.OTHER: _l("Another breach of the dealer agreement"),
    }
)
register_labels(
    {
        ViolationStatus.PROPOSED: _l("Waiting for confirmation"),
        ViolationStatus.CONFIRMED: _l("Confirmed"),
        ViolationStatus.APPEALED: _l("Appealed"),
        ViolationStatus.UPHELD: _l("Upheld on appeal"),
        ViolationStatus.OVERTURNED: _l("Overturned on appeal"),
        ViolationStatus.WITHDRAWN: _l("Withdrawn"),
    }
)
register_labels(
    {
        DisputeCategory.PRICING_CONFLICT: _l("Pricing conflict"),
        DisputeCategory.TERRITORY_CONFLICT: _l("Territory conflict"),
        DisputeCategory.CUSTOMER_POACHING: _l("Customer poaching"),
        DisputeCategory.CLAIM_DECISION: _l("A claim decision"),
        DisputeCategory.VIOLATION_APPEAL: _l("Appeal against a violation"),
        DisputeCategory.REBATE_CALCULATION: _l("Rebate calculation"),
        DisputeCategory.OTHER: _l("Something else"),
    }
)
register_labels(
    {
        DisputeStatus.OPEN: _l("Open"),
        DisputeStatus.IN_MEDIATION: _l("In mediation"),
        DisputeStatus.AWAITING_PARTY: _l("Waiting for a party"),
        DisputeStatus.RESOLVED: _l("Resolved"),
        DisputeStatus.DISMISSED: _l("Dismissed"),
        DisputeStatus.WITHDRAWN: _l("Withdrawn"),
    }
)
register_labels(
    {
        Outcome.NO_ACTION: _l("No action"),
        Outcome.WARNING: _l("A warning"),
        Outcome.PENALTY: _l("A penalty"),
        Outcome.REBATE_ADJUSTMENT: _l("A rebate adjustment"),
        Outcome.REOPEN_CLAIM: _l("The claim is reviewed again"),
        Outcome.UPHOLD_VIOLATION: _l("The violation is upheld"),
        Outcome.OVERTURN_VIOLATION: _l("The violation is overturned"),
    }
)
