"""The menu and the phone's tab bar: each role is offered exactly the pages its routes admit, the page it is on marked
current, the same on every page although the menu is worked out once per role (portal.navigation)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.access import AccessRole, declared_access
from portal.navigation import HOME_ENDPOINTS, navigation_entries, register_navigation
from tests.factories import Channel
from tests.helpers import log_in

ROLES = {
    "dealer_owner": AccessRole.DEALER_OWNER,
    "dealer_staff": AccessRole.DEALER_STAFF,
    "manager": AccessRole.MANAGER,
    "senior_manager": AccessRole.SENIOR_MANAGER,
    "mediator": AccessRole.MEDIATOR,
    "admin": AccessRole.ADMIN,
    "inspector": AccessRole.INSPECTOR,
}


def _links(page: str, nav_class: str) -> list[tuple[str, bool]]:
    """The (href, marked current) of the links inside the page's <nav class=nav_class>."""
    found = re.search(rf'<nav class="{nav_class}"[^>]*>(.*?)</nav>', page, re.S)
    if found is None:
        return []
    return [
        (href, current == ' aria-current="page"')
        for href, current in re.findall(r'<a href="([^"]*)"( aria-current="page")?>', found.group(1))
    ]


def _offered(app: Flask, role: AccessRole, *, tabs: bool) -> list[str]:
    """What the role should be offered, worked out here from the entries and the routes' declarations."""
    with app.test_request_context("/"):
        urls = []
        for entry in navigation_entries():
            if tabs and not entry.tab:
                continue
            roles = declared_access(entry.endpoint)
            if roles is None or role in roles:
                urls.append(app.url_for(entry.endpoint))
        return urls


@pytest.mark.parametrize("persona", list(ROLES))
def test_each_role_is_offered_the_pages_its_routes_admit(client: FlaskClient, channel: Channel, persona: str) -> None:
    app = client.application
    role = ROLES[persona]
    log_in(client, channel.emails[persona])
    with app.test_request_context("/"):
        home = app.url_for(HOME_ENDPOINTS[role])
    menu, tabs = _offered(app, role, tabs=False), _offered(app, role, tabs=True)
    assert menu, f"{persona} is offered nothing"
    for url in [home, *(other for other in menu if other != home)][:3]:
        page = client.get(url)
        assert page.status_code == 200, url
        for nav_class, offered in (("mainnav", menu), ("tabbar", tabs)):
            links = _links(page.text, nav_class)
            assert [href for href, _current in links] == offered
            assert [href for href, current in links if current] == ([url] if url in offered else [])


def test_a_menu_entry_registered_later_shows_on_the_next_page(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    """The menus are kept per role; registering an entry (a plugin at start-up) makes the kept ones stale."""
    log_in(client, channel.emails["dealer_owner"])
    entry = next(entry for entry in navigation_entries() if entry.endpoint == "training.catalogue")
    assert "Courses for your people" not in client.get("/dealer/").text
    try:
        register_navigation(entry.endpoint, "Courses for your people", entry.position, tab=entry.tab)
        assert "Courses for your people" in client.get("/dealer/").text
    finally:
        register_navigation(entry.endpoint, entry.text, entry.position, tab=entry.tab)
    assert "Courses for your people" not in client.get("/dealer/").text
