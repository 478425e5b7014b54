"""Sales campaigns in Chromium, in English and Chinese, at 320 and 375 px and on a desktop, with axe: a dealer
owner following a running campaign on the home page and the settled ones with their rewards; the admin drafting a
campaign (a refused form summed up at the top) and launching it; a senior manager confirming a settlement the admin
asked for; a manager reading the results of their dealers."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp

NARROW = {"width": 320, "height": 640}
VIEWPORTS = [NARROW, PHONE, DESKTOP]
VIEWPORT_IDS = ["320", "375", "desktop"]
TEXT = {
    "en": {
        "running": "AC-1800 autumn push",
        "settled": "Compressor week",
        "sprint": "Air handler sprint",
        "next": "more unit",
        "save": "Save the draft",
        "launch": "Launch",
        "confirm": "Confirm the settlement and book the rewards",
        "booked": "Results as booked",
    },
    "zh": {
        "running": "AC-1800 秋季冲量",
        "settled": "压缩机周",
        "sprint": "空调冲刺",
        "next": "台",
        "save": "保存草稿",
        "launch": "发布",
        "confirm": "确认结算并记入账户",
        "booked": "结算结果",
    },
}
_names = itertools.count(1)
SHARED = {"en": "the budget was shared", "zh": "预算按比例分配"}


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_dealer_owner_follows_the_campaigns(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/dealer/")
    card = page.locator(".campaign-card", has_text=words["running"])
    expect(card).to_be_visible()
    expect(card.locator("strong")).to_contain_text(words["next"])  # what the next reward needs
    expect(page.locator(".today")).to_contain_text(words["running"])  # it ends within the week: on the inbox
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/campaigns/mine")
    expect(page.locator("table")).to_contain_text(words["settled"])
    expect(page.locator("main")).not_to_contain_text("Gold dealers")  # a draft is no dealer's business
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_admin_drafts_and_launches_a_campaign(browser: Browser, live_server: str, language: str) -> None:
    """In English on a desktop, in Chinese on a phone: the form refused once (no budget), then saved and launched."""
    words = TEXT[language]
    viewport = DESKTOP if language == "en" else PHONE
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    page.goto(f"{live_server}/campaigns/")
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/campaigns/new")
    assert_page_is_sound(page, viewport, blocked)
    name = f"Fan fortnight {language} {next(_names)}"
    page.locator("#name_en").fill(name)
    page.locator("#name_zh").fill("风扇双周")
    page.locator("#audience_kind").select_option("dealers")
    page.locator("#audience_codes").fill("d001，D002")
    page.locator("#starts_on").fill("2099-01-01")
    page.locator("#ends_on").fill("2099-01-14")
    page.locator("#skus").fill("AC-900\nAC-1200")
    page.locator("#rate").fill("30")
    page.get_by_role("button", name=words["save"]).click()  # no budget: refused, summed up, nothing saved
    expect(page.locator(".error-summary").first).to_be_focused()
    assert_page_is_sound(page, viewport, blocked)
    page.locator("#budget").fill("9,000.00")
    page.get_by_role("button", name=words["save"]).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("风扇双周" if language == "zh" else name)
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words["launch"]).click()
    expect(page.locator(".flash-success")).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


def test_a_senior_manager_confirms_the_settlement_the_admin_asked_for(browser: Browser, live_server: str) -> None:
    words = TEXT["zh"]
    page = new_page(browser, "zh", PHONE)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager2@demo.test", "zh")
    page.goto(f"{live_server}/campaigns/")
    page.get_by_role("link", name=words["sprint"]).click()
    assert_page_is_sound(page, PHONE, blocked)
    page.get_by_role("button", name=words["confirm"]).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text(words["booked"])
    assert_page_is_sound(page, PHONE, blocked)
    page.context.close()
    # The sprint's budget was smaller than what its terms earned: D001's owner sees the booked reward beside what
    # the terms earned, in Chinese at 320 px (the note once stretched the money column to 449 px) and on a desktop.
    for language, viewport in (("zh", NARROW), ("en", DESKTOP)):
        page = new_page(browser, language, viewport)
        blocked = watch_csp(page)
        log_in_page(page, live_server, "dealer@demo.test", language)
        page.goto(f"{live_server}/campaigns/mine")
        row = page.locator("tr", has_text=TEXT[language]["sprint"])
        expect(row.locator(".hint")).to_contain_text(SHARED[language])
        assert_page_is_sound(page, viewport, blocked)
        page.context.close()


@pytest.mark.parametrize("viewport", [NARROW, DESKTOP], ids=["320", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_manager_reads_the_results_of_their_dealers(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", language)
    page.goto(f"{live_server}/campaigns/")
    page.get_by_role("link", name=words["running"]).click()
    expect(page.locator("tbody")).to_contain_text("D001")
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()
