"""The referee's pages in Chromium, in English and Chinese, at 320 and 375 px and on a desktop, with axe: the
manager's suspicion queue and a suspicion's evidence, a refused decision summed up at the top; a senior manager
making one suspicion a violation and dismissing another; the admin's price lists, products and territories; a
dealer owner reading and acknowledging the prices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image
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


FIELD_TEXT = {
    "en": {"record": "Record the sighting", "read": "Code read: QR-DEMO-0002", "shipped": "Eastern Star Trading"},
    "zh": {"record": "记录现场检查", "read": "已读取编码：QR-DEMO-0002", "shipped": "Eastern Star Trading"},
}


def _qr_png(path: Path, text: str) -> Path:
    """A photo of a product's QR code, as the page would get it from the phone's camera roll."""
    image = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=8)
    Image.fromarray(np.array(image)).convert("RGB").save(path, "JPEG", quality=70)  # compressed, as WeChat sends it
    return path


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_inspector_reads_a_code_from_a_photo_and_records_the_sighting(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int], tmp_path: Path
) -> None:
    """No BarcodeDetector in Chromium on Linux: the vendored ZXing WebAssembly reader reads the photo (under a
    policy that allows compiling WebAssembly on this page only). D001's goods seen in Beijing at 3,000.00."""
    words = FIELD_TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "inspector@demo.test", language)
    expect(page.locator("h1")).to_be_visible()
    assert page.url.endswith("/referee/field-check")  # the inspector's home
    assert_page_is_sound(page, viewport, blocked)
    page.locator("[data-scan-photo]").set_input_files(str(_qr_png(tmp_path / "code.jpg", "QR-DEMO-0002")))
    expect(page.locator("[data-scan-status]")).to_have_text(words["read"], timeout=15_000)
    expect(page.locator("#code")).to_have_value("QR-DEMO-0002")
    page.locator("#photos").set_input_files(str(tmp_path / "code.jpg"))
    page.locator("#region").press_sequentially("朝阳")  # the regions it may mean are offered to pick
    expect(page.locator("#region-choices option[value='北京市朝阳区']")).to_have_count(1)
    expect(page.locator("#region-choices option[value='辽宁省朝阳市']")).to_have_count(1)
    page.locator("#region").fill("北京市朝阳区")  # what picking an offered region writes
    page.locator("#shop").fill("Wudaokou electronics market")
    page.locator("#price_seen").fill("3,000.00")
    page.get_by_role("button", name=words["record"]).click()
    expect(page.locator(".flash-success")).to_contain_text(words["shipped"])
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


def test_a_manager_types_a_code_and_finds_the_sighting_with_its_photo_in_the_queue(
    browser: Browser, live_server: str, tmp_path: Path
) -> None:
    page = new_page(browser, "en", DESKTOP)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", "en")
    page.goto(f"{live_server}/referee/field-check")
    page.locator("#code").fill("QR-DEMO-0003")  # typing always works
    page.locator("#photos").set_input_files(str(_qr_png(tmp_path / "shelf.jpg", "QR-DEMO-0003")))
    page.locator("#region").fill("110105")
    page.get_by_role("button", name=FIELD_TEXT["en"]["record"]).click()
    expect(page.locator(".flash-success")).to_contain_text("outside its territory")
    page.goto(f"{live_server}/referee/suspicions")
    row = page.locator("tr", has_text="D001").filter(has_text="Shipped outside the territory").first
    row.get_by_role("link").click()
    expect(page.locator("main")).to_contain_text("QR-DEMO-0003")
    expect(page.locator("main a", has_text="shelf.jpg").first).to_be_visible()
    assert_page_is_sound(page, DESKTOP, blocked)
    page.context.close()
