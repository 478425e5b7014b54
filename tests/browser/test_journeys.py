"""Each demo role logs in through the real login page and reaches its home, in English and Chinese, on a phone
and on a desktop, with no axe violation and no CSP violation; plus the account journeys that use htmx."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from portal.demo import DEMO_PASSWORD
from tests.browser.helpers import (
    DESKTOP,
    LANGUAGES,
    PHONE,
    assert_page_is_sound,
    axe_violations,
    describe,
    log_in_page,
    new_page,
    open_menu,
    watch_csp,
)

HOMES = [
    ("dealer@demo.test", "/dealer/", "Eastern Star Trading", "Eastern Star Trading"),
    ("staff@demo.test", "/dealer/", "Eastern Star Trading", "Eastern Star Trading"),
    ("dealer2@demo.test", "/dealer/", "Northern Light Supply", "Northern Light Supply"),
    ("manager@demo.test", "/console/", "My portfolio", "我负责的经销商"),
    ("manager2@demo.test", "/console/", "All dealers", "全部经销商"),
    ("mediator@demo.test", "/mediation/", "Mediation", "调解"),
    ("admin@demo.test", "/admin/", "Administration", "系统管理"),
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_login_page_is_accessible(browser: Browser, live_server: str, language: str, viewport: dict[str, int]) -> None:
    page = new_page(browser, language, viewport)
    page.goto(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", "en" if language == "en" else "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text(LANGUAGES[language][1])
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("email", "home", "english_heading", "chinese_heading"), HOMES, ids=[h[0] for h in HOMES])
def test_each_role_logs_in_and_reaches_its_home(
    browser: Browser,
    live_server: str,
    email: str,
    home: str,
    english_heading: str,
    chinese_heading: str,
    language: str,
    viewport: dict[str, int],
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, email, language)
    expect(page).to_have_url(f"{live_server}{home}")
    heading = english_heading if language == "en" else chinese_heading
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


def test_language_switch_is_kept_on_the_account(browser: Browser, live_server: str) -> None:
    page = new_page(browser, "en", DESKTOP)
    log_in_page(page, live_server, "dealer2@demo.test", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Northern Light Supply")
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", level=2, name="本期")).to_be_visible()
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    # a fresh English browser: Chinese once this user logs in
    other = new_page(browser, "en", PHONE)
    log_in_page(other, live_server, "dealer2@demo.test", "en")
    expect(other.get_by_role("heading", level=2, name="本期")).to_be_visible()
    open_menu(other)  # a phone: the language is in the menu
    other.get_by_role("button", name="English").click()
    expect(other.get_by_role("heading", level=2, name="Current period")).to_be_visible()
    page.context.close()
    other.context.close()


def test_password_form_shows_errors_in_place_then_changes_the_password(browser: Browser, live_server: str) -> None:
    page = new_page(browser, "en", PHONE)
    log_in_page(page, live_server, "staff@demo.test", "en")
    open_menu(page)
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    page.get_by_label("Current password", exact=True).fill("not my password")
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("Repeat the new password", exact=True).fill("other")
    with page.expect_response(lambda response: response.url.endswith("/account/password")) as answer:
        page.get_by_role("button", name="Change password").click()
    assert answer.value.status == 422
    assert answer.value.request.headers.get("hx-request") == "true"
    expect(page.locator(".field-error").get_by_text("Use at least 12 characters.")).to_be_visible()
    expect(page.locator(".field-error").get_by_text("The two new passwords do not match.")).to_be_visible()
    expect(page.locator(".error-summary")).to_be_focused()  # the summary of the swapped-in form takes the focus
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")  # the fragment, not a new page
    violations = axe_violations(page)
    assert not violations, describe(violations)

    new_password = "staff changed this password"
    page.get_by_label("Current password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Repeat the new password", exact=True).fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()

    # put the demo password back so other journeys can log in
    page.get_by_label("Current password", exact=True).fill(new_password)
    page.get_by_label("New password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_label("Repeat the new password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()
    page.context.close()


def test_an_expired_session_sends_htmx_to_the_login_page(browser: Browser, live_server: str) -> None:
    page = new_page(browser, "en", DESKTOP)
    log_in_page(page, live_server, "mediator@demo.test", "en")
    page.goto(f"{live_server}/account")
    page.context.clear_cookies()
    page.get_by_label("Current password", exact=True).fill("anything at all")
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/login\?next=/account/password$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.context.close()


def test_the_login_form_keeps_the_email_and_says_what_is_wrong(browser: Browser, live_server: str) -> None:
    page = new_page(browser, "zh", PHONE)
    page.goto(f"{live_server}/login")
    page.get_by_label("电子邮箱", exact=True).fill("dealer@demo.test")
    page.get_by_label("密码", exact=True).fill("wrong password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("电子邮箱或密码不正确。")
    expect(page.get_by_label("电子邮箱", exact=True)).to_have_value("dealer@demo.test")
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.context.close()
