"""What the admin's "today" inbox holds from the shell's view of every area: background jobs that failed, a
quarter that has ended and is still open, and staff who sign in without a second factor."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, func, select

from portal.access import AccessRole
from portal.accounts.models import User, UserRole
from portal.dates import company_today
from portal.dealers.models import Period
from portal.dealers.rules import PeriodStatus
from portal.extensions import db
from portal.inbox import TODAY, CountsQuery, InboxLine, InboxReader, register_inbox_counts
from portal.jobs import JobFailure
from portal.request_locale import gettext as _
from portal.request_locale import ngettext
from portal.web import link

STAFF_ROLES = (UserRole.ADMIN, UserRole.MANAGER, UserRole.MEDIATOR)


def to_close(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    """A quarter that has ended and is still open."""
    return (Period.status == PeriodStatus.OPEN) & (Period.ends_on < today)


def admin_counts(_reader: InboxReader) -> CountsQuery:
    def counted(query: Select[Any]) -> ScalarSelect[Any]:
        return query.with_only_columns(func.count()).scalar_subquery()

    return select(
        counted(select(JobFailure.id)).label("failed"),
        counted(select(Period.id).where(to_close(TODAY))).label("to_close"),
        counted(
            select(User.id).where(User.role.in_(STAFF_ROLES), User.active.is_(True), User.totp_enabled_at.is_(None))
        ).label("unprotected"),
    )


def admin_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    failed, ended, unprotected = int(counts["failed"]), int(counts["to_close"]), int(counts["unprotected"])
    yield InboxLine(
        ngettext("%(num)s background job failed", "%(num)s background jobs failed", failed),
        link("notifications.jobs"),
        failed,
        urgent=True,
    )
    if ended:  # rare: then the quarters are named
        codes = db.session.execute(
            select(Period.code).where(to_close(company_today())).order_by(Period.ends_on)
        ).scalars()
        yield InboxLine(
            _("%(periods)s ended and can be closed", periods=", ".join(codes)),
            link("dealers.periods"),
            ended,
        )
    yield InboxLine(
        ngettext(
            "%(num)s staff member signs in without a second factor",
            "%(num)s staff members sign in without a second factor",
            unprotected,
        ),
        link("accounts.users"),
        unprotected,
    )


def register() -> None:
    register_inbox_counts((AccessRole.ADMIN,), admin_counts, admin_lines, 10)
