"""Audit events: appended by services in the same transaction as the change they describe."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.page_cache import register_write_scope, unseen
from portal.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(32), index=True)
    subject_id: Mapped[int | None] = mapped_column(index=True)
    # What the subject was called when the event happened (dealer code, user email), kept for reading the trail.
    subject_label: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    # Set when the event is sealed (portal.audit.chain): its place in the chain and the hash of the chain up to it.
    chain_position: Mapped[int | None] = mapped_column(Integer, unique=True)
    chain_hash: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(lazy="raise")


class AuditSeal(Model):
    """One batch of events sealed together: the chain's hash before and after it, so a verifier can tell a batch
    whose events were edited, removed or re-hashed from one that is whole."""

    __tablename__ = "audit_seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Unique: two sealers at once cannot both continue the chain from the same place.
    first_position: Mapped[int] = mapped_column(Integer, unique=True)
    last_position: Mapped[int] = mapped_column(Integer)
    previous_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))


register_write_scope(AuditEvent, unseen("the audit trail is read on its own pages, which are never cached"))
register_write_scope(AuditSeal, unseen("seals are checked by a command and the audit page, never cached"))
