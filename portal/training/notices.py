"""What people hear about enrolments, seats, cancellations and certificates: the notification kinds this area sends."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "training_enrolled",
        _l("A colleague enrols you in training"),
        _l("You are %(status)s for %(course)s on %(when)s."),
        True,
    ),
    Kind(
        "training_seat_freed",
        _l("A seat frees for someone on a waitlist"),
        _l("A seat freed: %(name)s moved from the waitlist into %(course)s on %(when)s."),
        True,
    ),
    Kind(
        "training_session_cancelled",
        _l("A training session is cancelled"),
        _l("The session of %(course)s on %(when)s is cancelled: %(reason)s"),
        True,
    ),
    Kind(
        "training_certificate",
        _l("A certificate is issued"),
        _l("%(name)s completed %(course)s; the certificate is ready."),
        True,
    ),
)
