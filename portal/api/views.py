"""The API's first version under /api/v1: bearer tokens of integration clients only (a session cookie counts for
nothing here, and no CSRF token is asked: nothing a browser page holds opens this door), JSON in and out, errors as
problem details, every list paged by an opaque cursor, reads with an ETag.

Views stay thin as the pages' do: check the scope, call one query or service, answer."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.access import public
from portal.api.clients import Caller, authenticate
from portal.api.problems import ApiProblem, field_errors, missing_scope, problem_response
from portal.api.rules import Scope, token_hash
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.dealers.models import Dealer, Period
from portal.errors import register_error_door
from portal.extensions import csrf, db, limiter
from portal.rebates.models import RebateStatement
from portal.rebates.rules import StatementStatus, attainment_shown

PREFIX = "/api/v1"
DEFAULT_RATE_LIMIT = "600 per minute"  # per token: a nightly batch is a few calls, a runaway loop is stopped


class PortalApi(Api):
    """flask-smorest's Api, minus its app-wide error handlers: the pages keep their own HTML error pages; the API's
    blueprint answers its errors as problem details itself."""

    def _register_error_handlers(self) -> None:
        return None


blp = Blueprint("api", __name__, url_prefix=PREFIX, description="The portal's integration API, version 1.")


# --- Authentication, scopes, rate limit, errors, ETags ---------------------------------------------------------------


def _bearer() -> str | None:
    kind, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


def _rate_key() -> str:
    """A client's token (hashed) is its bucket; calls without one share the caller's address."""
    token = _bearer()
    return f"api-token:{token_hash(token)[:32]}" if token else f"api-anonymous:{request.remote_addr}"


@blp.before_request
def _authenticate() -> Response | None:
    if request.endpoint == "api.openapi":
        return None
    token = _bearer()
    caller = authenticate(token, request.remote_addr) if token else None
    if caller is None:
        db.session.rollback()
        return problem_response(401, detail="Send the client's token as: Authorization: Bearer <token>.")
    db.session.commit()  # the last-use stamp, written at most once a minute
    g.api_caller = caller
    return None


def caller_with(scope: Scope) -> Caller:
    caller: Caller = g.api_caller
    if scope not in caller.scopes:
        raise missing_scope(scope)
    return caller


@blp.errorhandler(ApiProblem)
def _problem(error: ApiProblem) -> Response:
    db.session.rollback()
    return problem_response(error.status, error.slug, error.detail, **error.extra)


@blp.errorhandler(HTTPException)
def _http_problem(error: HTTPException) -> Response:
    db.session.rollback()
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:
        return problem_response(422, detail="See the errors of each field.", errors=field_errors(data["messages"]))
    return problem_response(status, detail=(error.description or "") if status < 500 else "")


@blp.after_request
def _conditional(response: Response) -> Response:
    """Reads carry an ETag; a client that sends it back in If-None-Match gets 304 and no body."""
    if request.method == "GET" and response.status_code == 200 and response.mimetype == "application/json":
        response.headers["Cache-Control"] = "private, no-cache"
        response.add_etag()
        response.make_conditional(request)
    return response


# --- Paging -----------------------------------------------------------------------------------------------------------


def _decode_cursor(cursor: str | None) -> int:
    """The id after which a page starts, from the opaque cursor the last page gave; anything else is refused."""
    if not cursor:
        return 0
    try:
        after = int(base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii"))
    except (ValueError, UnicodeError, binascii.Error):
        raise ApiProblem(400, "bad-request", "The cursor is not one this API gave.") from None
    if after < 0:
        raise ApiProblem(400, "bad-request", "The cursor is not one this API gave.")
    return after


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode("ascii")).decode("ascii").rstrip("=")


class PageQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


# --- Who am I ---------------------------------------------------------------------------------------------------------


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


# --- Statements -------------------------------------------------------------------------------------------------------


class StatementQuery(PageQuery):
    period = fields.String(required=True, validate=validate.Length(min=1, max=20))


class StatementSchema(Schema):
    dealer_code = fields.String(required=True)
    period = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["final", "paid"]})
    currency = fields.String(required=True)
    sales = fields.Integer(required=True, metadata={"description": "In minor units of the currency (fen)."})
    target = fields.Integer(required=True)
    attainment_percent = fields.String(allow_none=True, metadata={"description": "Cut to two decimals."})
    rebate = fields.Integer(required=True)
    penalties = fields.Integer(required=True)
    adjustments = fields.Integer(required=True)
    net_payable = fields.Integer(required=True)
    paid_at = fields.DateTime(allow_none=True)
    paid_reference = fields.String(required=True)


class StatementPage(Schema):
    items = fields.List(fields.Nested(StatementSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blp.route("/statements")
@blp.arguments(StatementQuery, location="query", as_kwargs=True)
@blp.response(200, StatementPage)
@public
def statements(period: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """The final (and paid) rebate statements of a period, by dealer: what the ERP pays. Needs statements:read."""
    caller_with(Scope.STATEMENTS_READ)
    after = _decode_cursor(cursor)
    found = db.session.execute(select(Period.id).where(Period.code == period)).scalar_one_or_none()
    if found is None:
        raise ApiProblem(404, "not-found", f"No period {period}.")
    rows = db.session.execute(
        select(RebateStatement, Dealer.code)
        .join(Dealer, Dealer.id == RebateStatement.dealer_id)
        .where(
            RebateStatement.period_id == found,
            RebateStatement.status.in_((StatementStatus.FINAL, StatementStatus.PAID)),
            RebateStatement.id > after,
        )
        .order_by(RebateStatement.id)
        .limit(limit + 1)
    ).all()
    page = rows[:limit]
    items = []
    for statement, dealer_code in page:
        shown = attainment_shown(statement.sales, statement.target)
        items.append(
            {
                "dealer_code": dealer_code,
                "period": period,
                "status": statement.status.value,
                "currency": statement.currency,
                "sales": statement.sales,
                "target": statement.target,
                "attainment_percent": f"{shown:.2f}" if shown is not None else None,
                "rebate": statement.rebate,
                "penalties": statement.penalties,
                "adjustments": statement.adjustments,
                "net_payable": statement.net_payable,
                "paid_at": statement.paid_at,
                "paid_reference": statement.paid_reference,
            }
        )
    next_cursor = encode_cursor(page[-1][0].id) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


# --- Claims to pay ----------------------------------------------------------------------------------------------------

CLAIM_SETS = {
    "to_pay": (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED),  # approved, waiting for the money
    "paid": (ClaimStatus.PAID,),
}


class ClaimQuery(PageQuery):
    state = fields.String(load_default="to_pay", validate=validate.OneOf(sorted(CLAIM_SETS)))
    updated_since = fields.AwareDateTime(load_default=None, metadata={"description": "With a time zone."})


class PayeeSchema(Schema):
    name = fields.String(required=True)
    bank = fields.String(required=True)
    account = fields.String(required=True)


class ClaimSchema(Schema):
    id = fields.Integer(required=True)
    dealer_code = fields.String(required=True)
    dealer_name = fields.String(required=True)
    period = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    currency = fields.String(required=True)
    amount_claimed = fields.Integer(required=True, metadata={"description": "In minor units of the currency."})
    amount_approved = fields.Integer(required=True)
    decided_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    payment_reference = fields.String(required=True)
    updated_at = fields.DateTime(required=True)
    payee = fields.Nested(PayeeSchema, required=True)


class ClaimPage(Schema):
    items = fields.List(fields.Nested(ClaimSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


@blp.route("/claims")
@blp.arguments(ClaimQuery, location="query", as_kwargs=True)
@blp.response(200, ClaimPage)
@public
def claims(state: str, updated_since: datetime | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Approved claims waiting for payment (or paid ones), with the dealer's payee details: what the ERP pays.
    `updated_since` fetches only what changed since the last pull. Needs claims:read."""
    caller_with(Scope.CLAIMS_READ)
    query = (
        select(Claim, Dealer, Period.code)
        .join(Dealer, Dealer.id == Claim.dealer_id)
        .join(Period, Period.id == Claim.period_id)
        .where(Claim.status.in_(CLAIM_SETS[state]), Claim.id > _decode_cursor(cursor))
    )
    if updated_since is not None:
        query = query.where(Claim.updated_at >= updated_since)
    rows = db.session.execute(query.order_by(Claim.id).limit(limit + 1)).all()
    page = rows[:limit]
    items = [
        {
            "id": claim.id,
            "dealer_code": dealer.code,
            "dealer_name": dealer.name,
            "period": period_code,
            "title": claim.title,
            "status": claim.status.value,
            "currency": dealer.currency,
            "amount_claimed": claim.amount_requested,
            "amount_approved": claim.amount_approved or 0,
            "decided_at": claim.decided_at,
            "paid_at": claim.paid_at,
            "payment_reference": claim.payment_reference,
            "updated_at": claim.updated_at,
            "payee": {"name": dealer.payee_name, "bank": dealer.payee_bank, "account": dealer.payee_account},
        }
        for claim, dealer, period_code in page
    ]
    return {"items": items, "next_cursor": encode_cursor(page[-1][0].id) if len(rows) > limit else None}


# --- The description --------------------------------------------------------------------------------------------------


@blp.route("/openapi.json")
@public
def openapi() -> Response:
    """The OpenAPI 3.1 description, generated from the code above."""
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
    register_error_door(PREFIX + "/", _http_problem)


csrf.exempt(blp)
limiter.limit(lambda: current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT), key_func=_rate_key)(blp)
