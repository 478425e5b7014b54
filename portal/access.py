"""Who may use which route. Every view declares its roles; anything undeclared is refused (deny by default).

Route-level checks live here; object-level scope (which dealers a user may see) lives in each area's services,
which answer 404 for objects outside the user's scope.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from flask import current_app, request
from flask_login import current_user

from portal.extensions import login_manager
from portal.service_errors import Forbidden

View = TypeVar("View", bound=Callable[..., Any])

_PUBLIC_ENDPOINTS = frozenset({"static"})


class AccessRole(enum.StrEnum):
    DEALER_OWNER = "dealer_owner"
    DEALER_STAFF = "dealer_staff"
    MANAGER = "manager"
    SENIOR_MANAGER = "senior_manager"
    MEDIATOR = "mediator"
    ADMIN = "admin"
    INSPECTOR = "inspector"


class Viewer(Protocol):
    """Whoever a visibility rule is asked for (which dealers, claims, violations someone sees): a role and two ids.
    A signed-in user is one. The "today" inbox asks with one whose ids are SQL parameters, so that one statement,
    built once, counts for every reader of a role (see portal/inbox.py)."""

    @property
    def access_role(self) -> AccessRole: ...

    @property
    def id(self) -> Any: ...  # the user's id, or a parameter standing for it

    @property
    def dealer_id(self) -> Any: ...  # the dealer user's dealer (None for the manufacturer's people), or a parameter


DEALER_USERS = frozenset({AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF})
CHANNEL_MANAGERS = frozenset({AccessRole.MANAGER, AccessRole.SENIOR_MANAGER})
EVERYONE = frozenset(AccessRole)
CHANNEL_STAFF = EVERYONE - DEALER_USERS


def allow(*roles: AccessRole | frozenset[AccessRole]) -> Callable[[View], View]:
    """Declare the roles that may call a view; the before-request hook enforces it."""
    allowed: set[AccessRole] = set()
    for role in roles:
        allowed.update(role if isinstance(role, frozenset) else {role})

    def decorate(view: View) -> View:
        view.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return decorate


def public(view: View) -> View:
    """Declare a view open to anonymous visitors (login, health check)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def declared_access(endpoint: str) -> frozenset[AccessRole] | None:
    """The roles a route admits: None for public routes, raises LookupError for undeclared ones."""
    if endpoint in _PUBLIC_ENDPOINTS:
        return None
    view = current_app.view_functions[endpoint]
    if getattr(view, "is_public", False):
        return None
    roles = getattr(view, "allowed_roles", None)
    if roles is None:
        raise LookupError(f"route {endpoint!r} does not declare who may use it")
    return roles


def enforce_route_access() -> Any:
    """Before every request: anonymous users go to the login page, users of other roles get 403."""
    if request.endpoint is None:  # unknown URL or method; routing answers 404/405
        return None
    try:
        roles = declared_access(request.endpoint)
    except LookupError:
        current_app.logger.error("undeclared access for endpoint %s", request.endpoint)
        raise Forbidden() from None
    if roles is None:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.access_role not in roles:
        raise Forbidden() from None
    return None


def require_role(user: Any, *roles: AccessRole | frozenset[AccessRole]) -> None:
    """Services repeat the route's check, so a rule holds whichever view or command calls them."""
    allowed: set[AccessRole] = set()
    for role in roles:
        allowed.update(role if isinstance(role, frozenset) else {role})
    if user is None or not getattr(user, "is_authenticated", False) or user.access_role not in allowed:
        raise Forbidden() from None
