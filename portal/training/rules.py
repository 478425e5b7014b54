"""The enrolment workflow and certificate dates: pure rules, no database."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime, timedelta

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class EnrollmentStatus(enum.StrEnum):
    ENROLLED = "enrolled"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


register_labels(
    {
        EnrollmentStatus.ENROLLED: _l("Enrolled"),
        EnrollmentStatus.WAITLISTED: _l("Waitlisted"),
        EnrollmentStatus.CANCELLED: _l("Cancelled"),
        EnrollmentStatus.ATTENDED: _l("Attended"),
        EnrollmentStatus.COMPLETED: _l("Completed"),
        EnrollmentStatus.NO_SHOW: _l("No-show"),
    }
)


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


register_labels(
    {
        SessionStatus.SCHEDULED: _l("Scheduled"),
        SessionStatus.CANCELLED: _l("Cancelled"),
    }
)


def session_cancelled(status: SessionStatus) -> bool:
    return status is SessionStatus.CANCELLED


def can_edit_session(status: SessionStatus) -> bool:
    return status is SessionStatus.SCHEDULED


def holds_seat(status: EnrollmentStatus) -> bool:
    return status is EnrollmentStatus.ENROLLED


def is_waitlisted(status: EnrollmentStatus) -> bool:
    return status is EnrollmentStatus.WAITLISTED


def can_record_attendance(status: EnrollmentStatus) -> bool:
    """Once the session has started: the enrolled are marked, and an attendance given can be completed."""
    return status in (EnrollmentStatus.ENROLLED, EnrollmentStatus.ATTENDED)


def can_mark_attendance(status: EnrollmentStatus) -> bool:
    return status is EnrollmentStatus.ENROLLED


def can_cancel_enrollment(status: EnrollmentStatus, now: datetime, cancel_deadline: datetime) -> bool:
    """A place in line can be given up any time; a seat until the session's cancellation deadline."""
    return status is EnrollmentStatus.WAITLISTED or (status is EnrollmentStatus.ENROLLED and now <= cancel_deadline)


TRANSITIONS: dict[EnrollmentStatus, frozenset[EnrollmentStatus]] = {
    EnrollmentStatus.ENROLLED: frozenset(
        {EnrollmentStatus.CANCELLED, EnrollmentStatus.ATTENDED, EnrollmentStatus.NO_SHOW}
    ),
    EnrollmentStatus.WAITLISTED: frozenset({EnrollmentStatus.ENROLLED, EnrollmentStatus.CANCELLED}),
    EnrollmentStatus.ATTENDED: frozenset({EnrollmentStatus.COMPLETED}),
    EnrollmentStatus.CANCELLED: frozenset({EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED}),  # enrols again
    EnrollmentStatus.COMPLETED: frozenset(),
    EnrollmentStatus.NO_SHOW: frozenset(),
}
ACTIVE = frozenset({EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED})
EXPIRING_SOON_DAYS = 60
CERTIFICATE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: numbers are read aloud and typed


def can_move(current: EnrollmentStatus, target: EnrollmentStatus) -> bool:
    return target in TRANSITIONS[current]


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has fewer days (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - 28 always exists


def certificate_expiry(completed_on: date, validity_months: int) -> date | None:
    return add_months(completed_on, validity_months) if validity_months > 0 else None


def expires_soon(expires_on: date | None, today: date) -> bool:
    return expires_on is not None and today <= expires_on <= today + timedelta(days=EXPIRING_SOON_DAYS)


def new_certificate_number() -> str:
    """CERT-XXXX-XXXX-XXXX: 60 random bits, so numbers cannot be guessed one after another."""
    groups = ["".join(secrets.choice(CERTIFICATE_ALPHABET) for _ in range(4)) for _ in range(3)]
    return "CERT-" + "-".join(groups)
