"""Training in Chromium: a dealer enrols, fills the last seat, puts a trainee on the waitlist, cancels, and the
trainee moves in; every training page sound in English and Chinese, on a phone and a desktop, with axe."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from portal.accounts.models import User
from portal.dealers.models import Dealer, Trainee
from portal.extensions import db
from portal.training.models import Course, Enrollment
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    assert_page_is_sound,
    assert_page_sound_for,
    log_in_page,
    new_page,
    watch_csp,
)
from tests.factories import make_session, make_trainee

TEXT = {
    "en": {
        "who": "Person to enrol",
        "enrol": "Enrol",
        "wait": "Join the waitlist",
        "line": "number 1 in line",
        "cancel": "Cancel for Wang Fang",
        "enrolled": "Enrolled",
        "seats": "Full",
    },
    "zh": {
        "who": "报名人员",
        "enrol": "报名",
        "wait": "加入候补名单",
        "line": "排第 1 位",
        "cancel": "为 Wang Fang 取消报名",
        "enrolled": "已报名",
        "seats": "已满",
    },
}
_numbers = count(1)


def _one_seat_session(app: Flask) -> tuple[int, str]:
    """A fresh session with one seat and a fresh trainee of D001, so every run of the journey starts alike."""
    with app.app_context():
        course = db.session.execute(select(Course).where(Course.code == "TEC-301")).scalar_one()
        session = make_session(course, capacity=1, starts_in=timedelta(days=30 + next(_numbers)))
        owner = db.session.execute(select(User).where(User.email == "dealer@demo.test")).scalar_one()
        trainee = make_trainee(owner.dealer, f"Browser Trainee {next(_numbers)}")
        db.session.commit()
        return session.id, trainee.name


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_enrol_fill_the_last_seat_wait_and_cancel(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    words = TEXT[language]
    session_id, trainee = _one_seat_session(live_app)
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.wait_for_load_state("load")
    page.goto(f"{live_server}/training/")
    assert_page_is_sound(page, viewport, blocked)
    page.goto(f"{live_server}/training/sessions/{session_id}")
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_label(words["who"]).select_option(label="Wang Fang")
    page.get_by_role("button", name=words["enrol"], exact=True).click()
    expect(page.locator("#session-seats")).to_contain_text(words["seats"])
    expect(page.locator(".enrollment-list")).to_contain_text(words["enrolled"])
    page.get_by_label(words["who"]).select_option(label=trainee)
    page.get_by_role("button", name=words["wait"]).click()
    expect(page.locator(".enrollment-list")).to_contain_text(words["line"])
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words["cancel"]).click()
    row = page.locator(".enrollment-list li", has_text=trainee)
    expect(row).to_contain_text(words["enrolled"])
    with live_app.app_context():
        trainee_id = db.session.execute(select(Trainee.id).where(Trainee.name == trainee)).scalar_one()
        moved = db.session.execute(
            select(Enrollment.status).where(Enrollment.session_id == session_id, Enrollment.trainee_id == trainee_id)
        ).scalar_one()
    assert moved.value == "enrolled"
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


def _certificate(app: Flask) -> str:
    """A certificate of D001's people, which dealer@demo.test may open (rows come in no promised order)."""
    with app.app_context():
        return (
            db.session.execute(
                select(Enrollment.certificate_number)
                .join(Dealer, Dealer.id == Enrollment.dealer_id)
                .where(Enrollment.certificate_number.is_not(None), Dealer.code == "D001")
                .order_by(Enrollment.id)
            )
            .scalars()
            .first()
        )


PAGES = [
    ("dealer@demo.test", "/dealer/training"),
    ("dealer@demo.test", "/training/certificates/{certificate}"),
    ("manager@demo.test", "/console/training"),
    ("manager@demo.test", "/console/training?when=past"),
    ("admin@demo.test", "/admin/courses"),
    ("admin@demo.test", "/admin/courses/2/edit"),
    ("admin@demo.test", "/admin/courses/1/sessions/new"),
    ("admin@demo.test", "/console/training/sessions/1"),
    (None, "/verify?number={certificate}"),
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("email", "path"), PAGES, ids=[f"{email} {path}" for email, path in PAGES])
def test_training_pages_are_sound(
    browser: Browser,
    live_app: Flask,
    live_server: str,
    language: str,
    viewport: dict[str, int],
    email: str | None,
    path: str,
) -> None:
    assert_page_sound_for(
        browser, live_server, language, viewport, email, path.format(certificate=_certificate(live_app))
    )
