"""What training puts in a dealer's "today" inbox: certificates about to expire, each with the course to book again
(one tap to its page, where the next session is a button)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for
from flask_babel import gettext as _

from portal.access import DEALER_USERS
from portal.accounts.models import User
from portal.dates import company_today
from portal.formatting import local_date
from portal.inbox import InboxLine, register_inbox_source
from portal.training.attendance import expiring_certificates


def dealer_lines(user: User) -> Iterable[InboxLine]:
    if user.dealer_id is None:
        return
    for enrollment in expiring_certificates(user.dealer_id, company_today())[:5]:
        course = enrollment.session.course
        yield InboxLine(
            _(
                "%(person)s's %(course)s certificate expires on %(day)s: book again",
                person=enrollment.person_name,
                course=course.title,
                day=local_date(enrollment.certificate_expires_on),
            ),
            url_for("training.catalogue", q=course.code),
            urgent=True,
        )


def register() -> None:
    register_inbox_source(DEALER_USERS, dealer_lines, 40)
