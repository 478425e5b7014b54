"""Targets and promotion budgets are one kind of page ("an amount per dealer and period"): the same upload rules
hold for both, so each case runs for both kinds."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from openpyxl import Workbook

from portal.audit.models import AuditEvent
from portal.claims.models import FundAllocation
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.rebates.models import Target
from tests.factories import Channel
from tests.helpers import line_errors_of, logged_in_client


@dataclass(frozen=True)
class Kind:
    role: str
    page: str  # /console/targets or /admin/budgets
    model: type
    header: str  # the English amount column
    chinese_header: str
    audit_action: str
    frozen: str
    period: str  # which of the channel's open periods: targets are set freely only before a period starts


KINDS = [
    Kind(
        "manager", "/console/targets", Target, "target", "目标", "target.set", "its targets are frozen", "open_period"
    ),
    Kind(
        "admin",
        "/admin/budgets",
        FundAllocation,
        "budget",
        "预算",
        "fund_allocation.set",
        "its budgets are frozen",
        "current_period",
    ),
]


def _amount_of(app: Flask, kind: Kind, code: str, period_code: str) -> int | None:
    with app.app_context():
        return db.session.execute(
            sa.select(kind.model.amount)
            .join(Dealer, Dealer.id == kind.model.dealer_id)
            .join(Period, Period.id == kind.model.period_id)
            .where(Dealer.code == code, Period.code == period_code)
        ).scalar_one_or_none()


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_an_excel_export_with_chinese_headers_is_read(app: Flask, channel: Channel, kind: Kind) -> None:
    """Excel's "CSV UTF-8" has a byte-order mark and CRLF line ends, quotes amounts with thousands separators and
    leaves blank lines at the end; a dealer code typed in lower case is the same dealer."""
    client = logged_in_client(app, channel.emails[kind.role])
    content = (
        f'\ufeff经销商代码,{kind.chinese_header}\r\n{channel.own_dealer.lower()},"1,234,567.89"\r\n'
        f'{channel.second_dealer},"2,000"\r\n,\r\n\r\n'
    ).encode()
    saved = client.post(
        f"{kind.page}/{getattr(channel, kind.period)}/import", data={"file": (io.BytesIO(content), "x.csv")}
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert _amount_of(app, kind, channel.own_dealer, getattr(channel, kind.period)) == 123_456_789
    assert _amount_of(app, kind, channel.second_dealer, getattr(channel, kind.period)) == 200_000
    assert "CN¥1,234,567.89" in client.get(f"{kind.page}?period={getattr(channel, kind.period)}").get_data(as_text=True)
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.details).where(AuditEvent.action == kind.audit_action)
        ).scalars()
        assert {(event["period"], event["after"]) for event in events} >= {
            (getattr(channel, kind.period), 123_456_789),
            (getattr(channel, kind.period), 200_000),
        }


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_a_closed_period_takes_no_file_and_no_amount(app: Flask, channel: Channel, kind: Kind) -> None:
    client = logged_in_client(app, channel.emails[kind.role])
    before = _amount_of(app, kind, channel.own_dealer, channel.previous_period)
    content = f"dealer_code,{kind.header}\n{channel.own_dealer},500\n".encode()
    upload = client.post(f"{kind.page}/{channel.previous_period}/import", data={"file": (io.BytesIO(content), "x.csv")})
    assert upload.status_code == 409 and kind.frozen in upload.get_data(as_text=True)
    one = client.post(f"{kind.page}/{channel.previous_period}/{channel.own_dealer}", data={"amount": "500"})
    assert one.status_code == 409 and kind.frozen in one.get_data(as_text=True)
    assert _amount_of(app, kind, channel.own_dealer, channel.previous_period) == before
    page = client.get(f"{kind.page}?period={channel.previous_period}").get_data(as_text=True)
    assert kind.frozen in page and "Upload" not in page


@pytest.mark.usefixtures("claim_records")
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_every_bad_line_is_listed_and_nothing_saved(app: Flask, channel: Channel, kind: Kind) -> None:
    client = logged_in_client(app, channel.emails[kind.role])
    before = _amount_of(app, kind, channel.second_dealer, getattr(channel, kind.period))
    content = (
        f"dealer_code,{kind.header}\n{channel.second_dealer},700\n{channel.second_dealer},800\n"
        f"{channel.foreign_dealer},5\n{channel.own_dealer},abc\n"
    ).encode()
    refused = client.post(
        f"{kind.page}/{getattr(channel, kind.period)}/import", data={"file": (io.BytesIO(content), "x.csv")}
    )
    assert refused.status_code == 422
    rows = line_errors_of(refused.get_data(as_text=True))
    assert [row[0] for row in rows] == ["3", "4", "5"]
    assert rows[0] == ("3", "dealer_code", "Repeats line 2.")
    assert _amount_of(app, kind, channel.second_dealer, getattr(channel, kind.period)) == before


# Files as people really send them, which a lenient reader would read wrong without a word (issue 22).
MISREAD_LINES = [
    pytest.param(
        "{code},1,200,000.00",
        ("—", "This line has 4 cells but the first line names 2 columns: a thousands separator outside quotes"),
        id="thousands-unquoted",
    ),
    pytest.param(
        "{code},50,000",
        ("—", "This line has 3 cells but the first line names 2 columns"),
        id="budget-thousands-unquoted",
    ),
    pytest.param(
        '{code},"1234,56"',
        ("{column}", "1234,56 has a decimal comma or misplaced thousands separators"),
        id="decimal-comma",
    ),
    pytest.param(
        "{code},1.200",
        ("{column}", "Is the dot in 1.200 a decimal point or a thousands separator?"),
        id="european-thousands",
    ),
]


@pytest.mark.parametrize("line, expected", MISREAD_LINES)
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_an_amount_that_could_be_read_two_ways_is_refused_with_the_reason(
    app: Flask, channel: Channel, kind: Kind, line: str, expected: tuple[str, str]
) -> None:
    client = logged_in_client(app, channel.emails[kind.role])
    period = getattr(channel, kind.period)
    before = _amount_of(app, kind, channel.own_dealer, period)
    content = f"dealer_code,{kind.header}\n{line.format(code=channel.own_dealer)}\n".encode()
    refused = client.post(f"{kind.page}/{period}/import", data={"file": (io.BytesIO(content), "x.csv")})
    assert refused.status_code == 422
    [(number, column, message)] = line_errors_of(refused.get_data(as_text=True))
    assert (number, column) == ("2", expected[0].format(column=kind.header))
    assert message.startswith(expected[1]), message
    assert _amount_of(app, kind, channel.own_dealer, period) == before


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_files_that_cannot_be_read_safely_are_refused_saying_why(app: Flask, channel: Channel, kind: Kind) -> None:
    client = logged_in_client(app, channel.emails[kind.role])
    period = getattr(channel, kind.period)
    before = _amount_of(app, kind, channel.own_dealer, period)
    files = {
        # two columns meaning the amount: taking either would be a guess
        f"dealer_code,{kind.header},{kind.chinese_header}\n{channel.own_dealer},5,6\n".encode(): (
            "1",
            f"Columns {kind.header} and {kind.chinese_header} both give {kind.header}: keep one of them.",
        ),
        # traditional Chinese from Taiwan or Hong Kong, which GB18030 would decode into nonsense
        f"經銷商代碼,{kind.header}\n{channel.own_dealer},5\n".encode("big5"): ("1", "This file is in Big5"),
        # a quote opened and never closed: the rest of the file would have become one cell
        (
            f"dealer_code,{kind.header}\n{channel.second_dealer},7\n"
            f'{channel.own_dealer},"500\n{channel.second_dealer},6\n'
        ).encode(): (
            "3",
            "The file's quoting breaks on this line",
        ),
    }
    for content, (number, message) in files.items():
        refused = client.post(f"{kind.page}/{period}/import", data={"file": (io.BytesIO(content), "x.csv")})
        assert refused.status_code == 422, content
        rows = line_errors_of(refused.get_data(as_text=True))
        assert any(row[0] == number and row[2].startswith(message) for row in rows), rows
    assert _amount_of(app, kind, channel.own_dealer, period) == before


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_semicolon_tab_and_utf16_files_are_read(app: Flask, channel: Channel, kind: Kind) -> None:
    """Excel where the decimal mark is a comma saves CSV with semicolons; its "Unicode text" is UTF-16 with tabs."""
    client = logged_in_client(app, channel.emails[kind.role])
    period = getattr(channel, kind.period)
    for content, expected in (
        (f"dealer_code;{kind.header}\r\n{channel.own_dealer};1234.56\r\n".encode(), 123_456),
        (f"经销商代码\t{kind.chinese_header}\r\n{channel.own_dealer}\t2,500.00\r\n".encode("utf-16"), 250_000),
    ):
        saved = client.post(f"{kind.page}/{period}/import", data={"file": (io.BytesIO(content), "x.csv")})
        assert saved.status_code == 303, saved.get_data(as_text=True)
        assert _amount_of(app, kind, channel.own_dealer, period) == expected


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_a_file_said_to_write_decimal_commas_is_read_as_it_says(app: Flask, channel: Channel, kind: Kind) -> None:
    """A German Excel's CSV: semicolons and 1.200.000,50. Refused when nothing was said, read when it was; the
    same file said to write decimal points is refused rather than misread."""
    client = logged_in_client(app, channel.emails[kind.role])
    period = getattr(channel, kind.period)
    content = f"dealer_code;{kind.header}\r\n{channel.own_dealer};1.200.000,50\r\n".encode()

    def upload(number_format: str) -> int:
        return client.post(
            f"{kind.page}/{period}/import",
            data={"file": (io.BytesIO(content), "x.csv"), "number_format": number_format},
        ).status_code

    assert upload("") == 422
    assert upload("point") == 422
    assert upload("comma") == 303
    assert _amount_of(app, kind, channel.own_dealer, period) == 120_000_050


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_an_excel_workbook_is_read_with_numbers_as_cells(app: Flask, channel: Channel, kind: Kind) -> None:
    """A workbook straight from Excel: the amount a number cell (a float), the header in Chinese."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["经销商编码", kind.chinese_header])
    sheet.append([channel.own_dealer, 1_234_567.89])
    sheet.append([channel.second_dealer, 2000])
    out = io.BytesIO()
    workbook.save(out)
    client = logged_in_client(app, channel.emails[kind.role])
    period = getattr(channel, kind.period)
    saved = client.post(f"{kind.page}/{period}/import", data={"file": (io.BytesIO(out.getvalue()), "x.xlsx")})
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert _amount_of(app, kind, channel.own_dealer, period) == 123_456_789
    assert _amount_of(app, kind, channel.second_dealer, period) == 200_000


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.header)
def test_a_title_and_a_total_row_are_skipped_and_said(app: Flask, channel: Channel, kind: Kind) -> None:
    client = logged_in_client(app, channel.emails[kind.role])
    period = getattr(channel, kind.period)
    content = (
        f"2027年目标,\ndealer_code,{kind.header}\n{channel.own_dealer},1000\n{channel.second_dealer},2000\nTotal,3000\n"
    ).encode()
    saved = client.post(f"{kind.page}/{period}/import", data={"file": (io.BytesIO(content), "x.csv")})
    assert saved.status_code == 303, saved.get_data(as_text=True)
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Line 1: A title above the column names: skipped." in page
    assert "Line 5: A total row (Total): skipped, a total is not a sale." in page
    assert _amount_of(app, kind, channel.own_dealer, period) == 100_000
    assert _amount_of(app, kind, channel.second_dealer, period) == 200_000
