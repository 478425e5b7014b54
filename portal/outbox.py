"""The outbox: events the integration API publishes (the events feed, webhooks), stored by the service that makes
the change, in the same transaction: an event exists exactly when its change was committed, never one without
the other, and a crash between the commit and a delivery loses nothing (the delivery reads the outbox later).

Areas call `emit` where their one status write is (`claims.services._move`, `disputes.violations.move_violation`,
...); this module knows none of them. Delivery belongs to the API (`portal.api.webhooks`), asked for after the
commit through the job queue; a periodic task catches up whatever that missed."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model, db
from portal.jobs import run_after_commit
from portal.page_cache import register_write_scope, unseen
from portal.types import UTCDateTime, utcnow

DELIVER_TASK = "deliver_webhooks"


class EventKind(enum.StrEnum):
    CLAIM_APPROVED = "claim.approved"
    CLAIM_PAID = "claim.paid"
    STATEMENT_FINAL = "statement.final"
    STATEMENT_PAID = "statement.paid"
    PERIOD_CLOSED = "period.closed"
    VIOLATION_CONFIRMED = "violation.confirmed"
    VIOLATION_OVERTURNED = "violation.overturned"
    DISPUTE_RESOLVED = "dispute.resolved"
    DEALER_CHANGED = "dealer.changed"


class OutboxEvent(Model):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)  # the feed's order and its `after` cursor
    kind: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    # The dealer it concerns (None: channel-wide); no foreign key, this floor knows no dealers table.
    dealer_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def emit(kind: EventKind, subject_type: str, subject_id: int, dealer_id: int | None = None, **payload: Any) -> None:
    """Store an event in the caller's transaction; its deliveries are asked for once that commits. The payload
    says what happened in a few fields an ERP acts on; the details are fetched from the API's reads."""
    db.session.add(
        OutboxEvent(
            kind=kind.value,
            subject_type=subject_type,
            subject_id=subject_id,
            dealer_id=dealer_id,
            payload=payload,
        )
    )
    run_after_commit(DELIVER_TASK, best_effort=True)


register_write_scope(OutboxEvent, unseen("the webhook outbox is read by the worker, no page shows it"))
