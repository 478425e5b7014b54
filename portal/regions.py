"""China's administrative regions by their GB/T 2260 codes (the table in `portal/data`, with its source and year):
what a sales line's ship-to region, a territory's regions and a sighting's place are written in.

Files write a region as its six-digit code or by name; a name is read when it says one region only: a full path
("广东省深圳市南山区"), or a name no other region carries ("南山区" is in Shenzhen only, "朝阳区" is in Beijing and
in Changchun, so it needs its city).
"""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE = Path(__file__).parent / "data" / "gbt2260_regions.csv"


class RegionLevel(enum.StrEnum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: RegionLevel
    parent: str  # the code of the region it lies in; empty for a province

    @property
    def full_name(self) -> str:
        """The names from the province down: 广东省深圳市南山区."""
        return "".join(region.name for region in reversed(list(_lineage(self.code))))


@cache
def regions() -> dict[str, Region]:
    with TABLE.open(encoding="utf-8", newline="") as table:
        return {
            row["code"]: Region(row["code"], row["name"], RegionLevel(row["level"]), row["parent"])
            for row in csv.DictReader(table)
        }


def _lineage(code: str) -> list[Region]:
    known = regions()
    lineage: list[Region] = []
    while code in known:
        lineage.append(known[code])
        code = known[code].parent
    return lineage


def region(code: str) -> Region | None:
    return regions().get(code)


def enclosing(code: str) -> tuple[str, ...]:
    """The region's code and the codes of the regions it lies in, innermost first."""
    return tuple(region.code for region in _lineage(code)) or (code,)


@cache
def _names() -> dict[str, str | None]:
    """Each full name, and each short name that only one region carries, to its code (None: more than one)."""
    by_name: dict[str, str | None] = {}
    for known in regions().values():
        by_name[known.full_name] = known.code
        by_name[known.name] = None if known.name in by_name and by_name[known.name] != known.code else known.code
    return by_name


def read_region(written: str) -> str | None:
    """The code of the region a cell names (a code, or a name that says one region), or None."""
    text = "".join(written.split())
    if text in regions():
        return text
    return _names().get(text)


def provinces() -> list[Region]:
    return [known for known in regions().values() if known.level is RegionLevel.PROVINCE]


def within(code: str) -> list[Region]:
    """The regions directly inside a region, in code order."""
    return sorted((known for known in regions().values() if known.parent == code), key=lambda known: known.code)


@cache
def _by_full_name() -> list[tuple[str, Region]]:
    """Every region with its full name, provinces first, then cities, then districts, in code order."""
    order = {RegionLevel.PROVINCE: 0, RegionLevel.CITY: 1, RegionLevel.DISTRICT: 2}
    return [
        (known.full_name, known)
        for known in sorted(regions().values(), key=lambda known: (order[known.level], known.code))
    ]


def search(written: str, limit: int = 8) -> list[Region]:
    """Regions an inspector may mean by what they typed so far: a code's first digits, or a part of the full name
    (朝阳 finds 北京市朝阳区 and 辽宁省朝阳市). Regions whose own name starts with it come first."""
    text = "".join(written.split())
    if not text:
        return []
    if text.isdigit():
        return [known for _full, known in _by_full_name() if known.code.startswith(text)][:limit]
    named = [known for full, known in _by_full_name() if text in full]
    named.sort(key=lambda known: not known.name.startswith(text))  # stable: the levels' order stays within each
    return named[:limit]
