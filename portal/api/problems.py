"""Errors of the API as RFC 9457 problem details: a stable `type` per kind of error (a URN, never a page that could
move), a title, the detail, and for invalid input the fields with what is wrong with each."""

from __future__ import annotations

from typing import Any

from flask import Response, json

from portal.api.rules import Scope

PROBLEM_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    422: "invalid-input",
    429: "rate-limited",
}
TITLES = {
    "bad-request": "The request could not be read",
    "unauthenticated": "A valid bearer token is required",
    "forbidden": "This client may not do this",
    "insufficient-scope": "The client's token lacks a scope this needs",
    "not-found": "Nothing is here",
    "method-not-allowed": "This method is not allowed here",
    "conflict": "The change conflicts with the current state",
    "too-large": "The request is too large",
    "invalid-input": "Some input is invalid",
    "rate-limited": "Too many requests from this client",
    "server-error": "Something went wrong on the portal's side",
    "idempotency-key-missing": "A push needs an Idempotency-Key header",
    "idempotency-key-reused": "This Idempotency-Key was used with another request",
    "idempotency-in-progress": "A request with this Idempotency-Key is still running",
    "import-failed": "The import failed on the portal's side",
}


class ApiProblem(Exception):
    """Raised inside the API; answered as a problem document."""

    def __init__(self, status: int, slug: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or slug)
        self.status, self.slug, self.detail, self.extra = status, slug, detail, extra


def problem_type(slug: str) -> str:
    return f"urn:dealer-portal:problem:{slug}"


def problem_response(status: int, slug: str | None = None, detail: str = "", **extra: Any) -> Response:
    slug = slug or PROBLEM_TYPES.get(status, "server-error" if status >= 500 else "bad-request")
    document: dict[str, Any] = {"type": problem_type(slug), "title": TITLES[slug], "status": status}
    if detail:
        document["detail"] = detail
    document.update(extra)
    response = Response(json.dumps(document), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


FIELD_ERRORS = "See the errors of each field."


def invalid_field(field: str, message: str) -> ApiProblem:
    """Invalid input found by the API itself (past the schemas): a 422 naming the field, as the schemas' are."""
    return ApiProblem(422, "invalid-input", FIELD_ERRORS, errors=[{"field": field, "message": message}])


def missing_scope(scope: Scope) -> ApiProblem:
    return ApiProblem(403, "insufficient-scope", f"This needs the scope {scope.value}.", required_scope=scope.value)


def field_errors(messages: Any) -> list[dict[str, str]]:
    """webargs' nested messages ({"query": {"limit": ["..."]}}) as a flat list of {field, message}."""
    found: list[dict[str, str]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, list | tuple) and node and all(isinstance(item, str) for item in node):
            found.extend({"field": ".".join(path[1:] or path), "message": item} for item in node)
        elif isinstance(node, list | tuple):
            for index, item in enumerate(node):
                walk(item, [*path, str(index)])
        else:
            found.append({"field": ".".join(path[1:] or path), "message": str(node)})

    walk(messages, [])
    return found
