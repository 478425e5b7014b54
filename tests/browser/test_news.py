"""News and policies in Chromium, in English and Chinese, at 320 and 375 px and on a desktop, with axe: a dealer
owner reading the news, acknowledging the pinned policy change and opening the library; a manager writing to their
portfolio (a refused form summed up at the top) and publishing; the admin reading who has acknowledged."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp
from tests.evidence_files import pdf

NARROW = {"width": 320, "height": 640}
VIEWPORTS = [NARROW, PHONE, DESKTOP]
VIEWPORT_IDS = ["320", "375", "desktop"]
TEXT = {
    "en": {
        "schedule": "Penalty schedule 2027",
        "acknowledge": "I have read this and acknowledge it",
        "library": "Policies in force",
        "save": "Save the draft",
        "publish": "Publish",
        "report": "Who has acknowledged",
        "attach": "Attach",
    },
    "zh": {
        "schedule": "2027 年处罚标准",
        "acknowledge": "我已阅读并确认",
        "library": "现行政策",
        "save": "保存草稿",
        "publish": "发布",
        "report": "确认情况",
        "attach": "上传附件",
    },
}
_names = itertools.count(1)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_dealer_owner_reads_and_acknowledges(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/news/")
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("link", name=words["schedule"]).click()
    expect(page.locator(".prose table")).to_be_visible()  # the Markdown table, rendered
    expect(page.get_by_role("link", name="处罚标准 2027.pdf")).to_be_visible()  # its attachment
    assert_page_is_sound(page, viewport, blocked)
    button = page.get_by_role("button", name=words["acknowledge"])
    if button.count():  # the first run of the package acknowledges; later ones see who did
        button.click()
        expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Wang Fang")
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/news/policies")
    expect(page.locator("h1")).to_contain_text(words["library"])
    expect(page.locator("main")).to_contain_text(words["schedule"])
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_manager_writes_to_their_portfolio_and_publishes(browser: Browser, live_server: str, language: str) -> None:
    words = TEXT[language]
    viewport = DESKTOP if language == "en" else PHONE
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", language)
    page.goto(f"{live_server}/news/manage/")
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/news/manage/new")
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words["save"]).click()  # no title: refused, summed up
    expect(page.locator(".error-summary").first).to_be_focused()
    assert_page_is_sound(page, viewport, blocked)
    title = f"Stock check {language} {next(_names)}"
    page.locator("#title_en").fill(title)
    page.locator("#body_en").fill("Please count **AC-1200** stock by Friday:\n\n- showroom\n- warehouse")
    page.locator("#body_zh").fill("请在周五前盘点 **AC-1200** 库存。")
    page.locator("#title_zh").fill("库存盘点")
    page.get_by_role("button", name=words["save"]).click()
    expect(page.locator(".flash-success")).to_be_visible()
    page.locator("#file").set_input_files(
        files=[{"name": "盘点表.pdf", "mimeType": "application/pdf", "buffer": pdf(text="Stock sheet")}]
    )
    page.get_by_role("button", name=words["attach"]).click()
    expect(page.get_by_role("link", name="盘点表.pdf")).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words["publish"]).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("h1")).to_contain_text(title if language == "en" else "库存盘点")
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("viewport", [NARROW, DESKTOP], ids=["320", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_admin_reads_who_has_acknowledged(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    page.goto(f"{live_server}/news/manage/")
    page.get_by_role("link", name=words["schedule"]).click()
    expect(page.locator("main")).to_contain_text(words["report"])
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()
