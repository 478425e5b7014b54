"""The directory in the browser: an admin creates a dealer and a user, an owner adds a colleague and a trainee, and
every directory page passes axe in English and Chinese, on a phone and on a desktop."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.dealers.models import Dealer
from portal.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.notifications.links import link
from portal.notifications.models import Notification, OutboxEmail
from portal.notifications.services import notify
from tests.browser.helpers import (
    DESKTOP,
    PHONE,
    assert_page_is_sound,
    axe_violations,
    describe,
    log_in_page,
    new_page,
    open_menu,
    submit_login,
    watch_csp,
)
from tests.evidence_files import HTML, jpeg

PAGES = [
    ("dealer@demo.test", "/dealer/people", "People at Eastern Star Trading", "Eastern Star Trading 的人员"),
    ("staff@demo.test", "/dealer/people", "People at Eastern Star Trading", "Eastern Star Trading 的人员"),
    ("manager2@demo.test", "/console/dealers/D006", "Golden Bridge Trading", "Golden Bridge Trading"),
    ("admin@demo.test", "/console/dealers/D002", "Northern Light Supply", "Northern Light Supply"),
    ("manager2@demo.test", "/console/portfolios", "Portfolios", "经理名下经销商"),
    ("manager2@demo.test", "/audit/", "Audit trail", "审计日志"),
    ("admin@demo.test", "/console/?sort=tier&dir=desc", "All dealers", "全部经销商"),
    ("admin@demo.test", "/admin/dealers/new", "New dealer", "新建经销商"),
    ("admin@demo.test", "/admin/dealers/D002/edit", "Edit Northern Light Supply", "编辑 Northern Light Supply"),
    ("admin@demo.test", "/admin/users", "Users", "用户"),
    ("admin@demo.test", "/admin/users/new", "New user", "新建用户"),
    ("admin@demo.test", "/admin/territories", "Territories", "区域"),
    ("admin@demo.test", "/admin/periods", "Periods", "期间"),
    ("admin@demo.test", "/admin/jobs", "Background jobs", "后台任务"),
    ("dealer@demo.test", "/notifications/", "Notifications", "通知"),
    ("manager@demo.test", "/notifications/preferences", "Email choices", "邮件设置"),
    ("mediator@demo.test", "/password/forgot", "Forgotten password", "忘记密码"),
    ("mediator@demo.test", "/password/reset/not-a-valid-link", "This link no longer works", "此链接已失效"),
    ("staff@demo.test", "/dealer/documents", "Documents of Eastern Star Trading", "Eastern Star Trading 的文件"),
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("email", "path", "english", "chinese"), PAGES, ids=[f"{p[0]}{p[1]}" for p in PAGES])
def test_directory_pages_are_accessible(
    browser: Browser,
    live_server: str,
    email: str,
    path: str,
    english: str,
    chinese: str,
    language: str,
    viewport: dict[str, int],
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, email, language)
    page.goto(f"{live_server}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(english if language == "en" else chinese)
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


def test_admin_creates_a_dealer_and_a_user_who_then_logs_in(browser: Browser, live_server: str) -> None:
    page = new_page(browser, "en", DESKTOP)
    log_in_page(page, live_server, "admin@demo.test", "en")
    page.get_by_role("link", name="New dealer").first.click()
    page.get_by_label("Dealer code").fill("D777")
    page.get_by_label("Name", exact=True).fill("Lucky Seven Appliances")
    page.get_by_label("Territory").select_option(label="West")
    page.get_by_label("Tier").select_option(label="Gold")
    page.get_by_label("Channel manager").select_option(label="Li Wei")
    page.get_by_role("button", name="Create dealer").click()
    expect(page.get_by_text("Dealer D777 was created.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lucky Seven Appliances")
    expect(page.get_by_role("region", name="Timeline")).to_contain_text("Dealer created")

    page.goto(f"{live_server}/admin/users/new")
    page.get_by_label("Email", exact=True).fill("owner@lucky7.test")
    page.get_by_label("Name", exact=True).fill("Qian Lucky")
    page.get_by_label("Role", exact=True).select_option(label="Dealer user")
    page.get_by_label("Dealer code (dealer users only)").fill("d777")
    page.get_by_label("Dealer role").select_option(label="Owner")
    page.get_by_label("Temporary password").fill("a temporary password")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("Qian Lucky can now log in with the temporary password you set.")).to_be_visible()
    page.context.close()

    newcomer = new_page(browser, "zh", PHONE)
    log_in_page(newcomer, live_server, "owner@lucky7.test", "zh", password="a temporary password")
    # a temporary password leads straight to choosing one's own
    expect(newcomer).to_have_url(re.compile(r"/account$"))
    expect(newcomer.get_by_text("请先设置您自己的密码")).to_be_visible()
    newcomer.goto(f"{live_server}/dealer/")
    expect(newcomer).to_have_url(re.compile(r"/account$"))
    newcomer.get_by_label("当前密码", exact=True).fill("a temporary password")
    newcomer.get_by_label("新密码", exact=True).fill("my own lucky password")
    newcomer.get_by_label("再次输入新密码", exact=True).fill("my own lucky password")
    newcomer.get_by_role("button", name="修改密码").click()
    expect(newcomer.get_by_text("密码已修改。")).to_be_visible()
    newcomer.goto(f"{live_server}/dealer/")
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Lucky Seven Appliances")
    newcomer.context.close()


def _owner_page(browser: Browser, live_server: str) -> Page:
    page = new_page(browser, "en", PHONE)
    log_in_page(page, live_server, "dealer2@demo.test", "en")
    open_menu(page)  # a phone: People is in the menu, not in the tab bar
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("People at Northern Light Supply")
    return page


def test_an_owner_adds_a_colleague_and_a_trainee(browser: Browser, live_server: str) -> None:
    page = _owner_page(browser, live_server)
    page.get_by_label("Name", exact=True).first.fill("Xu Ming")
    page.get_by_label("Email", exact=True).fill("not an email")
    page.get_by_label("Temporary password").fill("short")
    page.get_by_role("button", name="Add colleague").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_text("Use at least 12 characters.")).to_be_visible()
    expect(page.get_by_label("Name", exact=True).first).to_have_value("Xu Ming")
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.get_by_label("Email", exact=True).fill("xu.ming@northern.test")
    page.get_by_label("Temporary password").fill("temporary password 1")
    page.get_by_role("button", name="Add colleague").click()
    expect(page.get_by_text("Xu Ming can now log in with the temporary password you set.")).to_be_visible()
    expect(page.get_by_role("region", name="Portal users")).to_contain_text("xu.ming@northern.test")

    page.get_by_label("Name", exact=True).nth(1).fill("He Ping")
    page.get_by_label("Job title").fill("Installer")
    page.get_by_role("button", name="Add trainee").click()
    expect(page.get_by_text("He Ping was added to your trainees.")).to_be_visible()
    page.get_by_role("button", name="Deactivate Xu Ming").click()
    expect(page.get_by_text("Xu Ming can no longer log in.")).to_be_visible()
    page.context.close()

    colleague = new_page(browser, "en", DESKTOP)
    submit_login(colleague, live_server, "xu.ming@northern.test", "en", password="temporary password 1")
    expect(colleague.get_by_role("alert")).to_contain_text("This account cannot log in.")
    colleague.context.close()


def test_a_senior_manager_suspends_a_dealer_with_a_reason(browser: Browser, live_server: str) -> None:
    page = new_page(browser, "en", DESKTOP)
    log_in_page(page, live_server, "manager2@demo.test", "en")
    page.goto(f"{live_server}/console/dealers/D003")
    page.get_by_label("New status").select_option(label="Suspended")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".field-error").get_by_text("Say why the status changes.")).to_be_visible()
    expect(page.locator(".error-summary a[href='#reason']")).to_be_visible()  # and summed up at the form's top
    page.get_by_label("Reason").fill("Sold below the floor price in the North territory.")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_text("The status of Southern Harbour Electric was changed.")).to_be_visible()
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text("from Active to Suspended")
    expect(timeline).to_contain_text("Sold below the floor price in the North territory.")
    assert DEMO_PASSWORD  # the demo data the journey relies on
    page.context.close()


@pytest.mark.parametrize(
    ("language", "viewport", "tier"),
    [("en", {"width": 320, "height": 640}, "Bronze"), ("zh", PHONE, "银牌"), ("en", DESKTOP, "Gold")],
    ids=["en-320", "zh-375", "en-desktop"],
)
def test_an_admin_schedules_a_tier_change_for_the_next_period(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int], tier: str
) -> None:
    """D004 is platinum; each run schedules another tier for the next period (so each differs from the last)."""
    new_tier, why, button, missing, scheduled, history = {
        "en": ("New tier", "Why", "Change the tier", "Say why the tier changes", "scheduled", "Tier history"),
        "zh": ("新等级", "更改原因", "更改等级", "请说明等级更改的原因", "已排定", "等级历史"),
    }[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    page.goto(f"{live_server}/console/dealers/D004")
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_label(new_tier, exact=True).select_option(label=tier)
    page.get_by_role("button", name=button).click()
    expect(page.locator(".field-error").get_by_text(missing)).to_be_visible()
    expect(page.locator(".error-summary a[href='#why']")).to_be_visible()  # and summed up at the form's top
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_label(new_tier, exact=True).select_option(label=tier)
    page.get_by_label(why, exact=True).fill(f"Agreed at the annual review ({language}).")
    page.get_by_role("button", name=button).click()
    table = page.get_by_role("table", name=history)
    expect(table).to_contain_text(f"Agreed at the annual review ({language}).")
    expect(table).to_contain_text(scheduled)
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


def _bell_count(page: Page) -> int:
    badge = page.locator("#bell .bell-count")
    return int(badge.get_attribute("data-unread") or 0) if badge.count() else 0


def _unread_of(live_app: Flask, email: str) -> tuple[int, int]:
    """(The person's unread notifications, the newest notification's id) as the database has them."""
    with live_app.app_context():
        user_id = select(User.id).where(User.email == email).scalar_subquery()
        unread = db.session.execute(
            select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        ).scalar_one()
        newest = db.session.execute(select(func.coalesce(func.max(Notification.id), 0))).scalar_one()
        return int(unread), int(newest)


def test_the_bell_count_drops_by_one_when_a_notification_is_opened(
    browser: Browser, live_app: Flask, live_server: str
) -> None:
    """Opening one notification reads one: the bell shows what is left unread. Other journeys of this server may
    notify the manager meanwhile, or have opened the demo's notices already: the test sends its own, and counts in
    what arrives while it runs instead of guessing."""
    with live_app.app_context():  # its own notice: other journeys of this server may have opened the demo's
        manager = db.session.execute(select(User).where(User.email == "manager@demo.test")).scalar_one()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == "D001")).scalar_one()
        notify([manager], "portfolio_changed", {"dealer": dealer.name}, link("dealers.dealer_detail", code="D001"))
        db.session.commit()
    page = new_page(browser, "en", PHONE)
    log_in_page(page, live_server, "manager@demo.test", "en")
    unread_before, newest_before = _unread_of(live_app, "manager@demo.test")
    assert _bell_count(page) >= 1
    page.locator("#bell").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    page.get_by_role("button", name=re.compile("is now in your portfolio")).first.click()
    expect(page).to_have_url(re.compile(r"/console/dealers/D00\d$"))
    unread_after, _newest = _unread_of(live_app, "manager@demo.test")
    with live_app.app_context():
        arrived = db.session.execute(
            select(func.count()).where(
                Notification.id > newest_before,
                Notification.user_id == select(User.id).where(User.email == "manager@demo.test").scalar_subquery(),
            )
        ).scalar_one()
    assert unread_after == unread_before - 1 + arrived
    assert _bell_count(page) == unread_after
    page.context.close()


def test_a_forgotten_password_link_sets_a_new_password(browser: Browser, live_app: Flask, live_server: str) -> None:
    page = new_page(browser, "zh", PHONE)
    page.goto(f"{live_server}/login")
    page.get_by_role("link", name="忘记密码？").click()
    page.get_by_label("电子邮箱", exact=True).fill("mediator@demo.test")
    page.get_by_role("button", name="发送链接给我").click()
    expect(page.get_by_text("如果该邮箱属于某个账户")).to_be_visible()
    with live_app.app_context():  # read the link as the mail server would deliver it
        body = (
            db.session.execute(
                select(OutboxEmail.text_body)
                .where(OutboxEmail.to_address == "mediator@demo.test")
                .order_by(OutboxEmail.id.desc())
            )
            .scalars()
            .first()
        )
    assert body is not None
    path = re.search(r"https?://[^/\s]+(/password/reset/\S+)", body).group(1)  # type: ignore[union-attr]
    page.goto(f"{live_server}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("设置您的密码")
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.get_by_label("新密码", exact=True).fill("mediator's brand new password")
    page.get_by_label("再次输入新密码", exact=True).fill("mediator's brand new password")
    page.get_by_role("button", name="设置密码").click()
    expect(page.get_by_text("密码已设置，请用新密码登录。")).to_be_visible()
    page.goto(f"{live_server}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("此链接已失效")
    # log in with it, then put the demo password back for the other journeys
    log_in_page(page, live_server, "mediator@demo.test", "zh", password="mediator's brand new password")
    expect(page.get_by_role("heading", level=1)).to_have_text("调解")
    page.goto(f"{live_server}/account")
    page.get_by_label("当前密码", exact=True).fill("mediator's brand new password")
    page.get_by_label("新密码", exact=True).fill(DEMO_PASSWORD)
    page.get_by_label("再次输入新密码", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="修改密码").click()
    expect(page.get_by_text("密码已修改。")).to_be_visible()
    page.context.close()


def test_an_owner_uploads_a_document_and_the_manager_previews_it(
    browser: Browser, live_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:

    folder = tmp_path_factory.mktemp("uploads")
    (folder / "stand photo.jpg").write_bytes(jpeg(320, 240, exif=True))
    (folder / "invoice.pdf").write_bytes(HTML)  # an HTML page pretending to be a PDF
    page = new_page(browser, "en", PHONE)
    log_in_page(page, live_server, "dealer@demo.test", "en")
    open_menu(page)
    page.get_by_role("link", name="Documents").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Documents of Eastern Star Trading")
    page.get_by_label("File (PDF, JPEG or PNG, at most 10 MB)").set_input_files(str(folder / "invoice.pdf"))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("Only PDF, JPEG and PNG files are accepted")
    violations = axe_violations(page)
    assert not violations, describe(violations)
    page.get_by_label("File (PDF, JPEG or PNG, at most 10 MB)").set_input_files(str(folder / "stand photo.jpg"))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("stand photo.jpg was added.")).to_be_visible()
    page.context.close()

    manager = new_page(browser, "zh", DESKTOP)
    log_in_page(manager, live_server, "manager@demo.test", "zh")
    manager.goto(f"{live_server}/console/dealers/D001")
    manager.get_by_role("link", name="stand photo.jpg").click()
    image = manager.get_by_role("img", name="stand photo.jpg")
    expect(image).to_be_visible()
    # Visible is not yet decoded: wait for the decoding itself (a function Playwright calls, which the page's CSP
    # allows; a string predicate would be eval'd in the page, which the CSP forbids).
    width = manager.locator("img.evidence-image").evaluate("image => image.decode().then(() => image.naturalWidth)")
    assert width == 320
    violations = axe_violations(manager)
    assert not violations, describe(violations)
    manager.goto(f"{live_server}/console/dealers/D001")
    manager.get_by_role("link", name="Business licence.pdf").click()
    page_image = manager.get_by_role("img", name="Business licence.pdf")  # drawn on the server: no PDF viewer
    expect(page_image).to_be_visible()
    expect(page_image).to_have_js_property("complete", True)  # polled without eval, which the CSP forbids
    expect(page_image).to_have_js_property("naturalWidth", 1240)
    expect(manager.locator("iframe")).to_have_count(0)
    with manager.expect_response(re.compile(r"/download$")) as answer:
        manager.evaluate("fetch(document.querySelector('a[href$=\"/download\"]').href)")
    assert answer.value.status == 200 and answer.value.headers["content-type"] == "application/pdf"
    manager.context.close()
