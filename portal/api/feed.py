"""The events feed, for clients that cannot receive webhooks: the outbox's events in their order, after the last one
the client saw. The same documents the webhooks send. Events are the channel's (every client with events:read
sees the same feed); what is a client's own is its subscriptions and their deliveries."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from portal.access import public
from portal.api.blueprint import LARGEST_ID, blp, caller_with
from portal.api.rules import Scope
from portal.api.webhooks import event_document
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.outbox import EventKind, OutboxEvent


class FeedQuery(Schema):
    after = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=LARGEST_ID), metadata={"description": "The last id seen."}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    kind = fields.List(
        fields.String(validate=validate.OneOf([kind.value for kind in EventKind])),
        load_default=list,
        metadata={"description": "Only these kinds (repeat the parameter); all when absent."},
    )


class SubjectSchema(Schema):
    type = fields.String(required=True)
    id = fields.Integer(required=True)


class EventSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": [kind.value for kind in EventKind]})
    occurred_at = fields.String(required=True, metadata={"format": "date-time"})
    dealer_code = fields.String(allow_none=True, required=True)
    subject = fields.Nested(SubjectSchema, required=True)
    data = fields.Dict(required=True)


class EventPage(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next_after = fields.Integer(
        required=True, metadata={"description": "Send it as `after` next time: the last id of this page."}
    )


@blp.route("/events")
@blp.arguments(FeedQuery, location="query", as_kwargs=True)
@blp.response(200, EventPage)
@public
def events(after: int, limit: int, kind: list[str]) -> dict[str, Any]:
    """Events after `after`, oldest first: claims approved and paid, statements final and paid, periods closed,
    violations confirmed or overturned, disputes resolved, dealers changed. Needs events:read."""
    caller_with(Scope.EVENTS_READ)
    query = (
        select(OutboxEvent, Dealer.code)
        .outerjoin(Dealer, Dealer.id == OutboxEvent.dealer_id)
        .where(OutboxEvent.id > after)
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    if kind:
        query = query.where(OutboxEvent.kind.in_(kind))
    rows = db.session.execute(query).all()
    items = [event_document(event, dealer_code) for event, dealer_code in rows]
    return {"items": items, "next_after": rows[-1][0].id if rows else after}
