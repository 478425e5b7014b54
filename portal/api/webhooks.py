"""Webhooks: a client subscribes a URL to kinds of events; each event of the outbox becomes one delivery per
subscription wanting it, signed with the subscription's secret, sent in the order of the events, retried with a
growing wait while the receiver is down, and kept in a log an admin reads (with the answer's code) and may send
again.

Two workers may run the delivery at once: a delivery is taken by a conditional UPDATE (its next attempt pushed
past the sending time), so each is sent by one of them; a subscription's new events are fanned out by moving its
`fanned_out_to` mark conditionally, and the unique (subscription, event) pair refuses a delivery made twice."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from portal.access import AccessRole, require_role
from portal.accounts.models import User
from portal.api.models import IntegrationClient, WebhookDelivery, WebhookSubscription
from portal.api.rules import (
    MAX_ATTEMPTS,
    SIGNATURE_HEADER,
    DeliveryStatus,
    retry_wait,
    signature,
    webhook_url_problem,
)
from portal.audit.services import audit_change
from portal.database import begin_write, rows_changed
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.outbox import EventKind, OutboxEvent
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import utcnow

SEND_TIMEOUT_SECONDS = 10
LEASE = timedelta(seconds=60)  # a taken delivery is not taken again for this long, time to send it
FAN_OUT_BATCH = 500


@dataclass(frozen=True)
class Sent:
    """What the receiver answered: its status code (None when it could not be reached) and why it failed."""

    status: int | None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Sender = Callable[[str, bytes, dict[str, str]], Sent]


def http_send(url: str, body: bytes, headers: dict[str, str]) -> Sent:
    """POST the body; a 2xx answer delivers it. The URL's scheme was checked (http or https) when subscribed."""
    outgoing = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked scheme
    try:
        with urllib.request.urlopen(outgoing, timeout=SEND_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return Sent(answer.status)
    except urllib.error.HTTPError as refused:
        return Sent(refused.code, f"HTTP {refused.code}")
    except OSError as unreachable:  # refused, unreachable, timed out (URLError and TimeoutError among them)
        return Sent(None, str(getattr(unreachable, "reason", unreachable))[:300])


# --- Subscriptions ------------------------------------------------------------------------------------------------


def create_subscription(
    actor: User, client: IntegrationClient, url: str, kinds: list[str]
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret, returned to be shown once. It hears of events from now on."""
    require_role(actor, AccessRole.ADMIN)
    if client.revoked_at is not None:
        raise IllegalTransition(_("This client is revoked."))
    url = url.strip()
    if webhook_url_problem(url) is not None:
        raise InvalidInput("url", _("Give an http or https address without a user name or password in it."))
    known = {kind.value for kind in EventKind}
    chosen = [kind for kind in dict.fromkeys(kinds) if kind in known]
    if not chosen or len(chosen) != len(set(kinds)):
        raise InvalidInput("kinds", _("Choose the kinds of events to send, among those listed."))
    secret = "whsec_" + secrets.token_urlsafe(32)
    latest = db.session.execute(select(func.max(OutboxEvent.id))).scalar_one() or 0
    subscription = WebhookSubscription(
        client_id=client.id, url=url[:500], kinds=chosen, secret=secret, fanned_out_to=latest
    )
    db.session.add(subscription)
    db.session.flush()
    audit_change("webhook.subscribed", actor=actor, subject=subscription, after={"kinds": chosen})
    return subscription, secret


def remove_subscription(actor: User, subscription: WebhookSubscription) -> None:
    require_role(actor, AccessRole.ADMIN)
    if subscription.removed_at is not None:
        raise IllegalTransition(_("This subscription was removed already."))
    subscription.removed_at = utcnow()
    db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, error="subscription removed")
    )
    audit_change("webhook.removed", actor=actor, subject=subscription)
    db.session.flush()


def send_again(actor: User, delivery: WebhookDelivery, now: datetime | None = None) -> None:
    """An admin's "send again": the delivery is pending once more, due now, its attempts counted afresh."""
    require_role(actor, AccessRole.ADMIN)
    subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
    if subscription is None or subscription.removed_at is not None:
        raise IllegalTransition(_("This subscription was removed."))
    changed = rows_changed(
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status != DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now or utcnow(), error="")
            .execution_options(synchronize_session=False)
        )
    )
    if changed != 1:
        raise IllegalTransition(_("This delivery is already waiting to be sent."))
    db.session.expire(delivery)
    audit_change("webhook.sent_again", actor=actor, subject=subscription, delivery=delivery.id)


def get_subscription(subscription_id: int) -> WebhookSubscription:
    found = db.session.get(WebhookSubscription, subscription_id)
    if found is None:
        raise NotFound()
    return found


def get_delivery(delivery_id: int) -> WebhookDelivery:
    found = db.session.get(WebhookDelivery, delivery_id)
    if found is None:
        raise NotFound()
    return found


# --- Delivery -------------------------------------------------------------------------------------------------------


def event_document(event: OutboxEvent, dealer_code: str | None) -> dict[str, Any]:
    """An event as the feed shows it and a webhook sends it."""
    return {
        "id": event.id,
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "dealer_code": dealer_code,
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "data": event.payload,
    }


def fan_out(now: datetime | None = None) -> int:
    """Make the deliveries of events newer than each subscription's mark, due `now`; returns how many were made."""
    now = now or utcnow()
    made = 0
    subscriptions = db.session.execute(
        select(WebhookSubscription.id, WebhookSubscription.fanned_out_to, WebhookSubscription.kinds).where(
            WebhookSubscription.removed_at.is_(None)
        )
    ).all()
    for subscription_id, mark, kinds in subscriptions:
        events = db.session.execute(
            select(OutboxEvent.id, OutboxEvent.kind)
            .where(OutboxEvent.id > mark)
            .order_by(OutboxEvent.id)
            .limit(FAN_OUT_BATCH)
        ).all()
        if not events:
            continue
        begin_write()
        moved = rows_changed(
            db.session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == subscription_id, WebhookSubscription.fanned_out_to == mark)
                .values(fanned_out_to=events[-1].id)
            )
        )
        if moved == 1:  # another worker fanned these out meanwhile otherwise
            wanted = [event_id for event_id, kind in events if kind in kinds]
            db.session.add_all(
                WebhookDelivery(subscription_id=subscription_id, event_id=event_id, next_attempt_at=now)
                for event_id in wanted
            )
            made += len(wanted)
        db.session.commit()
    return made


def _take(delivery_id: int, now: datetime) -> bool:
    """Take a due delivery for this worker: one conditional UPDATE, so two workers never send it both."""
    begin_write()
    taken = rows_changed(
        db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    return taken == 1


def _send_one(delivery_id: int, now: datetime, send: Sender) -> bool:
    """Send one taken delivery and record the answer; True when delivered."""
    delivery, subscription, event, dealer_code = db.session.execute(
        select(WebhookDelivery, WebhookSubscription, OutboxEvent, Dealer.code)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .outerjoin(Dealer, Dealer.id == OutboxEvent.dealer_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    body = json.dumps(event_document(event, dealer_code), ensure_ascii=False, sort_keys=True).encode("utf-8")
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DealerPortal-Webhooks/1",
        "Portal-Event-Id": str(event.id),
        "Portal-Event-Kind": event.kind,
        "Portal-Delivery-Id": str(delivery.id),
        SIGNATURE_HEADER: signature(subscription.secret, timestamp, body),
    }
    url, attempts = subscription.url, delivery.attempts + 1
    db.session.rollback()  # hold no transaction while waiting for the receiver
    answer = send(url, body, headers)
    if answer.delivered:
        values: dict[str, Any] = {"status": DeliveryStatus.DELIVERED, "delivered_at": utcnow(), "error": ""}
    elif attempts >= MAX_ATTEMPTS:
        values = {"status": DeliveryStatus.FAILED, "error": answer.error[:300]}
    else:
        values = {"next_attempt_at": now + timedelta(seconds=retry_wait(attempts)), "error": answer.error[:300]}
    begin_write()
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(attempts=attempts, last_attempt_at=now, response_code=answer.status, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return answer.delivered


def deliver_due(now: datetime | None = None, send: Sender = http_send) -> int:
    """Fan out new events, then send what is due, in the order of the events per subscription: a subscription
    whose oldest pending delivery fails waits for its retry before anything newer is sent. Returns how many were
    delivered."""
    now = now or utcnow()
    fan_out(now)
    delivered = 0
    pending = db.session.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.id, WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING)
        .order_by(WebhookDelivery.subscription_id, WebhookDelivery.event_id)
    ).all()
    db.session.rollback()
    blocked: set[int] = set()
    for subscription_id, delivery_id, due in pending:
        if subscription_id in blocked:
            continue
        if due > now or not _take(delivery_id, now):
            blocked.add(subscription_id)  # its oldest is not due (or another worker has it): keep the order
            continue
        if _send_one(delivery_id, now, send):
            delivered += 1
        else:
            blocked.add(subscription_id)
    return delivered
