"""Business plans in Chromium, in English and Chinese, at 320 and 375 px and on a desktop, with axe: a dealer
owner reads the plan (goals measured, an overdue action), accepts it and reads the shared visit; a manager logs a
visit (a refused form summed up at the top) and reads the plan's versions."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp

NARROW = {"width": 320, "height": 640}
VIEWPORTS = [NARROW, PHONE, DESKTOP]
VIEWPORT_IDS = ["320", "375", "desktop"]
TEXT = {
    "en": {
        "heading": "Business plan D001",
        "accept": "Accept this version",
        "overdue": "Overdue",
        "keep": "Keep the visit",
    },
    "zh": {"heading": "业务计划 D001", "accept": "确认此版本", "overdue": "已逾期", "keep": "保存拜访记录"},
}


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_dealer_owner_reads_and_accepts_the_plan(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/plans/")
    assert_page_is_sound(page, viewport, blocked)
    page.locator("table a").first.click()
    expect(page.locator("h1")).to_contain_text(words["heading"])
    expect(page.locator("main")).to_contain_text(words["overdue"])
    expect(page.locator("progress").first).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    button = page.get_by_role("button", name=words["accept"])
    if button.count():  # the first run of the package accepts; later ones see the plan agreed
        button.click()
        expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("[data-plan-status]")).to_have_class("badge badge-good")
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/plans/visits/")
    expect(page.locator("main")).to_contain_text("new posters")
    expect(page.locator("main")).not_to_contain_text("without telling")
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_manager_logs_a_visit_and_reads_the_versions(browser: Browser, live_server: str, language: str) -> None:
    words = TEXT[language]
    viewport = DESKTOP if language == "en" else PHONE
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", language)
    page.goto(f"{live_server}/plans/visits/new")
    assert_page_is_sound(page, viewport, blocked)
    page.locator("#dealer_code").fill("")
    page.get_by_role("button", name=words["keep"]).click()  # no dealer: refused, summed up
    expect(page.locator(".error-summary").first).to_be_focused()
    assert_page_is_sound(page, viewport, blocked)
    page.locator("#dealer_code").fill("d001")
    page.locator("#notes").fill("店面陈列已更新 / the display is refitted")
    page.get_by_role("button", name=words["keep"]).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("the display is refitted")
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/plans/")
    assert_page_is_sound(page, viewport, blocked)
    page.locator("table a").first.click()
    assert_page_is_sound(page, viewport, blocked)
    page.locator("a[href$='/versions']").click()
    expect(page.locator("h2").first).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()
