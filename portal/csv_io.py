"""CSV in and out, the same way in every area.

In: UTF-8 (with or without BOM), UTF-16 with its BOM or GB18030, which is what Excel on a Chinese Windows saves,
separated by commas, semicolons or tabs; read strictly, so that nothing is misread without a word. Out: UTF-8 with a BOM
so Excel opens it with the right characters, and no cell that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zipfile import BadZipFile

from flask import Response
from openpyxl import Workbook, load_workbook

from portal.request_locale import gettext as _

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|")


class UnreadableFile(ValueError):
    """A file that is not text we read without guessing. `detected` names the encoding it seems to be in, when
    that is one we refuse (Big5)."""

    def __init__(self, reason: str, detected: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detected = detected

    def message(self) -> str:
        if self.reason == "sheet":
            return _(
                "This workbook has no sheet of that name. Its sheets: %(sheets)s.",
                sheets=self.detected,
            )
        if self.detected:
            return _(
                "This file is in %(encoding)s, which the portal does not read. Save it as CSV UTF-8 (or GB18030) "
                "and upload it again.",
                encoding=self.detected,
            )
        if self.reason == "workbook":
            return _("This is not an Excel workbook (.xlsx) the portal can read. Save it again as .xlsx or as CSV.")
        return _("This is not a CSV file in UTF-8, UTF-16 or GB18030, nor an Excel workbook (.xlsx).")


def decode_csv(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with: UTF-16 with its byte-order mark (Excel's "Unicode text"),
    UTF-8 with or without one, or GB18030 (Excel on a Chinese Windows). Big5 (traditional Chinese) also decodes as
    GB18030, into nonsense: it is recognised and refused by name. Other NUL bytes mean a binary file."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise UnreadableFile("encoding") from None
    if b"\x00" in content:
        raise UnreadableFile("binary")
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _looks_like_big5(content):
        raise UnreadableFile("encoding", "Big5")
    try:
        return content.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:  # not even GB18030: bytes of no text encoding the portal reads
        raise UnreadableFile("encoding") from None


def _common_share(text: str, codec: str, first: int, last: int) -> float:
    """The share of the text's Chinese characters that are among the codec's frequent ones (lead bytes from
    `first` to `last`): high for text read in its own encoding, low for bytes of another read as this one."""
    ideographs = [char for char in text if "\u4e00" <= char <= "\u9fff"]
    if not ideographs:
        return 0.0
    common = 0
    for char in ideographs:
        try:
            common += first <= char.encode(codec)[0] <= last
        except UnicodeEncodeError:
            continue
    return common / len(ideographs)


def _looks_like_big5(content: bytes) -> bool:
    """Whether the bytes read better as Big5 than as GB18030: Big5's frequent characters (lead bytes A4-C6)
    against GB2312's first level (B0-D7). A tie goes to GB18030, the encoding the portal expects. So does text
    that reads in GB18030 without a single Chinese character (pinyin with its tones, Greek, full-width letters):
    those bytes also read as Big5 ideographs, but Chinese text in Big5 read as GB18030 always shows some."""
    try:
        as_big5 = content.decode("big5")
    except UnicodeDecodeError:
        return False
    try:
        as_gb = content.decode("gb18030")
    except UnicodeDecodeError:
        as_gb = content.decode("gb18030", errors="replace")
    else:
        if not any("\u4e00" <= char <= "\u9fff" or "\ue000" <= char <= "\uf8ff" for char in as_gb):
            return False
    return _common_share(as_big5, "big5", 0xA4, 0xC6) > _common_share(as_gb, "gb2312", 0xB0, 0xD7)


def delimiter_of(first_line: str) -> str:
    """The separator of a CSV file, from its header line: comma, semicolon (Excel where the decimal mark is a
    comma) or tab (Excel's "Unicode text"), whichever the header uses most."""
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    return max(counts, key=lambda delimiter: (counts[delimiter], delimiter == ","))


@dataclass(frozen=True)
class Header:
    """What each column of a file's first line means (the field, or "" for a column the portal ignores), and why
    the header is refused: columns that mean the same field."""

    fields: list[str]
    problems: list[str]

    @property
    def width(self) -> int:
        return len(self.fields)


def read_header(cells: Sequence[str], synonyms: dict[str, str]) -> Header:
    """Columns matched by name (trimmed, case-insensitive) in English or Chinese. Two columns meaning one field
    ("amount" and "金额") are refused: taking either would be a guess."""
    names = [cell.strip() for cell in cells]
    fields = [synonyms.get(name.lower(), "") for name in names]
    problems = []
    first_of: dict[str, str] = {}
    for name, field in zip(names, fields, strict=True):
        if not field:
            continue
        if field in first_of:
            problems.append(
                _(
                    "Columns %(first)s and %(second)s both give %(field)s: keep one of them.",
                    first=first_of[field],
                    second=name,
                    field=field,
                )
            )
        else:
            first_of[field] = name
    return Header(fields, problems)


class BrokenTable(ValueError):
    """A file that stops being readable part-way (a quote opened and never closed): the line it happened on."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Table:
    """A file's rows as text cells, whatever it was: CSV in any accepted encoding and separator, or a workbook.
    `rows` yields (line number, cells), the header first; it raises BrokenTable where reading fails."""

    encoding: str  # "utf-8", "utf-16", "gb18030" or "xlsx"
    rows: Iterator[tuple[int, list[str]]]


WORKBOOK_MAGIC = b"PK\x03\x04"  # a zip archive: an .xlsx workbook (anything else zipped is refused)


def open_table(content: bytes, sheet: str = "") -> Table:
    """The one reader of uploaded tables (sales, targets, budgets): a workbook's first sheet, or the sheet named
    (trimmed, case-insensitive). Raises UnreadableFile."""
    if content.startswith(WORKBOOK_MAGIC):
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (BadZipFile, KeyError, OSError, ValueError, TypeError):
            raise UnreadableFile("workbook") from None
        names = workbook.sheetnames
        index = 0
        if sheet.strip():
            wanted = sheet.strip().casefold()
            matches = [position for position, name in enumerate(names) if name.strip().casefold() == wanted]
            if not matches:
                workbook.close()
                raise UnreadableFile("sheet", ", ".join(names))
            index = matches[0]
        return Table("xlsx", _workbook_rows(workbook, index))
    text, encoding = decode_csv(content)
    return Table(encoding, _csv_rows(text))


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Strict (a quote never closed is an error, not the rest of the file swallowed into one cell), with the
    file's own separator; each record numbered by the line it ends on."""
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=delimiter_of(first_line), strict=True)
    last_line = 0  # where the latest complete record ended: a broken one starts on the next line
    try:
        for row in reader:
            yield reader.line_num, row
            last_line = reader.line_num
    except csv.Error as broken:
        raise BrokenTable(last_line + 1, broken_quoting(str(broken))) from None


def _workbook_rows(workbook: Workbook, index: int = 0) -> Iterator[tuple[int, list[str]]]:
    """One sheet of a workbook, its cells as the text a CSV export would hold: dates as YYYY-MM-DD (a
    date-time's date), numbers as written (a whole number without ".0"), empty cells empty. Line numbers are the
    sheet's row numbers, the ones Excel shows."""
    try:
        if not workbook.worksheets:
            return
        for number, values in enumerate(workbook.worksheets[index].iter_rows(values_only=True), start=1):
            yield number, [workbook_cell(value) for value in values]
    finally:
        workbook.close()


def workbook_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Fifteen significant digits, as Excel shows them: 1129.9999999999998 from a formula reads 1130.
        return format(Decimal(format(value, ".15g")), "f")
    return str(value)


def extra_cells(row: Sequence[str], width: int) -> bool:
    """Cells beyond the header's columns holding something: an unquoted thousands separator split an amount.
    Empty trailing cells (a trailing comma, a workbook's formatted but empty columns) lose nothing."""
    return len(row) > width and any(cell.strip() for cell in row[width:])


TOTAL_WORDS = frozenset({"合计", "总计", "小计", "共计", "total", "totals", "grand total", "subtotal", "sum"})

HEADER_SEARCH_ROWS = 10  # how far down a title block may push the header


@dataclass(frozen=True)
class FoundHeader:
    header: Header
    line: int  # the header's line number
    skipped: list[tuple[int, str]]  # (line, why) of the title lines above it
    cells: list[str]  # the header's cells as written, for a manager to say what an unknown column is


def find_header(table: Table, synonyms: dict[str, str], required: Sequence[str]) -> FoundHeader:
    """The header: the first line naming every required column, within the first few lines. Lines above it are a
    report's title ("2026年10月销售明细") and are skipped, said in the report. When no line qualifies, the first
    non-empty line is taken as the header, so that its missing columns are named. Raises BrokenTable."""
    seen: list[tuple[int, list[str]]] = []
    for line, cells in table.rows:
        if not any(cell.strip() for cell in cells):
            continue
        header = read_header(cells, synonyms)
        if all(field in header.fields for field in required):
            return FoundHeader(header, line, [(title, title_line()) for title, _cells in seen], list(cells))
        seen.append((line, cells))
        if len(seen) >= HEADER_SEARCH_ROWS:
            break
    if not seen:
        return FoundHeader(read_header([], synonyms), 1, [], [])
    return FoundHeader(read_header(seen[0][1], synonyms), seen[0][0], [], list(seen[0][1]))


def total_word(cells: Sequence[str]) -> str | None:
    """The word that makes a row a total row (合计, Total...): its first filled cell, colon or not."""
    first = next((cell.strip() for cell in cells if cell.strip()), "")
    word = first.rstrip(":\uff1a").strip()  # a colon, or a full-width one
    return word if word.lower() in TOTAL_WORDS else None


def title_line() -> str:
    return _("A title above the column names: skipped.")


def total_line(word: str) -> str:
    return _("A total row (%(word)s): skipped, a total is not a sale.", word=word)


def too_many_cells(found: int, expected: int) -> str:
    return _(
        "This line has %(found)s cells but the first line names %(expected)s columns: a thousands separator "
        "outside quotes, as in 1,234.56? Put the amount in quotes or leave the separator out.",
        found=found,
        expected=expected,
    )


def broken_quoting(detail: str) -> str:
    return _(
        "The file's quoting breaks on this line (%(detail)s): a quote opened and never closed? Nothing after it "
        "could be read.",
        detail=detail,
    )


def misread_amount(value: str, reason: str) -> str:
    """Why an amount in a file was refused rather than guessed (see money.parse_file_money)."""
    if reason == "decimal_comma":
        return _(
            "%(value)s has a decimal comma or misplaced thousands separators: write 1234.56 or 1,234.56, or upload "
            "again saying the file uses decimal commas.",
            value=value,
        )
    if reason == "decimal_point":
        return _(
            "%(value)s does not follow the decimal-comma convention chosen for this file (1.234,56): check the "
            "file's convention.",
            value=value,
        )
    return _("Is the dot in %(value)s a decimal point or a thousands separator? Write 1.20 or 1200.", value=value)


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: anything that could start a formula gets a leading apostrophe.

    Numbers written by the portal itself are passed as int/Decimal and left alone, so negative amounts stay numbers.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_response(header: Sequence[str], rows: Iterable[Sequence[object]], filename: str, title: str) -> Response:
    """The same table as a workbook: numbers (Decimal amounts, exact) stay numbers, dates stay dates, and text is
    always text: a note beginning with "=" is written as text, never as a formula."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    table: list[list[object]] = [list(header), *(list(row) for row in rows)]
    for row in table:
        sheet.append([str(cell) if not isinstance(cell, int | float | Decimal | date) else cell for cell in row])
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl makes "=..." a formula; a typed note is text
            elif isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = Response(buffer.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def csv_response(header: Sequence[str], rows: Iterable[Sequence[object]], filename: str) -> Response:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(str(cell)) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    response = Response(buffer.getvalue().encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
