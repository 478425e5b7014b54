"""A channel person turns on two-factor sign-in, keeps the recovery codes, logs in with one, and an administrator
resets it: in English and Chinese, on a phone and on a desktop, every page checked by axe and for the CSP."""

from __future__ import annotations

import re

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portal.accounts.models import User, UserRole
from portal.demo import DEMO_PASSWORD
from portal.extensions import db
from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, open_menu, watch_csp
from tests.factories import make_user

TEXT = {
    "en": {
        "title": "Two-factor sign-in",
        "codes": "Your recovery codes",
        "code_step": "Enter your code",
        "wrong": "That code is not right",
        "on": "On",
        "reset": "is reset",
    },
    "zh": {
        "title": "两步验证",
        "codes": "您的恢复码",
        "code_step": "输入验证码",
        "wrong": "验证码不正确",
        "on": "已开启",
        "reset": "的两步验证已重置",
    },
}


def _sound(page: Page, viewport: dict[str, int], blocked: list[str], heading: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_page_is_sound(page, viewport, blocked)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_turn_on_log_in_with_a_recovery_code_and_be_reset(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    email = f"mediator-{language}-{viewport['width']}@demo.test"
    with live_app.app_context():
        make_user(UserRole.MEDIATOR, email=email, name=f"Careful Mediator {language}", password=DEMO_PASSWORD)
        db.session.commit()
    text = TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, email, language)
    expect(page).to_have_url(re.compile(r"/mediation/$"))

    page.goto(f"{live_server}/account/two-factor")
    _sound(page, viewport, blocked, text["title"])
    page.locator("#setup-password").fill(DEMO_PASSWORD)  # a logged-in browser alone sets up nothing
    page.locator("form[action$='/account/two-factor/setup'] button").click()
    expect(page.locator("img.qr-code")).to_be_visible()
    _sound(page, viewport, blocked, text["title"])
    secret = page.locator("code.secret-key").inner_text().replace(" ", "")
    page.locator("#code").fill("000000")
    page.locator("#confirm-password").fill(DEMO_PASSWORD)
    page.locator("form[action$='/account/two-factor/confirm'] button").click()
    expect(page.locator("#code-error")).to_be_visible()  # said next to the field, and the setup still waits
    expect(page.locator("code.secret-key")).to_have_count(0)  # the key was shown once
    _sound(page, viewport, blocked, text["title"])
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("#confirm-password").fill(DEMO_PASSWORD)
    page.locator("form[action$='/account/two-factor/confirm'] button").click()
    _sound(page, viewport, blocked, text["codes"])
    codes = page.locator("ol.recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.locator("main a.button-primary").click()
    expect(page.locator(".badge-good")).to_have_text(text["on"])
    _sound(page, viewport, blocked, text["title"])

    open_menu(page)
    page.locator("form.logout-form button").click()
    log_in_page(page, live_server, email, language)
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))
    _sound(page, viewport, blocked, text["code_step"])
    page.locator("#code").fill("123456")
    page.locator("main form button").click()
    expect(page.locator("#code-error")).to_contain_text(text["wrong"])
    _sound(page, viewport, blocked, text["code_step"])
    page.locator("#code").fill(codes[0])
    page.locator("main form button").click()
    expect(page).to_have_url(re.compile(r"/mediation/$"))
    expect(page.locator(".flash-warning")).to_be_visible()  # how many recovery codes are left
    page.context.close()

    admin = new_page(browser, language, viewport)
    admin_blocked = watch_csp(admin)
    log_in_page(admin, live_server, "admin@demo.test", language)
    expect(admin).to_have_url(re.compile(r"/admin/$"))
    with live_app.app_context():
        user_id = db.session.execute(select(User.id).where(User.email == email)).scalar_one()
    admin.goto(f"{live_server}/admin/users/{user_id}/edit")
    assert_page_is_sound(admin, viewport, admin_blocked)
    admin.locator("#reset-password").fill(DEMO_PASSWORD)  # the administrator proves it is them
    admin.locator(f"form[action$='/admin/users/{user_id}/two-factor/reset'] button").click()
    expect(admin.locator(".flash-success")).to_contain_text(text["reset"])
    assert_page_is_sound(admin, viewport, admin_blocked)
    admin.context.close()
