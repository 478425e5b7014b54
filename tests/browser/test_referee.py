"""The referee's pages in Chromium, in English and Chinese, at 320 and 375 px and on a desktop, with axe: the
manager's suspicion queue and a suspicion's evidence, a refused decision summed up at the top; a senior manager
making one suspicion a violation and dismissing another; the admin's price lists, products and territories; a
dealer owner reading and acknowledging the prices."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp

NARROW = {"width": 320, "height": 640}
VIEWPORTS = [NARROW, PHONE, DESKTOP]
VIEWPORT_IDS = ["320", "375", "desktop"]
TEXT = {
    "en": {
        "dismiss": "Dismiss the suspicion",
        "record": "Record the violation",
        "outside": "Shipped outside the territory",
        "below": "Sold below the floor price",
        "read": "I have read this price list",
        "save": "Save",
    },
    "zh": {
        "dismiss": "排除疑点",
        "record": "记录违规",
        "outside": "发货到区域之外",
        "below": "低于最低限价销售",
        "read": "我已阅读此价格表",
        "save": "保存",
    },
}


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_manager_reads_the_queue_and_the_evidence(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", language)
    page.goto(f"{live_server}/referee/suspicions")
    assert_page_is_sound(page, viewport, blocked)
    row = page.locator("tr", has_text="D004").first
    expect(row).to_contain_text(words["outside"])
    expect(page.locator("tbody")).not_to_contain_text("D003")  # another manager's portfolio
    row.get_by_role("link", name=words["outside"]).click()
    expect(page.locator("h1")).to_contain_text("D004")
    expect(page.locator("table")).to_contain_text("广州市")  # the region shipped to, by its name
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words["dismiss"]).click()  # no reason: refused, summed up, nothing decided
    expect(page.locator(".error-summary").first).to_be_focused()
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_senior_manager_decides_suspicions(browser: Browser, live_server: str, language: str) -> None:
    """D003's suspicions: one made a violation (in English), one dismissed (in Chinese, on a phone)."""
    words = TEXT[language]
    viewport = DESKTOP if language == "en" else PHONE
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager2@demo.test", language)
    page.goto(f"{live_server}/referee/suspicions")
    page.locator("tr", has_text="D003").first.get_by_role("link", name=words["below"]).click()
    expect(page.locator("h1")).to_contain_text("D003")
    if language == "en":
        page.locator("#penalty").fill("2,000.00")
        page.locator("#description").fill("Below the agreed floor in Shenzhen.")
        page.locator("#change_reason").fill("Warned in writing last month.")
        page.get_by_role("button", name=words["record"]).click()
        expect(page.locator(".flash-success")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Below the agreed floor in Shenzhen.")
    else:
        page.locator("#reason").fill("已与经销商书面约定清仓。")
        page.get_by_role("button", name=words["dismiss"]).click()
        expect(page.locator(".flash-success")).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_admin_keeps_price_lists_products_and_territories(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    for path in ("/referee/price-lists", "/referee/products", "/referee/territories", "/referee/territories/EAST"):
        response = page.goto(live_server + path)
        assert response is not None and response.status == 200
        assert_page_is_sound(page, viewport, blocked)
    page.locator("#regions").fill("上海市\n江苏省, 330000")
    page.get_by_role("button", name=TEXT[language]["save"]).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("tr", has_text="EAST")).to_contain_text("江苏省")
    page.goto(f"{live_server}/referee/price-lists")
    page.locator("tbody a").last.click()  # the first version, published
    expect(page.locator("table")).to_contain_text("AC-1200")
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_dealer_owner_reads_the_prices(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/referee/prices")
    expect(page.locator("table").first).to_contain_text("AC-1200")
    assert_page_is_sound(page, viewport, blocked)
    button = page.get_by_role("button", name=TEXT[language]["read"])
    if button.count():  # the first run acknowledges; the receipt is shown from then on
        button.first.click()
        expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Wang Fang")
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()
