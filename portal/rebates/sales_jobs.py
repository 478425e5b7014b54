"""The worker side of a sales import: reading the file line by line (English or Chinese headers, thousands
separators, dates as people type them), checking every line with its number, and inserting the new lines in
chunks. portal.rebates.imports is the side people click; tasks.py runs these."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from typing import Any, NamedTuple

from psycopg.errors import UniqueViolation
from sqlalchemy import ColumnElement, Connection, and_, delete, exists, func, select, tuple_
from sqlalchemy.orm import aliased

from portal.audit.services import audit_change
from portal.csv_io import (
    BrokenTable,
    UnreadableFile,
    extra_cells,
    find_header,
    misread_amount,
    open_table,
    too_many_cells,
    total_line,
    total_word,
)
from portal.database import begin_write, locked_for_update, use_large_sqlite_cache
from portal.dates import company_today
from portal.dealers.models import Period, PeriodStatus
from portal.dealers.services import current_period, visible_dealers
from portal.extensions import db
from portal.money import MisreadAmount, NumberFormat, parse_file_money
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.page_cache import writes_for, wrote_directly
from portal.rebates.checked_lines import FIELDS as KEPT_FIELDS
from portal.rebates.checked_lines import LinePacker, unpacked
from portal.rebates.models import CheckedSalesLines, ImportColumnChoice, ImportStatus, SalesImport, SalesLine
from portal.rebates.rules import IMPORT_TRANSITIONS, invoice_key
from portal.rebates.services import late_sales_adjustments, recompute_statements
from portal.regions import read_region
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition
from portal.types import utcnow
from portal.workflow import move_if_still

CHUNK = 1000  # lines per INSERT


LOOKUP_CHUNK = 10_000  # invoice lines per lookup of what is booked (three bound values each: SQLite allows 32,766)


PROGRESS_SECONDS = 2  # the check's progress moves at least this often, however slowly a file (a workbook) reads


PROGRESS_LINES = 50_000  # lines between two commits of progress: each commit of a big import rewrites index pages


PROGRESS_EVERY_LINES = 1000  # how often reading looks at the clock (once a line would cost more than it tells)


KEPT_ERRORS = 300  # the report shows this many; the count covers all


MAX_REF = 64


MAX_PRODUCT = 80


MAX_SKU = 40


MAX_UNITS = 10**9


COLUMNS = {
    "dealer_code": "dealer_code",
    "dealer": "dealer_code",
    "经销商代码": "dealer_code",
    "date": "date",
    "sold_on": "date",
    "日期": "date",
    "销售日期": "date",
    "amount": "amount",
    "金额": "amount",
    "units": "units",
    "quantity": "units",
    "数量": "units",
    "product_line": "product_line",
    "产品线": "product_line",
    "invoice_ref": "invoice_ref",
    "invoice": "invoice_ref",
    "发票号": "invoice_ref",
    # What Chinese ERP and invoicing exports call them (the customer, to the manufacturer, is the dealer).
    "客户编码": "dealer_code",
    "客户代码": "dealer_code",
    "经销商编码": "dealer_code",
    "开票日期": "date",
    "单据日期": "date",
    "价税合计": "amount",
    "含税金额": "amount",
    "销售金额": "amount",
    "发票号码": "invoice_ref",
    "产品类别": "product_line",
    # One invoice in several lines, and the invoice a credit note (红字发票) corrects (its blue invoice).
    "line_no": "line_no",
    "line": "line_no",
    "line_number": "line_no",
    "行号": "line_no",
    "original_invoice_ref": "original_invoice_ref",
    "original_invoice": "original_invoice_ref",
    "corrects_invoice": "original_invoice_ref",
    "原发票号": "original_invoice_ref",
    "原发票号码": "original_invoice_ref",
    "蓝字发票号码": "original_invoice_ref",
    "对应蓝字发票号码": "original_invoice_ref",
    # What the referee checks: the product, the price per unit and where the goods were shipped (optional).
    "sku": "sku",
    "product": "sku",
    "product_code": "sku",
    "物料编码": "sku",
    "商品编码": "sku",
    "存货编码": "sku",
    "产品编码": "sku",
    "unit_price": "unit_price",
    "price": "unit_price",
    "单价": "unit_price",
    "含税单价": "unit_price",
    "ship_to_region": "ship_to_region",
    "region": "ship_to_region",
    "收货地区": "ship_to_region",
    "收货地区编码": "ship_to_region",
    "行政区划代码": "ship_to_region",
    "收货地址区划": "ship_to_region",
}

FIELDS = (
    "dealer_code",
    "date",
    "amount",
    "units",
    "product_line",
    "invoice_ref",
    "line_no",
    "original_invoice_ref",
    "sku",
    "unit_price",
    "ship_to_region",
)


REQUIRED = ("dealer_code", "date", "amount", "invoice_ref")


# 2026-10-05, 2026/10/5, 2026.10.05 or 2026年10月5日, with an ERP's time after it ("2026-10-05 00:00:00"): the date.
DATE_PATTERN = re.compile(
    r"^(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日)(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


MAX_CONFLICTS = 1000  # invoices sent again with other values; more than this is the wrong file, not corrections


MAX_LINE_NO = 10**6


class ParsedLine(NamedTuple):
    """A line to book: a sale, a credit note (negative, `corrects` naming its invoice's key), or a reversal of a line
    already booked (`reverses_id`), which a correction or a void adds.

    A named tuple, not a frozen dataclass: a million-line file builds a million of them, twice (the check, then the
    import from the lines it kept), and a frozen dataclass took 2.3 s to build a million (a tuple, a quarter)."""

    line: int
    dealer_id: int
    period_id: int
    booked_period_id: int
    sold_on: date
    amount: int
    units: int
    product_line: str
    invoice_ref: str
    invoice_key: str
    line_no: int = 0
    corrects: str | None = None
    sku: str | None = None
    unit_price: int | None = None
    ship_to_region: str | None = None
    revision: int = 0
    reverses_id: int | None = None

    @property
    def invoice_line(self) -> tuple[int, str, int]:
        return self.dealer_id, self.invoice_key, self.line_no

    def as_read(self) -> tuple[Any, ...]:
        """The fields a file's line gives, in checked_lines.FIELDS order (a line read has no revision or reversal)."""
        return self[:READ_FIELDS]


READ_FIELDS = len(KEPT_FIELDS)  # a line read has no revision or reversal yet


@dataclass
class Report:
    total: int = 0
    errors: list[list[object]] = field(default_factory=list)
    error_count: int = 0
    new_rows: int = 0
    duplicates: int = 0
    late_rows: int = 0
    encoding: str = ""
    skipped: list[list[object]] = field(default_factory=list)
    returns: int = 0
    conflicts: list[list[object]] = field(default_factory=list)

    def skip(self, line: int, why: str) -> None:
        if len(self.skipped) < KEPT_ERRORS:
            self.skipped.append([line, why])

    def error(self, line: int, column: str, message: str, found: str = "") -> None:
        """An error with where it is and the value found there (shortened: a cell may hold anything)."""
        self.error_count += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append([line, column, message, found.strip()[:80]])


@dataclass(frozen=True)
class _DealerRef:
    id: int
    currency: str


@dataclass(frozen=True)
class _PeriodRef:
    id: int
    code: str
    starts_on: date
    ends_on: date
    is_open: bool

    @classmethod
    def of(cls, period: Period) -> _PeriodRef:
        return cls(period.id, period.code, period.starts_on, period.ends_on, period.status is PeriodStatus.OPEN)


class _Checker:
    """Reads a file line by line against the uploader's dealers and the periods; collects errors, yields lines.

    Credit notes are checked once the whole file is read (`finish`): the invoice they correct may come later in
    the file, and none may take its invoice below zero.
    """

    def __init__(self, batch: SalesImport, report: Report, choices: dict[str, str] | None = None) -> None:
        uploader = batch.uploaded_by
        self.report = report
        self.number_format = NumberFormat(batch.number_format)
        self.sheet = batch.sheet
        # The manager's own answers for headers no synonym knows; a known synonym always means what it says.
        self.synonyms = {**(choices or {}), **COLUMNS}
        # Plain values, not rows: the jobs commit after every chunk, which would expire rows and reload each one.
        self.dealers = {
            dealer.code: _DealerRef(dealer.id, dealer.currency)
            for dealer in db.session.execute(visible_dealers(uploader)).unique().scalars()
        }
        self.periods = [
            _PeriodRef.of(period) for period in db.session.execute(select(Period).order_by(Period.starts_on)).scalars()
        ]
        open_now = current_period()
        self.open_now = _PeriodRef.of(open_now) if open_now else None
        self.today = company_today()
        self.seen: dict[tuple[int, str, int], int] = {}  # invoice line -> the file line that gave it
        self.invoice_amounts: dict[tuple[int, str, int], int] = {}  # of the file's sales, for its credit notes
        self.credits: list[ParsedLine] = []
        self.period_by_day: dict[date, _PeriodRef | None] = {}
        self.dates: dict[str, date | None] = {}
        self.regions: dict[str, str | None] = {}  # each region written, read once
        self.prices: dict[tuple[str, str], int | str] = {}  # each unit price written: minor units, or why not
        self.file_format = NumberFormat.UNSAID  # set per table: a workbook's numbers are numbers, whatever was said
        self.with_credits = False  # set per table: whether it has the column naming a credit note's invoice

    def depends_on(self) -> str:
        """A digest of everything besides the file that the check's verdict on a line depends on: the uploader's
        dealers (code, id, currency), the periods and which is open, the day, the column choices and the number
        convention. Equal digests: the lines the check read are the lines a new reading would give (the credit
        notes' balances, which depend on what is booked, are checked again all the same, by `finish`)."""
        facts = [
            sorted((code, ref.id, ref.currency) for code, ref in self.dealers.items()),
            [dataclasses.astuple(period) for period in self.periods],
            dataclasses.astuple(self.open_now) if self.open_now else None,
            self.today,
            sorted(self.synonyms.items()),
            self.number_format.value,
            self.sheet,
        ]
        return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()

    def take(self, lines: Sequence[ParsedLine]) -> None:
        """The credit notes and the invoices' amounts of lines the check read, as reading them again would leave
        them for `finish`."""
        self.credits = [line for line in lines if line.corrects is not None]
        if self.credits:
            self.invoice_amounts = {line.invoice_line: line.amount for line in lines if line.corrects is None}

    def dealer_totals(self, by_dealer: dict[int, list[int]]) -> list[list[object]]:
        """The check's findings per dealer, by code: [code, currency, *DealerCounts]."""
        refs = {ref.id: (code, ref.currency) for code, ref in self.dealers.items()}
        return sorted([*refs[dealer_id], *counts] for dealer_id, counts in by_dealer.items())

    def code_of(self, dealer_id: int) -> str:
        return next(code for code, ref in self.dealers.items() if ref.id == dealer_id)

    def period_of(self, day: date) -> _PeriodRef | None:
        if day not in self.period_by_day:
            self.period_by_day[day] = next(
                (period for period in self.periods if period.starts_on <= day <= period.ends_on), None
            )
        return self.period_by_day[day]

    def date_of(self, text: str) -> date | None:
        """A file has a few hundred distinct dates in a million lines: each is parsed once."""
        if text not in self.dates:
            self.dates[text] = parse_file_date(text)
        return self.dates[text]

    def lines(self, content: bytes) -> Iterator[ParsedLine]:
        try:
            table = open_table(content, self.sheet)
        except UnreadableFile as refused:
            self.report.error(1, "", refused.message(), refused.detected)
            return
        self.report.encoding = table.encoding
        self.file_format = self.number_format if table.encoding != "xlsx" else NumberFormat.UNSAID
        try:
            found = find_header(table, self.synonyms, REQUIRED)
            header = found.header
            for problem in header.problems:
                self.report.error(found.line, "", problem)
            missing = [column for column in REQUIRED if column not in header.fields]
            if missing:
                self.report.error(
                    found.line,
                    "",
                    _("The first line must name the columns; missing: %(columns)s.", columns=", ".join(missing)),
                )
            if header.problems or missing:
                return
            for line, why in found.skipped:
                self.report.skip(line, why)
            fields, width = header.fields, header.width
            self.with_credits = "original_invoice_ref" in fields
            code_column = fields.index("dealer_code")
            for line, row in table.rows:
                if not "".join(row).strip():  # a blank line (one join: a generator per line cost a tenth of the check)
                    continue
                code = row[code_column].strip().upper() if code_column < len(row) else ""
                if code not in self.dealers and (word := total_word(row)) is not None:
                    self.report.skip(line, total_line(word))  # 合计: not a sale, however it is written
                    continue
                self.report.total += 1
                if len(row) > width and extra_cells(row, width):  # never drop a cell: 1,234.56 unquoted reads 1.00
                    self.report.error(line, "", too_many_cells(len(row), width))
                    continue
                parsed = self.check(line, dict(zip(fields, row, strict=False)))
                if parsed is not None:
                    yield parsed
        except BrokenTable as broken:
            self.report.error(broken.line, "", broken.message)

    def check(self, line: int, cells: dict[str, str]) -> ParsedLine | None:
        error = self.report.error
        before = self.report.error_count
        written_code = cells.get("dealer_code", "")
        dealer = self.dealers.get(written_code.strip().upper())
        if dealer is None:
            error(line, "dealer_code", _("Unknown dealer code, or not in your portfolio."), written_code)
        written_date = cells.get("date", "")
        sold_on = self.date_of(written_date)
        period = None
        if sold_on is None:
            error(line, "date", _("Write the date as YYYY-MM-DD."), written_date)
        elif sold_on > self.today:
            error(line, "date", _("This date is in the future."), written_date)
        else:
            period = self.period_of(sold_on)
            if period is None:
                error(line, "date", _("No period covers this date."), written_date)
            elif not period.is_open and (self.open_now is None or not self.open_now.is_open):
                error(
                    line,
                    "date",
                    _("Period %(code)s is closed and no period is open today to book it in.", code=period.code),
                    written_date,
                )
        original = cells.get("original_invoice_ref", "").strip()
        corrects = invoice_key(original) if original else None
        if len(original) > MAX_REF:
            error(line, "original_invoice_ref", _("At most %(count)s characters.", count=MAX_REF), original)
        amount = 0
        if dealer is not None:
            written = cells.get("amount", "")
            misread = False
            try:
                amount = parse_file_money(written, dealer.currency, number_format=self.file_format)
            except MisreadAmount as refused:
                error(line, "amount", misread_amount(written.strip(), refused.reason), written)
                amount, misread = 0, True
            except ValueError:
                amount = 0
            if misread:
                pass
            elif amount == 0 or (amount < 0 and corrects is None):
                error(
                    line,
                    "amount",
                    _(
                        "Enter an amount above zero in the dealer's currency (%(currency)s); a credit note is "
                        "negative and names the invoice it corrects in original_invoice_ref.",
                        currency=dealer.currency,
                    ),
                    written,
                )
            elif amount > 0 and corrects is not None:
                error(
                    line,
                    "original_invoice_ref",
                    _("Only a credit note (a negative amount) names an original invoice."),
                    original,
                )
        units_text = cells.get("units", "").strip().replace(",", "")
        returned = amount < 0 and units_text.startswith("-")  # a credit note may write returned units either way
        units = _whole_number(units_text[1:] if returned else units_text) if units_text else 0
        if units < 0:
            error(line, "units", _("Units must be a whole number, zero or more."), units_text)
        if amount < 0:
            units = -abs(units)
        reference = cells.get("invoice_ref", "").strip()
        key = invoice_key(reference)
        if not reference or len(reference) > MAX_REF:
            error(
                line,
                "invoice_ref",
                _("Give the invoice reference (at most %(count)s characters).", count=MAX_REF),
                reference,
            )
        elif corrects is not None and corrects == key:
            error(line, "original_invoice_ref", _("A credit note has a number of its own."), original)
        line_text = cells.get("line_no", "").strip()
        line_no = _whole_number(line_text) if line_text else 0
        if line_no < 0 or line_no > MAX_LINE_NO:
            error(line, "line_no", _("A line number is a whole number, zero or more."), line_text)
        product_line = cells.get("product_line", "").strip()
        if len(product_line) > MAX_PRODUCT:
            error(line, "product_line", _("At most %(count)s characters.", count=MAX_PRODUCT), product_line)
        if dealer is not None and reference:
            seen_key = (dealer.id, key, line_no)
            if seen_key in self.seen:
                error(
                    line, "invoice_ref", _("Repeats the invoice of line %(line)s.", line=self.seen[seen_key]), reference
                )
            else:
                self.seen[seen_key] = line
        sku, unit_price, region = self.product_of(line, cells, dealer)
        if self.report.error_count != before or dealer is None or period is None or sold_on is None:
            return None
        booked = period if period.is_open else self.open_now
        assert booked is not None
        parsed = ParsedLine(
            line,
            dealer.id,
            period.id,
            booked.id,
            sold_on,
            amount,
            units,
            product_line,
            reference,
            key,
            line_no,
            corrects,
            sku,
            unit_price,
            region,
        )
        if corrects is not None:
            self.credits.append(parsed)
        elif self.with_credits:  # the invoices' amounts matter only to a file that can hold credit notes
            self.invoice_amounts[parsed.invoice_line] = amount
        return parsed

    def product_of(
        self, line: int, cells: dict[str, str], dealer: _DealerRef | None
    ) -> tuple[str | None, int | None, str | None]:
        """The optional columns the referee reads: the SKU, the price of one unit, the region shipped to (a GB/T
        2260 code, or a name that says one region). Absent or empty: None, and the line is not checked."""
        error = self.report.error
        sku = cells.get("sku", "").strip().upper() or None
        if sku is not None and len(sku) > MAX_SKU:
            error(line, "sku", _("At most %(count)s characters.", count=MAX_SKU), sku)
        written_price = cells.get("unit_price", "").strip()
        unit_price = None
        if written_price and dealer is not None:
            # A file has a few prices per product in a million lines: each is read once per currency.
            price_key = (written_price, dealer.currency)
            if price_key not in self.prices:
                try:
                    self.prices[price_key] = parse_file_money(
                        written_price, dealer.currency, number_format=self.file_format
                    )
                except MisreadAmount as refused:
                    self.prices[price_key] = misread_amount(written_price, refused.reason)
                except ValueError:
                    self.prices[price_key] = -1
            read = self.prices[price_key]
            if isinstance(read, str):
                error(line, "unit_price", read, written_price)
            elif read <= 0:
                error(line, "unit_price", _("A unit price is above zero."), written_price)
            else:
                unit_price = read
        written_region = cells.get("ship_to_region", "").strip()
        region = None
        if written_region:
            region = self.regions.get(written_region)
            if written_region not in self.regions:
                region = self.regions[written_region] = read_region(written_region)
            if region is None:
                error(
                    line,
                    "ship_to_region",
                    _("Write the region as its six-digit code (GB/T 2260), or its full name."),
                    written_region,
                )
        return sku, unit_price, region

    def finish(self) -> None:
        """The credit notes, once the whole file is read: each corrects an invoice of the same dealer (booked, or
        in this file) and the invoice's credit notes together never take it below zero."""
        if not self.credits:
            return
        originals = sorted({(credit.dealer_id, credit.corrects or "") for credit in self.credits})
        booked: dict[tuple[int, str], InvoiceBalance] = {}
        for start in range(0, len(originals), LOOKUP_CHUNK):  # a bounded number of bound values per statement
            booked.update(_invoice_balances(originals[start : start + LOOKUP_CHUNK]))
        wanted = set(originals)
        in_file: dict[tuple[int, str], int] = {}  # the file's new lines of those invoices (booked ones count once)
        for (dealer_id, key, line_no), amount in self.invoice_amounts.items():
            invoice = (dealer_id, key)
            if invoice in wanted and line_no not in booked.get(invoice, InvoiceBalance()).line_nos:
                in_file[invoice] = in_file.get(invoice, 0) + amount
        left: dict[tuple[int, str], int] = {}
        for credit in self.credits:
            original = (credit.dealer_id, credit.corrects or "")
            balance = booked.get(original, InvoiceBalance())
            if original not in left:
                if not balance.line_nos and original not in in_file:
                    self.report.error(
                        credit.line,
                        "original_invoice_ref",
                        _("This dealer has no invoice %(invoice)s to correct.", invoice=credit.corrects),
                        credit.corrects or "",
                    )
                    continue
                left[original] = balance.sales + in_file.get(original, 0) + balance.credits
            if (credit.invoice_key, credit.line_no) in balance.credit_lines:
                continue  # this credit note is booked already: counted in the balance
            left[original] += credit.amount
            if left[original] < 0:
                self.report.error(
                    credit.line,
                    "amount",
                    _(
                        "The credit notes for invoice %(invoice)s come to more than the invoice.",
                        invoice=credit.corrects,
                    ),
                    str(credit.amount),
                )


def _whole_number(text: str) -> int:
    """Digits only (no sign, no underscores), below MAX_UNITS; -1 otherwise. Some characters count as digits
    for isdigit() but not for int(), superscripts for one."""
    if not text.isdigit():
        return -1
    try:
        number = int(text)
    except ValueError:
        return -1
    return number if number < MAX_UNITS else -1


def parse_file_date(text: str) -> date | None:
    """A file's date as people and ERPs write it (DATE_PATTERN), or None."""
    match = DATE_PATTERN.match(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2] or match[4]), int(match[3] or match[5]))
    except ValueError:
        return None


@dataclass(frozen=True)
class BookedLine:
    """A live line already booked for an invoice line: what a line sent again is compared with."""

    id: int
    amount: int
    sold_on: date
    period_id: int
    booked_period_id: int
    units: int
    product_line: str
    invoice_ref: str
    corrects: str | None
    revision: int
    sku: str | None = None
    unit_price: int | None = None
    ship_to_region: str | None = None


@dataclass(frozen=True)
class Booked:
    """What is booked for one invoice line: its highest revision (live or reversed) and the live line, if any."""

    revision: int
    live: BookedLine | None


def reversal_revision(revision: int) -> int:
    """The revision a reversal of a line takes: negative, so that one index holds both rules (an invoice line has
    one line per revision, and each revision is reversed at most once) and lookups stay within it."""
    return -1 - revision


def _existing(chunk: Sequence[ParsedLine]) -> dict[tuple[int, str, int], Booked]:
    """What is booked for the chunk's invoice lines: one probe of the unique index per line, answered from the
    index alone (two IN lists would probe every dealer of the chunk with every invoice of it). Written as driver
    SQL: SQLAlchemy would compile a VALUES list of a thousand triples again for every chunk, and psycopg parses a
    short statement only once."""
    wanted = sorted({line.invoice_line for line in chunk})
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        statement = EXISTING_FROM_ARRAYS
        parameters: tuple[object, ...] = tuple([triple[index] for triple in wanted] for index in range(3))
    else:
        statement = _existing_from_values(len(wanted))
        parameters = tuple(value for triple in wanted for value in triple)
    return _booked_from(connection, connection.exec_driver_sql(statement, parameters).all())


def _booked_from(connection: Connection, keys: Sequence[Sequence[Any]]) -> dict[tuple[int, str, int], Booked]:
    """From the index's rows of the invoice lines asked for (id, dealer, key, line number, revision): the highest
    revision of each, and its live line (a revision >= 0 without its reversal) read in full. Almost every line of
    a file is new, so the second read is rare."""
    revisions: dict[tuple[int, str, int], dict[int, int]] = {}
    for line_id, dealer_id, key, line_no, revision in keys:
        revisions.setdefault((int(dealer_id), str(key), int(line_no)), {})[int(revision)] = int(line_id)
    live_ids = {
        invoice_line: line_id
        for invoice_line, found in revisions.items()
        for revision, line_id in found.items()
        if revision >= 0 and reversal_revision(revision) not in found
    }
    details = {}
    if live_ids:
        for row in connection.execute(
            select(
                SalesLine.id,
                SalesLine.amount,
                SalesLine.sold_on,
                SalesLine.period_id,
                SalesLine.booked_period_id,
                SalesLine.units,
                SalesLine.product_line,
                SalesLine.invoice_ref,
                SalesLine.corrects_invoice,
                SalesLine.revision,
                SalesLine.sku,
                SalesLine.unit_price,
                SalesLine.ship_to_region,
            ).where(SalesLine.id.in_(sorted(live_ids.values())))
        ):
            details[row[0]] = BookedLine(*row)
    return {
        invoice_line: Booked(
            max(revision for revision in found if revision >= 0),
            details[live_ids[invoice_line]] if invoice_line in live_ids else None,
        )
        for invoice_line, found in revisions.items()
    }


_EXISTING_SELECT = (
    "SELECT s.id, s.dealer_id, s.invoice_key, s.line_no, s.revision FROM sales_lines s JOIN {wanted} "
    "ON s.dealer_id = wanted.dealer_id AND s.invoice_key = wanted.invoice_key AND s.line_no = wanted.line_no"
)


EXISTING_FROM_ARRAYS = _EXISTING_SELECT.format(
    wanted="unnest(%s::integer[], %s::text[], %s::integer[]) AS wanted (dealer_id, invoice_key, line_no)"
)


@functools.cache
def _existing_from_values(count: int) -> str:
    """SQLite: the invoice lines as a VALUES list of bound markers, one statement text per chunk size."""
    rows = ", ".join(["(?, ?, ?)"] * count)
    return f"WITH wanted (dealer_id, invoice_key, line_no) AS (VALUES {rows}) " + _EXISTING_SELECT.format(
        wanted="wanted"
    )


NEW, SAME, CONFLICT = "new", "same", "conflict"


def classify(line: ParsedLine, booked: Booked | None) -> str:
    """A line sent again with the same amount, date and product facts is the same sale; with another, a conflict
    for the manager to resolve. An invoice line whose every revision was reversed (its import voided) is new again."""
    if booked is None or booked.live is None:
        return NEW
    if (
        booked.live.amount == line.amount
        and booked.live.sold_on == line.sold_on
        and not product_changed(line, booked.live)
    ):
        return SAME
    return CONFLICT


def product_changed(line: ParsedLine, live: BookedLine) -> bool:
    """The file says another SKU, unit price or region than the booked line (an ERP correcting what was sold, or
    where, at the same amount): the referee's evidence would be read wrong if it were taken as the same sale. A
    file that leaves them out says nothing new."""
    return any(
        sent is not None and sent != booked
        for sent, booked in (
            (line.sku, live.sku),
            (line.unit_price, live.unit_price),
            (line.ship_to_region, live.ship_to_region),
        )
    )


def product_facts(line: ParsedLine, live: BookedLine) -> list[object] | None:
    """What a conflict records of the product: booked and sent SKU, unit price and region, when they differ."""
    if not product_changed(line, live):
        return None
    return [live.sku, live.unit_price, live.ship_to_region, line.sku, line.unit_price, line.ship_to_region]


def next_revision(booked: Booked | None) -> int:
    return 0 if booked is None else booked.revision + 1


@dataclass(frozen=True)
class InvoiceBalance:
    """An invoice as booked: its live sales, the live credit notes against it, which line numbers it has and
    which credit notes (key, line number) are booked against it."""

    sales: int = 0
    credits: int = 0
    line_nos: frozenset[int] = frozenset()
    credit_lines: frozenset[tuple[str, int]] = frozenset()


def _invoice_balances(invoices: Sequence[tuple[int, str]]) -> dict[tuple[int, str], InvoiceBalance]:
    """Balances of the invoices credit notes name, (dealer, invoice key) each: few, so plain ORM queries."""
    sales: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for dealer_id, key, line_no, amount in db.session.execute(
        select(SalesLine.dealer_id, SalesLine.invoice_key, SalesLine.line_no, SalesLine.amount).where(
            tuple_(SalesLine.dealer_id, SalesLine.invoice_key).in_(invoices),
            SalesLine.corrects_invoice.is_(None),
            live_line(),
        )
    ):
        sales.setdefault((dealer_id, key), []).append((line_no, amount))
    credits: dict[tuple[int, str], list[tuple[str, int, int]]] = {}
    for dealer_id, corrects, key, line_no, amount in db.session.execute(
        select(
            SalesLine.dealer_id, SalesLine.corrects_invoice, SalesLine.invoice_key, SalesLine.line_no, SalesLine.amount
        ).where(tuple_(SalesLine.dealer_id, SalesLine.corrects_invoice).in_(invoices), live_line())
    ):
        credits.setdefault((dealer_id, corrects or ""), []).append((key, line_no, amount))
    return {
        invoice: InvoiceBalance(
            sum(amount for _no, amount in sales.get(invoice, [])),
            sum(amount for _key, _no, amount in credits.get(invoice, [])),
            frozenset(line_no for line_no, _amount in sales.get(invoice, [])),
            frozenset((key, line_no) for key, line_no, _amount in credits.get(invoice, [])),
        )
        for invoice in invoices
        if invoice in sales or invoice in credits
    }


def live_line() -> ColumnElement[bool]:
    """A line that counts as the invoice line's current values: not a reversal, and not reversed."""
    reversal = aliased(SalesLine)
    return and_(SalesLine.reverses_id.is_(None), ~exists().where(reversal.reverses_id == SalesLine.id))


def _chunks(lines: Iterator[ParsedLine], size: int = CHUNK) -> Iterator[list[ParsedLine]]:
    chunk: list[ParsedLine] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A million lines are a million small objects without cycles: the cyclic collector would walk them again and
    again as they pile up (3 s of a PostgreSQL import's 10 s of reading, measured). Paused while a job reads and
    books a file, resumed after; reference counting frees everything as usual meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def move_import(batch: SalesImport, expected: ImportStatus, target: ImportStatus) -> bool:
    if target not in IMPORT_TRANSITIONS[expected]:
        return False
    moved = move_if_still(SalesImport, batch.id, expected, target)
    db.session.expire(batch, ["status"])
    return moved


def column_choices(user_id: int) -> dict[str, str]:
    """The manager's remembered answers: header (trimmed, lower case) -> field."""
    rows = db.session.execute(
        select(ImportColumnChoice.header, ImportColumnChoice.field).where(ImportColumnChoice.user_id == user_id)
    )
    return {header: field for header, field in rows}


# What the check counts per dealer, after its code and currency (positions in SalesImport.dealer_totals):
LINES, NEW_SALES, NEW_AMOUNT, ALREADY, RETURNS, RETURNS_AMOUNT, CONFLICTS = range(7)


def check_sales_import(import_id: int) -> str:
    """The job: read the whole file, count new, returned, conflicting and already imported lines per dealer, keep
    the errors with line numbers."""
    batch = db.session.get(SalesImport, import_id)
    if batch is None or batch.status is not ImportStatus.VALIDATING:
        return "skipped"
    report = Report()
    checker = _Checker(batch, report, column_choices(batch.uploaded_by_id))
    by_dealer: dict[int, list[int]] = {}
    kept = LinePacker()
    with _no_cycle_collection():
        _check_lines(batch, checker, report, by_dealer, kept)
    checker.finish()
    begin_write()
    if len(report.conflicts) > MAX_CONFLICTS:
        report.error(
            1,
            "invoice_ref",
            _(
                "%(count)s invoices already imported come again with other amounts or dates: is this the right "
                "file? Corrections are sent as credit notes, or in smaller files.",
                count=len(report.conflicts),
            ),
        )
    outcome = ImportStatus.REJECTED if report.error_count or report.total == 0 else ImportStatus.READY
    if report.total == 0 and not report.error_count:
        report.error(1, "", _("The file has no sales lines."))
    _save_report(batch, report, rows_done=report.total)
    batch.dealer_totals = checker.dealer_totals(by_dealer)
    batch.conflicts = report.conflicts[:MAX_CONFLICTS]
    batch.conflict_count = len(report.conflicts)
    if outcome is ImportStatus.READY:
        db.session.merge(
            CheckedSalesLines(import_id=batch.id, checked_against=checker.depends_on(), lines=kept.packed())
        )
    move_import(batch, ImportStatus.VALIDATING, outcome)
    if outcome is ImportStatus.REJECTED:
        batch.finished_at = utcnow()
    db.session.commit()
    return outcome.value


def _check_lines(
    batch: SalesImport, checker: _Checker, report: Report, by_dealer: dict[int, list[int]], kept: LinePacker
) -> None:
    """The check's reading: each line classified against what is booked, counted per dealer and kept for the
    import, progress committed."""
    clock = _ProgressClock(batch)
    for chunk in _chunks(checker.lines(batch.content), LOOKUP_CHUNK):
        booked = _existing(chunk)
        for line in chunk:
            kept.add(line.as_read())
            counts = by_dealer.setdefault(line.dealer_id, [0] * 7)
            counts[LINES] += 1
            found = booked.get(line.invoice_line)
            outcome = classify(line, found)
            if outcome == SAME:
                report.duplicates += 1
                counts[ALREADY] += 1
            elif outcome == CONFLICT:
                assert found is not None and found.live is not None
                counts[CONFLICTS] += 1
                _conflict(report, checker.code_of(line.dealer_id), line, found.live)
            else:
                report.new_rows += 1
                report.late_rows += line.booked_period_id != line.period_id
                if line.amount < 0:
                    report.returns += 1
                    counts[RETURNS] += 1
                    counts[RETURNS_AMOUNT] += line.amount
                else:
                    counts[NEW_SALES] += 1
                    counts[NEW_AMOUNT] += line.amount
        clock.tell(report.total, due=report.total - batch.rows_done >= PROGRESS_LINES)


class _ProgressClock:
    """How far a job got, committed for the page to show at least every PROGRESS_SECONDS (a million lines take
    seconds to read, and the page must not stand still)."""

    def __init__(self, batch: SalesImport) -> None:
        self.batch = batch
        self.shown = time.monotonic()  # when progress was last committed

    def tell(self, done: int, *, due: bool = False) -> None:
        if due or time.monotonic() - self.shown >= PROGRESS_SECONDS:
            self.shown = time.monotonic()
            begin_write()  # SQLite: take the write lock before writing, never upgrade a read half-way
            self.batch.rows_done = done
            db.session.commit()  # progress others can see


# Positions in a conflict, as SalesImport.conflicts keeps it.
C_CODE, C_INVOICE, C_LINE_NO, C_OLD_AMOUNT, C_OLD_DATE, C_NEW_AMOUNT, C_NEW_DATE, C_LINE, C_DECISION, C_DEALER = range(
    10
)
C_PRODUCT = 10  # booked and sent SKU, unit price, region when they differ, else None (absent in older imports)
KEEP, REPLACE = "keep", "replace"


def _conflict(report: Report, code: str, line: ParsedLine, live: BookedLine) -> None:
    report.conflicts.append(
        [
            code,
            line.invoice_key,
            line.line_no,
            live.amount,
            live.sold_on.isoformat(),
            line.amount,
            line.sold_on.isoformat(),
            line.line,
            "",
            line.dealer_id,
            product_facts(line, live),
        ]
    )


def _save_report(batch: SalesImport, report: Report, *, rows_done: int) -> None:
    batch.total_rows = report.total
    batch.rows_done = rows_done
    batch.error_count = report.error_count
    batch.errors = report.errors
    batch.new_rows = report.new_rows
    batch.duplicate_rows = report.duplicates
    batch.late_rows = report.late_rows
    batch.encoding = report.encoding
    batch.skipped = report.skipped
    batch.return_rows = report.returns


def run_sales_import(import_id: int) -> str:
    """The job: check again (the channel may have changed since), then insert in chunks, committing progress.

    A crash half-way leaves whole chunks imported; running it again skips them as already imported (the same
    amount and date), so a retry completes the file without counting a line twice. A conflict is booked as the
    manager decided it: kept (nothing booked) or replaced (a reversal of the booked line and the new values as the
    invoice line's next revision).
    """
    batch = db.session.get(SalesImport, import_id)
    if batch is None or batch.status is not ImportStatus.IMPORTING:
        return "skipped"
    with _no_cycle_collection():
        return _run_sales_import(batch)


def _run_sales_import(batch: SalesImport) -> str:
    report = Report()
    checker = _Checker(batch, report, column_choices(batch.uploaded_by_id))
    lines = _lines_to_book(batch, checker, report)
    checker.finish()
    begin_write()
    if report.error_count:
        _save_report(batch, report, rows_done=0)
        return _fail(batch, _("The file no longer passes its checks; nothing was imported. Upload it again."))
    batch.total_rows = report.total
    decisions = {(int(item[C_DEALER]), str(item[C_INVOICE]), int(item[C_LINE_NO])): item for item in batch.conflicts}
    periods = {period.id: period for period in checker.periods}
    # The check found none of the file's invoice lines booked: on PostgreSQL, blocks go straight in (see below).
    nothing_booked = not batch.duplicate_rows and not batch.conflict_count
    use_large_sqlite_cache()
    touched: set[tuple[int, int]] = set()  # (dealer, period) of every line, for the recomputation
    # In index order: consecutive rows land on the same index pages (file order scatters them over every dealer's).
    lines.sort(key=attrgetter("dealer_id", "invoice_key", "line_no"))
    batch.phase, batch.rows_done = BOOKING, 0
    closed_meanwhile = _(
        "A period closed while this file was imported and no period is open today to book its lines in. Lines "
        "already imported stay; try again once a period is open."
    )
    for start in range(0, len(lines), PROGRESS_LINES):
        lock_periods()  # a void or a close of these lines' periods waits for this block (or this block for it)
        block = _booked_in_open_periods(lines[start : start + PROGRESS_LINES])
        if block is None:
            return _fail(batch, closed_meanwhile)
        connection = db.session.connection()
        staged = connection.dialect.name == "postgresql"
        if staged and nothing_booked and _copied_as_new(connection, _rows_of(batch.id, block)):
            _count_touched(touched, block)
            batch.rows_done = min(start + PROGRESS_LINES, len(lines))
            db.session.commit()
            continue
        if staged:  # the block goes to the server once, and is looked up there against the booked lines
            _stage_lines(connection, _rows_of(batch.id, block))
            booked = _existing_staged(connection)
        else:
            booked = {}
            for chunk in _chunks(iter(block), LOOKUP_CHUNK):
                booked.update(_existing(chunk))
        # Most lines are new: only those whose invoice line is booked already need a decision here. The others go
        # in as they are (revision 0); a line someone else booked meanwhile is skipped by ON CONFLICT DO NOTHING.
        fresh: list[ParsedLine] = []
        extra: list[ParsedLine] = []  # a voided invoice line's next revision; a replacement and its reversal
        for line in block:
            found = booked.get(line.invoice_line)
            if found is None:
                fresh.append(line)
                continue
            outcome = classify(line, found)
            if outcome == NEW:
                extra.append(line._replace(revision=next_revision(found)))
            elif outcome == CONFLICT:
                assert found.live is not None
                decided = decisions.get(line.invoice_line)
                if decided is None or not _same_conflict(decided, found.live, line):
                    if staged:
                        _drop_staged_lines(connection)
                    return _fail(
                        batch,
                        _(
                            "Invoice %(invoice)s changed since the check, or its conflict was not decided; lines "
                            "already imported stay. Upload the file again.",
                            invoice=line.invoice_key,
                        ),
                    )
                if decided[C_DECISION] == REPLACE:
                    extra.append(_reversal_of(found.live, line, periods, checker.open_now))
                    extra.append(line._replace(revision=next_revision(found)))
        if staged:
            _insert_staged_lines(connection)  # the whole block: lines already booked conflict and are skipped
            _drop_staged_lines(connection)
        else:
            _insert_new_lines(batch.id, fresh)
        extra_booked = _booked_in_open_periods(extra) if extra else []
        if extra_booked is None:
            return _fail(batch, closed_meanwhile)
        _insert_new_lines(batch.id, extra_booked)
        _count_touched(touched, (*block, *extra_booked))
        batch.rows_done = min(start + PROGRESS_LINES, len(lines))
        db.session.commit()
        begin_write()  # SQLite: the next block holds the write lock from its start, never upgrades half-way
        use_large_sqlite_cache()
    # Counted afterwards, not from the statements: a retry after a crash counts what the first run added too.
    inserted, returns = db.session.execute(
        select(func.count(), func.count(SalesLine.corrects_invoice)).where(
            SalesLine.import_id == batch.id, SalesLine.reverses_id.is_(None)
        )
    ).one()
    batch.return_rows = returns
    _finish(batch, inserted, touched)
    db.session.commit()
    return "imported"


READING, BOOKING = "reading", "booking"  # the phases of an import after confirmation (SalesImport.phase)


def _lines_to_book(batch: SalesImport, checker: _Checker, report: Report) -> list[ParsedLine]:
    """The lines the check read when nothing it depended on has changed since (a million lines take seconds to
    read again), otherwise the file read again (the channel may have changed since the check)."""
    kept = db.session.execute(
        select(CheckedSalesLines.lines).where(
            CheckedSalesLines.import_id == batch.id, CheckedSalesLines.checked_against == checker.depends_on()
        )
    ).scalar_one_or_none()
    begin_write()  # SQLite: the change below is written under the write lock, never by upgrading a read
    batch.phase, batch.rows_done = READING, 0
    db.session.commit()
    clock = _ProgressClock(batch)
    lines: list[ParsedLine] = []
    if kept is None:
        for line in checker.lines(batch.content):
            lines.append(line)
            if report.total % PROGRESS_EVERY_LINES == 0:
                clock.tell(report.total)
        return lines
    for block in unpacked(kept):
        lines.extend(ParsedLine(*fields) for fields in block)
        clock.tell(len(lines))
    report.total, report.encoding = len(lines), batch.encoding
    checker.take(lines)
    return lines


def _count_touched(touched: set[tuple[int, int]], lines: Sequence[ParsedLine]) -> None:
    """The (dealer, period) pairs whose statements the lines change: where each is booked, and where it belongs."""
    for line in lines:
        touched.add((line.dealer_id, line.booked_period_id))
        if line.period_id != line.booked_period_id:
            touched.add((line.dealer_id, line.period_id))


def _fail(batch: SalesImport, why: str) -> str:
    batch.failure = why
    move_import(batch, ImportStatus.IMPORTING, ImportStatus.FAILED)
    batch.finished_at = utcnow()
    db.session.commit()
    return "failed"


def _same_conflict(decided: list[Any], live: BookedLine, line: ParsedLine) -> bool:
    """The conflict the manager decided is still the one found: the same booked and new values, and decided."""
    return (
        decided[C_DECISION] in (KEEP, REPLACE)
        and int(decided[C_OLD_AMOUNT]) == live.amount
        and decided[C_OLD_DATE] == live.sold_on.isoformat()
        and int(decided[C_NEW_AMOUNT]) == line.amount
        and decided[C_NEW_DATE] == line.sold_on.isoformat()
        and (decided[C_PRODUCT] if len(decided) > C_PRODUCT else None) == product_facts(line, live)
    )


def _reversal_of(
    live: BookedLine, line: ParsedLine, periods: dict[int, _PeriodRef], open_now: _PeriodRef | None
) -> ParsedLine:
    """The negated booked line, counted in its own period: booked there while it is open, otherwise in today's
    open period as a prior-period adjustment (exactly like a late sale)."""
    period = periods[live.period_id]
    booked = period if period.is_open or open_now is None else open_now
    return ParsedLine(
        line.line,
        line.dealer_id,
        live.period_id,
        booked.id,
        live.sold_on,
        -live.amount,
        -live.units,
        live.product_line,
        live.invoice_ref,
        line.invoice_key,
        line.line_no,
        live.corrects,
        revision=reversal_revision(live.revision),
        reverses_id=live.id,
    )


def _booked_in_open_periods(block: list[ParsedLine]) -> list[ParsedLine] | None:
    """The block's lines, each booked in a period still open, read under lock in the writing transaction.

    The file was checked when the job started; a period may have closed since (its close confirmed while the
    import ran). A line booked in it now would miss both its frozen statement and the late-sales adjustment, and
    its rebate would vanish. The periods' rows are locked (a close takes the same row), so either the close
    committed first and its lines are booked in today's open period, as late sales, or this block commits first
    and the close's last recomputation counts it. None when a line's period closed and no period is open today.
    """
    booked_ids = sorted({line.booked_period_id for line in block})
    statuses = dict(
        db.session.execute(
            locked_for_update(select(Period.id, Period.status).where(Period.id.in_(booked_ids)).order_by(Period.id))
        ).all()
    )
    closed = {period_id for period_id, status in statuses.items() if status is not PeriodStatus.OPEN}
    if not closed:
        return block
    open_now = current_period()
    if open_now is None or open_now.status is not PeriodStatus.OPEN:
        return None
    return [line._replace(booked_period_id=open_now.id) if line.booked_period_id in closed else line for line in block]


# The columns a block of lines is written in: a parsed line's fields after its file line number, in its order, and
# the import (each row is a slice of the line, built in C; tuples field by field cost most of a second a million).
SALES_LINE_COLUMNS = (
    "dealer_id",
    "period_id",
    "booked_period_id",
    "sold_on",
    "amount",
    "units",
    "product_line",
    "invoice_ref",
    "invoice_key",
    "line_no",
    "corrects_invoice",
    "sku",
    "unit_price",
    "ship_to_region",
    "revision",
    "reverses_id",
    "import_id",
)


def _rows_of(import_id: int | None, block: Sequence[ParsedLine]) -> list[tuple[Any, ...]]:
    written_as = (import_id,)
    return [line[1:] + written_as for line in block]


def _insert_new_lines(import_id: int | None, block: Sequence[ParsedLine]) -> None:
    """Insert lines. A line someone else booked meanwhile (the same invoice line and revision, or a reversal of the
    same line) is skipped: ON CONFLICT DO NOTHING decides, race or not."""
    if not block:
        return
    rows = _rows_of(import_id, block)
    connection = db.session.connection()
    with writes_for(dealers={row[_DEALER] for row in rows}):  # the lines' dealers' pages, not the whole channel
        if connection.dialect.name == "postgresql":
            _stage_lines(connection, rows)
            _insert_staged_lines(connection)
            _drop_staged_lines(connection)
            return
        # Sent as plain tuples to the driver: SQLAlchemy's parameter processing cost a tenth of a million-line
        # import. The day is written as SQLAlchemy writes a Date on SQLite (ISO 8601), so that it reads back the same.
        day = SALES_LINE_COLUMNS.index("sold_on")
        for start in range(0, len(rows), CHUNK):
            connection.exec_driver_sql(
                INSERT_LINES_SQLITE,
                [(*row[:day], row[day].isoformat(), *row[day + 1 :]) for row in rows[start : start + CHUNK]],
            )


_DEALER = SALES_LINE_COLUMNS.index("dealer_id")
_COLUMN_LIST = ", ".join(SALES_LINE_COLUMNS)  # our own constant names, never input


INSERT_LINES_SQLITE = (
    f"INSERT INTO sales_lines ({_COLUMN_LIST}) VALUES ({', '.join('?' * len(SALES_LINE_COLUMNS))}) "  # noqa: S608
    "ON CONFLICT DO NOTHING"
)


STAGE_LINES_SQL = (
    "CREATE TEMPORARY TABLE sales_import_staged_lines (LIKE sales_lines INCLUDING DEFAULTS) ON COMMIT DROP"
)


COPY_LINES_SQL = f"COPY sales_import_staged_lines ({_COLUMN_LIST}) FROM STDIN"


INSERT_STAGED_LINES_SQL = (
    f"INSERT INTO sales_lines ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM sales_import_staged_lines "  # noqa: S608
    "ON CONFLICT DO NOTHING"
)


DROP_STAGED_LINES_SQL = "DROP TABLE sales_import_staged_lines"


EXISTING_STAGED_SQL = _EXISTING_SELECT.format(
    wanted="(SELECT DISTINCT dealer_id, invoice_key, line_no FROM sales_import_staged_lines) AS wanted"
)


def _stage_lines(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY lines into a temporary table, to look them up and insert them with one statement each. Sent
    row by row (even pipelined) each line cost the server a statement of its own; this costs it one per block."""
    connection.exec_driver_sql(STAGE_LINES_SQL)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(COPY_LINES_SQL) as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


def _copied_as_new(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> bool:
    """PostgreSQL, when the check found none of the file's invoice lines booked: the block copied straight into
    the sales lines, each as its invoice line's first revision, with no lookup (on a slow machine, staging and
    looking up a million lines cost more than a tenth of the import). Anything booked for one of them since the
    check (another import, a void's reversal: revision 0 is there whenever anything is) breaks the unique index;
    the block is then rolled back to its savepoint and takes the way of every other block: False."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("SAVEPOINT copy_new_lines")
        try:
            with cursor.copy(COPY_NEW_LINES_SQL) as copy:
                for row in rows:
                    copy.write_row(row)
        except UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT copy_new_lines")
            return False
        cursor.execute("RELEASE SAVEPOINT copy_new_lines")
        wrote_directly(connection, dealers={row[_DEALER] for row in rows})  # COPY passes by SQLAlchemy's events
        return True
    finally:
        cursor.close()


COPY_NEW_LINES_SQL = f"COPY sales_lines ({_COLUMN_LIST}) FROM STDIN"


def _insert_staged_lines(connection: Connection) -> None:
    connection.exec_driver_sql(INSERT_STAGED_LINES_SQL)


def _drop_staged_lines(connection: Connection) -> None:
    # Dropped now, not only at commit: the next block may come in the same transaction (inside a test's, say).
    connection.exec_driver_sql(DROP_STAGED_LINES_SQL)


def _existing_staged(connection: Connection) -> dict[tuple[int, str, int], Booked]:
    """What is booked for the staged block's invoice lines, looked up by the server in one statement."""
    return _booked_from(connection, connection.exec_driver_sql(EXISTING_STAGED_SQL).all())


def recompute_touched(touched: set[tuple[int, int]]) -> None:
    """After lines were added to (dealer, period) pairs: the open periods' statements are recomputed, and a closed
    period's change is booked in today's open period as a late-sales adjustment."""
    periods = {period.id: period for period in db.session.execute(select(Period)).scalars()}
    open_now = current_period()
    late = {(dealer, period) for dealer, period in touched if periods[period].status is not PeriodStatus.OPEN}
    if late and open_now is not None:
        late_sales_adjustments(open_now, late)
    by_period: dict[int, set[int]] = {}
    for dealer_id, period_id in touched:
        by_period.setdefault(period_id, set()).add(dealer_id)
    if late and open_now is not None:
        by_period.setdefault(open_now.id, set()).update(dealer for dealer, _period in late)
    for period_id, dealer_ids in sorted(by_period.items()):
        if periods[period_id].status is PeriodStatus.OPEN:
            recompute_statements(periods[period_id], sorted(dealer_ids))


ImportHook = Callable[[int], None]


_IMPORT_HOOKS: list[ImportHook] = []


def register_import_hook(hook: ImportHook) -> None:
    """A higher area that reads each imported file's new lines (the referee's detection) is told the import's id
    in the import's own transaction; it queues its work with run_after_commit, so a rolled-back import queues
    nothing. Registered once however many apps are made."""
    if hook not in _IMPORT_HOOKS:
        _IMPORT_HOOKS.append(hook)


VoidHook = Callable[[Any, int], object]  # (the user voiding, the import's id)


_VOID_HOOKS: list[VoidHook] = []


def register_void_hook(hook: VoidHook) -> None:
    """A higher area that kept something of an import's lines (the referee's evidence) is told, in the void's own
    transaction, that the import's lines no longer count. Registered once however many apps are made."""
    if hook not in _VOID_HOOKS:
        _VOID_HOOKS.append(hook)


def run_void_hooks(actor: Any, import_id: int) -> None:
    for hook in _VOID_HOOKS:
        hook(actor, import_id)


def _finish(batch: SalesImport, inserted: int, touched: set[tuple[int, int]]) -> None:
    recompute_touched(touched)
    for hook in _IMPORT_HOOKS:
        hook(batch.id)
    batch.imported_rows = inserted
    batch.duplicate_rows = batch.total_rows - inserted
    db.session.execute(delete(CheckedSalesLines).where(CheckedSalesLines.import_id == batch.id))
    batch.rows_done = batch.total_rows
    move_import(batch, ImportStatus.IMPORTING, ImportStatus.IMPORTED)
    batch.finished_at = utcnow()
    audit_change(
        "sales_import.imported",
        actor=batch.uploaded_by,
        subject=batch,
        after={"imported": inserted, "duplicates": batch.duplicate_rows},
    )
    notify(
        [batch.uploaded_by],
        "sales_import_finished",
        {"file": batch.filename, "imported": inserted, "skipped": batch.duplicate_rows},
        link=link("rebates.sales_import", import_id=batch.id),
    )


def lock_periods() -> None:
    """Every period row, locked in id order: a void, an import's block and a close (which locks its period the
    same way) take turns, so none books lines on what another is changing."""
    db.session.execute(locked_for_update(select(Period.id).order_by(Period.id))).all()


@dataclass(frozen=True)
class ReversedLines:
    count: int
    touched: set[tuple[int, int]]  # (dealer, period) whose sales changed
    dealers: set[int]


_LINE_COLUMNS = (
    SalesLine.dealer_id,
    SalesLine.period_id,
    SalesLine.booked_period_id,
    SalesLine.sold_on,
    SalesLine.amount,
    SalesLine.units,
    SalesLine.product_line,
    SalesLine.invoice_ref,
    SalesLine.invoice_key,
    SalesLine.line_no,
    SalesLine.corrects_invoice,
    SalesLine.sku,
    SalesLine.unit_price,
    SalesLine.ship_to_region,
    SalesLine.revision,
    SalesLine.id,
)


def _as_parsed(row: Any, *, reverses_id: int | None = None) -> ParsedLine:
    """A booked line (an entity or a row of _LINE_COLUMNS) as the import's own kind of line."""
    return ParsedLine(
        0,
        row.dealer_id,
        row.period_id,
        row.booked_period_id,
        row.sold_on,
        row.amount,
        row.units,
        row.product_line,
        row.invoice_ref,
        row.invoice_key,
        row.line_no,
        row.corrects_invoice,
        row.sku,
        row.unit_price,
        row.ship_to_region,
        row.revision,
        reverses_id,
    )


def reverse_import_lines(batch: SalesImport, *, senior: bool) -> ReversedLines:
    """A void's bookings: a reversal of each line of the import still counting, and, for each invoice line whose
    earlier values the import replaced, those values booked again as the line's next revision (only where the
    import's own values were still the current ones). Raises IllegalTransition when the void is not allowed."""
    lines = [  # each as the template of its reversal (which names it)
        _as_parsed(row, reverses_id=row.id)
        for row in db.session.execute(
            select(*_LINE_COLUMNS).where(SalesLine.import_id == batch.id, live_line())  # rows, not entities: fast
        )
    ]
    periods = {period.id: _PeriodRef.of(period) for period in db.session.execute(select(Period)).scalars()}
    open_now_row = current_period()
    open_now = _PeriodRef.of(open_now_row) if open_now_row else None
    if not senior and any(not periods[line.period_id].is_open for line in lines):
        raise IllegalTransition(_("Some of these sales are in a closed period: a senior manager voids this import."))
    corrected = aliased(SalesLine)
    others = (
        db.session.execute(
            select(SalesLine.import_id)
            .join(
                corrected,
                and_(corrected.dealer_id == SalesLine.dealer_id, corrected.invoice_key == SalesLine.corrects_invoice),
            )
            .where(
                corrected.import_id == batch.id,
                corrected.corrects_invoice.is_(None),
                SalesLine.corrects_invoice.is_not(None),
                SalesLine.import_id != batch.id,
                live_line(),
            )
            .distinct()
        )
        .scalars()
        .all()
    )
    if others:
        raise IllegalTransition(
            _(
                "Credit notes of import %(imports)s correct invoices of this one: void that import first.",
                imports=", ".join(str(number) for number in sorted(n for n in others if n is not None)),
            )
        )
    reversals = []
    for line in lines:
        period = periods[line.period_id]
        booked = period if period.is_open or open_now is None else open_now
        reversals.append(
            line._replace(
                booked_period_id=booked.id,
                amount=-line.amount,
                units=-line.units,
                revision=reversal_revision(line.revision),
            )
        )
    replaced = (
        db.session.execute(
            select(SalesLine).where(
                SalesLine.id.in_(
                    select(SalesLine.reverses_id).where(
                        SalesLine.import_id == batch.id, SalesLine.reverses_id.is_not(None)
                    )
                )
            )
        )
        .scalars()
        .all()
    )
    voided_lines = {line.invoice_line for line in lines}
    to_restore = [row for row in replaced if (row.dealer_id, row.invoice_key, row.line_no) in voided_lines]
    booked_now: dict[tuple[int, str, int], Booked] = {}
    for start in range(0, len(to_restore), LOOKUP_CHUNK):
        booked_now.update(_existing([_as_parsed(row) for row in to_restore[start : start + LOOKUP_CHUNK]]))
    restores = []
    for row in to_restore:  # the others were replaced again since by another import: those values stay
        invoice_line = (row.dealer_id, row.invoice_key, row.line_no)
        period = periods[row.period_id]
        booked = period if period.is_open or open_now is None else open_now
        restores.append(
            _as_parsed(row)._replace(booked_period_id=booked.id, revision=next_revision(booked_now.get(invoice_line)))
        )
    block = _booked_in_open_periods(reversals + restores)
    if block is None:
        raise IllegalTransition(_("No period is open today to book the reversal in."))
    _insert_new_lines(batch.id, [line for line in block if line.reverses_id is not None])
    _insert_new_lines(None, [line for line in block if line.reverses_id is None])
    touched = {(line.dealer_id, line.booked_period_id) for line in block}
    touched.update((line.dealer_id, line.period_id) for line in block if line.period_id != line.booked_period_id)
    return ReversedLines(len(reversals), touched, {line.dealer_id for line in block})


def file_columns(batch: SalesImport, user_id: int) -> list[tuple[str, str]]:
    """The file's header cells and what each means now: a synonym, the manager's earlier answer, or ""."""
    try:
        table = open_table(batch.content, batch.sheet)
        synonyms = {**column_choices(user_id), **COLUMNS}
        found = find_header(table, synonyms, REQUIRED)
    except (UnreadableFile, BrokenTable):
        return []
    return [(cell.strip(), field) for cell, field in zip(found.cells, found.header.fields, strict=True) if cell.strip()]


def fail_sales_import(import_id: int) -> None:
    """When a job crashes: a check ends rejected; an import ends failed, and trying again resumes it."""
    db.session.rollback()
    begin_write()
    batch = db.session.get(SalesImport, import_id)
    if batch is None:
        return
    message = _("The server could not finish this. Lines already imported stay; try again to complete the file.")
    if batch.status is ImportStatus.VALIDATING:
        batch.errors = [[1, "", _("The server could not check this file. Upload it again.")]]
        batch.error_count = 1
        move_import(batch, ImportStatus.VALIDATING, ImportStatus.REJECTED)
    elif batch.status is ImportStatus.IMPORTING:
        batch.failure = message
        move_import(batch, ImportStatus.IMPORTING, ImportStatus.FAILED)
    batch.finished_at = utcnow()
    db.session.commit()
