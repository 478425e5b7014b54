"""A period's life, guarded. Closing freezes a period's money, so it takes two people and a look first: an admin
asks for the close after reading the preview (dealers, totals, negative balances, imports and violations still
waiting, statements that changed since), and a senior manager or another admin confirms it. Neither can happen
before the period's end plus the grace days for late sales (PERIOD_CLOSE_GRACE_DAYS). An admin may reopen a closed
period, with a reason, while none of its statements is paid: what it froze is recomputed and the dealers are told.

The areas that own a period's money plug in: what the preview says (`register_close_check`), what closing and
reopening do (`register_period_close_step` in dealers.services, `register_reopen_step`), and why a reopen is
refused (`register_reopen_refusal`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from portal.access import AccessRole, require_role
from portal.accounts.models import User, UserRole
from portal.audit.services import audit_change
from portal.database import rows_changed
from portal.dates import company_today
from portal.dealers.models import Period
from portal.dealers.rules import PeriodStatus
from portal.dealers.services import close_period_now
from portal.extensions import db
from portal.formatting import local_date
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput
from portal.types import utcnow

CLOSERS = (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)


@dataclass(frozen=True)
class CloseFact:
    """One line of the close preview: `warning` marks what deserves a look before closing."""

    label: str
    value: str
    warning: bool = False
    items: Sequence[str] = field(default_factory=tuple)


CloseCheck = Callable[[Period, datetime | None], list[CloseFact]]  # the period, when the close was asked for
ReopenStep = Callable[[User, Period, str], object]
ReopenRefusal = Callable[[Period], str | None]
_CLOSE_CHECKS: list[CloseCheck] = []
_REOPEN_STEPS: list[ReopenStep] = []
_REOPEN_REFUSALS: list[ReopenRefusal] = []


def register_close_check(check: CloseCheck) -> None:
    if check not in _CLOSE_CHECKS:
        _CLOSE_CHECKS.append(check)


def register_reopen_step(step: ReopenStep) -> None:
    if step not in _REOPEN_STEPS:
        _REOPEN_STEPS.append(step)


def register_reopen_refusal(refusal: ReopenRefusal) -> None:
    if refusal not in _REOPEN_REFUSALS:
        _REOPEN_REFUSALS.append(refusal)


def close_preview(period: Period) -> list[CloseFact]:
    return [fact for check in _CLOSE_CHECKS for fact in check(period, period.close_requested_at)]


def earliest_close(period: Period) -> date:
    return period.ends_on + timedelta(days=int(current_app.config["PERIOD_CLOSE_GRACE_DAYS"]))


def can_request_close(user: User) -> bool:
    return user.access_role is AccessRole.ADMIN


def can_confirm_close(user: User, period: Period) -> bool:
    return (
        user.access_role in CLOSERS
        and period.close_requested_by_id is not None
        and period.close_requested_by_id != user.id
    )


def _not_before_the_grace_days(period: Period) -> None:
    first = earliest_close(period)
    if company_today() < first:
        raise IllegalTransition(
            _(
                "%(code)s can close from %(day)s: its last day and %(days)s days for late sales.",
                code=period.code,
                day=local_date(first),
                days=current_app.config["PERIOD_CLOSE_GRACE_DAYS"],
            )
        )


def request_close(actor: User, period: Period) -> None:
    """An admin who read the preview asks for the close; another person confirms it."""
    require_role(actor, AccessRole.ADMIN)
    if period.status is not PeriodStatus.OPEN:
        raise IllegalTransition(_("This period is already closed."))
    _not_before_the_grace_days(period)
    asked = rows_changed(
        db.session.execute(
            update(Period)
            .where(Period.id == period.id, Period.status == PeriodStatus.OPEN, Period.close_requested_by_id.is_(None))
            .values(close_requested_by_id=actor.id, close_requested_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    if asked != 1:
        raise IllegalTransition(_("The close of this period was already asked for."))
    db.session.expire(period)
    audit_change("period.close_requested", actor=actor, subject=period, after={"requested_by": actor.id})
    confirmers = db.session.execute(
        select(User).where(
            User.active,
            User.id != actor.id,
            ((User.role == UserRole.ADMIN) | ((User.role == UserRole.MANAGER) & User.is_senior)),
        )
    ).scalars()
    notify(
        list(confirmers),
        "period_close_requested",
        {"period": period.code, "name": actor.name},
        link=link("dealers.close_preview", code=period.code),
    )
    db.session.flush()


def withdraw_close_request(actor: User, period: Period) -> None:
    require_role(actor, AccessRole.ADMIN)
    withdrawn = rows_changed(
        db.session.execute(
            update(Period)
            .where(
                Period.id == period.id, Period.status == PeriodStatus.OPEN, Period.close_requested_by_id.is_not(None)
            )
            .values(close_requested_by_id=None, close_requested_at=None)
            .execution_options(synchronize_session=False)
        )
    )
    if withdrawn != 1:
        raise IllegalTransition(_("No close of this period is waiting."))
    db.session.expire(period)
    audit_change("period.close_withdrawn", actor=actor, subject=period)
    db.session.flush()


def confirm_close(actor: User, period: Period) -> None:
    """The second person closes the period: a senior manager or an admin other than the one who asked. A
    conditional UPDATE makes two confirmations at once end with one close."""
    require_role(actor, *CLOSERS)
    if period.status is not PeriodStatus.OPEN:
        raise IllegalTransition(_("This period is already closed."))
    if period.close_requested_by_id is None:
        raise IllegalTransition(_("No close of this period is waiting: an admin asks for it first."))
    if period.close_requested_by_id == actor.id:
        raise IllegalTransition(_("A second person confirms the close: not the one who asked for it."))
    _not_before_the_grace_days(period)
    close_period_now(actor, period, requested_by_id=period.close_requested_by_id)


def reopen_period(actor: User, period: Period, reason: str) -> None:
    """Back to open, with a reason, while none of its statements is paid: its entries on the dealers' accounts are
    reversed, its statements recomputed, and the dealers told."""
    require_role(actor, AccessRole.ADMIN)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why the period reopens; the dealers are told."))
    for refusal in _REOPEN_REFUSALS:
        why = refusal(period)
        if why:
            raise IllegalTransition(why)
    reopened = rows_changed(
        db.session.execute(
            update(Period)
            .where(Period.id == period.id, Period.status == PeriodStatus.CLOSED)
            .values(status=PeriodStatus.OPEN, close_requested_by_id=None, close_requested_at=None)
            .execution_options(synchronize_session=False)
        )
    )
    if reopened != 1:
        raise IllegalTransition(_("This period is not closed."))
    db.session.expire(period)
    for step in _REOPEN_STEPS:
        step(actor, period, reason)
    audit_change(
        "period.reopened",
        actor=actor,
        subject=period,
        before={"status": "closed"},
        after={"status": "open"},
        reason=reason,
    )
    db.session.flush()
