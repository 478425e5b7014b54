"""Disputes in Chromium: D001 raises a dispute against D002, D002 answers, the mediator takes it and resolves it,
and D001 reads the outcome. In English and Chinese, on a phone and a desktop, with axe and the CSP watch on every
page; then every other violation and dispute page."""

from __future__ import annotations

from itertools import count

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from portal.disputes.models import Dispute, Violation
from portal.disputes.rules import DisputeStatus
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

TEXT = {
    "en": {"resolved": "Resolved", "outcome": "No action", "effect": "No money moves and no record changes."},
    "zh": {"resolved": "已裁决", "outcome": "不采取措施", "effect": "不涉及款项，也不变更任何记录。"},
}
_numbers = count(1)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_raise_respond_and_resolve(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    title = f"Browser dispute {next(_numbers)} {language} {viewport['width']}"
    raiser = new_page(browser, language, viewport)
    blocked = watch_csp(raiser)
    log_in_page(raiser, live_server, "dealer@demo.test", language)
    raiser.wait_for_load_state("load")
    raiser.goto(f"{live_server}/dealer/violations")
    assert_page_is_sound(raiser, viewport, blocked)
    raiser.goto(f"{live_server}/disputes/new?respondent=D002")
    assert_page_is_sound(raiser, viewport, blocked)
    raiser.locator("#category").select_option("customer_poaching")
    raiser.locator("#title").fill(title)
    raiser.locator("#description").fill("They quoted our hotel customer after our visit.")
    raiser.locator("form.form-grid button[type=submit]").click()
    raiser.wait_for_url("**/disputes/*")
    assert_page_is_sound(raiser, viewport, blocked)
    dispute_id = int(raiser.url.rstrip("/").rsplit("/", 1)[1])
    raiser.context.close()

    respondent = new_page(browser, language, viewport)
    blocked = watch_csp(respondent)
    log_in_page(respondent, live_server, "dealer2@demo.test", language)
    respondent.wait_for_load_state("load")
    respondent.goto(f"{live_server}/disputes/{dispute_id}")
    respondent.locator("#body").fill("The hotel asked us for a quote first.")
    respondent.locator("form[action$='/messages'] button").click()
    expect(respondent.locator(".timeline")).to_contain_text("The hotel asked us for a quote first.")
    assert_page_is_sound(respondent, viewport, blocked)
    respondent.context.close()

    mediator = new_page(browser, language, viewport)
    blocked = watch_csp(mediator)
    log_in_page(mediator, live_server, "mediator@demo.test", language)
    mediator.wait_for_load_state("load")
    mediator.goto(f"{live_server}/mediation/?queue=unassigned")
    assert_page_is_sound(mediator, viewport, blocked)
    mediator.get_by_role("link", name=title).click()
    mediator.wait_for_url(f"**/disputes/{dispute_id}")
    mediator.locator("form[action$='/take'] button").click()
    mediator.wait_for_load_state("load")
    assert_page_is_sound(mediator, viewport, blocked)
    mediator.locator("#outcome").select_option("no_action")
    mediator.locator("#summary").fill("The hotel asked D002 first: no poaching.")
    mediator.locator("form[action$='/resolve'] button").click()
    # The confirm step: the effect in words, nothing applied until the mediator says so.
    expect(mediator.locator(".confirm-step")).to_contain_text(words["effect"])
    expect(mediator.locator(".page-head .badge")).not_to_have_text(words["resolved"])
    assert_page_is_sound(mediator, viewport, blocked)
    mediator.locator(".confirm-step button").click()
    expect(mediator.locator(".page-head .badge")).to_have_text(words["resolved"])
    mediator.context.close()
    with live_app.app_context():
        assert db.session.get(Dispute, dispute_id).status is DisputeStatus.RESOLVED  # type: ignore[union-attr]

    reader = new_page(browser, language, viewport)
    blocked = watch_csp(reader)
    log_in_page(reader, live_server, "dealer@demo.test", language)
    reader.wait_for_load_state("load")
    reader.goto(f"{live_server}/disputes/{dispute_id}")
    expect(reader.locator(".flash-success")).to_contain_text(words["outcome"])
    assert_page_is_sound(reader, viewport, blocked)
    reader.context.close()


def _ids(app: Flask) -> dict[str, int]:
    with app.app_context():
        appeal = db.session.execute(select(Dispute).where(Dispute.violation_id.is_not(None))).scalars().first()
        violation = db.session.execute(select(Violation.id).order_by(Violation.id)).scalars().first()
        return {"appeal": appeal.id if appeal else 0, "violation": violation or 0}


PAGES = [
    ("dealer2@demo.test", "/dealer/violations/{violation}"),
    ("dealer2@demo.test", "/disputes/{appeal}"),
    ("dealer@demo.test", "/disputes/directory?q=a"),
    ("manager@demo.test", "/console/violations?status=all"),
    ("manager@demo.test", "/console/violations/{violation}"),
    ("manager@demo.test", "/console/dealers/D002/violations/new"),
    ("manager@demo.test", "/console/dealers/D002"),
    ("mediator@demo.test", "/mediation/?queue=active"),
    ("mediator@demo.test", "/disputes/{appeal}"),
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("email", "path"), PAGES, ids=[f"{email} {path}" for email, path in PAGES])
def test_referee_pages_are_sound(
    browser: Browser,
    live_app: Flask,
    live_server: str,
    language: str,
    viewport: dict[str, int],
    email: str,
    path: str,
) -> None:
    assert_page_sound_for(browser, live_server, language, viewport, email, path.format(**_ids(live_app)))
