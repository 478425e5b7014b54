"""What training puts in a dealer's "today" inbox: certificates about to expire, each with the course to book again
and the next session booked in one tap from the start page."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for

from portal.access import DEALER_USERS
from portal.accounts.models import User
from portal.dates import company_today
from portal.formatting import local_date
from portal.inbox import InboxAction, InboxLine, register_inbox_source
from portal.request_locale import gettext as _
from portal.training.attendance import expiring_certificates, rebooking
from portal.types import utcnow


def dealer_lines(user: User) -> Iterable[InboxLine]:
    """Each expiring certificate whose holder is not booked again yet, with the next session as a one-tap booking
    (a seat, or the waitlist when it is full: the enrolment's own rules decide)."""
    if user.dealer_id is None:
        return
    expiring = expiring_certificates(user.dealer_id, company_today(), limit=5)
    next_sessions = rebooking(expiring, utcnow())
    for enrollment in expiring:
        if enrollment.id not in next_sessions:
            continue  # booked on a later session already
        course, session = enrollment.session.course, next_sessions[enrollment.id]
        action = (
            InboxAction(
                url_for("training.enrol", session_id=session.id),
                _("Book %(day)s", day=local_date(session.starts_at.date())),
                (("person", enrollment.person_key),),
            )
            if session is not None
            else None
        )
        yield InboxLine(
            _(
                "%(person)s's %(course)s certificate expires on %(day)s: book again",
                person=enrollment.person_name,
                course=course.title,
                day=local_date(enrollment.certificate_expires_on),
            ),
            url_for("training.session_page", session_id=session.id)
            if session is not None
            else url_for("training.catalogue", q=course.code),
            urgent=True,
            action=action,
        )


def register() -> None:
    register_inbox_source(DEALER_USERS, dealer_lines, 40)
