"""CSV in and out, the same way in every area.

In: UTF-8 (with or without BOM) or GB18030, which is what Excel on a Chinese Windows saves. Out: UTF-8 with a BOM
so Excel opens it with the right characters, and no cell that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response

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
