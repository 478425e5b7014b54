"""The API's first version under /api/v1: the blueprint (`blueprint`), its operations (`reads`: what the ERP
pulls; `pushes`: what it sends; `feed`: the events), who is calling (`me`) and the OpenAPI description generated
from them all."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, jsonify
from marshmallow import Schema, fields

from portal.access import public
from portal.api import feed, pushes, reads
from portal.api.blueprint import DEFAULT_RATE_LIMIT, PREFIX, PortalApi, blp, http_problem, rate_key
from portal.api.clients import Caller
from portal.errors import register_error_door
from portal.extensions import csrf, limiter

OPERATIONS = (reads, pushes, feed)  # imported for their routes on `blp`


class CallerSchema(Schema):
    client = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)


@blp.route("/me")
@blp.response(200, CallerSchema)
@public
def me() -> dict[str, Any]:
    """The client the token belongs to and its scopes: the first call an integrator makes."""
    caller: Caller = g.api_caller
    return {"client": caller.name, "scopes": sorted(scope.value for scope in caller.scopes)}


@blp.route("/openapi.json")
@blp.doc(  # read without a token: it describes, it holds no data
    security=[],
    responses={
        "200": {"description": "This description.", "content": {"application/json": {"schema": {"type": "object"}}}}
    },
)
@public
def openapi() -> Response:
    """The OpenAPI 3.1 description, generated from the code."""
    return jsonify(current_app.extensions["portal-api"].spec.to_dict())


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Dealer Partner Portal API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", None)  # served by the blueprint above, behind no CDN
    api = PortalApi(app, spec_kwargs={"security": [{"bearer": []}]})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(blp)
    app.extensions["portal-api"] = api
    register_error_door(PREFIX + "/", http_problem)


csrf.exempt(blp)
limiter.limit(lambda: current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT), key_func=rate_key)(blp)
