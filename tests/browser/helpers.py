"""Helpers of the browser journeys: a page in a language and a viewport, logging in, and the checks every page
passes (no sideways scrolling, no blocked resource, no axe violation). Fixtures live in conftest.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, expect

from portal.demo import DEMO_PASSWORD

AXE_SOURCE = (Path(__file__).parent / "axe-4.14.1.min.js").read_text()


def watch_csp(page: Page) -> list[str]:
    """Collect console messages that report a resource blocked by the Content-Security-Policy."""
    messages: list[str] = []
    page.on(
        "console", lambda message: messages.append(message.text) if "Content Security Policy" in message.text else None
    )
    return messages


def assert_page_is_sound(page: Page, viewport: dict[str, int], blocked: list[str]) -> None:
    """What every page must be: no wider than the screen, no axe violation, nothing blocked by the CSP."""
    page.wait_for_load_state("load")  # measure with the stylesheet applied
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    violations = axe_violations(page)
    assert not violations, describe(violations)
    assert not blocked, blocked


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core in the page (all rules, none switched off) and return its violations."""
    page.evaluate(AXE_SOURCE)
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return json.loads(result)


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{violation['id']}: {[node['target'] for node in violation['nodes']][:3]}" for violation in violations
    )


PHONE = {"width": 375, "height": 740}


DESKTOP = {"width": 1280, "height": 860}


LANGUAGES = {"en": ("en-GB", "Log in", "Email", "Password"), "zh": ("zh-CN", "登录", "电子邮箱", "密码")}


def new_page(browser: Browser, language: str, viewport: dict[str, int]) -> Page:
    context = browser.new_context(locale=LANGUAGES[language][0], viewport=viewport)
    return context.new_page()


def assert_page_sound_for(
    browser: Browser, base_url: str, language: str, viewport: dict[str, int], email: str | None, path: str
) -> None:
    """Log in (unless anonymous), open the page: 200, a visible heading, and sound (width, axe, CSP)."""
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    if email:
        log_in_page(page, base_url, email, language)
        page.wait_for_load_state("load")
    response = page.goto(base_url + path)
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


def submit_login(page: Page, base_url: str, email: str, language: str, password: str = DEMO_PASSWORD) -> None:
    """Fill in and send the login form, for a journey that expects the login to be refused."""
    _locale, log_in_text, email_label, password_label = LANGUAGES[language]
    page.goto(f"{base_url}/login")
    page.get_by_label(email_label, exact=True).fill(email)
    page.get_by_label(password_label, exact=True).fill(password)
    page.get_by_role("button", name=log_in_text, exact=True).click()


def log_in_page(page: Page, base_url: str, email: str, language: str, password: str = DEMO_PASSWORD) -> None:
    submit_login(page, base_url, email, language, password)
    # Wait for the portal (or the second-factor step) to load: a test reading the page straight after the click
    # would otherwise read the login form still on screen.
    page.wait_for_url(lambda url: urlsplit(url).path != "/login")


def open_menu(page: Page) -> None:
    """On a phone the menu (the language, logging out) folds behind one button; on a desktop it is always open."""
    button = page.locator("[data-menu-toggle]")
    if button.is_visible():
        button.click()
        expect(button).to_have_attribute("aria-expanded", "true")
