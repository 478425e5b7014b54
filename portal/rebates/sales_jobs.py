"""The worker side of a sales import: reading the file line by line (English or Chinese headers, thousands
separators, dates as people type them), checking every line with its number, and inserting the new lines in
chunks. portal.rebates.imports is the side people click; tasks.py runs these."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Connection, Insert, func, select
from sqlalchemy.dialects.sqlite import insert

from portal.accounts.models import User
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
from portal.money import MisreadAmount, parse_file_money
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.rebates.models import ImportStatus, SalesImport, SalesLine
from portal.rebates.rules import IMPORT_TRANSITIONS
from portal.rebates.services import late_sales_adjustments, recompute_statements
from portal.types import utcnow
from portal.workflow import move_if_still

CHUNK = 1000  # lines per INSERT


PROGRESS_SECONDS = 2  # the check's progress moves at least this often, however slowly a file (a workbook) reads


PROGRESS_LINES = 50_000  # lines between two commits of progress: each commit of a big import rewrites index pages


KEPT_ERRORS = 300  # the report shows this many; the count covers all


MAX_REF = 64


MAX_PRODUCT = 80


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
}


REQUIRED = ("dealer_code", "date", "amount", "invoice_ref")


# 2026-10-05, 2026/10/5, 2026.10.05 or 2026年10月5日, with an ERP's time after it ("2026-10-05 00:00:00"): the date.
DATE_PATTERN = re.compile(
    r"^(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日)(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


@dataclass(frozen=True)
class ParsedLine:
    line: int
    dealer_id: int
    period_id: int
    booked_period_id: int
    sold_on: date
    amount: int
    units: int
    product_line: str
    invoice_ref: str


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

    def skip(self, line: int, why: str) -> None:
        if len(self.skipped) < KEPT_ERRORS:
            self.skipped.append([line, why])

    def error(self, line: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append([line, column, message])


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
    """Reads a file line by line against the uploader's dealers and the periods; collects errors, yields lines."""

    def __init__(self, uploader: User, report: Report) -> None:
        self.report = report
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
        self.seen: dict[tuple[int, str], int] = {}
        self.period_by_day: dict[date, _PeriodRef | None] = {}
        self.dates: dict[str, date | None] = {}

    def dealer_totals(self, by_dealer: dict[int, list[int]]) -> list[list[object]]:
        """The check's findings per dealer, by code: [code, currency, lines, new lines, new amount, already]."""
        refs = {ref.id: (code, ref.currency) for code, ref in self.dealers.items()}
        return sorted([*refs[dealer_id], *counts] for dealer_id, counts in by_dealer.items())

    def period_of(self, day: date) -> _PeriodRef | None:
        if day not in self.period_by_day:
            self.period_by_day[day] = next(
                (period for period in self.periods if period.starts_on <= day <= period.ends_on), None
            )
        return self.period_by_day[day]

    def date_of(self, text: str) -> date | None:
        """A file has a few hundred distinct dates in a million lines: each is parsed once."""
        if text not in self.dates:
            self.dates[text] = _parse_date(text)
        return self.dates[text]

    def lines(self, content: bytes) -> Iterator[ParsedLine]:
        try:
            table = open_table(content)
        except UnreadableFile as refused:
            self.report.error(1, "", refused.message())
            return
        self.report.encoding = table.encoding
        try:
            found = find_header(table, COLUMNS, REQUIRED)
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
        dealer = self.dealers.get(cells.get("dealer_code", "").strip().upper())
        if dealer is None:
            error(line, "dealer_code", _("Unknown dealer code, or not in your portfolio."))
        sold_on = self.date_of(cells.get("date", ""))
        period = None
        if sold_on is None:
            error(line, "date", _("Write the date as YYYY-MM-DD."))
        elif sold_on > self.today:
            error(line, "date", _("This date is in the future."))
        else:
            period = self.period_of(sold_on)
            if period is None:
                error(line, "date", _("No period covers this date."))
            elif not period.is_open and (self.open_now is None or not self.open_now.is_open):
                error(
                    line,
                    "date",
                    _("Period %(code)s is closed and no period is open today to book it in.", code=period.code),
                )
        amount = 0
        if dealer is not None:
            written = cells.get("amount", "")
            misread = False
            try:
                amount = parse_file_money(written, dealer.currency)
            except MisreadAmount as refused:
                error(line, "amount", misread_amount(written.strip(), refused.reason))
                amount, misread = 0, True
            except ValueError:
                amount = 0
            if amount <= 0 and not misread:
                error(
                    line,
                    "amount",
                    _("Enter an amount above zero in the dealer's currency (%(currency)s).", currency=dealer.currency),
                )
        units_text = cells.get("units", "").strip().replace(",", "")
        units = _whole_number(units_text) if units_text else 0
        if units < 0:
            error(line, "units", _("Units must be a whole number, zero or more."))
        reference = cells.get("invoice_ref", "").strip()
        if not reference or len(reference) > MAX_REF:
            error(line, "invoice_ref", _("Give the invoice reference (at most %(count)s characters).", count=MAX_REF))
        product_line = cells.get("product_line", "").strip()
        if len(product_line) > MAX_PRODUCT:
            error(line, "product_line", _("At most %(count)s characters.", count=MAX_PRODUCT))
        if dealer is not None and reference:
            key = (dealer.id, reference)
            if key in self.seen:
                error(line, "invoice_ref", _("Repeats the invoice of line %(line)s.", line=self.seen[key]))
            else:
                self.seen[key] = line
        if self.report.error_count != before or dealer is None or period is None or sold_on is None:
            return None
        booked = period if period.is_open else self.open_now
        assert booked is not None
        return ParsedLine(line, dealer.id, period.id, booked.id, sold_on, amount, units, product_line, reference)


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


def _parse_date(text: str) -> date | None:
    match = DATE_PATTERN.match(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2] or match[4]), int(match[3] or match[5]))
    except ValueError:
        return None


def _existing(chunk: list[ParsedLine]) -> set[tuple[int, str]]:
    """The chunk's (dealer, invoice) pairs already imported: one probe of the unique index per pair (two IN lists
    would probe every dealer of the chunk with every invoice of it). Written as driver SQL: SQLAlchemy would compile
    a VALUES list of a thousand pairs again for every chunk, and psycopg parses a short statement only once."""
    pairs = sorted({(line.dealer_id, line.invoice_ref) for line in chunk})
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        statement = EXISTING_FROM_ARRAYS
        parameters: tuple[object, ...] = ([pair[0] for pair in pairs], [pair[1] for pair in pairs])
    else:
        statement = _existing_from_values(len(pairs))
        parameters = tuple(value for pair in pairs for value in pair)
    found = connection.exec_driver_sql(statement, parameters)
    return {(int(dealer_id), str(reference)) for dealer_id, reference in found}


_EXISTING_SELECT = (
    "SELECT sales_lines.dealer_id, sales_lines.invoice_ref FROM sales_lines JOIN {wanted} "
    "ON sales_lines.dealer_id = wanted.dealer_id AND sales_lines.invoice_ref = wanted.invoice_ref"
)


EXISTING_FROM_ARRAYS = _EXISTING_SELECT.format(
    wanted="unnest(%s::integer[], %s::text[]) AS wanted (dealer_id, invoice_ref)"
)


@functools.cache
def _existing_from_values(pairs: int) -> str:
    """SQLite: the pairs as a VALUES list of bound markers, one statement text per chunk size."""
    rows = ", ".join(["(?, ?)"] * pairs)
    return f"WITH wanted (dealer_id, invoice_ref) AS (VALUES {rows}) " + _EXISTING_SELECT.format(wanted="wanted")


def _chunks(lines: Iterator[ParsedLine]) -> Iterator[list[ParsedLine]]:
    chunk: list[ParsedLine] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def move_import(batch: SalesImport, expected: ImportStatus, target: ImportStatus) -> bool:
    if target not in IMPORT_TRANSITIONS[expected]:
        return False
    moved = move_if_still(SalesImport, batch.id, expected, target)
    db.session.expire(batch, ["status"])
    return moved


def check_sales_import(import_id: int) -> str:
    """The job: read the whole file, count new and already imported lines, keep the errors with line numbers."""
    batch = db.session.get(SalesImport, import_id)
    if batch is None or batch.status is not ImportStatus.VALIDATING:
        return "skipped"
    report = Report()
    checker = _Checker(batch.uploaded_by, report)
    by_dealer: dict[int, list[int]] = {}  # dealer -> [lines, new lines, new amount, already imported]
    shown = time.monotonic()  # when progress was last committed: the page moves at least every PROGRESS_SECONDS
    for chunk in _chunks(checker.lines(batch.content)):
        existing = _existing(chunk)
        for line in chunk:
            counts = by_dealer.setdefault(line.dealer_id, [0, 0, 0, 0])
            counts[0] += 1
            if (line.dealer_id, line.invoice_ref) in existing:
                report.duplicates += 1
                counts[3] += 1
            else:
                report.new_rows += 1
                report.late_rows += line.booked_period_id != line.period_id
                counts[1] += 1
                counts[2] += line.amount
        if report.total - batch.rows_done >= PROGRESS_LINES or time.monotonic() - shown >= PROGRESS_SECONDS:
            shown = time.monotonic()
            begin_write()  # SQLite: take the write lock before writing, never upgrade a read half-way
            batch.rows_done = report.total
            db.session.commit()  # progress others can see
    begin_write()
    outcome = ImportStatus.REJECTED if report.error_count or report.total == 0 else ImportStatus.READY
    if report.total == 0 and not report.error_count:
        report.error(1, "", _("The file has no sales lines."))
    _save_report(batch, report, rows_done=report.total)
    batch.dealer_totals = checker.dealer_totals(by_dealer)
    move_import(batch, ImportStatus.VALIDATING, outcome)
    if outcome is ImportStatus.REJECTED:
        batch.finished_at = utcnow()
    db.session.commit()
    return outcome.value


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


def run_sales_import(import_id: int) -> str:
    """The job: check again (the channel may have changed since), then insert in chunks, committing progress.

    A crash half-way leaves whole chunks imported; running it again skips them as already imported, so a retry
    completes the file without counting a line twice.
    """
    batch = db.session.get(SalesImport, import_id)
    if batch is None or batch.status is not ImportStatus.IMPORTING:
        return "skipped"
    report = Report()
    checker = _Checker(batch.uploaded_by, report)
    lines = list(checker.lines(batch.content))
    begin_write()
    if report.error_count:
        _save_report(batch, report, rows_done=0)
        batch.failure = _("The file no longer passes its checks; nothing was imported. Upload it again.")
        move_import(batch, ImportStatus.IMPORTING, ImportStatus.FAILED)
        batch.finished_at = utcnow()
        db.session.commit()
        return "failed"
    batch.total_rows = report.total
    use_large_sqlite_cache()
    touched: set[tuple[int, int]] = set()  # (dealer, period) of every line, for the recomputation
    # In index order: consecutive rows land on the same index pages (file order scatters them over every dealer's).
    lines.sort(key=lambda line: (line.dealer_id, line.invoice_ref))
    for start in range(0, len(lines), PROGRESS_LINES):
        block = _booked_in_open_periods(lines[start : start + PROGRESS_LINES])
        if block is None:
            batch.failure = _(
                "A period closed while this file was imported and no period is open today to book its lines in. "
                "Lines already imported stay; try again once a period is open."
            )
            move_import(batch, ImportStatus.IMPORTING, ImportStatus.FAILED)
            batch.finished_at = utcnow()
            db.session.commit()
            return "failed"
        _insert_new_lines(batch.id, block)
        touched.update((line.dealer_id, line.booked_period_id) for line in block)
        touched.update((line.dealer_id, line.period_id) for line in block if line.period_id != line.booked_period_id)
        batch.rows_done = start + len(block)
        db.session.commit()
        begin_write()  # SQLite: the next block holds the write lock from its start, never upgrades half-way
        use_large_sqlite_cache()
    # Counted afterwards, not from the statements: a retry after a crash counts what the first run added too.
    inserted = db.session.execute(select(func.count()).where(SalesLine.import_id == batch.id)).scalar_one()
    _finish(batch, inserted, touched)
    db.session.commit()
    return "imported"


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
    return [replace(line, booked_period_id=open_now.id) if line.booked_period_id in closed else line for line in block]


SALES_LINE_COLUMNS = (
    "dealer_id",
    "period_id",
    "booked_period_id",
    "sold_on",
    "amount",
    "units",
    "product_line",
    "invoice_ref",
    "import_id",
)


def _insert_new_lines(import_id: int, block: list[ParsedLine]) -> None:
    """Insert a block of lines, skipping invoices already there (ON CONFLICT DO NOTHING decides, race or not)."""
    rows = [
        (
            line.dealer_id,
            line.period_id,
            line.booked_period_id,
            line.sold_on,
            line.amount,
            line.units,
            line.product_line,
            line.invoice_ref,
            import_id,
        )
        for line in block
    ]
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        _copy_then_insert(connection, rows)
        return
    statement = _insert_ignoring_duplicates()
    for start in range(0, len(rows), CHUNK):
        connection.execute(
            statement, [dict(zip(SALES_LINE_COLUMNS, row, strict=True)) for row in rows[start : start + CHUNK]]
        )


STAGE_LINES_SQL = (
    "CREATE TEMPORARY TABLE sales_import_staged_lines (LIKE sales_lines INCLUDING DEFAULTS) ON COMMIT DROP"
)


COPY_LINES_SQL = (
    "COPY sales_import_staged_lines (dealer_id, period_id, booked_period_id, sold_on, amount, units, product_line, "
    "invoice_ref, import_id) FROM STDIN"
)


INSERT_STAGED_LINES_SQL = (
    "INSERT INTO sales_lines (dealer_id, period_id, booked_period_id, sold_on, amount, units, product_line, "
    "invoice_ref, import_id) SELECT dealer_id, period_id, booked_period_id, sold_on, amount, units, product_line, "
    "invoice_ref, import_id FROM sales_import_staged_lines ON CONFLICT (dealer_id, invoice_ref) DO NOTHING"
)


DROP_STAGED_LINES_SQL = "DROP TABLE sales_import_staged_lines"


def _copy_then_insert(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY the block into a temporary table, then one INSERT ... SELECT. Sent row by row (even pipelined)
    each line cost the server a statement of its own; this costs it one per block."""
    connection.exec_driver_sql(STAGE_LINES_SQL)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(COPY_LINES_SQL) as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
    connection.exec_driver_sql(INSERT_STAGED_LINES_SQL)
    # Dropped now, not only at commit: the next block may come in the same transaction (inside a test's, say).
    connection.exec_driver_sql(DROP_STAGED_LINES_SQL)


def _insert_ignoring_duplicates() -> Insert:
    """SQLite: an INSERT that skips invoices already there, compiled once and executed with a list of rows."""

    return insert(SalesLine).on_conflict_do_nothing(index_elements=["dealer_id", "invoice_ref"])


def _finish(batch: SalesImport, inserted: int, touched: set[tuple[int, int]]) -> None:
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
    batch.imported_rows = inserted
    batch.duplicate_rows = batch.total_rows - inserted
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
