"""The phone layout: a compact header whose menu opens from one button, a dealer's four main places in a tab bar at
the bottom, and no page of any role wider than a 320-pixel screen. The last is measured on every page each role
reaches by following the links of its own pages, not on a list written by hand."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, Error, expect

from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, open_menu, watch_csp

NARROW = {"width": 320, "height": 640}
ROLES = [
    "dealer@demo.test",
    "staff@demo.test",
    "manager@demo.test",
    "manager2@demo.test",
    "mediator@demo.test",
    "admin@demo.test",
]
# Files and downloads are not pages; everything else a role can reach by a link is measured.
NOT_PAGES = ("/download", "/preview", "/export", ".csv", ".pdf", ".xlsx", "/certificate", "/static/", "/logout")
PAGES_PER_ROLE = 80  # more than any role's distinct pages in the demo, so the crawl ends by running out of links


def _reachable_paths(page_links: list[str], base: str) -> list[str]:
    paths = []
    for link in page_links:
        target = urlsplit(urljoin(base, link))
        if target.netloc != urlsplit(base).netloc or any(part in target.path for part in NOT_PAGES):
            continue
        paths.append(target.path + (f"?{target.query}" if target.query else ""))
    return paths


def _shape(path: str) -> str:
    """Pages of one kind once each: /claims/12 and /claims/13 are the same layout, so are two filters of a list."""
    parts = ["#" if part.isdigit() else part for part in urlsplit(path).path.split("/")]
    return "/".join(parts)


@pytest.mark.parametrize("email", ROLES)
def test_no_page_of_any_role_scrolls_sideways_at_320_pixels(browser: Browser, live_server: str, email: str) -> None:
    page = new_page(browser, "zh", NARROW)  # Chinese: the longer words in buttons and the narrower glyph runs
    log_in_page(page, live_server, email, "zh")
    page.wait_for_load_state("load")
    start = urlsplit(page.url).path
    waiting, seen, measured, too_wide = [start], {_shape(start)}, 0, []
    while waiting and measured < PAGES_PER_ROLE:
        path = waiting.pop(0)
        try:
            response = page.goto(live_server + path)
        except Error:  # a download that escaped the filter: not a page
            continue
        if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        page.wait_for_load_state("load")
        measured += 1
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW["width"]:
            too_wide.append(f"{path}: {width} px")
        links = page.eval_on_selector_all(
            "main a[href], nav a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        for found in _reachable_paths(links, page.url):
            if _shape(found) not in seen:
                seen.add(_shape(found))
                waiting.append(found)
    page.context.close()
    assert measured >= 4, f"{email} reached only {measured} pages"
    assert not too_wide, too_wide


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_phone_header_is_one_line_and_the_dealer_has_a_tab_bar(
    browser: Browser, live_server: str, language: str
) -> None:
    page = new_page(browser, language, PHONE)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.wait_for_load_state("load")
    header = page.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] <= 72, header  # was 290 of 812 px: eight links in three rows
    expect(page.locator(".mainnav")).to_be_hidden()
    tabs = page.locator("nav.tabbar a")
    expect(tabs).to_have_count(4)
    expect(page.locator("nav.tabbar a[aria-current=page]")).to_have_count(1)  # the home is one of the four
    assert_page_is_sound(page, PHONE, blocked)
    open_menu(page)
    expect(page.locator(".mainnav")).to_be_visible()
    expect(page.locator("form.logout-form button")).to_be_visible()
    assert_page_is_sound(page, PHONE, blocked)  # the open menu too
    tabs.nth(1).click()
    page.wait_for_load_state("load")
    expect(page.locator("nav.tabbar a[aria-current=page]")).to_have_count(1)
    page.context.close()

    desktop = new_page(browser, language, DESKTOP)
    log_in_page(desktop, live_server, "dealer@demo.test", language)
    desktop.wait_for_load_state("load")
    expect(desktop.locator(".mainnav")).to_be_visible()
    expect(desktop.locator("[data-menu-toggle]")).to_be_hidden()
    expect(desktop.locator("nav.tabbar")).to_be_hidden()
    desktop.context.close()

    manager = new_page(browser, language, PHONE)
    log_in_page(manager, live_server, "manager@demo.test", language)
    manager.wait_for_load_state("load")
    expect(manager.locator("nav.tabbar")).to_have_count(0)  # the tab bar is a dealer's
    manager.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_claims_are_cards_on_a_phone_and_a_table_on_a_desktop(
    browser: Browser, live_server: str, language: str
) -> None:
    """A claim on a phone: its title and status on one line, the amount below in large digits, the other facts
    only when they have a value; the table's header is there for screen readers. On a desktop, a table."""
    page = new_page(browser, language, PHONE)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/claims/")
    page.wait_for_load_state("load")
    card = page.locator("table.card-list tbody tr").first
    title = card.locator(".card-title").bounding_box()
    status = card.locator(".card-status").bounding_box()
    amount = card.locator(".card-amount").bounding_box()
    assert title is not None and status is not None and amount is not None
    assert abs(title["y"] - status["y"]) < 12 and status["x"] > title["x"]  # side by side, on top
    assert amount["y"] >= title["y"] + title["height"] - 1  # below them
    assert page.evaluate("getComputedStyle(document.querySelector('.card-amount'), '::before').content") == "none"
    for hidden in page.locator("table.card-list td.is-empty").all():
        expect(hidden).to_be_hidden()
    assert_page_is_sound(page, PHONE, blocked)
    page.context.close()

    desktop = new_page(browser, language, DESKTOP)
    log_in_page(desktop, live_server, "dealer@demo.test", language)
    desktop.goto(f"{live_server}/claims/")
    expect(desktop.locator("table.card-list thead")).to_be_visible()
    desktop.context.close()
