"""The lines a clean check of a sales file read, kept for the import that follows it.

Reading a million-line file takes longer than booking its lines on a slow machine (11 s of a PostgreSQL import's
60, measured). When nothing the check's verdict depended on has changed by the time the manager confirms (the
uploader's dealers, the periods, the day, the column choices: see `_Checker.depends_on`), the import books the
lines the check read instead of reading the file again.

The lines are kept as blocks of columns (JSON, compressed), so the import can read them block by block and show
its progress while it does, and a block holds only plain values: numbers, text, and a day as its ordinal.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

BLOCK_LINES = 50_000

# The fields of a line as the check read it, in the order the import's line takes them.
FIELDS = (
    "line",
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
    "corrects",
    "sku",
    "unit_price",
    "ship_to_region",
)
_SOLD_ON, _REFERENCE, _KEY = FIELDS.index("sold_on"), FIELDS.index("invoice_ref"), FIELDS.index("invoice_key")
_LENGTH = struct.Struct(">I")


class LinePacker:
    """Collects lines (tuples in FIELDS order) and packs them into blocks as they come: the check reads a file of
    any size without holding its lines."""

    def __init__(self) -> None:
        self.blocks: list[bytes] = []
        self.rows: list[Sequence[Any]] = []
        self.count = 0

    def add(self, line: Sequence[Any]) -> None:
        self.rows.append(line)
        self.count += 1
        if len(self.rows) == BLOCK_LINES:
            self._pack_block()

    def packed(self) -> bytes:
        if self.rows:
            self._pack_block()
        return b"".join(self.blocks)

    def _pack_block(self) -> None:
        columns = [list(column) for column in zip(*self.rows, strict=True)]  # rows to columns in one C-level pass
        self.rows = []
        columns[_SOLD_ON] = [day.toordinal() for day in columns[_SOLD_ON]]
        # Most keys are the reference as written: kept once, the key left out (null) where they are the same.
        columns[_KEY] = [
            None if key == reference else key for key, reference in zip(columns[_KEY], columns[_REFERENCE], strict=True)
        ]
        block = zlib.compress(json.dumps(columns, ensure_ascii=False, separators=(",", ":")).encode(), 1)
        self.blocks.append(_LENGTH.pack(len(block)) + block)


def unpacked(blob: bytes) -> Iterator[list[tuple[Any, ...]]]:
    """The lines again, block by block, as tuples in FIELDS order (days as dates)."""
    days: dict[int, date] = {}
    offset = 0
    while offset < len(blob):
        (length,) = _LENGTH.unpack_from(blob, offset)
        offset += _LENGTH.size
        columns = json.loads(zlib.decompress(blob[offset : offset + length]))
        offset += length
        for ordinal in set(columns[_SOLD_ON]) - days.keys():
            days[ordinal] = date.fromordinal(ordinal)
        columns[_SOLD_ON] = [days[ordinal] for ordinal in columns[_SOLD_ON]]
        columns[_KEY] = [
            reference if key is None else key for key, reference in zip(columns[_KEY], columns[_REFERENCE], strict=True)
        ]
        yield list(zip(*columns, strict=True))
