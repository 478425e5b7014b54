"""What training puts in a dealer's "today" inbox: certificates about to expire, each with the course to book again
and the next session booked in one tap from the start page."""

from __future__ import annotations

from collections.abc import Iterable

from portal.access import DEALER_USERS
from portal.accounts.models import User
from portal.dates import company_today
from portal.formatting import local_date
from portal.inbox import InboxAction, InboxLine, register_inbox_source
from portal.request_locale import gettext as _
from portal.training.attendance import renewals_due
from portal.types import utcnow
from portal.web import link


def dealer_lines(user: User) -> Iterable[InboxLine]:
    """Each expiring certificate whose holder is not booked again yet, with the next session as a one-tap booking
    (a seat, or the waitlist when it is full: the enrolment's own rules decide)."""
    if user.dealer_id is None:
        return
    for renewal in renewals_due(user.dealer_id, company_today(), utcnow()):
        session_id, starts_at = renewal.next_session_id, renewal.next_session_starts_at
        action = (
            InboxAction(
                link("training.enrol", session_id=session_id),
                _("Book %(day)s", day=local_date(starts_at.date())),
                (("person", renewal.person_key),),
            )
            if session_id is not None and starts_at is not None
            else None
        )
        yield InboxLine(
            _(
                "%(person)s's %(course)s certificate expires on %(day)s: book again",
                person=renewal.person_name,
                course=renewal.course_title,
                day=local_date(renewal.expires_on),
            ),
            link("training.session_page", session_id=session_id)
            if session_id is not None
            else link("training.catalogue", q=renewal.course_code),
            urgent=True,
            action=action,
        )


def register() -> None:
    register_inbox_source(DEALER_USERS, dealer_lines, 40)
