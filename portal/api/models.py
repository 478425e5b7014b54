"""Integration clients (an ERP, a BI tool) and their tokens. A token is stored only as its hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.api.rules import DeliveryStatus
from portal.extensions import Model
from portal.page_cache import register_write_scope, unseen
from portal.types import UTCDateTime, str_enum, utcnow


class IntegrationClient(Model):
    __tablename__ = "integration_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_networks: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: any address
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The client's own user (is_service): who the audit trail names when the client changes something.
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", name="fk_integration_clients_user_id_users"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_from: Mapped[str] = mapped_column(String(45), default="")

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="client", order_by="ApiToken.id")

    def audit_subject(self) -> tuple[str, int, str]:
        return "integration_client", self.id, self.name


class ApiToken(Model):
    """One of a client's tokens. While a token is rotated the old one keeps working until `expires_at`."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("integration_clients.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    shown_start: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    client: Mapped[IntegrationClient] = relationship(back_populates="tokens")


class IdempotencyKey(Model):
    """A push sent with an `Idempotency-Key`: claimed before the work starts (the unique constraint decides between
    copies sent at once), then holding the answer, which the same key and body get again instead of a second
    import. The body's hash tells a retry from a different request that reuses the key."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("integration_clients.id"))
    key: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(64))
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while the work runs
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookSubscription(Model):
    """A client's wish to hear of some kinds of events at a URL. Deliveries start after the subscription: it hears
    of what happens from then on (the events feed holds the past)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("integration_clients.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The signing key, kept to sign each delivery (an HMAC needs it in clear); shown to the admin once.
    secret: Mapped[str] = mapped_column(String(80))
    # The outbox events up to this one have their deliveries made (or did not concern this subscription).
    fanned_out_to: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    client: Mapped[IntegrationClient] = relationship(lazy="joined")

    def audit_subject(self) -> tuple[str, int, str]:
        return "webhook_subscription", self.id, self.url[:200]


class WebhookDelivery(Model):
    """One event to one subscription: sent in the order of the events, retried with a growing wait while the
    receiver fails, then given up; an admin may send it again."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"))
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus, 16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The integration records are shown only on the administrators' integration pages, which are never cached; a
# token's last use is written on every ERP call and must not make every dealer's pages stale.
for _integration in (IntegrationClient, ApiToken, IdempotencyKey, WebhookSubscription, WebhookDelivery):
    register_write_scope(_integration, unseen("integration pages are never cached"))
