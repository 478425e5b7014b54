"""Delivering the outbox over SMTP: at least once, never lost, and no repeat in the ordinary failure cases.

Each message is claimed (pending -> sending, a conditional UPDATE committed at once), sent, then marked sent and
committed. If SMTP is down the claim is released with a back-off. If the worker dies after claiming but before
sending, the claim's lease runs out and the message is sent later, once. Only a death in the instant between the
SMTP server accepting a message and the "sent" commit can repeat it; the repeat carries the same Message-ID.
"""

from __future__ import annotations

import smtplib
import socket
from contextlib import suppress
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from portal.database import begin_write, rows_changed
from portal.extensions import db
from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.types import utcnow

SMTP_ERRORS = (smtplib.SMTPException, OSError, socket.timeout)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes, at most six hours between tries."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def build_message(email: OutboxEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Date"] = formatdate(email.created_at.timestamp(), localtime=False)
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


def _claim_next(now: datetime) -> OutboxEmail | None:
    """Take one due message: pending and due, or stuck in 'sending' past its lease (its worker died)."""
    lease = timedelta(seconds=current_app.config["MAIL_CLAIM_LEASE_SECONDS"])
    begin_write()  # several workers may claim at once: take the write lock before reading (SQLite)
    candidates = (
        db.session.execute(
            select(OutboxEmail.id)
            .where(
                or_(
                    (OutboxEmail.status == OutboxStatus.PENDING) & (OutboxEmail.next_attempt_at <= now),
                    (OutboxEmail.status == OutboxStatus.SENDING) & (OutboxEmail.claimed_at <= now - lease),
                )
            )
            .order_by(OutboxEmail.id)
            .limit(5)
        )
        .scalars()
        .all()
    )
    for email_id in candidates:
        claimed = rows_changed(
            db.session.execute(
                update(OutboxEmail)
                .where(
                    OutboxEmail.id == email_id,
                    or_(
                        OutboxEmail.status == OutboxStatus.PENDING,
                        (OutboxEmail.status == OutboxStatus.SENDING) & (OutboxEmail.claimed_at <= now - lease),
                    ),
                )
                .values(status=OutboxStatus.SENDING, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        db.session.commit()
        if claimed == 1:
            return db.session.get(OutboxEmail, email_id)
        begin_write()
    db.session.commit()
    return None


def _connect() -> smtplib.SMTP:
    config = current_app.config
    connection = smtplib.SMTP(
        config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], timeout=config["MAIL_SMTP_TIMEOUT_SECONDS"]
    )
    if config["MAIL_SMTP_STARTTLS"]:
        connection.starttls()
    if config["MAIL_SMTP_USERNAME"]:
        connection.login(config["MAIL_SMTP_USERNAME"], config["MAIL_SMTP_PASSWORD"])
    return connection


def _release(email: OutboxEmail, error: BaseException, now: datetime) -> None:
    begin_write()
    email.attempts += 1
    email.last_error = f"{type(error).__name__}: {error}"[:2000]
    email.claimed_at = None
    if email.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        email.status = OutboxStatus.FAILED
    else:
        email.status = OutboxStatus.PENDING
        email.next_attempt_at = now + backoff(email.attempts)
    db.session.commit()


def deliver_outbox(limit: int | None = None, *, now: datetime | None = None, after_send: Any = None) -> dict[str, int]:
    """Deliver due messages; returns counts. `after_send` is a test hook called between SMTP and the commit."""
    limit = limit or current_app.config["MAIL_BATCH_SIZE"]
    counts = {"sent": 0, "deferred": 0}
    connection: smtplib.SMTP | None = None
    try:
        while counts["sent"] + counts["deferred"] < limit:
            moment = now or utcnow()
            email = _claim_next(moment)
            if email is None:
                break
            try:
                if connection is None:
                    connection = _connect()
                connection.send_message(build_message(email))
            except SMTP_ERRORS as error:
                connection = None
                _release(email, error, moment)
                counts["deferred"] += 1
                if isinstance(error, OSError | smtplib.SMTPServerDisconnected):
                    break  # the server is down: try the rest later, without burning their attempts
                continue
            if after_send is not None:
                after_send(email)
            begin_write()
            email.status = OutboxStatus.SENT
            email.sent_at = utcnow()
            email.attempts += 1
            db.session.commit()
            counts["sent"] += 1
    finally:
        if connection is not None:
            with suppress(*SMTP_ERRORS):
                connection.quit()
    return counts
