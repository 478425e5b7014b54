"""The pages issue 19 changed, as people meet them, in English and Chinese, at 320 and 375 pixels and on a desktop:
changing one's email address through the link, a suspended dealer told why it cannot start anything new, a
colleague the administrator deactivated, and a mediator reading a dispute someone else mediates. Every page is
checked by axe and for the CSP, and none scrolls sideways."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from portal.accounts.models import DealerRole, User, UserRole
from portal.accounts.services import deactivate_user
from portal.dealers.models import Dealer
from portal.demo import DEMO_PASSWORD
from portal.disputes.models import Dispute
from portal.extensions import db
from portal.notifications.models import OutboxEmail
from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp
from tests.factories import make_user

NARROW = {"width": 320, "height": 640}
VIEWPORTS = [NARROW, PHONE, DESKTOP]
VIEWPORT_IDS = ["320", "375", "desktop"]
TEXT = {
    "en": {
        "send": "Send the link",
        "use": "Use",
        "suspended": "Your dealer is suspended",
        "by_admin": "Deactivated by the administrator",
        "mediates": "mediates this dispute",
    },
    "zh": {
        "send": "发送链接",
        "use": "使用",
        "suspended": "贵经销商已被暂停",
        "by_admin": "已被管理员停用",
        "mediates": "调解",
    },
}


def _opened(page: Page, url: str, viewport: dict[str, int], blocked: list[str]) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)


def _person(live_app: Flask, role: UserRole, email: str, dealer_code: str | None = None) -> int:
    with live_app.app_context():
        dealer = (
            db.session.execute(select(Dealer).where(Dealer.code == dealer_code)).scalar_one() if dealer_code else None
        )
        user = make_user(
            role,
            email=email,
            name=email.split("@")[0],
            password=DEMO_PASSWORD,
            dealer=dealer,
            dealer_role=DealerRole.STAFF if dealer else None,
        )
        db.session.commit()
        return user.id


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_dealer_user_moves_their_account_to_a_new_email_address(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    email = f"mover-{language}-{viewport['width']}@demo.test"
    new_email = f"moved-{language}-{viewport['width']}@demo.test"
    _person(live_app, UserRole.DEALER, email, "D002")
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, email, language)
    page.wait_for_load_state("load")
    _opened(page, f"{live_server}/account", viewport, blocked)
    page.locator("#new_email").fill(new_email)
    page.locator("#email-password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name=TEXT[language]["send"]).click()
    expect(page.locator(".flash").first).to_contain_text(new_email)
    assert_page_is_sound(page, viewport, blocked)
    with live_app.app_context():
        sent = db.session.execute(select(OutboxEmail.text_body).where(OutboxEmail.to_address == new_email)).scalar_one()
    link = re.search(r"/account/email/confirm/\S+", sent)
    assert link
    _opened(page, live_server + link.group(0), viewport, blocked)
    page.get_by_role("button", name=re.compile(TEXT[language]["use"])).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert_page_is_sound(page, viewport, blocked)
    log_in_page(page, live_server, new_email, language)
    expect(page).to_have_url(re.compile(r"/dealer/$"))
    page.context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_suspended_dealer_is_told_why_instead_of_given_the_forms(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer6@demo.test", language)
    page.wait_for_load_state("load")
    for path in ("/claims/", "/claims/new", "/claims/pre-approvals"):
        _opened(page, live_server + path, viewport, blocked)
        expect(page.locator(".flash-warning").first).to_contain_text(TEXT[language]["suspended"])
        expect(page.locator("form[action$='/claims/new'], form[action$='/claims/pre-approvals']")).to_have_count(0)
    _opened(page, f"{live_server}/training/", viewport, blocked)
    page.locator("#training-sessions a[href*='/training/sessions/']").first.click()
    page.wait_for_load_state("load")
    expect(page.locator(".flash-warning").first).to_contain_text(TEXT[language]["suspended"])
    expect(page.locator("form[action$='/enrol']")).to_have_count(0)
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_owner_sees_who_deactivated_a_colleague_and_a_second_mediator_reads_only(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:

    # a long address with nowhere to break, as real ones are: the people table must still fit a 320-pixel screen
    colleague = f"leftthecompany.{language}{viewport['width']}@northernlightsupply.example"
    reader = f"reader-{language}-{viewport['width']}@demo.test"
    colleague_id = _person(live_app, UserRole.DEALER, colleague, "D002")
    _person(live_app, UserRole.MEDIATOR, reader)
    with live_app.app_context():
        admin = db.session.execute(select(User).where(User.email == "admin@demo.test")).scalar_one()
        person = db.session.get(User, colleague_id)
        assert person is not None
        deactivate_user(person, actor=admin, reason="Left the company.")
        pricing = db.session.execute(select(Dispute.id).where(Dispute.mediator_id.is_not(None))).scalars().first()
        db.session.commit()
    with live_app.app_context():  # another journey may have saved a language on this demo account: the browser's counts
        db.session.execute(update(User).where(User.email == "dealer2@demo.test").values(locale=None))
        db.session.commit()
    owner = new_page(browser, language, viewport)
    blocked = watch_csp(owner)
    log_in_page(owner, live_server, "dealer2@demo.test", language)
    owner.wait_for_load_state("load")
    _opened(owner, f"{live_server}/dealer/people", viewport, blocked)
    row = owner.locator("tr", has_text=colleague.split("@")[0])
    expect(row).to_contain_text(TEXT[language]["by_admin"])
    expect(row.locator("form[action$='/reactivate']")).to_have_count(0)
    owner.context.close()

    mediator = new_page(browser, language, viewport)
    blocked = watch_csp(mediator)
    log_in_page(mediator, live_server, reader, language)
    mediator.wait_for_load_state("load")
    _opened(mediator, f"{live_server}/disputes/{pricing}", viewport, blocked)
    expect(mediator.locator("main .flash[role='status']")).to_contain_text(TEXT[language]["mediates"])
    expect(mediator.locator("form[action$='/messages'], form[action$='/resolve']")).to_have_count(0)
    mediator.context.close()
