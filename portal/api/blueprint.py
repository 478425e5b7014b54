"""The API's blueprint and what every operation shares: bearer tokens of integration clients only (a session cookie
counts for nothing here, and no CSRF token is asked: nothing a browser page holds opens this door), JSON in and
out, errors as problem details, every list paged by an opaque cursor, reads with an ETag.

The operations live in `reads`, `pushes` and `feed`; `views` registers them. They stay thin as the pages' views
do: check the scope, call one query or service, answer."""

from __future__ import annotations

import base64
import binascii
import http
from typing import Any

from flask import Response, g, request
from flask_smorest import Api, Blueprint
from marshmallow import INCLUDE, Schema, fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute
from werkzeug.exceptions import HTTPException

from portal.api.clients import Caller, authenticate
from portal.api.problems import FIELD_ERRORS, ApiProblem, field_errors, missing_scope, problem_response
from portal.api.rules import Scope, token_hash
from portal.extensions import db
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound

PREFIX = "/api/v1"
LARGEST_ID = 2**31 - 1  # ids are 32-bit integers (PostgreSQL's integer): a larger one is no id
DEFAULT_RATE_LIMIT = "600 per minute"  # per token: a nightly batch is a few calls, a runaway loop is stopped


class ProblemSchema(Schema):
    """An RFC 9457 problem document as the API answers its errors."""

    class Meta:
        unknown = INCLUDE  # a problem may carry members of its own (`required_scope`)

    type = fields.String(required=True, metadata={"description": "urn:dealer-portal:problem:<kind>, stable."})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.List(fields.Dict(), metadata={"description": "Invalid input: [{field, message}, ...]."})
    required_scope = fields.String()


class PortalApi(Api):
    """flask-smorest's Api, minus its app-wide error handlers: the pages keep their own HTML error pages; the API's
    blueprint answers its errors as problem details itself, and the description says so (every error response is
    `application/problem+json` with the problem's schema)."""

    def _register_error_handlers(self) -> None:
        return None

    def _register_responses(self) -> None:
        problem = {"application/problem+json": {"schema": ProblemSchema}}
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = problem
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR", {"description": "A problem document.", "content": problem}, lazy=True
        )


blp = Blueprint("api", __name__, url_prefix=PREFIX, description="The portal's integration API, version 1.")


# --- Authentication, scopes, rate limit, errors, ETags ---------------------------------------------------------------


def _bearer() -> str | None:
    kind, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


def rate_key() -> str:
    """A client's token (hashed) is its bucket; calls without one share the caller's address."""
    token = _bearer()
    return f"api-token:{token_hash(token)[:32]}" if token else f"api-anonymous:{request.remote_addr}"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _refuse_nul() -> Response | None:
    """No text the portal stores may hold a NUL character (PostgreSQL refuses it): refused here, for every field
    of the query and the body at once, as the pages' forms refuse it."""
    if _holds_nul(request.args.to_dict(flat=False)) or _holds_nul(request.get_json(silent=True)):
        return problem_response(
            422,
            detail="Text may not contain the NUL character.",
            errors=[{"field": "", "message": "Text may not contain the NUL character."}],
        )
    return None


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
    return _refuse_nul()


def caller_with(scope: Scope) -> Caller:
    caller: Caller = g.api_caller
    if scope not in caller.scopes:
        raise missing_scope(scope)
    return caller


@blp.errorhandler(ApiProblem)
def _problem(error: ApiProblem) -> Response:
    db.session.rollback()
    return problem_response(error.status, error.slug, error.detail, **error.extra)


@blp.errorhandler(InvalidInput)
def _invalid_input(error: InvalidInput) -> Response:
    db.session.rollback()
    return problem_response(422, detail=FIELD_ERRORS, errors=[{"field": error.field, "message": str(error.message)}])


@blp.errorhandler(IllegalTransition)
def _illegal_transition(error: IllegalTransition) -> Response:
    db.session.rollback()
    return problem_response(409, detail=str(error.message))


@blp.errorhandler(NotFound)
def _not_found(_error: NotFound) -> Response:
    db.session.rollback()
    return problem_response(404)


@blp.errorhandler(Forbidden)
def _forbidden(_error: Forbidden) -> Response:
    db.session.rollback()
    return problem_response(403)


@blp.errorhandler(HTTPException)
def http_problem(error: HTTPException) -> Response:
    db.session.rollback()
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status == 422 and "messages" in data:
        return problem_response(422, detail=FIELD_ERRORS, errors=field_errors(data["messages"]))
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


def decode_cursor(cursor: str | None) -> int:
    """The key after which a page starts, from the opaque cursor the last page gave; anything else is refused."""
    if not cursor:
        return 0
    try:
        after = int(base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii"))
    except (ValueError, UnicodeError, binascii.Error):
        raise ApiProblem(400, "bad-request", "The cursor is not one this API gave.") from None
    if not 0 <= after <= LARGEST_ID:
        raise ApiProblem(400, "bad-request", "The cursor is not one this API gave.")
    return after


def encode_cursor(last_key: int) -> str:
    return base64.urlsafe_b64encode(str(last_key).encode("ascii")).decode("ascii").rstrip("=")


def page_of(
    query: Select[*tuple[Any, ...]], key: InstrumentedAttribute[int], cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page of `query` in the order of `key` (an increasing id), and the cursor of the next page (None on the
    last). Keyset paging: a page costs the same at the millionth row as at the first, and rows added meanwhile are
    neither skipped nor repeated."""
    rows = db.session.execute(
        query.add_columns(key.label("page_key")).where(key > decode_cursor(cursor)).order_by(key).limit(limit + 1)
    ).all()
    page = list(rows[:limit])
    return page, encode_cursor(page[-1].page_key) if len(rows) > limit else None


def page_schema(item: type[Schema]) -> type[Schema]:
    """The schema of a page of `item`s: the items and the next page's cursor."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        },
        name=item.__name__.removesuffix("Schema") + "Page",
    )


class PageQuery(Schema):
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
