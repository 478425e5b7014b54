"""Events pushed to the ERP: stored in the outbox in the same transaction as the change (a rollback leaves none),
read from the feed after the last one seen, and delivered by webhooks: signed (HMAC-SHA256 over the timestamp and
the body), in order per subscription, retried while the receiver is down and delivered once when it comes back,
taken by one of two workers racing, and given up then sent again from the admin's log."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.api import clients, webhooks
from portal.api.models import IntegrationClient, WebhookDelivery, WebhookSubscription
from portal.api.rules import MAX_ATTEMPTS, DeliveryStatus, signature_valid
from portal.claims.models import Claim
from portal.claims.services import Decision, decide, pay_claims
from portal.extensions import db
from portal.outbox import EventKind, OutboxEvent, emit
from portal.service_errors import InvalidInput
from portal.types import utcnow
from tests.factories import Channel, ClaimRecords, make_world, user
from tests.helpers import BACKENDS, build_app, dispose_app, free_port, logged_in_client, migrated_database_url
from tests.threads import run_together


class Receiver:
    """An ERP's webhook endpoint on a local port: records what it gets, answers `status`, can be down."""

    def __init__(self, port: int | None = None, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/portal"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def event_ids(self) -> list[int]:
        return [json.loads(body)["id"] for _headers, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def _subscribe(app: Flask, channel: Channel, url: str, *kinds: EventKind) -> tuple[int, str]:
    with app.app_context():
        admin = user(channel, "admin")
        client, _token = clients.create_client(admin, f"Hooks {url}", ["events:read"], [])
        subscription, secret = webhooks.create_subscription(admin, client, url, [kind.value for kind in kinds])
        db.session.commit()
        return subscription.id, secret


def _approve(app: Flask, channel: Channel, claim_id: int) -> None:
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        decide(user(channel, "manager"), claim, Decision.APPROVE)
        db.session.commit()


def _deliver(app: Flask, after: timedelta = timedelta(0)) -> int:
    with app.app_context():
        return webhooks.deliver_due(now=utcnow() + after)


def _by_hand(secret: str, header: str, body: bytes) -> bool:
    """The receiver's check written out here, apart from the portal's: t=..., v1=HMAC-SHA256(secret, "t.body")."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def _readme_verifier() -> Any:
    """The receiver's check as the README prints it, run as written."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(part for part in readme.split("```python")[1:] if "def verified(" in part).split("```")[0]
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # noqa: S102 - the project's own README
    return namespace["verified"]


def test_an_event_is_stored_with_its_change_and_never_without_it(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(OutboxEvent)).scalar_one()
        claim = db.session.get(Claim, claim_records.own_claim)
        assert claim is not None
        decide(user(channel, "manager"), claim, Decision.APPROVE)
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(OutboxEvent)).scalar_one() == before
    _approve(app, channel, claim_records.own_claim)
    with app.app_context():
        stored = db.session.execute(select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(1)).scalar_one()
        assert (stored.kind, stored.subject_type, stored.subject_id) == (
            "claim.approved",
            "claim",
            claim_records.own_claim,
        )


def test_the_feed_gives_events_after_the_last_seen_and_needs_events_read(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    with app.app_context():
        _made, token = clients.create_client(user(channel, "admin"), "Feed reader", ["events:read"], [])
        _other, sales_token = clients.create_client(user(channel, "admin"), "Sales only", ["sales:write"], [])
        db.session.commit()
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    start = http.get("/api/v1/events?limit=500", headers=headers).get_json()
    seen_until = start["next_after"]
    _approve(app, channel, claim_records.own_claim)
    page = http.get(f"/api/v1/events?after={seen_until}", headers=headers).get_json()
    assert [(item["kind"], item["subject"]["id"], item["dealer_code"]) for item in page["items"]] == [
        ("claim.approved", claim_records.own_claim, channel.own_dealer)
    ]
    assert page["next_after"] == page["items"][0]["id"] > seen_until
    empty = http.get(f"/api/v1/events?after={page['next_after']}", headers=headers).get_json()
    assert empty == {"items": [], "next_after": page["next_after"]}
    only = http.get(f"/api/v1/events?after={seen_until}&kind=claim.paid", headers=headers).get_json()
    assert only["items"] == []
    assert http.get("/api/v1/events?kind=nonsense", headers=headers).status_code == 422
    refused = http.get("/api/v1/events", headers={"Authorization": f"Bearer {sales_token}"})
    assert refused.status_code == 403 and refused.get_json()["required_scope"] == "events:read"


def test_a_webhook_is_signed_and_carries_the_event(
    app: Flask, channel: Channel, claim_records: ClaimRecords, receiver: Receiver
) -> None:
    subscription_id, secret = _subscribe(app, channel, receiver.url, EventKind.CLAIM_APPROVED)
    _approve(app, channel, claim_records.own_claim)
    assert _deliver(app) == 1
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    document = json.loads(body)
    assert (document["kind"], document["subject"], document["dealer_code"]) == (
        "claim.approved",
        {"type": "claim", "id": claim_records.own_claim},
        channel.own_dealer,
    )
    assert headers["Portal-Event-Kind"] == "claim.approved" and headers["Portal-Event-Id"] == str(document["id"])
    assert _by_hand(secret, headers["Portal-Signature"], body)
    assert signature_valid(secret, headers["Portal-Signature"], body, int(time.time()))
    assert not _by_hand(secret, headers["Portal-Signature"], body + b" ")  # a body changed on the way fails
    assert not _by_hand("whsec_other", headers["Portal-Signature"], body)
    readme_verified = _readme_verifier()
    assert readme_verified(secret, headers["Portal-Signature"], body)
    assert not readme_verified(secret, headers["Portal-Signature"], body.replace(b"claim", b"clam"))
    with app.app_context():
        delivery = db.session.execute(
            select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        ).scalar_one()
        assert delivery.status is DeliveryStatus.DELIVERED and delivery.response_code == 200 and delivery.attempts == 1
    assert _deliver(app) == 0 and len(receiver.received) == 1  # delivered once


def test_a_receiver_down_gets_everything_once_and_in_order_when_it_comes_back(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    down = Receiver()  # nothing listens on its port yet
    subscription_id, _secret = _subscribe(
        app, channel, down.url, EventKind.CLAIM_APPROVED, EventKind.CLAIM_PAID, EventKind.DEALER_CHANGED
    )
    _approve(app, channel, claim_records.own_claim)
    assert _deliver(app) == 0
    with app.app_context():
        pay_claims(user(channel, "admin"), [claim_records.own_claim], "TRF-77")
        db.session.commit()
    assert _deliver(app, timedelta(seconds=5)) == 0  # the retry is not due yet, and the newer one waits its turn
    with app.app_context():
        waiting = db.session.execute(
            select(WebhookDelivery.attempts, WebhookDelivery.status, WebhookDelivery.error)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.event_id)
        ).all()
    assert [(attempts, status) for attempts, status, _error in waiting] == [
        (1, DeliveryStatus.PENDING),
        (0, DeliveryStatus.PENDING),
    ]
    assert waiting[0].error  # why it failed, for the log
    down.start()
    try:
        assert _deliver(app, timedelta(minutes=2)) == 2
        assert _deliver(app, timedelta(hours=1)) == 0
    finally:
        down.stop()
    kinds = [json.loads(body)["kind"] for _headers, body in down.received]
    assert kinds == ["claim.approved", "claim.paid"]
    assert down.event_ids() == sorted(down.event_ids())


def test_deliveries_given_up_are_sent_again_by_the_admin(
    app: Flask, channel: Channel, claim_records: ClaimRecords, receiver: Receiver
) -> None:
    receiver.status = 500
    subscription_id, _secret = _subscribe(app, channel, receiver.url, EventKind.CLAIM_APPROVED)
    _approve(app, channel, claim_records.own_claim)
    for attempt in range(MAX_ATTEMPTS):
        _deliver(app, timedelta(hours=7 * attempt))
    with app.app_context():
        delivery = db.session.execute(
            select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        ).scalar_one()
        assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == MAX_ATTEMPTS
        assert delivery.response_code == 500
        delivery_id = delivery.id
    assert len(receiver.received) == MAX_ATTEMPTS
    receiver.status = 204
    with app.app_context():
        webhooks.send_again(user(channel, "admin"), webhooks.get_delivery(delivery_id))
        db.session.commit()
    assert _deliver(app) == 1
    with app.app_context():
        again = db.session.get(WebhookDelivery, delivery_id)
        assert again is not None and again.status is DeliveryStatus.DELIVERED and again.response_code == 204


def test_each_subscription_gets_only_its_own_kinds(
    app: Flask, channel: Channel, claim_records: ClaimRecords, receiver: Receiver
) -> None:
    other = Receiver().start()
    try:
        _subscribe(app, channel, receiver.url, EventKind.CLAIM_APPROVED)
        _subscribe(app, channel, other.url, EventKind.CLAIM_PAID)
        _approve(app, channel, claim_records.own_claim)
        _deliver(app)
    finally:
        other.stop()
    assert [json.loads(body)["kind"] for _h, body in receiver.received] == ["claim.approved"]
    assert other.received == []


@pytest.mark.parametrize(
    ("url", "kinds", "field"),
    [
        ("ftp://erp.example/hook", ["claim.paid"], "url"),
        ("https://user:pw@erp.example/hook", ["claim.paid"], "url"),
        ("not a url", ["claim.paid"], "url"),
        ("https://erp.example/hook", [], "kinds"),
        ("https://erp.example/hook", ["claim.paid", "everything"], "kinds"),
    ],
)
def test_a_subscription_needs_a_web_address_and_known_kinds(
    app: Flask, channel: Channel, url: str, kinds: list[str], field: str
) -> None:
    with app.app_context():
        admin = user(channel, "admin")
        client, _token = clients.create_client(admin, "Checked", ["events:read"], [])
        with pytest.raises(InvalidInput) as refused:
            webhooks.create_subscription(admin, client, url, kinds)
        assert refused.value.field == field


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_workers_at_once_deliver_each_event_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(
        migrated_database_url(backend_name, "webhook_races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000
    )
    receiver = Receiver().start()
    try:
        with app.app_context():
            world = make_world()
            admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
            client = db.session.execute(select(IntegrationClient).limit(1)).scalar_one()
            for earlier in db.session.execute(select(WebhookSubscription)).scalars():
                webhooks.remove_subscription(admin, earlier)  # the world's own, to an address nobody answers
            webhooks.create_subscription(admin, client, receiver.url, ["dealer.changed"])
            db.session.commit()
            for number in range(20):
                emit(EventKind.DEALER_CHANGED, "dealer", number + 1, None, change="test")
            db.session.commit()

        def worker(wait: Any) -> int:
            with app.app_context():
                db.session.execute(select(1)).all()
                db.session.rollback()
                wait()
                return webhooks.deliver_due()

        delivered = run_together([worker, worker])
        with app.app_context():
            statuses = db.session.execute(
                select(WebhookDelivery.status, func.count())
                .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookSubscription.removed_at.is_(None))
                .group_by(WebhookDelivery.status)
            ).all()
    finally:
        receiver.stop()
        dispose_app(app)
    assert len(receiver.received) == len(set(receiver.event_ids())) == 20  # each once, none twice
    assert sum(delivered) == 20 and dict(statuses) == {DeliveryStatus.DELIVERED: 20}


def test_a_clients_webhook_page_shows_its_own_subscriptions_and_deliveries_only(app: Flask, channel: Channel) -> None:
    mine, _secret = _subscribe(app, channel, "https://erp-a.example.test/hooks", EventKind.CLAIM_PAID)
    _theirs, _other_secret = _subscribe(app, channel, "https://erp-b.example.test/hooks", EventKind.CLAIM_PAID)
    with app.app_context():
        client_id = db.session.execute(
            select(WebhookSubscription.client_id).where(WebhookSubscription.id == mine)
        ).scalar_one()
        emit(EventKind.CLAIM_PAID, "claim", 1, None)
        db.session.commit()
        webhooks.fan_out()
    admin = logged_in_client(app, channel.emails["admin"])
    html = admin.get(f"/admin/integrations/{client_id}/webhooks").get_data(as_text=True)
    assert "erp-a.example.test" in html and "erp-b.example.test" not in html
    assert html.count("claim.paid</code> #") == 1  # its own delivery of the event, not the other client's
