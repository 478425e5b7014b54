"""Claims in Chromium: a dealer drafts a claim, attaches the invoice and submits it; the manager finds it in the
queue, sees the file inline and approves it; the dealer sees it approved. In English and Chinese, on a phone and a
desktop, with axe and the CSP watch on every page; then every other claim page."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from portal.claims.budgets import budget_of
from portal.claims.models import Claim, FundAllocation
from portal.claims.rules import ClaimStatus
from portal.claims.views import DEALER_CHOICES_UP_TO
from portal.dates import company_today
from portal.dealers.services import current_period
from portal.demo import DEMO_PASSWORD
from portal.extensions import db
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    assert_page_is_sound,
    assert_page_sound_for,
    log_in_page,
    new_page,
    watch_csp,
)
from tests.evidence_files import as_jpeg, fapiao_image, fapiao_qr_text, pdf
from tests.factories import make_dealer, make_territory, make_user

TEXT = {
    "en": {"submitted": "Submitted", "approved": "Approved", "ready": "Everything is in place."},
    "zh": {"submitted": "已提交", "approved": "已批准", "ready": "资料已齐全。"},
}
_numbers = count(1)


def _activity_day(app: Flask) -> str:
    """A day of the open quarter that is already over (or today, on a quarter's first day)."""
    with app.app_context():
        period = current_period()
        assert period is not None
        return max(period.starts_on, company_today() - timedelta(days=1)).isoformat()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_dealer_submits_with_a_file_and_the_manager_approves(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    title = f"Browser display {next(_numbers)} {language} {viewport['width']}"
    day = _activity_day(live_app)
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.wait_for_load_state("load")
    page.goto(f"{live_server}/claims/")
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/claims/new")
    assert_page_is_sound(page, viewport, blocked)
    page.locator("#title").fill(title)
    page.locator("#activity_start").fill(day)
    page.locator("#activity_end").fill(day)
    page.locator("#vendor").fill(f"Print shop of {title}")  # its own vendor: no split with the other journeys
    page.locator("#invoice_number").fill(f"FP-{title[-12:]}")
    page.locator("#amount").fill("1,234.00")
    page.locator("form.form-grid button[type=submit]").click()
    page.wait_for_url("**/claims/*")
    assert_page_is_sound(page, viewport, blocked)  # the draft, with what is still missing
    page.locator("#file").set_input_files(
        files=[{"name": "fapiao.pdf", "mimeType": "application/pdf", "buffer": pdf(text=title)}]
    )
    page.locator("form[action$='/evidence'] button").click()
    expect(page.locator(".evidence-list")).to_contain_text("fapiao.pdf")
    expect(page.locator("#submit-heading ~ p").first).to_contain_text(words["ready"])
    page.locator("form[action$='/submit'] button").click()
    expect(page.locator(".page-head .badge")).to_have_text(words["submitted"])
    assert_page_is_sound(page, viewport, blocked)
    claim_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.context.close()

    manager = new_page(browser, language, viewport)
    blocked = watch_csp(manager)
    log_in_page(manager, live_server, "manager@demo.test", language)
    manager.wait_for_load_state("load")
    manager.goto(f"{live_server}/console/claims?dealer=D001")
    assert_page_is_sound(manager, viewport, blocked)
    manager.get_by_role("link", name=title).click()
    manager.wait_for_url(f"**/console/claims/{claim_id}*")
    expect(manager.locator("iframe")).to_have_count(0)  # a PDF's pages are images drawn on the server
    expect(manager.locator("img.evidence-image")).to_have_count(1)
    assert_page_is_sound(manager, viewport, blocked)
    # A clean claim: one click after opening it, on the button that stays on screen; nothing was chosen before.
    approve = manager.locator(".decision-bar button[value=approve]")
    expect(approve).to_be_in_viewport()
    expect(manager.locator("select[name=decision]")).to_have_count(0)
    approve.click()
    manager.wait_for_url(lambda url: urlsplit(url).path != f"/console/claims/{claim_id}")
    with live_app.app_context():
        decided = db.session.execute(select(Claim).where(Claim.id == claim_id)).scalar_one()
        assert decided.status is ClaimStatus.APPROVED and decided.amount_approved == 123_400
    assert_page_is_sound(manager, viewport, blocked)  # the next claim in the queue, or the queue
    manager.context.close()

    dealer = new_page(browser, language, viewport)
    log_in_page(dealer, live_server, "dealer@demo.test", language)
    dealer.wait_for_load_state("load")
    dealer.goto(f"{live_server}/claims/{claim_id}")
    expect(dealer.locator(".page-head .badge")).to_have_text(words["approved"])
    dealer.context.close()


DECIDE_TEXT = {
    "en": {"problems": "There is 1 problem", "tick": "Tick each flag"},
    "zh": {"problems": "有 1 个问题", "tick": "请逐项勾选"},
}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_flagged_claim_is_approved_only_once_each_flag_is_ticked(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    """A round amount is a flag: the approve button alone is refused with the reason at the top of the page (and the
    focus there); once the flag is ticked, the approval goes through and the next claim opens by itself. On a
    desktop the reviewer works with the keys the page lists: A approves, J and K walk the queue."""
    words = DECIDE_TEXT[language]
    title = f"Round stand {next(_numbers)} {language} {viewport['width']}"
    day = _activity_day(live_app)
    page = new_page(browser, language, viewport)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/claims/new")
    page.locator("#title").fill(title)
    page.locator("#activity_start").fill(day)
    page.locator("#activity_end").fill(day)
    page.locator("#amount").fill("2,000.00")
    page.locator("form.form-grid button[type=submit]").click()
    page.wait_for_url("**/claims/*")
    page.locator("#file").set_input_files(files=[{"name": "stand.pdf", "mimeType": "application/pdf", "buffer": pdf()}])
    page.locator("form[action$='/evidence'] button").click()
    expect(page.locator(".evidence-list")).to_contain_text("stand.pdf")
    page.locator("form[action$='/submit'] button").click()
    page.wait_for_load_state("load")
    claim_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.context.close()

    manager = new_page(browser, language, viewport)
    blocked = watch_csp(manager)
    log_in_page(manager, live_server, "manager@demo.test", language)
    manager.goto(f"{live_server}/console/claims/{claim_id}")
    keys = viewport is DESKTOP
    if keys:
        manager.keyboard.press("a")
    else:
        manager.locator(".decision-bar button[value=approve]").click()
    summary = manager.locator(".error-summary")
    expect(summary).to_contain_text(words["problems"])
    expect(summary).to_contain_text(words["tick"])
    expect(summary).to_be_focused()
    assert_page_is_sound(manager, viewport, blocked)
    with live_app.app_context():
        assert db.session.get(Claim, claim_id).status is ClaimStatus.SUBMITTED  # type: ignore[union-attr]
    flags = manager.locator("input[name=checked]")
    for number in range(flags.count()):  # the round amount, and whatever the other journeys' claims add
        flags.nth(number).check()
    with manager.expect_navigation():
        if keys:
            manager.keyboard.press("a")  # the ticked box has the focus: a key, not typing
        else:
            manager.locator(".decision-bar button[value=approve]").click()
    with live_app.app_context():
        decided = db.session.get(Claim, claim_id)
        # Approved, or on to a senior when this reviewer's approvals for the dealer have passed the threshold.
        assert decided is not None
        assert decided.status in (ClaimStatus.APPROVED, ClaimStatus.AWAITING_SECOND_APPROVAL)
    if keys and "/console/claims/" in manager.url and manager.locator("[data-shortcut=j]").count():
        opened = manager.url
        manager.keyboard.press("j")
        manager.wait_for_url(lambda url: url != opened)
        manager.keyboard.press("k")
        manager.wait_for_url(lambda url: url.split("?")[0] == opened.split("?")[0])
    manager.context.close()


def _claim_id(app: Flask, title: str) -> int:
    with app.app_context():
        return db.session.execute(select(Claim.id).where(Claim.title == title)).scalars().first() or 0


PAGES = [
    ("dealer@demo.test", "/claims/{needs_info}"),
    ("dealer@demo.test", "/claims/{paid}"),
    ("dealer@demo.test", "/claims/{needs_info}/edit"),
    ("dealer@demo.test", "/claims/pre-approvals"),
    ("manager@demo.test", "/console/claims/{flagged}"),
    ("manager@demo.test", "/console/claims?status=all"),
    ("manager@demo.test", "/console/pre-approvals"),
    ("manager@demo.test", "/console/claims/report"),
    ("manager2@demo.test", "/console/claims/{awaiting}"),
    ("admin@demo.test", "/admin/budgets"),
    ("admin@demo.test", "/admin/claims/payments"),
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("email", "path"), PAGES, ids=[f"{email} {path}" for email, path in PAGES])
def test_claim_pages_are_sound(
    browser: Browser,
    live_app: Flask,
    live_server: str,
    language: str,
    viewport: dict[str, int],
    email: str,
    path: str,
) -> None:
    ids = {
        "needs_info": _claim_id(live_app, "Product demo day"),
        "paid": _claim_id(live_app, "Autumn flyers"),
        "flagged": _claim_id(live_app, "Shop opening event"),
        "awaiting": _claim_id(live_app, "Regional trade show booth"),
    }
    assert_page_sound_for(browser, live_server, language, viewport, email, path.format(**ids))


NARROW = {"width": 320, "height": 640}
INVOICE_TEXT = {
    "en": {"read": "read from the QR code", "short": "The budget is short", "asked": "The admins are asked"},
    "zh": {"read": "二维码", "short": "预算不足", "asked": "已请管理员提高预算"},
}


@pytest.mark.parametrize("viewport", [NARROW, PHONE, DESKTOP], ids=["320", "375", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_photo_of_the_fapiao_fills_the_claim_and_a_short_budget_is_asked_for(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    """The dealer photographs the invoice: its QR code fills the claim, which the dealer checks and saves. The
    claim then meets a budget with nothing left (as after a mediator's reopening): the reviewer sees how much fits
    and asks an admin for more."""
    words, number = INVOICE_TEXT[language], f"{next(_numbers) + 50_000_000:08d}"
    title = f"Fapiao photo {number} {language} {viewport['width']}"
    day = _activity_day(live_app)
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.wait_for_load_state("load")
    page.goto(f"{live_server}/claims/new")
    page.locator("#title").fill(title)
    page.locator("#activity_start").fill(day)
    page.locator("#activity_end").fill(day)
    page.locator("#amount").fill("1,130.00")
    page.locator("form.form-grid button[type=submit]").click()
    page.wait_for_url("**/claims/*")
    photo = as_jpeg(fapiao_image(fapiao_qr_text(number=number)), quality=70, scale=0.8)
    page.locator("#file").set_input_files(files=[{"name": "fapiao.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.locator("form[action$='/evidence'] button").click()
    expect(page.locator(".flash-warning").first).to_contain_text(words["read"])
    assert_page_is_sound(page, viewport, blocked)
    page.locator("a[href$='/edit']").first.click()
    expect(page.locator("#invoice_number")).to_have_value(number)
    expect(page.locator("#invoice_code")).to_have_value("3100204130")
    assert_page_is_sound(page, viewport, blocked)
    page.locator("#vendor_tax_id").fill("91350100M000100Y43")
    page.locator("#invoice_tax").fill("130.00")
    page.locator("form.form-grid button[type=submit]").click()
    page.wait_for_url("**/claims/*")
    expect(page.locator("#submit-heading")).to_be_visible()
    page.locator("form[action$='/submit'] button").click()
    page.wait_for_load_state("load")
    claim_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.context.close()

    with live_app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None and claim.status is ClaimStatus.SUBMITTED and claim.invoice_total == 113_000
        held = claim.budget_held
        claim.budget_held = 0  # as a claim reopened into a budget with nothing left
        allocation = db.session.execute(
            select(FundAllocation).where(
                FundAllocation.dealer_id == claim.dealer_id, FundAllocation.period_id == claim.period_id
            )
        ).scalar_one()
        amount_before = allocation.amount
        db.session.flush()
        held_by_others = budget_of(claim.dealer, claim.period)
        allocation.amount = held_by_others.approved + held_by_others.pending  # nothing left
        db.session.commit()
    try:
        manager = new_page(browser, language, viewport)
        blocked = watch_csp(manager)
        log_in_page(manager, live_server, "manager@demo.test", language)
        manager.wait_for_load_state("load")
        manager.goto(f"{live_server}/console/claims/{claim_id}")
        expect(manager.locator("#room-heading")).to_have_text(words["short"])
        assert_page_is_sound(manager, viewport, blocked)
        manager.locator("form[action$='/ask-budget'] button").click()
        expect(manager.locator(".flash-success").first).to_contain_text(words["asked"])
        assert_page_is_sound(manager, viewport, blocked)
        manager.context.close()
    finally:
        with live_app.app_context():
            claim = db.session.get(Claim, claim_id)
            assert claim is not None
            claim.budget_held = held
            allocation = db.session.execute(
                select(FundAllocation).where(
                    FundAllocation.dealer_id == claim.dealer_id, FundAllocation.period_id == claim.period_id
                )
            ).scalar_one()
            allocation.amount = amount_before
            db.session.commit()


QUEUE_EMPTY = {"en": "Nothing waiting here.", "zh": "这里没有待处理的内容。"}


@pytest.fixture(scope="module")
def large_portfolio(live_app: Flask) -> str:
    """A manager with more dealers than the queue's dealer filter lists: the filter is a field for the code."""
    with live_app.app_context():
        territory = make_territory(name="Large portfolio")
        manager = make_user(email="large-portfolio@demo.test", name="Zhao Min", password=DEMO_PASSWORD)
        for number in range(DEALER_CHOICES_UP_TO + 1):
            make_dealer(code=f"LP{number:03d}", name=f"Large Portfolio {number}", territory=territory, manager=manager)
        db.session.commit()
    return "large-portfolio@demo.test"


@pytest.mark.parametrize("viewport", [NARROW, PHONE, DESKTOP], ids=["320", "375", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_large_portfolio_filters_the_queue_by_a_typed_code(
    browser: Browser, live_server: str, large_portfolio: str, language: str, viewport: dict[str, int]
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, large_portfolio, language)
    page.goto(f"{live_server}/console/claims?status=all")
    expect(page.locator("select#dealer")).to_have_count(0)
    assert_page_is_sound(page, viewport, blocked)
    page.locator("input#dealer").fill(" lp007 ")
    page.locator("input#dealer").press("Enter")
    page.wait_for_url("**dealer=*lp007*")  # the queue is swapped in place, its address kept for the back button
    expect(page.locator("#claim-queue")).to_contain_text(QUEUE_EMPTY[language])  # LP007 has no claims
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()
