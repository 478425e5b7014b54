"""What each dealer status allows, and which status changes are legal. Pure functions; services enforce them."""

from __future__ import annotations

from portal.dealers.models import DealerStatus

STATUS_TRANSITIONS: dict[DealerStatus, frozenset[DealerStatus]] = {
    DealerStatus.ONBOARDING: frozenset({DealerStatus.ACTIVE, DealerStatus.TERMINATED}),
    DealerStatus.ACTIVE: frozenset({DealerStatus.SUSPENDED, DealerStatus.TERMINATED}),
    DealerStatus.SUSPENDED: frozenset({DealerStatus.ACTIVE, DealerStatus.TERMINATED}),
    DealerStatus.TERMINATED: frozenset(),
}


def can_change_status(current: DealerStatus, target: DealerStatus) -> bool:
    return target in STATUS_TRANSITIONS[current]


def can_log_in(status: DealerStatus) -> bool:
    """Terminated dealers lose the portal; what they are owed is still paid."""
    return status is not DealerStatus.TERMINATED


def can_submit_new_claims(status: DealerStatus) -> bool:
    """Suspended and onboarding dealers read, answer and appeal, but do not submit new claims."""
    return status is DealerStatus.ACTIVE


def can_answer_and_appeal(status: DealerStatus) -> bool:
    return status is not DealerStatus.TERMINATED


def can_manage_people(status: DealerStatus) -> bool:
    """Owners keep their staff list and trainees up to date in every status but terminated."""
    return status is not DealerStatus.TERMINATED
