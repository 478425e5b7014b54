"""The admin's page for integration clients: create one (its token shown once, on the answer to the form, never
stored in clear or put in a cookie), rotate a token, revoke a client; see when and from where each was last used."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import AccessRole, allow
from portal.api import clients
from portal.api.forms import ClientForm
from portal.api.models import IntegrationClient
from portal.extensions import db
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
