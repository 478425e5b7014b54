"""The referee's rules, pure: what a suspicion is, how it may move, and the tests a sales line or a sighting fails.

Money is integer minor units (fen for CNY); a unit price is the price of one unit in those units.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class SuspicionRule(enum.StrEnum):
    BELOW_FLOOR = "below_floor"
    OUTSIDE_TERRITORY = "outside_territory"


class SuspicionStatus(enum.StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    VIOLATION = "violation"


class SightingOutcome(enum.StrEnum):
    UNKNOWN_CODE = "unknown_code"  # shipped to no one: the code is not the manufacturer's, or not imported yet
    IN_ORDER = "in_order"
    OUTSIDE_TERRITORY = "outside_territory"
    BELOW_FLOOR = "below_floor"
    OUTSIDE_AND_BELOW = "outside_and_below"


class PriceListStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


register_labels(
    {
        SuspicionRule.BELOW_FLOOR: _l("Sold below the floor price"),
        SuspicionRule.OUTSIDE_TERRITORY: _l("Shipped outside the territory"),
        SuspicionStatus.OPEN: _l("Open"),
        SuspicionStatus.DISMISSED: _l("Dismissed"),
        SuspicionStatus.VIOLATION: _l("Made a violation"),
        PriceListStatus.DRAFT: _l("Draft"),
        PriceListStatus.PUBLISHED: _l("Published"),
    }
)


# A suspicion is decided once: dismissed with a reason, or made a violation (which then follows its own flow).
SUSPICION_MOVES: dict[SuspicionStatus, frozenset[SuspicionStatus]] = {
    SuspicionStatus.OPEN: frozenset({SuspicionStatus.DISMISSED, SuspicionStatus.VIOLATION}),
    SuspicionStatus.DISMISSED: frozenset(),
    SuspicionStatus.VIOLATION: frozenset(),
}


register_labels(  # a dict of its own: its members equal the rule's of the same value, and would replace them
    {
        SightingOutcome.UNKNOWN_CODE: _l("Code shipped to no dealer"),
        SightingOutcome.IN_ORDER: _l("In order"),
        SightingOutcome.OUTSIDE_TERRITORY: _l("Outside the dealer's territory"),
        SightingOutcome.BELOW_FLOOR: _l("Below the floor price"),
        SightingOutcome.OUTSIDE_AND_BELOW: _l("Outside the territory and below the floor price"),
    }
)


def can_move_suspicion(current: SuspicionStatus, target: SuspicionStatus) -> bool:
    return target in SUSPICION_MOVES[current]


def is_undecided(status: SuspicionStatus) -> bool:
    return status is SuspicionStatus.OPEN


PRICE_LIST_MOVES: dict[PriceListStatus, frozenset[PriceListStatus]] = {
    PriceListStatus.DRAFT: frozenset({PriceListStatus.PUBLISHED}),
    PriceListStatus.PUBLISHED: frozenset(),
}


def can_move_price_list(current: PriceListStatus, target: PriceListStatus) -> bool:
    return target in PRICE_LIST_MOVES[current]


def is_editable(status: PriceListStatus) -> bool:
    """Only a draft's prices change; a published list is a promise to the dealers, replaced by a new version."""
    return status is PriceListStatus.DRAFT


def week_of(day: date) -> date:
    """The Monday of the day's week: suspicions are grouped per dealer, rule and week."""
    return day - timedelta(days=day.weekday())


def lowest_allowed(floor_price: int, tolerance_basis_points: int) -> int:
    """The lowest unit price that is not a suspicion: the floor less the tolerance, rounded up to the fen (a
    tolerance never lets a price through that is below the floor by more than it says)."""
    allowed = floor_price * (10_000 - tolerance_basis_points)
    return -(-allowed // 10_000)


def is_below_floor(unit_price: int, floor_price: int, tolerance_basis_points: int = 0) -> bool:
    """Exactly at the floor is allowed; one fen below it is not (beyond the tolerance)."""
    return unit_price < lowest_allowed(floor_price, tolerance_basis_points)


def below_floor_stake(unit_price: int, floor_price: int, units: int) -> int:
    """What selling below the floor took from the price: the gap per unit times the units (one unit if unsaid)."""
    return max(floor_price - unit_price, 0) * max(units, 1)


def gap_basis_points(unit_price: int, floor_price: int) -> int:
    """How far below the floor, in hundredths of a percent of the floor, rounded down."""
    if floor_price <= 0 or unit_price >= floor_price:
        return 0
    return (floor_price - unit_price) * 10_000 // floor_price


def is_inside(enclosing_codes: Collection[str], territory_regions: Collection[str]) -> bool:
    """A region (given with the codes of the regions around it, `portal.regions.enclosing`) lies in a territory
    when the territory holds it or a region around it. A territory with no regions set is not checked: nothing
    can be said, so nothing is suspected."""
    if not territory_regions:
        return True
    return any(code in territory_regions for code in enclosing_codes)


def scheduled_penalty(schedule: Sequence[int], earlier_offences: int) -> int:
    """The penalty the schedule sets for a dealer with this many offences under the rule on its record: the first
    offence takes the schedule's first amount (a warning: 0), the next the second, and the last amount repeats."""
    if not schedule:
        return 0
    return schedule[min(earlier_offences, len(schedule) - 1)]


def record_starts(today: date, months: int) -> date:
    """The first day that still counts on a dealer's record: the same day `months` months ago (the month's last
    day when that month is shorter)."""
    month_index = today.year * 12 + today.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for day in range(today.day, 0, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a first day")


def sighting_outcome(known: bool, outside: bool, below: bool) -> SightingOutcome:
    if not known:
        return SightingOutcome.UNKNOWN_CODE
    if outside and below:
        return SightingOutcome.OUTSIDE_AND_BELOW
    if outside:
        return SightingOutcome.OUTSIDE_TERRITORY
    return SightingOutcome.BELOW_FLOOR if below else SightingOutcome.IN_ORDER


def raises_suspicion(outcome: SightingOutcome) -> bool:
    return outcome not in (SightingOutcome.UNKNOWN_CODE, SightingOutcome.IN_ORDER)


@dataclass(frozen=True)
class LineFinding:
    """What one sales line is suspected of, with the money at stake."""

    rule: SuspicionRule
    stake: int
    floor_price: int | None = None
    gap_basis_points: int = 0
