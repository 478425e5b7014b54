"""The quick claim in Chromium: from the claims list to a submitted claim in at most five taps plus the file pick,
on a phone and a desktop, in English and Chinese; the rules answer as the dealer types; what was typed survives a
reload (a dropped connection), and goes once the claim is sent."""

from __future__ import annotations

from itertools import count

import pytest
from flask import Flask
from playwright.sync_api import Browser, Locator, expect
from sqlalchemy import select

from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.evidence.models import Evidence
from portal.extensions import db
from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp
from tests.evidence_files import as_jpeg, pdf, shop_photo

TEXT = {
    "en": {"start": "Claim an expense", "submit": "Submit the claim", "submitted": "Submitted"},
    "zh": {"start": "快速核销", "submit": "提交核销", "submitted": "已提交"},
}
CHECK_TEXT = {
    "en": {"refused": "This claim cannot be submitted yet:", "left": "left"},
    "zh": {"refused": "此核销暂不能提交：", "left": "剩余"},
}
_amounts = count(11)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_claim_in_five_taps_and_a_file_pick(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    amount = next(_amounts)
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/claims/")
    page.wait_for_load_state("load")
    taps = 0

    def tap(target: Locator) -> None:
        nonlocal taps
        taps += 1
        target.click()

    def type_into(target: Locator, text: str) -> None:
        nonlocal taps
        taps += 1
        target.fill(text)

    tap(page.get_by_role("link", name=words["start"], exact=True))
    page.wait_for_url("**/claims/quick")
    assert_page_is_sound(page, viewport, blocked)
    photo = as_jpeg(shop_photo(amount), quality=60, scale=0.5)  # as WeChat passes a photo on
    page.locator("#files").set_input_files(  # the file pick: one picker, two files
        files=[
            {"name": "mmexport1733456789.jpg", "mimeType": "image/jpeg", "buffer": photo},
            {"name": "fapiao.pdf", "mimeType": "application/pdf", "buffer": pdf(text=f"quick {amount}")},
        ]
    )
    type_into(page.locator("#amount"), f"{amount}.50")
    expect(page.locator("#quick-check")).to_contain_text(CHECK_TEXT[language]["left"])
    assert_page_is_sound(page, viewport, blocked)  # with the live check filled in
    page.locator("form.quick-claim").evaluate("form => form.classList.add('htmx-request')")
    assert_page_is_sound(page, viewport, blocked)  # and while a live check is in flight, as on a slow line
    page.locator("form.quick-claim").evaluate("form => form.classList.remove('htmx-request')")
    tap(page.get_by_role("button", name=words["submit"]))
    page.wait_for_url("**/claims/*?sent=quick")
    expect(page.locator(".page-head .badge")).to_have_text(words["submitted"])
    assert taps <= 5, taps
    assert_page_is_sound(page, viewport, blocked)
    claim_id = int(page.url.split("?")[0].rstrip("/").rsplit("/", 1)[1])
    with live_app.app_context():
        claim = db.session.execute(select(Claim).where(Claim.id == claim_id)).scalar_one()
        files = db.session.execute(
            select(Evidence.original_name).where(Evidence.owner_type == "claim", Evidence.owner_id == claim_id)
        ).scalars()
        assert claim.status is ClaimStatus.SUBMITTED and claim.amount_requested == amount * 100 + 50
        assert sorted(files) == ["fapiao.pdf", "mmexport1733456789.jpg"]
    # The copy kept on the phone went with the sending: a fresh quick claim starts empty.
    page.goto(f"{live_server}/claims/quick")
    expect(page.locator("#amount")).to_have_value("")
    page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_rules_answer_as_the_dealer_types_and_a_reload_keeps_the_fields(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    """As after a dropped connection: the fields come back with the check; offline, Submit sends nothing."""
    words = CHECK_TEXT[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/claims/quick")
    page.locator("#amount").fill("99,999,999.00")  # far beyond any budget
    expect(page.locator("#quick-check")).to_contain_text(words["refused"])
    assert_page_is_sound(page, viewport, blocked)  # the warning in place
    page.locator("#invoice_number").fill("FP-reload-1")
    page.wait_for_timeout(200)
    page.reload()  # as after a dropped connection: the fields come back, and the check with them
    expect(page.locator("#amount")).to_have_value("99,999,999.00")
    expect(page.locator("#invoice_number")).to_have_value("FP-reload-1")
    expect(page.locator("#quick-check")).to_contain_text(words["refused"])
    page.locator("#amount").fill("1.00")
    expect(page.locator("#quick-check")).not_to_contain_text(words["refused"])
    # Offline, Submit sends nothing: the page says what is kept and stays as it is.
    page.locator("#files").set_input_files(files=[{"name": "a.pdf", "mimeType": "application/pdf", "buffer": pdf()}])
    page.context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")  # the page knows it is offline before Submit is pressed
    page.get_by_role("button", name=TEXT[language]["submit"]).click()
    expect(page.locator("[data-offline-note]")).to_be_visible(timeout=15_000)
    assert page.url.endswith("/claims/quick")
    assert_page_is_sound(page, viewport, blocked)
    page.context.set_offline(False)
    page.context.close()
