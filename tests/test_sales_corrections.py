"""Returns, corrections and voids of sales (issue 22, items 3 to 5): credit notes (红字发票) that name the invoice
they correct, invoices sent again by an ERP with other values (conflicts the manager keeps or replaces), invoice
numbers compared trimmed and case-insensitively, line numbers, a whole import voided. Every statement is compared
with a sum written here from the files' own figures, and with the lines booked."""

from __future__ import annotations

import io
import itertools
from types import SimpleNamespace

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.jobs import huey_of
from portal.money import NumberFormat
from portal.notifications.models import Notification
from portal.rebates import checked_lines, imports, sales_jobs
from portal.rebates.models import (
    CheckedSalesLines,
    ImportColumnChoice,
    ImportStatus,
    RebateStatement,
    SalesImport,
    SalesLine,
)
from portal.rebates.sales_jobs import check_sales_import, live_line, run_sales_import
from tests.factories import Channel, period
from tests.helpers import line_errors_found_of, line_errors_of, logged_in_client

HEADER = "dealer_code,date,amount,units,product_line,invoice_ref,original_invoice_ref"


@pytest.fixture(autouse=True)
def empty_queue(app: Flask) -> None:
    huey_of(app).flush()  # the uploads below queue their check; each test runs it itself


def _user(email: str) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def _checked(app: Flask, channel: Channel, content: bytes, *, role: str = "manager", **options: object) -> int:
    """Upload as the manager and run the check job, as the worker would; the import's id."""
    with app.app_context():
        batch = imports.start_sales_import(_user(channel.emails[role]), "sales.csv", content, **options)  # type: ignore[arg-type]
        db.session.commit()
        check_sales_import(batch.id)
        return batch.id


def _batch(app: Flask, import_id: int) -> SalesImport:
    with app.app_context():
        batch = db.session.get(SalesImport, import_id)
        assert batch is not None
        db.session.expunge(batch)
        return batch


def _imported(app: Flask, channel: Channel, content: bytes, *, conflicts: str | None = None) -> int:
    """Checked, conflicts decided as asked, confirmed and imported: the import's id."""
    import_id = _checked(app, channel, content)
    with app.app_context():
        manager = _user(channel.emails["manager"])
        batch = db.session.get(SalesImport, import_id)
        assert batch is not None and batch.status is ImportStatus.READY, batch.errors
        if conflicts:
            imports.decide_conflicts(manager, batch, dict.fromkeys(range(len(batch.conflicts)), conflicts))
        imports.confirm_sales_import(manager, batch)
        db.session.commit()
        assert run_sales_import(import_id) == "imported"
    return import_id


def _sales(app: Flask, code: str, period_code: str) -> int:
    """A dealer's statement sales in a period (0 before any statement), in minor units."""
    with app.app_context():
        found = db.session.execute(
            select(RebateStatement.sales)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .join(Period, Period.id == RebateStatement.period_id)
            .where(Dealer.code == code, Period.code == period_code)
        ).scalar_one_or_none()
        return int(found or 0)


def _booked_sum(app: Flask, code: str, period_code: str) -> int:
    """The same figure from the lines themselves: every line booked in the period, reversals included."""
    with app.app_context():
        return int(
            db.session.execute(
                select(func.coalesce(func.sum(SalesLine.amount), 0))
                .join(Dealer, Dealer.id == SalesLine.dealer_id)
                .join(Period, Period.id == SalesLine.booked_period_id)
                .where(Dealer.code == code, Period.code == period_code)
            ).scalar_one()
        )


def _live(app: Flask, code: str) -> dict[tuple[str, int], int]:
    """The dealer's invoice lines that count now: (invoice key, line number) -> amount. One each, never two."""
    with app.app_context():
        rows = db.session.execute(
            select(SalesLine.invoice_key, SalesLine.line_no, SalesLine.amount)
            .join(Dealer, Dealer.id == SalesLine.dealer_id)
            .where(Dealer.code == code, live_line())
        ).all()
    found = {(key, line_no): amount for key, line_no, amount in rows}
    assert len(found) == len(rows)
    return found


def _day(app: Flask, channel: Channel, which: str = "current") -> str:
    with app.app_context():
        code = channel.current_period if which == "current" else channel.previous_period
        return period(code).starts_on.isoformat()


def _file(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


# --- Credit notes -----------------------------------------------------------------------------------------------


def test_a_credit_note_takes_its_amount_off_the_dealers_sales(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    before = _sales(app, code, channel.current_period)
    _imported(app, channel, _file(f"{code},{day},1000.00,4,Controls,INV-A,"))
    credit = _imported(app, channel, _file(f"{code},{day},-300.00,-1,Controls,HZ-A,inv-a"))
    assert _sales(app, code, channel.current_period) == before + 100_000 - 30_000
    assert _sales(app, code, channel.current_period) == _booked_sum(app, code, channel.current_period)
    batch = _batch(app, credit)
    assert (batch.imported_rows, batch.return_rows) == (1, 1)
    with app.app_context():
        line = db.session.execute(select(SalesLine).where(SalesLine.invoice_key == "HZ-A")).scalar_one()
        assert (line.amount, line.units, line.corrects_invoice) == (-30_000, -1, "INV-A")


def test_a_credit_note_in_the_same_file_as_its_invoice_is_checked_against_it(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    before = _sales(app, code, channel.current_period)
    # The credit note comes first: the invoice it corrects is later in the file.
    _imported(
        app, channel, _file(f"{code},{day},-250.00,2,Controls,HZ-1,INV-1", f"{code},{day},400.00,5,Controls,INV-1,")
    )
    assert _sales(app, code, channel.current_period) == before + 40_000 - 25_000


def test_credit_notes_never_take_an_invoice_below_zero(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    _imported(
        app, channel, _file(f"{code},{day},1000.00,1,Controls,INV-B,", f"{code},{day},-600.00,1,Controls,HZ-B1,INV-B")
    )
    refused = _batch(app, _checked(app, channel, _file(f"{code},{day},-500.00,1,Controls,HZ-B2,INV-B")))
    assert refused.status is ImportStatus.REJECTED
    assert [error[:2] for error in refused.errors] == [[2, "amount"]]
    assert refused.errors[0][2] == "The credit notes for invoice INV-B come to more than the invoice."
    fits = _batch(app, _checked(app, channel, _file(f"{code},{day},-400.00,1,Controls,HZ-B3,INV-B")))
    assert fits.status is ImportStatus.READY, fits.errors  # exactly back to zero is allowed


@pytest.mark.parametrize(
    ("line", "column", "problem"),
    [
        ("{other},{day},-10.00,1,Controls,HZ-X,INV-C", "original_invoice_ref", "This dealer has no invoice INV-C"),
        ("{own},{day},-10.00,1,Controls,HZ-X,", "amount", "Enter an amount above zero"),
        ("{own},{day},10.00,1,Controls,HZ-X,INV-C", "original_invoice_ref", "Only a credit note"),
        ("{own},{day},-10.00,1,Controls,INV-C,INV-C", "original_invoice_ref", "A credit note has a number of its own."),
        ("{own},{day},-10.00,1,Controls,HZ-X,NO-SUCH", "original_invoice_ref", "This dealer has no invoice NO-SUCH"),
    ],
    ids=["another-dealers-invoice", "no-invoice-named", "positive", "own-number", "unknown-invoice"],
)
def test_a_credit_note_that_corrects_nothing_of_this_dealer_is_refused(
    app: Flask, channel: Channel, line: str, column: str, problem: str
) -> None:
    day = _day(app, channel)
    _imported(app, channel, _file(f"{channel.own_dealer},{day},100.00,1,Controls,INV-C,"))
    written = line.format(own=channel.own_dealer, other=channel.second_dealer, day=day)
    refused = _batch(app, _checked(app, channel, _file(written)))
    assert refused.status is ImportStatus.REJECTED
    [[number, where, message, _found]] = refused.errors
    assert (number, where) == (2, column) and message.startswith(problem)


# --- Invoices sent again ----------------------------------------------------------------------------------------


def test_an_invoice_sent_again_in_another_case_with_the_same_values_is_already_imported(
    app: Flask, channel: Channel
) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    _imported(app, channel, _file(f"{code},{day},100.00,1,Controls,ERP-7,"))
    again = _batch(app, _checked(app, channel, _file(f"{code},{day},100.00,1,Controls, erp-7 ,")))
    assert (again.status, again.new_rows, again.duplicate_rows, again.conflict_count) == (ImportStatus.READY, 0, 1, 0)
    full_width = _batch(app, _checked(app, channel, _file(f"{code},{day},100.00,1,Controls,ＥＲＰ－７,")))
    assert (full_width.new_rows, full_width.duplicate_rows) == (0, 1)


def test_an_invoice_sent_again_with_another_amount_waits_for_the_manager(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    _imported(app, channel, _file(f"{code},{day},100.00,1,Controls,ERP-8,"))
    before = _sales(app, code, channel.current_period)
    import_id = _checked(app, channel, _file(f"{code},{day},120.00,1,Controls,erp-8,"))
    batch = _batch(app, import_id)
    assert (batch.status, batch.conflict_count, batch.new_rows) == (ImportStatus.READY, 1, 0)
    assert batch.conflicts[0][:8] == [code, "ERP-8", 0, 10_000, day, 12_000, day, 2]
    client = logged_in_client(app, channel.emails["manager"])
    page = client.get(f"/console/sales-imports/{import_id}").get_data(as_text=True)
    assert "CN¥100.00" in page and "CN¥120.00" in page and "decide it below before importing" in page
    assert client.post(f"/console/sales-imports/{import_id}/confirm").status_code == 422  # undecided
    assert client.post(f"/console/sales-imports/{import_id}/conflicts", data={"all": "replace"}).status_code == 303
    assert client.post(f"/console/sales-imports/{import_id}/confirm").status_code == 303
    with app.app_context():
        assert run_sales_import(import_id) == "imported"
    assert _sales(app, code, channel.current_period) == before - 10_000 + 12_000
    assert _sales(app, code, channel.current_period) == _booked_sum(app, code, channel.current_period)
    assert _live(app, code)[("ERP-8", 0)] == 12_000
    with app.app_context():  # a reversal and a new revision, never an edit of the booked line
        rows = db.session.execute(
            select(SalesLine.amount, SalesLine.revision, SalesLine.reverses_id.is_not(None))
            .where(SalesLine.invoice_key == "ERP-8")
            .order_by(SalesLine.id)
        ).all()
    assert [tuple(row) for row in rows] == [(10_000, 0, False), (-10_000, -1, True), (12_000, 1, False)]


def test_a_conflict_kept_books_nothing(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    _imported(app, channel, _file(f"{code},{day},100.00,1,Controls,ERP-9,"))
    before = _sales(app, code, channel.current_period)
    kept = _imported(
        app,
        channel,
        _file(f"{code},{day},150.00,1,Controls,ERP-9,", f"{code},{day},1.00,1,Controls,ERP-10,"),
        conflicts="keep",
    )
    assert _sales(app, code, channel.current_period) == before + 100
    assert _batch(app, kept).imported_rows == 1
    assert _live(app, code)[("ERP-9", 0)] == 10_000


def test_one_invoice_may_have_several_lines_with_a_line_number_column(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    before = _sales(app, code, channel.current_period)
    content = (
        "dealer_code,date,amount,invoice_ref,line_no\n"
        f"{code},{day},10.00,ML-1,1\n{code},{day},20.00,ML-1,2\n{code},{day},30.00,ML-1,2\n"
    ).encode()
    refused = _batch(app, _checked(app, channel, content))
    assert [error[:3] for error in refused.errors] == [[4, "invoice_ref", "Repeats the invoice of line 3."]]
    _imported(app, channel, content.rsplit(b"\n", 2)[0] + b"\n")
    assert _sales(app, code, channel.current_period) == before + 3_000
    assert {key: amount for key, amount in _live(app, code).items() if key[0] == "ML-1"} == {
        ("ML-1", 1): 1_000,
        ("ML-1", 2): 2_000,
    }


# --- Voids ------------------------------------------------------------------------------------------------------


def test_a_voided_import_is_reversed_and_the_dealers_are_told(app: Flask, channel: Channel) -> None:
    code, second, day = channel.own_dealer, channel.second_dealer, _day(app, channel)
    before = (_sales(app, code, channel.current_period), _sales(app, second, channel.current_period))
    import_id = _imported(
        app, channel, _file(f"{code},{day},700.00,1,Controls,V-1,", f"{second},{day},50.00,1,Controls,V-2,")
    )
    assert _sales(app, code, channel.current_period) == before[0] + 70_000
    client = logged_in_client(app, channel.emails["manager"])
    url = f"/console/sales-imports/{import_id}/void"
    assert client.post(url, data={"reason": " "}).status_code == 422  # a reason is required
    assert client.post(url, data={"reason": "Sent for the wrong month"}).status_code == 303
    assert (_sales(app, code, channel.current_period), _sales(app, second, channel.current_period)) == before
    assert _sales(app, code, channel.current_period) == _booked_sum(app, code, channel.current_period)
    assert ("V-1", 0) not in _live(app, code)
    page = client.get(f"/console/sales-imports/{import_id}").get_data(as_text=True)
    assert "Voided" in page and "Sent for the wrong month" in page
    assert client.post(url, data={"reason": "again"}).status_code == 409
    with app.app_context():
        told = db.session.execute(select(func.count()).where(Notification.kind == "sales_import_voided")).scalar_one()
    assert told >= 1
    # The same invoices may come again afterwards, and count once.
    _imported(app, channel, _file(f"{code},{day},700.00,1,Controls,V-1,"))
    assert _sales(app, code, channel.current_period) == before[0] + 70_000


def test_voiding_a_correction_brings_the_replaced_values_back(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    _imported(app, channel, _file(f"{code},{day},100.00,1,Controls,R-1,"))
    before = _sales(app, code, channel.current_period)
    correction = _imported(app, channel, _file(f"{code},{day},180.00,1,Controls,R-1,"), conflicts="replace")
    assert _sales(app, code, channel.current_period) == before + 8_000
    with app.app_context():
        imports.void_sales_import(_user(channel.emails["manager"]), db.session.get(SalesImport, correction), "wrong")
        db.session.commit()
    assert _sales(app, code, channel.current_period) == before
    assert _live(app, code)[("R-1", 0)] == 10_000
    assert _sales(app, code, channel.current_period) == _booked_sum(app, code, channel.current_period)


def test_an_import_whose_invoices_later_credit_notes_correct_cannot_be_voided_first(
    app: Flask, channel: Channel
) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    sales = _imported(app, channel, _file(f"{code},{day},100.00,1,Controls,CV-1,"))
    _imported(app, channel, _file(f"{code},{day},-40.00,1,Controls,HZ-CV,CV-1"))
    client = logged_in_client(app, channel.emails["manager"])
    refused = client.post(f"/console/sales-imports/{sales}/void", data={"reason": "wrong file"})
    assert refused.status_code == 409
    assert "void that import first" in refused.get_data(as_text=True)


def test_only_a_senior_manager_voids_sales_of_a_closed_period(app: Flask, channel: Channel) -> None:
    code = channel.own_dealer
    import_id = _imported(app, channel, _file(f"{code},{_day(app, channel, 'previous')},90.00,1,Controls,CL-1,"))
    frozen = _sales(app, code, channel.previous_period)
    manager = logged_in_client(app, channel.emails["manager"])
    assert manager.post(f"/console/sales-imports/{import_id}/void", data={"reason": "duplicate"}).status_code == 409
    senior = logged_in_client(app, channel.emails["senior_manager"])
    assert senior.post(f"/console/sales-imports/{import_id}/void", data={"reason": "duplicate"}).status_code == 303
    assert _sales(app, code, channel.previous_period) == frozen  # a closed statement never changes
    with app.app_context():  # the line and its reversal, both booked in today's period for the closed one
        rows = db.session.execute(
            select(SalesLine.amount, SalesLine.period_id, SalesLine.booked_period_id).where(
                SalesLine.invoice_key == "CL-1"
            )
        ).all()
        late = (period(channel.previous_period).id, period(channel.current_period).id)
    assert sorted(tuple(row) for row in rows) == [(-9_000, *late), (9_000, *late)]
    assert ("CL-1", 0) not in _live(app, code)


# --- How the file is written: decimal commas, sheets, columns ---------------------------------------------------


def test_a_file_said_to_use_decimal_points_reads_1_200_as_1_20(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    content = f"dealer_code,date,amount,invoice_ref\n{code},{day},1.200,DP-1\n".encode()
    unsaid = _batch(app, _checked(app, channel, content))
    assert [error[1:] for error in unsaid.errors] == [
        ["amount", "Is the dot in 1.200 a decimal point or a thousands separator? Write 1.20 or 1200.", "1.200"]
    ]
    said = _batch(app, _checked(app, channel, content, number_format=NumberFormat.POINT))
    assert said.status is ImportStatus.READY and said.dealer_totals[0][4] == 120


def test_a_file_said_to_use_decimal_commas_is_read_that_way(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    content = f'dealer_code;date;amount;invoice_ref\n{code};{day};"1.234,56";DC-1\n{code};{day};7,5;DC-2\n'.encode()
    read = _batch(app, _checked(app, channel, content, number_format=NumberFormat.COMMA))
    assert read.status is ImportStatus.READY, read.errors
    assert read.dealer_totals[0][4] == 123_456 + 750
    refused = _batch(
        app,
        _checked(
            app,
            channel,
            f'dealer_code,date,amount,invoice_ref\n{code},{day},"1,234.56",DC-3\n'.encode(),
            number_format=NumberFormat.COMMA,
        ),
    )
    [[line, column, message, found]] = refused.errors
    assert (line, column, found) == (2, "amount", "1,234.56") and "decimal-comma convention" in message


def test_a_workbook_sheet_can_be_chosen(app: Flask, channel: Channel) -> None:
    code = channel.own_dealer
    with app.app_context():
        day = period(channel.current_period).starts_on
    workbook = Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "说明"
    notes.append(["本文件由ERP导出"])
    sales = workbook.create_sheet("销售明细")
    sales.append(["客户编码", "开票日期", "价税合计", "发票号码"])
    sales.append([code, day, 321.5, "SH-1"])
    out = io.BytesIO()
    workbook.save(out)
    chosen = _batch(app, _checked(app, channel, out.getvalue(), sheet="销售明细", number_format=NumberFormat.COMMA))
    assert chosen.status is ImportStatus.READY, chosen.errors
    assert chosen.dealer_totals[0][4] == 32_150  # a number cell stays a number, whatever the CSV convention
    unknown = _batch(app, _checked(app, channel, out.getvalue(), sheet="Sales"))
    assert unknown.errors[0][2] == "This workbook has no sheet of that name. Its sheets: 说明, 销售明细."
    first = _batch(app, _checked(app, channel, out.getvalue()))
    assert first.status is ImportStatus.REJECTED  # the first sheet has no sales columns


def test_columns_no_synonym_knows_are_mapped_once_and_remembered(app: Flask, channel: Channel) -> None:
    code, day = channel.own_dealer, _day(app, channel)
    content = f"Kunde,Datum,Betrag,Beleg,Bemerkung\n{code},{day},12.00,DE-1,x\n".encode()
    import_id = _checked(app, channel, content)
    assert _batch(app, import_id).status is ImportStatus.REJECTED
    client = logged_in_client(app, channel.emails["manager"])
    page = client.get(f"/console/sales-imports/{import_id}").get_data(as_text=True)
    assert "What are this file's columns?" in page and "Bemerkung" in page
    incomplete = client.post(f"/console/sales-imports/{import_id}/columns", data={"column-0": "dealer_code"})
    assert incomplete.status_code == 422
    answered = client.post(
        f"/console/sales-imports/{import_id}/columns",
        data={"column-0": "dealer_code", "column-1": "date", "column-2": "amount", "column-3": "invoice_ref"},
    )
    assert answered.status_code == 303
    again_id = int(answered.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        check_sales_import(again_id)
    assert _batch(app, again_id).status is ImportStatus.READY
    assert _batch(app, _checked(app, channel, content)).status is ImportStatus.READY  # remembered next time
    with app.app_context():
        remembered = db.session.execute(select(ImportColumnChoice.header, ImportColumnChoice.field)).all()
    assert ("kunde", "dealer_code") in remembered and ("bemerkung", "") in remembered
    assert _batch(app, _checked(app, channel, content, role="senior_manager")).status is ImportStatus.REJECTED


def test_each_error_shows_the_value_found(app: Flask, channel: Channel) -> None:
    day = _day(app, channel)
    content = f"dealer_code,date,amount,invoice_ref\nNOPE,{day},1.00,E-1\n{channel.own_dealer},5.10.2026,2.00,E-2\n"
    import_id = _checked(app, channel, content.encode())
    page = logged_in_client(app, channel.emails["manager"]).get(f"/console/sales-imports/{import_id}")
    found = line_errors_found_of(page.get_data(as_text=True))
    assert found == [("2", "dealer_code", "NOPE"), ("3", "date", "5.10.2026")]
    assert [row[2] for row in line_errors_of(page.get_data(as_text=True))] == [
        "Unknown dealer code, or not in your portfolio.",
        "Write the date as YYYY-MM-DD.",
    ]


def test_the_command_line_keeps_or_replaces_conflicts_as_told(app: Flask, channel: Channel, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, day = channel.own_dealer, _day(app, channel)
    _imported(app, channel, _file(f"{code},{day},10.00,1,Controls,CLI-C,"))
    path = tmp_path / "again.csv"
    path.write_bytes(_file(f"{code},{day},11.00,1,Controls,CLI-C,"))
    runner = app.test_cli_runner()
    stopped = runner.invoke(args=["import-sales", str(path), "--as", channel.emails["admin"]])
    assert (
        stopped.exit_code == 1
        and "1 conflicts: run again with --conflicts keep or --conflicts replace." in stopped.output
    )
    replaced = runner.invoke(
        args=["import-sales", str(path), "--as", channel.emails["admin"], "--conflicts", "replace"]
    )
    assert replaced.exit_code == 0, replaced.output
    assert _live(app, code)[("CLI-C", 0)] == 1_100


@pytest.mark.parametrize("channel_changed", [False, True], ids=["lines-kept-by-the-check", "file-read-again"])
def test_the_check_and_the_import_show_progress_while_they_read_and_book(
    app: Flask, channel: Channel, monkeypatch: pytest.MonkeyPatch, channel_changed: bool
) -> None:
    """On a clock where three seconds pass between two looks, every look commits how far the job got: while the
    check reads, while the import reads the lines the check kept (or the file again, when what the check depended
    on changed meanwhile: here, the manager's column choices), and block by block while it books."""
    code, day = channel.own_dealer, _day(app, channel)
    ticks = itertools.count(step=3)
    monkeypatch.setattr(sales_jobs, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    monkeypatch.setattr(sales_jobs, "LOOKUP_CHUNK", 20)
    monkeypatch.setattr(sales_jobs, "PROGRESS_EVERY_LINES", 10)
    monkeypatch.setattr(sales_jobs, "PROGRESS_LINES", 50)
    monkeypatch.setattr(checked_lines, "BLOCK_LINES", 10)
    shown: list[tuple[str, int]] = []
    content = _file(*(f"{code},{day},1.00,1,Controls,PG-{number}," for number in range(200)))
    with app.app_context():
        manager = _user(channel.emails["manager"])
        batch = imports.start_sales_import(manager, "sales.csv", content)
        db.session.commit()
        import_id = batch.id
        commit = db.session.commit

        def watched_commit() -> None:
            found = db.session.get(SalesImport, import_id)
            if found is not None and "rows_done" in found.__dict__:
                shown.append((found.phase, found.rows_done))
            commit()

        monkeypatch.setattr(db.session, "commit", watched_commit)
        check_sales_import(import_id)
        checking = [done for phase, done in shown if phase == ""]
        shown.clear()
        if channel_changed:
            db.session.add(ImportColumnChoice(user_id=manager.id, header="remarks", field=""))
        imports.confirm_sales_import(manager, db.session.get(SalesImport, import_id))
        db.session.commit()
        read_again: list[int] = []
        real_open_table = sales_jobs.open_table
        monkeypatch.setattr(sales_jobs, "open_table", lambda *args: read_again.append(1) or real_open_table(*args))
        assert run_sales_import(import_id) == "imported"
        assert db.session.get(CheckedSalesLines, import_id) is None  # kept only until the file is imported
        assert db.session.execute(select(func.count()).where(SalesLine.import_id == import_id)).scalar_one() == 200
    reading = [done for phase, done in shown if phase == "reading"]
    booking = [done for phase, done in shown if phase == "booking"]
    assert checking[:10] == list(range(20, 201, 20))  # each lookup of 20 lines, 3 s after the one before
    assert read_again == ([1] if channel_changed else [])
    # At the start, then each tenth line read again, or each block of ten kept lines.
    assert reading == list(range(0, 201, 10))
    assert booking[:4] == [50, 100, 150, 200]  # each block booked


def _confirmed_import(app: Flask, channel: Channel, import_id: int) -> tuple[str, str]:
    """Confirm a checked import and run it: (what the job said, the failure shown)."""
    with app.app_context():
        batch = db.session.get(SalesImport, import_id)
        assert batch is not None and batch.status is ImportStatus.READY, batch.errors
        imports.confirm_sales_import(_user(channel.emails["manager"]), batch)
        db.session.commit()
        outcome = run_sales_import(import_id)
        return outcome, db.session.get(SalesImport, import_id).failure  # type: ignore[union-attr]


def test_a_dealer_leaving_the_portfolio_after_the_check_stops_the_import(app: Flask, channel: Channel) -> None:
    """The lines the check kept are not booked when the uploader's dealers changed since: the file is read again
    against today's portfolio, and a line of a dealer no longer in it fails the import, nothing booked."""
    own, second, day = channel.own_dealer, channel.second_dealer, _day(app, channel)
    import_id = _checked(
        app, channel, _file(f"{own},{day},10.00,1,Controls,PF-1,", f"{second},{day},20.00,1,Controls,PF-2,")
    )
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == second)).scalar_one()
        dealer.manager_id = _user(channel.emails["other_manager"]).id
        db.session.commit()
    outcome, failure = _confirmed_import(app, channel, import_id)
    assert outcome == "failed" and "The file no longer passes its checks; nothing was imported." in failure
    assert ("PF-1", 0) not in _live(app, own) and ("PF-2", 0) not in _live(app, second)


def test_an_invoice_booked_between_the_check_and_the_import_is_counted_once(app: Flask, channel: Channel) -> None:
    """The check found none of the file's invoices booked; one of them is booked by another file before this one is
    confirmed. The import still finds it (PostgreSQL's straight copy of the block gives way to the lookup), books
    the other two lines and counts that one once."""
    code, day = channel.own_dealer, _day(app, channel)
    before = _sales(app, code, channel.current_period)
    rows = [f"{code},{day},10.00,1,Controls,BT-{number}," for number in range(3)]
    later = _checked(app, channel, _file(*rows))
    _imported(app, channel, _file(rows[1]))
    outcome, failure = _confirmed_import(app, channel, later)
    assert (outcome, failure) == ("imported", "")
    batch = _batch(app, later)
    assert (batch.imported_rows, batch.duplicate_rows) == (2, 1)
    assert {key: amount for key, amount in _live(app, code).items() if key[0].startswith("BT-")} == {
        ("BT-0", 0): 1_000,
        ("BT-1", 0): 1_000,
        ("BT-2", 0): 1_000,
    }
    assert _sales(app, code, channel.current_period) == before + 3_000


def test_a_credit_note_checked_against_an_invoice_used_up_meanwhile_stops_the_import(
    app: Flask, channel: Channel
) -> None:
    """The credit notes of lines the check kept are checked again at the import against what is booked then: a
    credit note booked meanwhile for the same invoice leaves no room for this one."""
    code, day = channel.own_dealer, _day(app, channel)
    _imported(app, channel, _file(f"{code},{day},100.00,1,Controls,INV-U,"))
    later = _checked(app, channel, _file(f"{code},{day},-80.00,1,Controls,HZ-U2,INV-U"))
    _imported(app, channel, _file(f"{code},{day},-60.00,1,Controls,HZ-U1,INV-U"))  # checked and booked first
    outcome, failure = _confirmed_import(app, channel, later)
    assert outcome == "failed" and "no longer passes its checks" in failure
    assert _batch(app, later).errors[0][2] == "The credit notes for invoice INV-U come to more than the invoice."
    assert _live(app, code)[("INV-U", 0)] == 10_000 and ("HZ-U2", 0) not in _live(app, code)
    assert _live(app, code)[("HZ-U1", 0)] == -6_000


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(1, 10**6),
            st.integers(1, 10**9),
            st.dates(),
            st.integers(-(10**15), 10**15),
            st.text(max_size=12),
            st.text(min_size=1, max_size=12),
            st.booleans(),
            st.one_of(st.none(), st.text(min_size=1, max_size=12)),
        ),
        max_size=40,
    ),
    block=st.integers(1, 7),
)
def test_the_lines_a_check_keeps_come_back_exactly(rows: list[tuple], block: int) -> None:  # type: ignore[type-arg]
    """Whatever text a file holds (Chinese, quotes, control characters, keys equal to the reference or not), the
    lines the check kept are the lines the import gets back, in order, over any number of blocks."""
    lines = [
        (
            line,
            dealer_id,
            3,
            4,
            sold_on,
            amount,
            2,
            product,
            reference,
            reference.upper() if upper else reference,
            7,
            corrects,
        )
        for line, dealer_id, sold_on, amount, product, reference, upper, corrects in rows
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checked_lines, "BLOCK_LINES", block)
        packer = checked_lines.LinePacker()
        for fields in lines:
            packer.add(fields)
        blob = packer.packed()
    blocks = list(checked_lines.unpacked(blob))
    assert [fields for found in blocks for fields in found] == lines
    assert all(len(found) <= block for found in blocks) and packer.count == len(lines)
