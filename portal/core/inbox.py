"""What the admin's "today" inbox holds from the shell's view of every area: background jobs that failed, a
quarter that has ended and is still open, and staff who sign in without a second factor."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for
from sqlalchemy import func, select

from portal.access import AccessRole
from portal.accounts.models import User, UserRole
from portal.dates import company_today
from portal.dealers.models import Period
from portal.dealers.rules import PeriodStatus
from portal.extensions import db
from portal.inbox import InboxLine, register_inbox_source
from portal.jobs import JobFailure
from portal.request_locale import gettext as _
from portal.request_locale import ngettext

STAFF_ROLES = (UserRole.ADMIN, UserRole.MANAGER, UserRole.MEDIATOR)


def admin_lines(user: User) -> Iterable[InboxLine]:
    failed = db.session.execute(select(func.count()).select_from(JobFailure)).scalar_one()
    yield InboxLine(
        ngettext("%(num)s background job failed", "%(num)s background jobs failed", failed),
        url_for("notifications.jobs"),
        failed,
        urgent=True,
    )
    to_close = (
        db.session.execute(
            select(Period.code)
            .where(Period.status == PeriodStatus.OPEN, Period.ends_on < company_today())
            .order_by(Period.ends_on)
        )
        .scalars()
        .all()
    )
    if to_close:
        yield InboxLine(
            _("%(periods)s ended and can be closed", periods=", ".join(to_close)),
            url_for("dealers.periods"),
            len(to_close),
        )
    unprotected = db.session.execute(
        select(func.count())
        .select_from(User)
        .where(User.role.in_(STAFF_ROLES), User.active.is_(True), User.totp_enabled_at.is_(None))
    ).scalar_one()
    yield InboxLine(
        ngettext(
            "%(num)s staff member signs in without a second factor",
            "%(num)s staff members sign in without a second factor",
            unprotected,
        ),
        url_for("accounts.users"),
        unprotected,
    )


def register() -> None:
    register_inbox_source((AccessRole.ADMIN,), admin_lines, 10)
