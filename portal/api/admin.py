"""The admin's pages for integration clients: create one (its token shown once, on the answer to the form, never
stored in clear or put in a cookie), rotate a token, revoke a client; see when and from where each was last used.
A client's webhooks: subscribe a receiver (its signing secret shown once), remove it, read the delivery log with
each answer's code, and send a delivery again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import AccessRole, allow, public
from portal.api import clients, webhooks
from portal.api.forms import ClientForm, SubscriptionForm
from portal.api.models import IntegrationClient, WebhookDelivery, WebhookSubscription
from portal.api.rules import MAX_ATTEMPTS, DeliveryStatus
from portal.extensions import db
from portal.outbox import OutboxEvent
from portal.request_locale import gettext as _
from portal.service_errors import InvalidInput, NotFound
from portal.web import finish_action, show_service_error

bp = Blueprint("integrations", __name__)


def _render(form: ClientForm, *, token: str = "", token_for: str = "", status: int = 200) -> ResponseReturnValue:
    listed = db.session.execute(
        select(IntegrationClient).options(selectinload(IntegrationClient.tokens)).order_by(IntegrationClient.name)
    ).scalars()
    return render_template(
        "api/clients.html", clients=list(listed), form=form, token=token, token_for=token_for
    ), status


def _client(client_id: int) -> IntegrationClient:
    found = db.session.get(IntegrationClient, client_id)
    if found is None:
        raise NotFound()
    return found


@bp.route("/admin/integrations", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def clients_page() -> ResponseReturnValue:
    form = ClientForm()
    if not form.is_submitted():
        return _render(ClientForm(formdata=None))
    if form.validate():
        networks = (form.networks.data or "").splitlines()
        try:
            client, token = clients.create_client(current_user, form.name.data or "", form.scopes.data or [], networks)
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            # The token is in this answer only: a redirect would have to carry it in the session cookie.
            return _render(ClientForm(formdata=None), token=token, token_for=client.name)
    return _render(form, status=422)


@bp.route("/admin/integrations/<int:client_id>/rotate", methods=["POST"])
@allow(AccessRole.ADMIN)
def rotate(client_id: int) -> ResponseReturnValue:
    client = _client(client_id)  # the CSRF token is checked before any POST reaches a view (CSRFProtect)
    token = clients.rotate_token(current_user, client)  # a revoked client: IllegalTransition, 409 by errors.py
    db.session.commit()
    return _render(ClientForm(formdata=None), token=token, token_for=client.name)


@bp.route("/admin/integrations/<int:client_id>/revoke", methods=["POST"])
@allow(AccessRole.ADMIN)
def revoke(client_id: int) -> ResponseReturnValue:
    client = _client(client_id)
    name = client.name
    return finish_action(
        None,
        lambda: clients.revoke_client(current_user, client),
        lambda _done: (
            _("%(name)s is revoked: its tokens no longer work.", name=name),
            url_for("integrations.clients_page"),
        ),
    )


# --- Webhooks of a client ---------------------------------------------------------------------------------------------

DELIVERIES_SHOWN = 50


@dataclass(frozen=True)
class DeliveryRow:
    """A line of the delivery log, with what the page may offer on it."""

    delivery: WebhookDelivery
    event: OutboxEvent
    url: str
    can_send_again: bool


def _render_webhooks(
    client: IntegrationClient, form: SubscriptionForm, *, secret: str = "", status: int = 200
) -> ResponseReturnValue:
    subscriptions = list(
        db.session.execute(
            select(WebhookSubscription)
            .where(WebhookSubscription.client_id == client.id)
            .order_by(WebhookSubscription.removed_at.is_not(None), WebhookSubscription.id)
        ).scalars()
    )
    logged = db.session.execute(
        select(WebhookDelivery, OutboxEvent, WebhookSubscription.url, WebhookSubscription.removed_at)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookSubscription.client_id == client.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(DELIVERIES_SHOWN)
    ).all()
    deliveries = [
        DeliveryRow(delivery, event, url, removed_at is None and delivery.status is not DeliveryStatus.PENDING)
        for delivery, event, url, removed_at in logged
    ]
    return render_template(
        "api/webhooks.html",
        client=client,
        subscriptions=subscriptions,
        deliveries=deliveries,
        form=form,
        secret=secret,
        max_attempts=MAX_ATTEMPTS,
    ), status


@bp.route("/admin/integrations/<int:client_id>/webhooks", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def webhooks_page(client_id: int) -> ResponseReturnValue:
    client = _client(client_id)
    form = SubscriptionForm()
    if not form.is_submitted():
        return _render_webhooks(client, SubscriptionForm(formdata=None))
    if form.validate():
        try:
            _subscription, secret = webhooks.create_subscription(
                current_user, client, form.url.data or "", form.kinds.data or []
            )
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            # The signing secret is in this answer only, as a new token is.
            return _render_webhooks(client, SubscriptionForm(formdata=None), secret=secret)
    return _render_webhooks(client, form, status=422)


@bp.route("/admin/integrations/webhooks/<int:subscription_id>/remove", methods=["POST"])
@allow(AccessRole.ADMIN)
def remove_subscription(subscription_id: int) -> ResponseReturnValue:
    subscription = webhooks.get_subscription(subscription_id)
    return finish_action(
        None,
        lambda: webhooks.remove_subscription(current_user, subscription),
        lambda _done: (
            _("The subscription is removed: nothing more is sent to %(url)s.", url=subscription.url),
            url_for("integrations.webhooks_page", client_id=subscription.client_id),
        ),
    )


@bp.route("/admin/integrations/deliveries/<int:delivery_id>/send-again", methods=["POST"])
@allow(AccessRole.ADMIN)
def send_again(delivery_id: int) -> ResponseReturnValue:
    delivery = webhooks.get_delivery(delivery_id)
    client_id = webhooks.get_subscription(delivery.subscription_id).client_id
    return finish_action(
        None,
        lambda: webhooks.send_again(current_user, delivery),
        lambda _done: (
            _("The delivery will be sent again within a minute."),
            url_for("integrations.webhooks_page", client_id=client_id),
        ),
    )


# --- The API's documentation, browsable -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentedOperation:
    method: str
    path: str
    anchor: str
    summary: str
    scope: str
    parameters: list[dict[str, Any]]
    body: str
    responses: list[tuple[str, str, str]]  # status, description, schema


HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def _schema_name(reference: dict[str, Any]) -> str:
    ref = reference.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else str(reference.get("type", ""))


def documented_operations(spec: dict[str, Any]) -> list[DocumentedOperation]:
    """The operations of the OpenAPI description, in the order of the paths, as the documentation page lists them."""
    operations = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])  # a path's own parameters ({code}), for each of its operations
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = []
            for status, answer in operation.get("responses", {}).items():
                if "$ref" in answer:
                    answer = spec["components"]["responses"].get(_schema_name(answer), {})
                content = answer.get("content", {})
                schemas = ", ".join(dict.fromkeys(_schema_name(kind.get("schema", {})) for kind in content.values()))
                responses.append((status, answer.get("description", ""), schemas))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            summary = operation.get("summary", "")
            scope = next((word.rstrip(".") for word in summary.split() if ":" in word and word[0].isalpha()), "")
            operations.append(
                DocumentedOperation(
                    method=method.upper(),
                    path=path,
                    anchor=f"{method}-{path.strip('/').replace('/', '-')}",
                    summary=summary,
                    scope=scope if scope.endswith(("read", "write")) else "",
                    parameters=[*shared, *operation.get("parameters", [])],
                    body=_schema_name(body) if body else "",
                    responses=responses,
                )
            )
    return operations


@bp.route("/api/docs")
@public
def api_docs() -> ResponseReturnValue:
    """The API described for the people who integrate: every operation, its parameters, its answers and the
    schemas, read from the same OpenAPI description the API serves. Served by the portal, no outside script."""
    spec = current_app.extensions["portal-api"].spec.to_dict()
    return render_template(
        "api/docs.html",
        operations=documented_operations(spec),
        schemas=sorted(spec["components"]["schemas"].items()),
        title=spec["info"]["title"],
        version=spec["info"]["version"],
    )
