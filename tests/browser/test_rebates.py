"""The partner side in Chromium: the dealer's what-if journey, and every new page sound on a phone and a desktop,
in English and Chinese (no axe violation, nothing blocked by the CSP, nothing wider than the screen)."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from portal.dealers.models import Dealer
from portal.dealers.services import current_period, periods_newest_first
from portal.extensions import db
from portal.formatting import money
from portal.jobs import huey_of
from portal.rebates import rules
from portal.rebates.models import SalesLine
from portal.rebates.sales_jobs import live_line
from portal.rebates.services import statement_of
from tests.browser.helpers import DESKTOP, PHONE, assert_page_is_sound, log_in_page, new_page, watch_csp

WHAT_IF = {
    "en": ("Statement and what-if", "What if you sell this much more? (CNY)"),
    "zh": ("对账单与模拟计算", "如果再多销售这么多会怎样？（CNY）"),
}


def _expected_what_if(app: Flask, extra_major: int) -> tuple[int, int]:
    with app.app_context(), app.test_request_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == "D001")).scalar_one()
        statement = statement_of(dealer, current_period())
        outcome = rules.calculate(
            statement.sales + extra_major * 100, statement.target, statement.rule_tiers, statement.method
        )
        return outcome.rebate, statement.rebate


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_dealer_sees_the_next_tier_and_tries_what_if(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.wait_for_url(f"{live_server}/dealer/")
    more_text = "Sell CN¥" if language == "en" else "再销售 ¥"
    expect(page.locator(".performance .next-tier")).to_contain_text(more_text)
    expect(page.locator("svg.attainment-chart title")).to_have_count(1)
    assert_page_is_sound(page, viewport, blocked)
    link_text, field_label = WHAT_IF[language]
    page.get_by_role("link", name=link_text).click()
    page.wait_for_url("**/dealer/statements/**")
    # Typed before htmx has loaded, the amount waits for the Recalculate button (checked below); on a loaded slow
    # machine the click returns before the scripts run, so wait for them as a person reading the page would.
    page.wait_for_load_state("load")
    statement_url = page.url
    field = page.get_by_label(field_label)
    field.fill("50000")
    rebate, now = _expected_what_if(live_app, 50_000)
    with live_app.test_request_context(headers={"Accept-Language": "zh-CN" if language == "zh" else "en"}):
        shown = money(rebate, "CNY")
    expect(page.locator("#what-if-result")).to_contain_text(shown)
    assert rebate > now
    assert page.url == statement_url  # swapped in place by htmx, not a new page
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name="Recalculate" if language == "en" else "重新计算").click()  # works without htmx too
    expect(page.locator("#what-if-result")).to_contain_text(shown)
    page.context.close()


PAGES = [
    ("dealer@demo.test", "/dealer/statements"),
    ("staff@demo.test", "/dealer/statements/{previous}"),
    ("manager@demo.test", "/console/performance"),
    ("manager@demo.test", "/console/dealers/D002/statements/{current}"),
    ("manager@demo.test", "/console/targets"),
    ("manager@demo.test", "/console/sales-imports"),
    ("admin@demo.test", "/admin/programs"),
    ("admin@demo.test", "/admin/programs/1/edit"),
    ("admin@demo.test", "/admin/statements?period={previous}"),
    ("admin@demo.test", "/console/dealers/D001/statements/{current}"),
    ("dealer@demo.test", "/dealer/account"),
    ("admin@demo.test", "/admin/periods/{current}/close"),
    ("manager2@demo.test", "/admin/periods/{current}/close"),
    ("admin@demo.test", "/admin/periods/{previous}/close"),
    ("manager2@demo.test", "/console/target-changes"),
    ("manager@demo.test", "/console/target-changes?show=all"),
    ("manager@demo.test", "/console/dealers/D001/account"),
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("email", "path"), PAGES, ids=[f"{email} {path}" for email, path in PAGES])
def test_rebate_pages_are_sound(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int], email: str, path: str
) -> None:
    _open_and_check(browser, live_app, live_server, language, viewport, email, path)


def _open_and_check(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int], email: str, path: str
) -> None:
    with live_app.app_context():
        periods = list(db.session.execute(periods_newest_first().limit(2)).scalars())
        codes = {"current": periods[0].code, "previous": periods[1].code}
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, email, language)
    page.wait_for_load_state("load")
    response = page.goto(live_server + path.format(**codes))
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


# The pages of the audited money (the account, the close, target changes) on the narrowest phone as well.
NARROW_PAGES = [
    ("manager@demo.test", "/console/dealers/D001/account"),
    ("admin@demo.test", "/admin/periods/{current}/close"),
    ("manager2@demo.test", "/console/target-changes"),
    ("manager@demo.test", "/console/target-changes?show=all"),
]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("email", "path"), NARROW_PAGES, ids=[f"{email} {path}" for email, path in NARROW_PAGES])
def test_rebate_pages_fit_a_320_pixel_screen(
    browser: Browser, live_app: Flask, live_server: str, language: str, email: str, path: str
) -> None:
    _open_and_check(browser, live_app, live_server, language, {"width": 320, "height": 640}, email, path)


@pytest.mark.parametrize(
    ("language", "viewport"),
    [("en", {"width": 320, "height": 640}), ("zh", PHONE), ("en", DESKTOP)],
    ids=["en-320", "zh-375", "en-desktop"],
)
def test_a_dealer_reads_its_account_and_takes_it_to_excel(
    browser: Browser, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    heading, closing, download = {
        "en": ("Account of Eastern Star Trading", "Closing balance", "Download Excel"),
        "zh": ("Eastern Star Trading 的往来账", "期末余额", "下载 Excel"),
    }[language]
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "dealer@demo.test", language)
    page.goto(f"{live_server}/dealer/account")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_page_is_sound(page, viewport, blocked)
    shown = page.locator("tr.total").last.locator("td").last.inner_text()
    with page.expect_download() as waiting:
        page.get_by_role("link", name=download).click()
    assert waiting.value.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(Path(waiting.value.path()).read_bytes()))
    sheet = workbook.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[-1][2] == closing
    figure = Decimal(re.sub(r"[^0-9.\-]", "", shown))
    assert Decimal(str(rows[-1][5])).quantize(Decimal("0.01")) == figure
    page.context.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_reopening_a_period_asks_why_at_320_pixels(
    browser: Browser, live_app: Flask, live_server: str, language: str
) -> None:
    """Nothing is reopened here (other journeys read the demo's closed quarter): the form refuses an empty reason."""
    narrow = {"width": 320, "height": 640}
    with live_app.app_context():
        previous = list(db.session.execute(periods_newest_first().limit(2)).scalars())[1].code
    heading, button, missing = {
        "en": (f"Closing {previous}", f"Reopen {previous}", "Say why the period reopens"),
        "zh": (f"结算 {previous}", f"重新开放 {previous}", "请说明重新开放该期间的原因"),
    }[language]
    page = new_page(browser, language, narrow)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "admin@demo.test", language)
    page.goto(f"{live_server}/admin/periods/{previous}/close")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_page_is_sound(page, narrow, blocked)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_text(missing).first).to_be_visible()
    assert_page_is_sound(page, narrow, blocked)
    page.context.close()


@pytest.mark.parametrize(
    ("language", "viewport"),
    [("en", {"width": 320, "height": 640}), ("zh", PHONE), ("en", DESKTOP)],
    ids=["en-320", "zh-375", "en-desktop"],
)
def test_a_manager_checks_a_finance_export_and_reads_the_report_by_dealer(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    """A finance team's export with a title above the columns and a 合计 row: the check skips both and says so,
    and the report adds the new sales up per dealer."""
    words = {
        "en": ("File", "Check file", "Lines skipped on purpose", "By dealer", "All dealers (CNY)"),
        "zh": ("文件", "检查文件", "有意跳过的行", "按经销商", "全部经销商（CNY）"),
    }[language]
    with live_app.app_context():
        day = current_period().starts_on.isoformat()  # type: ignore[union-attr]
    tag = f"{language}-{viewport['width']}"
    content = (
        "第四季度销售明细,,,,,\n"
        "dealer_code,date,amount,units,product_line,invoice_ref\n"
        f'D001,{day},"1,000.00",1,Controls,BR-{tag}-1\nD004,{day},250.50,1,Controls,BR-{tag}-2\n'
        '合计,,"1,250.50",2,,\n'
    ).encode()
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", language)
    _upload_and_check(page, live_app, live_server, "finance.csv", content, words[1])
    expect(page.get_by_role("heading", name=words[2])).to_be_visible()
    table = page.get_by_role("table", name=words[3])
    expect(table).to_contain_text(words[4])
    expect(table).to_contain_text("1,250.50")
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()


@pytest.mark.parametrize(
    ("language", "viewport"),
    [("en", {"width": 320, "height": 640}), ("zh", PHONE), ("en", DESKTOP), ("zh", {"width": 320, "height": 640})],
    ids=["en-320", "zh-375", "en-desktop", "zh-320"],
)
def test_a_manager_replaces_an_erp_correction_then_voids_the_file(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    """An ERP sends an invoice again with a corrected amount, and a credit note (红字发票) against it: the check
    shows both values side by side, the manager replaces, imports, and then voids the whole file with a reason."""
    words = {
        "en": (
            "Check file",
            "Invoices sent again with other values",
            "Replace all",
            "Import",
            "Void this import",
            "Voided",
        ),
        "zh": ("检查文件", "以不同数值再次发送的发票", "全部替换", "导入", "作废此导入", "已作废"),
    }[language]
    with live_app.app_context():
        dealer_id = db.session.execute(select(Dealer.id).where(Dealer.code == "D001")).scalar_one()
        booked = db.session.execute(
            select(SalesLine.invoice_ref, SalesLine.sold_on, SalesLine.amount)
            .where(SalesLine.dealer_id == dealer_id, SalesLine.period_id == current_period().id, live_line())  # type: ignore[union-attr]
            .order_by(SalesLine.id)
            .limit(1)
        ).one()
    invoice, sold_on, amount = booked
    tag = f"{language}-{viewport['width']}"
    corrected = Decimal(amount + 1_000) / 100
    content = (
        "dealer_code,date,amount,invoice_ref,original_invoice_ref\n"
        f"D001,{sold_on.isoformat()},{corrected},{invoice.lower()},\n"
        f"D001,{sold_on.isoformat()},-10.00,HZ-{tag},{invoice}\n"
    ).encode()
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", language)
    _upload_and_check(page, live_app, live_server, "erp.csv", content, words[0])
    conflicts = page.get_by_role("region", name=words[1])
    expect(conflicts).to_contain_text(f"{Decimal(amount) / 100:,.2f}")  # booked
    expect(conflicts).to_contain_text(f"{corrected:,.2f}")  # in the file
    assert_page_is_sound(page, viewport, blocked)
    page.get_by_role("button", name=words[2]).click()
    page.get_by_role("button", name=re.compile(words[3])).first.click()
    run_queued(live_app)
    page.reload()
    void = page.get_by_role("region", name=words[4])
    void.get_by_role("textbox").fill("The ERP sent this file twice")
    void.get_by_role("button", name=words[4]).click()
    voided = page.get_by_role("region", name=words[5])
    expect(voided).to_contain_text("The ERP sent this file twice")
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()
    with live_app.app_context():  # the invoice counts its old amount again, once
        live = (
            db.session.execute(
                select(SalesLine.amount).where(
                    SalesLine.dealer_id == dealer_id, SalesLine.invoice_key == invoice.upper(), live_line()
                )
            )
            .scalars()
            .all()
        )
    assert live == [amount]


def _upload_and_check(page: Page, app: Flask, live_server: str, name: str, content: bytes, button: str) -> None:
    """Upload a sales file as the manager on the imports page, let the worker check it, and show its page."""
    page.goto(f"{live_server}/console/sales-imports")
    page.locator("#file").set_input_files(files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
    page.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r"/console/sales-imports/\d+$"))
    run_queued(app)
    page.reload()


def run_queued(app: Flask) -> None:
    """The worker's part: run what the pages queued (a check, an import)."""
    huey = huey_of(app)
    while (task := huey.dequeue()) is not None:
        huey.execute(task)


@pytest.mark.parametrize(
    ("language", "viewport"),
    [("zh", {"width": 320, "height": 640}), ("en", PHONE), ("zh", DESKTOP)],
    ids=["zh-320", "en-375", "zh-desktop"],
)
def test_a_manager_says_once_what_unknown_columns_are(
    browser: Browser, live_app: Flask, live_server: str, language: str, viewport: dict[str, int]
) -> None:
    """A file from a German subsidiary's system: no synonym knows its headers. The manager maps them on the check
    page; the same file is checked again and is ready."""
    words = {
        "en": ("Check file", "What are this file's columns?", "Check again with these columns", "Ready to import"),
        "zh": ("检查文件", "此文件的各列是什么？", "按这些列重新检查", "可以导入"),
    }[language]
    with live_app.app_context():
        day = current_period().starts_on.isoformat()  # type: ignore[union-attr]
    tag = f"{language}-{viewport['width']}"
    # Headers of their own per run: the manager's answers are remembered, and would make the next run's file ready.
    headers = [f"{name} {tag}" for name in ("Kunde", "Datum", "Betrag", "Beleg")]
    content = f"{','.join(headers)}\nD001,{day},12.50,DE-{tag}\n".encode()
    page = new_page(browser, language, viewport)
    blocked = watch_csp(page)
    log_in_page(page, live_server, "manager@demo.test", language)
    _upload_and_check(page, live_app, live_server, "de.csv", content, words[0])
    mapping = page.get_by_role("region", name=words[1])
    for header, chosen in zip(headers, ("dealer_code", "date", "amount", "invoice_ref"), strict=True):
        mapping.get_by_label(header).select_option(chosen)
    assert_page_is_sound(page, viewport, blocked)
    mapping.get_by_role("button", name=words[2]).click()
    page.wait_for_url(re.compile(r"/console/sales-imports/\d+$"))
    run_queued(live_app)
    page.reload()
    expect(page.get_by_text(words[3]).first).to_be_visible()
    assert_page_is_sound(page, viewport, blocked)
    page.context.close()
