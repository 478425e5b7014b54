"""One call to tell people about an event: in-app always, email when they want it, in the same transaction.

If the business change rolls back, its notifications and queued emails roll back with it; emails leave only after
commit, through the outbox (portal/notifications/mail.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import Select, bindparam, func, select, update

from portal.access import AccessRole, require_role
from portal.audit.services import audit_change, record_event
from portal.database import rows_changed
from portal.extensions import db
from portal.jobs import JobFailure, run_after_commit
from portal.notifications.kinds import KINDS, optional_kinds, render_text
from portal.notifications.links import Link
from portal.notifications.models import Notification, NotificationPreference, OutboxEmail, OutboxStatus
from portal.page_cache import writes_for
from portal.request_memo import remembered
from portal.types import utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User


def notify(users: Iterable[User | None], kind: str, params: Mapping[str, object], link: Link | None) -> int:
    """Notify each active user once; returns how many were notified. Callers commit."""
    definition = KINDS[kind]
    recipients = {user.id: user for user in users if user is not None and user.active}
    if not recipients:
        return 0
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.user_id, NotificationPreference.email).where(
                NotificationPreference.kind == kind, NotificationPreference.user_id.in_(recipients)
            )
        ).all()
    )
    for user in recipients.values():
        db.session.add(
            Notification(
                user_id=user.id,
                kind=kind,
                params=params,
                link_endpoint=link.endpoint if link else None,
                link_args=dict(link.args) if link else None,
            )
        )
        if not definition.optional or chosen.get(user.id, definition.email_by_default):
            queue_notification_email(user, kind, params, link)
    db.session.flush()
    return len(recipients)


def recipient_locale(user: User) -> str:
    return user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def absolute_url(path: str) -> str:
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def queue_notification_email(
    user: User, kind: str, params: Mapping[str, object], link: Link | None, to: str = ""
) -> OutboxEmail:
    """The notification as an email to the user (or to `to`: the address an account had before it changed)."""
    with force_locale(recipient_locale(user)):
        text = render_text(kind, params)
        context = {"user": user, "text": text, "link": absolute_url(link.url()) if link else ""}
        return queue_email(
            user,
            subject=str(KINDS[kind].label),
            text_body=render_template("email/notification.txt", **context),
            html_body=render_template("email/notification.html", **context),
            to=to,
        )


def queue_email(user: User | None, *, subject: str, text_body: str, html_body: str, to: str = "") -> OutboxEmail:
    """Write the message to the outbox; the after-commit hook asks the job queue to deliver it."""
    email = OutboxEmail(
        to_address=to or (user.email if user else ""),
        user_id=user.id if user else None,
        subject=subject[:300],
        text_body=text_body,
        html_body=html_body,
        message_id=make_msgid(domain=current_app.config["MAIL_MESSAGE_ID_DOMAIN"]),
    )
    db.session.add(email)
    run_after_commit("deliver_outbox", best_effort=True)  # delivered now rather than at the next minute
    return email


# --- The in-app centre ---------------------------------------------------------------------------------------


def unread_query(user_id: Any) -> Select[int]:
    """How many of the user's notifications are unread: a parameter, or a user's id column when the signed-in user's
    load brings the bell's count with it (portal.accounts.sessions)."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def unread_memo_key(user_id: int) -> Hashable:
    return ("unread_notifications", user_id)


_UNREAD = unread_query(bindparam("user_id"))  # built once: the bell asks on every page


def unread_count(user: User) -> int:
    """The bell's count: as the user's load brought it on a reading request, else counted now."""
    return remembered(unread_memo_key(user.id), lambda: db.session.execute(_UNREAD, {"user_id": user.id}).scalar_one())


def notifications_of(user: User) -> Select[Notification]:
    return select(Notification).where(Notification.user_id == user.id).order_by(Notification.id.desc())


def get_own_notification(user: User, notification_id: int) -> Notification | None:
    notification = db.session.get(Notification, notification_id)
    return notification if notification is not None and notification.user_id == user.id else None


def mark_read(user: User, notification: Notification) -> None:
    if notification.user_id != user.id:
        raise PermissionError("not the user's notification")
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()


def mark_all_read(user: User) -> int:
    """One UPDATE for all of them; only this user's pages show their notifications, so only theirs go stale."""
    with writes_for(users=[user.id]):
        return rows_changed(
            db.session.execute(
                update(Notification)
                .where(Notification.user_id == user.id, Notification.read_at.is_(None))
                .values(read_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        )


def email_preferences(user: User) -> dict[str, bool]:
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.email).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {name: chosen.get(name, kind.email_by_default) for name, kind in optional_kinds().items()}


def set_email_preferences(user: User, wanted: dict[str, bool]) -> None:

    before = email_preferences(user)
    existing = {
        preference.kind: preference
        for preference in db.session.execute(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        ).scalars()
    }
    for name in optional_kinds():
        value = bool(wanted.get(name, False))
        if name in existing:
            existing[name].email = value
        else:
            db.session.add(NotificationPreference(user_id=user.id, kind=name, email=value))
    audit_change(
        "user.email_preferences_changed", actor=user, subject=user, before=before, after=email_preferences(user)
    )
    db.session.flush()


# --- Administration of jobs and mail ---------------------------------------------------------------------------


def outbox_counts() -> dict[str, int]:

    rows = dict(db.session.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)).all())
    return {status.value: rows.get(status, 0) for status in OutboxStatus}


def failed_emails(limit: int = 20) -> list[OutboxEmail]:

    return list(
        db.session.execute(
            select(OutboxEmail)
            .where(OutboxEmail.status == OutboxStatus.FAILED)
            .order_by(OutboxEmail.id.desc())
            .limit(limit)
        ).scalars()
    )


def job_failures() -> Select[JobFailure]:
    return select(JobFailure).order_by(JobFailure.failed_at.desc(), JobFailure.id.desc())


def retry_failed_emails(actor: User) -> int:
    """Give up-on messages another round of attempts (after fixing the SMTP settings, say)."""

    require_role(actor, AccessRole.ADMIN)
    count = rows_changed(
        db.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.status == OutboxStatus.FAILED)
            .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    record_event("mail.retry_failed", actor_id=actor.id, details={"emails": count})
    run_after_commit("deliver_outbox", best_effort=True)  # delivered now rather than at the next minute
    return count
