"""CSV in and out, the same way in every area.

In: UTF-8 (with or without BOM) or GB18030, which is what Excel on a Chinese Windows saves. Out: UTF-8 with a BOM
so Excel opens it with the right characters, and no cell that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from flask import Response
from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|")


class UnreadableFile(ValueError):
    pass


def decode_csv(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with; NUL bytes mean a binary file, not a CSV."""
    if b"\x00" in content:
        raise UnreadableFile("binary")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding), "utf-8" if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("encoding")  # pragma: no cover - GB18030 decodes every byte sequence without NUL


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
