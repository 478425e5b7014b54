"""Sales files as ERP systems and Excel really write them (issue 22, item 1: nothing is misread). Each file is built
here as its program would save it, and the check must either read it exactly or refuse it saying why, with the
line number: never a quiet misreading, never a crash. Targets and budgets share the reader
(tests/test_dealer_amounts.py)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import select

from portal.accounts.models import User
from portal.csv_io import open_table, read_header
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.jobs import huey_of
from portal.money import MisreadAmount, parse_file_money, parse_money
from portal.rebates import imports
from portal.rebates.models import ImportStatus, RebateStatement, SalesImport
from portal.rebates.sales_jobs import COLUMNS, check_sales_import, run_sales_import
from tests.factories import Channel, period
from tests.helpers import logged_in_client

HEADER = "dealer_code,date,amount,units,product_line,invoice_ref"


@pytest.fixture(autouse=True)
def empty_queue(app: Flask) -> None:
    huey_of(app).flush()  # the uploads below queue their check; each test runs it itself


def _checked(app: Flask, channel: Channel, content: bytes) -> SalesImport:
    """Upload as the manager and run the check job, as the worker would."""
    with app.app_context():
        manager = db.session.execute(select(User).where(User.email == channel.emails["manager"])).scalar_one()
        batch = imports.start_sales_import(manager, "sales.csv", content)
        db.session.commit()
        check_sales_import(batch.id)
        db.session.expire_all()
        checked = db.session.get(SalesImport, batch.id)
        assert checked is not None
        db.session.expunge(checked)
        return checked


def _confirm_and_import(channel: Channel, import_id: int) -> None:
    """The manager confirms a checked file and the import job runs, as the worker would (in an app context)."""
    manager = db.session.execute(select(User).where(User.email == channel.emails["manager"])).scalar_one()
    imports.confirm_sales_import(manager, db.session.get(SalesImport, import_id))
    db.session.commit()
    assert run_sales_import(import_id) == "imported"


def _own_sales(channel: Channel) -> int:
    """The own dealer's statement sales this quarter (in an app context)."""
    return int(
        db.session.execute(
            select(RebateStatement.sales)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .join(Period, Period.id == RebateStatement.period_id)
            .where(Dealer.code == channel.own_dealer, Period.code == channel.current_period)
        ).scalar_one()
    )


def _day(app: Flask, channel: Channel) -> str:
    with app.app_context():
        return period(channel.current_period).starts_on.isoformat()


def test_an_amount_with_an_unquoted_thousands_separator_is_refused_not_read_as_one(
    app: Flask, channel: Channel
) -> None:
    """An ERP export with the amount last: `1,234.56` unquoted is two cells; it was read as 1.00."""
    content = f"dealer_code,date,invoice_ref,amount\n{channel.own_dealer},{_day(app, channel)},C4b-1,1,234.56\n"
    batch = _checked(app, channel, content.encode())
    assert batch.status is ImportStatus.REJECTED
    [[line, column, message, found]] = batch.errors
    assert (line, column, found) == (2, "", "")
    assert message.startswith("This line has 5 cells but the first line names 4 columns: a thousands separator")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ('"1234,56"', "1234,56 has a decimal comma or misplaced thousands separators: write 1234.56 or 1,234.56, or"),
        ("1.200", "Is the dot in 1.200 a decimal point or a thousands separator? Write 1.20 or 1200."),
        ('"1,23,456.00"', "1,23,456.00 has a decimal comma or misplaced thousands separators"),
    ],
)
def test_an_amount_that_reads_two_ways_is_refused(app: Flask, channel: Channel, amount: str, message: str) -> None:
    content = f"{HEADER}\n{channel.own_dealer},{_day(app, channel)},{amount},1,Controls,INV-1\n"
    batch = _checked(app, channel, content.encode())
    assert batch.status is ImportStatus.REJECTED
    [[line, column, problem, found]] = batch.errors
    assert (line, column, found) == (2, "amount", amount.strip('"')) and problem.startswith(message)


def test_two_columns_for_the_amount_are_refused(app: Flask, channel: Channel) -> None:
    content = f"{HEADER},金额\n{channel.own_dealer},{_day(app, channel)},100.00,1,Controls,INV-1,200.00\n"
    batch = _checked(app, channel, content.encode())
    assert batch.status is ImportStatus.REJECTED
    assert batch.errors == [[1, "", "Columns amount and 金额 both give amount: keep one of them.", ""]]


def test_a_big5_file_is_refused_by_name(app: Flask, channel: Channel) -> None:
    content = f"經銷商代碼,日期,金額,發票號碼\n{channel.own_dealer},{_day(app, channel)},100.00,發票-1\n"
    batch = _checked(app, channel, content.encode("big5"))
    assert batch.status is ImportStatus.REJECTED
    assert batch.errors[0][2].startswith("This file is in Big5, which the portal does not read.")


def test_a_gb18030_file_of_pinyin_alone_is_read_not_taken_for_big5() -> None:
    """A GB18030 export with no Chinese character, only names in pinyin with their tones, reads as written: its
    bytes would also read as Big5 ideographs, which once refused it as Big5."""
    text = "dealer_code,amount,invoice_ref\r\nD001,100.00,Lǚ Wěi ā\r\n"
    table = open_table(text.encode("gb18030"))
    assert [cells for _line, cells in table.rows] == [
        ["dealer_code", "amount", "invoice_ref"],
        ["D001", "100.00", "Lǚ Wěi ā"],
    ]


def test_broken_quoting_names_the_line_instead_of_failing(app: Flask, channel: Channel) -> None:
    day = _day(app, channel)
    content = (
        f"{HEADER}\n{channel.own_dealer},{day},100.00,1,Controls,INV-1\n"
        f'{channel.own_dealer},{day},"200.00,1,Controls,INV-2\n{channel.own_dealer},{day},300.00,1,Controls,INV-3\n'
    )
    batch = _checked(app, channel, content.encode())
    assert batch.status is ImportStatus.REJECTED
    assert [error[:2] for error in batch.errors] == [[3, ""]]
    assert "quoting breaks on this line" in batch.errors[0][2]


@pytest.mark.parametrize(
    ("encoding", "separator"),
    [("utf-16", "\t"), ("utf-8", ";"), ("utf-8-sig", "\t"), ("gb18030", ",")],
    ids=["excel-unicode-text", "semicolons", "tabs-with-bom", "gb18030"],
)
def test_excel_and_erp_encodings_and_separators_are_read(
    app: Flask, channel: Channel, encoding: str, separator: str
) -> None:
    """Excel's "Unicode text" is UTF-16 with tabs; where the decimal mark is a comma it saves semicolons."""
    header = separator.join(["经销商代码", "销售日期", "金额", "数量", "产品线", "发票号"])
    line = separator.join([channel.own_dealer, _day(app, channel), '"1,234.56"', "2", "空调", "发票-1"])
    batch = _checked(app, channel, f"{header}\r\n{line}\r\n".encode(encoding))
    assert batch.status is ImportStatus.READY, batch.errors
    assert (batch.new_rows, batch.error_count) == (1, 0)


def test_the_command_line_reports_a_broken_file_without_a_traceback(
    app: Flask, channel: Channel, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(f'{HEADER}\n{channel.own_dealer},{_day(app, channel)},"5,1,Controls,INV-1\n', encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-sales", str(path), "--as", channel.emails["admin"]])
    assert result.exit_code == 1, result.output
    assert "line 2, file: The file's quoting breaks on this line" in result.output
    assert "Traceback" not in result.output


def _erp_workbook(rows: list[list[object]]) -> bytes:
    """A workbook as an ERP exports it: Chinese headers, date-times and numbers as cells, a formatted but empty
    column at the right."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["客户编码", "开票日期", "价税合计", "数量", "产品类别", "发票号码", None])
    for row in rows:
        sheet.append([*row, None])
    sheet.cell(row=1, column=7).number_format = "0.00"  # touched, so the sheet is one column wider
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.usefixtures("rebate_records")
def test_an_erp_workbook_is_checked_and_imported_to_the_yuan(app: Flask, channel: Channel) -> None:
    """Dates as date-time cells, amounts as numbers (one from a formula's float), Chinese ERP headers; the statement's
    sales grow by exactly the sum computed here."""
    with app.app_context():
        starts_on = period(channel.current_period).starts_on
        before = _own_sales(channel)
    moment = datetime.combine(starts_on, time(0))
    amounts = [1234.56, 1129.9999999999998, 88]  # the second is =1000*1.13 as Excel stores it
    rows: list[list[object]] = [
        [channel.own_dealer, moment, amount, 1, "空调", f"ERP-{number}"] for number, amount in enumerate(amounts)
    ]
    batch = _checked(app, channel, _erp_workbook(rows))
    assert batch.status is ImportStatus.READY, batch.errors
    assert (batch.new_rows, batch.encoding) == (3, "xlsx")
    with app.app_context():
        _confirm_and_import(channel, batch.id)
        after = _own_sales(channel)
    assert after - before == 123_456 + 113_000 + 8_800  # 1,234.56 + 1,130.00 + 88.00, in fen


def test_a_workbook_with_a_misread_amount_names_the_row_excel_shows(app: Flask, channel: Channel) -> None:
    with app.app_context():
        day = period(channel.current_period).starts_on
    rows: list[list[object]] = [
        [channel.own_dealer, day, 100, 1, "空调", "ERP-A"],
        [channel.own_dealer, day, "1.200", 1, "空调", "ERP-B"],  # typed as text
    ]
    batch = _checked(app, channel, _erp_workbook(rows))
    assert batch.status is ImportStatus.REJECTED
    assert batch.errors == [
        [3, "amount", "Is the dot in 1.200 a decimal point or a thousands separator? Write 1.20 or 1200.", "1.200"]
    ]


def test_a_zip_that_is_not_a_workbook_is_refused(app: Flask, channel: Channel) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr("sales.csv", f"{HEADER}\n")
    batch = _checked(app, channel, archive.getvalue())
    assert batch.status is ImportStatus.REJECTED
    assert batch.errors[0][2].startswith("This is not an Excel workbook (.xlsx) the portal can read.")


def test_a_report_title_and_a_total_row_are_skipped_and_said(app: Flask, channel: Channel, tmp_path: Path) -> None:
    """A finance team's export: a title above the columns, a blank line, the lines, then 合计 with the sum."""
    day = _day(app, channel)
    content = (
        "2026年第四季度销售明细,,,,,\n,,,,,\n"
        f"{HEADER}\n{channel.own_dealer},{day},100.00,1,Controls,T-1\n{channel.own_dealer},{day},200.00,1,Controls,T-2\n"
        '合计：,,"300.00",2,,\n'
    )
    batch = _checked(app, channel, content.encode())
    assert batch.status is ImportStatus.READY, batch.errors
    assert (batch.new_rows, batch.total_rows) == (2, 2)
    assert batch.skipped == [
        [1, "A title above the column names: skipped."],
        [6, "A total row (合计): skipped, a total is not a sale."],
    ]
    page = logged_in_client(app, channel.emails["manager"]).get(f"/console/sales-imports/{batch.id}")
    text = page.get_data(as_text=True)
    assert "Lines skipped on purpose" in text and "Line 6: A total row (合计): skipped, a total is not a sale." in text
    path = tmp_path / "report.csv"
    path.write_bytes(content.encode())
    result = app.test_cli_runner().invoke(args=["import-sales", str(path), "--as", channel.emails["admin"]])
    assert result.exit_code == 0, result.output
    assert "line 1: A title above the column names: skipped." in result.output
    assert "2 lines read: 2 lines added" in result.output


def test_the_check_report_adds_up_per_dealer_and_the_errors_download(app: Flask, channel: Channel) -> None:
    """Two dealers, one invoice already imported: per dealer and in all, as computed here from the file."""
    day = _day(app, channel)
    lines = [
        (channel.own_dealer, "1000.00", "R-1"),
        (channel.own_dealer, '"2,500.50"', "R-2"),
        (channel.second_dealer, "700.25", "R-3"),
    ]
    first = f"{HEADER}\n" + "".join(f"{code},{day},{amount},1,Controls,{ref}\n" for code, amount, ref in lines[:1])
    done = _checked(app, channel, first.encode())
    with app.app_context():
        _confirm_and_import(channel, done.id)
    content = f"{HEADER}\n" + "".join(f"{code},{day},{amount},1,Controls,{ref}\n" for code, amount, ref in lines)
    batch = _checked(app, channel, content.encode())
    assert batch.status is ImportStatus.READY, batch.errors
    assert batch.dealer_totals == [
        [channel.own_dealer, "CNY", 2, 1, 250_050, 1, 0, 0, 0],
        [channel.second_dealer, "CNY", 1, 1, 70_025, 0, 0, 0, 0],
    ]
    manager_client = logged_in_client(app, channel.emails["manager"])
    page = manager_client.get(f"/console/sales-imports/{batch.id}").get_data(as_text=True)
    assert "All dealers (CNY)" in page and "CN¥3,200.75" in page  # 2,500.50 + 700.25 new; 1,000.00 was there
    broken = _checked(app, channel, f"{HEADER}\n{channel.own_dealer},{day},1.200,1,Controls,X-1\n".encode())
    download = manager_client.get(f"/console/sales-imports/{broken.id}/errors.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Line", "Column", "Value found", "Problem"]
    assert rows[1][:3] == ["2", "amount", "1.200"] and rows[1][3].startswith("Is the dot in 1.200")


@pytest.mark.parametrize(("export", "language"), [("xlsx", "zh"), ("xlsx", "en"), ("csv", "zh"), ("csv", "en")])
def test_the_template_goes_back_in_as_it_came_out(app: Flask, channel: Channel, export: str, language: str) -> None:
    """Downloaded, its example dealer replaced by one of the manager's, uploaded: the check reads it as one sale."""
    client = logged_in_client(app, channel.emails["manager"])
    template = client.get(f"/console/sales-imports/template.{export}?language={language}")
    assert template.status_code == 200
    content = template.data.replace(b"D001", channel.own_dealer.encode())  # the channel's own dealer is D001
    batch = _checked(app, channel, content)
    assert batch.status is ImportStatus.READY, batch.errors
    assert (batch.new_rows, batch.encoding) == (1, "xlsx" if export == "xlsx" else "utf-8")


# --- Properties: the reader gives back what was written, whatever the encoding and separator -------------------

CELL = st.text(st.characters(codec="gb18030", exclude_categories=("Cs", "Cc")), max_size=12)


def _as_csv(rows: list[list[str]], encoding: str, separator: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def _as_workbook(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text as typed, even "=1+1"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=8),
    form=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gb18030", "xlsx"]),
    separator=st.sampled_from([",", ";", "\t"]),
)
@example(rows=[["", "", "ā"]], form="gb18030", separator=",")  # once taken for Big5: pinyin alone, no hanzi
def test_any_lines_written_as_csv_or_xlsx_read_back_the_same(rows: list[list[str]], form: str, separator: str) -> None:
    written = [["dealer_code", "amount", "invoice_ref"], *rows]
    content = _as_workbook(written) if form == "xlsx" else _as_csv(written, form, separator)
    table = open_table(content)
    read = [cells for _line, cells in table.rows]
    header = read_header(read[0], COLUMNS)
    assert header.fields == ["dealer_code", "amount", "invoice_ref"] and not header.problems
    assert read[1:] == rows


@given(minor=st.integers(min_value=0, max_value=10**13))
def test_amounts_written_plainly_or_grouped_read_back_exactly(minor: int) -> None:
    amount = Decimal(minor) / 100
    assert parse_file_money(f"{amount:.2f}", "CNY") == minor
    assert parse_file_money(f"{amount:,.2f}", "CNY") == minor


@given(minor=st.integers(min_value=1, max_value=10**13))
def test_a_decimal_comma_is_never_read_as_another_number(minor: int) -> None:
    """European style "1.234,56": refused whatever the amount, never taken for 123,456.00 or 1.23."""
    amount = Decimal(minor) / 100
    european = f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    with pytest.raises(MisreadAmount):
        parse_file_money(european, "CNY")


def test_the_command_line_gives_the_same_report_and_fails_when_nothing_was_imported(
    app: Flask, channel: Channel, tmp_path: Path
) -> None:
    path = tmp_path / "sales.csv"
    path.write_text(
        f'{HEADER}\n{channel.own_dealer},{_day(app, channel)},"1,200.50",1,Controls,CLI-A\n', encoding="utf-8"
    )
    runner = app.test_cli_runner()
    first = runner.invoke(args=["import-sales", str(path), "--as", channel.emails["admin"]])
    assert first.exit_code == 0, first.output
    assert (
        f"{channel.own_dealer}: 1 lines, 1 new (1200.50 CNY), 0 returns (0.00 CNY), 0 conflicts, 0 already imported"
        in first.output
    )
    again = runner.invoke(args=["import-sales", str(path), "--as", channel.emails["admin"]])
    assert again.exit_code == 1
    assert "0 lines added, 1 already imported and skipped" in again.output and "Nothing was imported." in again.output


def test_bytes_of_no_encoding_are_refused_by_the_check_not_by_a_crash(app: Flask, channel: Channel) -> None:
    """Half a GB18030 character at the end (a file cut off in transfer): the check says what it is, the job does not
    fall over into "the server could not check this file"."""
    batch = _checked(app, channel, b"dealer_code,date,amount,invoice_ref\n\xca")
    assert batch.status is ImportStatus.REJECTED
    assert batch.errors[0][2] == "This is not a CSV file in UTF-8, UTF-16 or GB18030, nor an Excel workbook (.xlsx)."


@settings(max_examples=300, deadline=None)
@given(
    sign=st.sampled_from(["", "-"]),
    whole=st.text(alphabet="0123456789", min_size=1, max_size=17),
    decimals=st.one_of(st.none(), st.text(alphabet="0123456789", min_size=0, max_size=5)),
    currency=st.sampled_from(["CNY", "JPY", "USD", "KWD"]),
)
def test_amounts_read_the_same_as_an_exact_decimal_reading(
    sign: str, whole: str, decimals: str | None, currency: str
) -> None:
    """However many digits and decimals, an amount (`parse_money`, under the file rules and the forms) reads as
    exact decimal arithmetic says: the minor units, or a refusal for decimals the currency does not have and for
    amounts past the limit. Computed here with Decimal."""
    text = sign + whole + ("" if decimals is None else "." + decimals)
    places = {"CNY": 2, "JPY": 0, "USD": 2, "KWD": 3}[currency]
    scaled = Decimal(text).scaleb(places)
    if scaled != scaled.to_integral_value() or abs(scaled) >= 10**15:
        with pytest.raises(ValueError):
            parse_money(text, currency)
    else:
        assert parse_money(text, currency) == int(scaled)
