"""What each dealer status allows, and which status changes are legal. Pure functions; services enforce them."""

from __future__ import annotations

import enum

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class DealerStatus(enum.StrEnum):
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


register_labels(
    {
        DealerStatus.ONBOARDING: _l("Onboarding"),
        DealerStatus.ACTIVE: _l("Active"),
        DealerStatus.SUSPENDED: _l("Suspended"),
        DealerStatus.TERMINATED: _l("Terminated"),
    }
)


class PeriodStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


register_labels(
    {
        PeriodStatus.OPEN: _l("Open"),
        PeriodStatus.CLOSED: _l("Closed"),
    }
)


def can_close_period(status: PeriodStatus) -> bool:
    return status is PeriodStatus.OPEN


def can_reopen_period(status: PeriodStatus) -> bool:
    return status is PeriodStatus.CLOSED


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


class NewSubmission(enum.StrEnum):
    """Something new a dealer asks of the manufacturer: money, an approval, or a seat."""

    CLAIM = "claim"
    PRE_APPROVAL = "pre_approval"
    ENROLMENT = "enrolment"


def can_submit_new(status: DealerStatus, what: NewSubmission) -> bool:
    """The one rule every "new submission" service asks (docs/design.md: a suspended dealer reads, answers and appeals
    but submits nothing new). Active dealers submit anything; onboarding dealers train before they sell, so they
    enrol but claim nothing; suspended and terminated dealers start nothing new. Answering a request for
    information, appealing, raising a dispute, cancelling and managing people are not new submissions."""
    if status is DealerStatus.ACTIVE:
        return True
    return status is DealerStatus.ONBOARDING and what is NewSubmission.ENROLMENT


def can_answer_and_appeal(status: DealerStatus) -> bool:
    return status is not DealerStatus.TERMINATED


def can_manage_people(status: DealerStatus) -> bool:
    """Owners keep their staff list and trainees up to date in every status but terminated."""
    return status is not DealerStatus.TERMINATED
