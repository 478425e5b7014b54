"""Navigation per role: the menu, derived from the routes' own access declarations so it never offers a page that
refuses, and each role's landing page after login."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app, request, url_for
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
_MENUS_KEY = "portal_menus"  # an application's menus by role and kind, kept in its extensions (see _menu_of)


def register_navigation(endpoint: str, text: object, position: int, *, tab: bool = False) -> None:
    """An area offers a page in the menu; who sees it follows from the route's own access declaration. A `tab` is
    one of the few places a dealer goes daily, kept in reach of the thumb on a phone."""
    _ENTRIES[endpoint] = NavigationEntry(endpoint, text, position, tab)
    global _REGISTRATIONS  # a new entry makes every kept menu stale
    _REGISTRATIONS += 1


_REGISTRATIONS = 0


def navigation_entries() -> list[NavigationEntry]:
    return sorted(_ENTRIES.values(), key=lambda entry: (entry.position, entry.endpoint))


def navigation_for_current_user(*, tabs: bool = False) -> list[tuple[str, object, bool]]:
    """The menu of the signed-in user, or with `tabs` only its tab bar's places: (endpoint, text, is current)."""
    if not current_user.is_authenticated:
        return []
    current = request.endpoint
    return [(endpoint, text, endpoint == current) for endpoint, text in _menu_of(current_user.access_role, tabs)]


def _menu_of(role: AccessRole, tabs: bool) -> tuple[tuple[str, object], ...]:
    """A role's menu (endpoint, text), worked out once per application: the entries are registered and the routes
    declare their roles at start-up, and every page shows the menu twice (the bar and the phone's tabs)."""
    menus: dict[tuple[int, AccessRole, bool], tuple[tuple[str, object], ...]]
    menus = current_app.extensions.setdefault(_MENUS_KEY, {})
    key = (_REGISTRATIONS, role, tabs)
    menu = menus.get(key)
    if menu is None:
        menu = tuple(
            (entry.endpoint, entry.text)
            for entry in navigation_entries()
            if (entry.tab or not tabs) and _admits(declared_access(entry.endpoint), role)
        )
        menus[key] = menu
    return menu


def _admits(roles: frozenset[AccessRole] | None, role: AccessRole) -> bool:
    return roles is None or role in roles


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
