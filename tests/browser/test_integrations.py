"""The admin's integration clients in Chromium, in English and Chinese, on a phone and a desktop, with axe: a new
client's token is shown once and works on the API; a new token is shown once; revoking ends them."""

from __future__ import annotations

from itertools import count

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp

TEXT = {
    "en": {"create": "Create the client", "revoked": "Revoked", "once": "shown this once"},
    "zh": {"create": "创建接入系统", "revoked": "已吊销", "once": "仅显示这一次"},
}
_numbers = count(1)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_admin_creates_rotates_and_revokes_a_client(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    name = f"ERP {next(_numbers)} {language} {viewport['width']}"
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    page.goto(f"{live_server}/admin/integrations")
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words["create"]).click()  # nothing filled in: refused, summed up
    expect(page.locator(".error-summary")).to_be_focused()
    assert_page_is_sound(page, viewport, blocked)
    page.locator("#name").fill(name)
    page.locator("input[name=scopes][value='statements:read']").check()
    page.get_by_role("button", name=words["create"]).click()
    expect(page.locator(".flash-warning")).to_contain_text(words["once"])
    token = page.locator("code.secret").inner_text().strip()
    assert token.startswith("dpp_")
    assert_page_is_sound(page, viewport, blocked)  # the token panel on the page
    answer = page.request.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200 and answer.json()["client"] == name
    row = page.locator("tr", has_text=name)
    row.locator("form[action$='/rotate'] button").click()
    new_token = page.locator("code.secret").inner_text().strip()
    assert new_token.startswith("dpp_") and new_token != token
    page.locator("tr", has_text=name).locator("form[action$='/revoke'] button").click()
    expect(page.locator("tr", has_text=name).locator(".card-status")).to_have_text(words["revoked"])
    assert_page_is_sound(page, viewport, blocked)
    refused = page.request.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {new_token}"})
    assert refused.status == 401
    page.context.close()


WEBHOOK_TEXT = {
    "en": {"subscribe": "Subscribe", "removed": "Removed", "once": "shown this once"},
    "zh": {"subscribe": "订阅", "removed": "已移除", "once": "仅显示这一次"},
}
NARROW = {"width": 320, "height": 640}


@pytest.mark.parametrize("viewport", [NARROW, PHONE, DESKTOP], ids=["320", "375", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_admin_subscribes_a_receiver_and_removes_it(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words, client_words = WEBHOOK_TEXT[language], TEXT[language]
    name = f"Hooks {next(_numbers)} {language} {viewport['width']}"
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    page.goto(f"{live_server}/admin/integrations")
    page.locator("#name").fill(name)
    page.locator("input[name=scopes][value='events:read']").check()
    page.get_by_role("button", name=client_words["create"]).click()
    page.locator("tr", has_text=name).locator("a[href$='/webhooks']").click()
    expect(page.locator("h1")).to_contain_text(name)
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words["subscribe"], exact=True).click()  # nothing filled in: refused, summed up
    expect(page.locator(".error-summary")).to_be_focused()
    assert_page_is_sound(page, viewport, blocked)
    page.locator("#url").fill("https://erp.example.test/hooks/a-rather-long-path/that-must-wrap-on-a-phone")
    page.locator("input[name=kinds][value='claim.paid']").check()
    page.locator("input[name=kinds][value='statement.final']").check()
    page.get_by_role("button", name=words["subscribe"], exact=True).click()
    expect(page.locator(".flash-warning")).to_contain_text(words["once"])
    assert page.locator("code.secret").inner_text().strip().startswith("whsec_")
    assert_page_is_sound(page, viewport, blocked)
    row = page.locator("tr", has_text="that-must-wrap-on-a-phone")
    expect(row).to_contain_text("claim.paid, statement.final")
    row.locator("form[action$='/remove'] button").click()
    expect(page.locator("tr", has_text="that-must-wrap-on-a-phone")).to_contain_text(words["removed"])
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


DOCS_TEXT = {"en": "API documentation", "zh": "API 文档"}


@pytest.mark.parametrize("viewport", [NARROW, PHONE, DESKTOP], ids=["320", "375", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_api_documentation_reads_on_a_phone_and_a_desktop(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    page.goto(f"{live_server}/admin/integrations")
    page.get_by_role("link", name=DOCS_TEXT[language]).click()
    expect(page.locator("h1")).to_have_text(DOCS_TEXT[language])
    assert_page_is_sound(page, viewport, blocked)
    page.locator("a[href='#post-api-v1-sales-batches']").click()
    operation = page.locator("#post-api-v1-sales-batches")
    expect(operation).to_contain_text("sales:write")
    expect(operation).to_contain_text("Idempotency-Key")
    operation.locator("a[href='#schema-SalesBatch']").click()
    expect(page.locator("#schema-SalesBatch")).to_contain_text("lines")
    page.context.close()
