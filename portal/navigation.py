"""Navigation per role: the menu, derived from the routes' own access declarations so it never offers a page that
refuses, and each role's landing page after login."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import Flask, request, url_for
from flask_login import current_user

from portal.access import AccessRole, declared_access
from portal.types import label


@dataclass(frozen=True)
class NavigationEntry:
    endpoint: str
    text: object  # lazy: each reader sees their own language
    position: int  # smaller first; areas leave gaps so a later one can slot in
    tab: bool = False  # one of a dealer's main places: also in the tab bar at the bottom of a phone's screen


_ENTRIES: dict[str, NavigationEntry] = {}


def register_navigation(endpoint: str, text: object, position: int, *, tab: bool = False) -> None:
    """An area offers a page in the menu; who sees it follows from the route's own access declaration. A `tab` is
    one of the few places a dealer goes daily, kept in reach of the thumb on a phone."""
    _ENTRIES[endpoint] = NavigationEntry(endpoint, text, position, tab)


def navigation_entries() -> list[NavigationEntry]:
    return sorted(_ENTRIES.values(), key=lambda entry: (entry.position, entry.endpoint))


def navigation_for_current_user(*, tabs: bool = False) -> list[tuple[str, object, bool]]:
    """The menu of the signed-in user, or with `tabs` only its tab bar's places: (endpoint, text, is current)."""
    if not current_user.is_authenticated:
        return []
    role = current_user.access_role
    items = []
    for entry in navigation_entries():
        if tabs and not entry.tab:
            continue
        roles = declared_access(entry.endpoint)
        if roles is None or role in roles:
            items.append((entry.endpoint, entry.text, request.endpoint == entry.endpoint))
    return items


def init_app(app: Flask) -> None:
    app.add_template_filter(label, "label")

    @app.context_processor
    def _navigation() -> dict[str, object]:
        return {"navigation": navigation_for_current_user, "is_home": is_home}


HOME_ENDPOINTS = {
    AccessRole.DEALER_OWNER: "dealers.dealer_home",
    AccessRole.DEALER_STAFF: "dealers.dealer_home",
    AccessRole.MANAGER: "dealers.portfolio",
    AccessRole.SENIOR_MANAGER: "dealers.portfolio",
    AccessRole.MEDIATOR: "disputes.mediation_home",
    AccessRole.ADMIN: "core.admin_home",
    AccessRole.INSPECTOR: "referee.field_check",
}


class HasAccessRole(Protocol):
    @property
    def access_role(self) -> AccessRole: ...


def home_url(user: HasAccessRole) -> str:
    return url_for(HOME_ENDPOINTS[user.access_role])


def is_home() -> bool:
    """Whether this page is the signed-in user's start page (where the "today" inbox is shown)."""
    return bool(current_user.is_authenticated and request.endpoint == HOME_ENDPOINTS[current_user.access_role])
