"""Detection from sales data: after each import, in the job, the import's new sales lines are compared with the
price list in force on their date and with their dealer's territory. Lines that fail become evidence of a
suspicion per dealer, rule and week.

Written for a million lines: the price lists, items, dealers and territories are read once into dictionaries, the
lines are read as plain rows in one streamed query, and evidence is written in bulk. A line is evidence once per
rule (a unique index): running detection again over the same import adds nothing.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from flask import current_app
from sqlalchemy import Select, Table, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.database import locked_for_update, rows_changed
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.rebates.models import SalesLine
from portal.referee.models import (
    OPEN_SUSPICION,
    PriceList,
    PriceListItem,
    Sighting,
    Suspicion,
    SuspicionLine,
    SuspicionSighting,
    TerritoryRegion,
)
from portal.referee.rules import (
    LineFinding,
    PriceListStatus,
    SuspicionRule,
    SuspicionStatus,
    below_floor_stake,
    gap_basis_points,
    is_below_floor,
    is_inside,
    week_of,
)
from portal.regions import enclosing
from portal.request_locale import gettext as _
from portal.types import utcnow

STREAM_ROWS = 50_000
SUSPICIONS = cast(Table, Suspicion.__table__)  # written with Core: tens of thousands of rows at once
EVIDENCE = cast(Table, SuspicionLine.__table__)
OPEN_ONLY = text(OPEN_SUSPICION)
WRITE_ROWS = 5_000
ANALYZE_AFTER = 5_000  # evidence lines written at once after which PostgreSQL's statistics are refreshed


@dataclass
class Floors:
    """The published price lists by the day they take effect, each with its floors by (SKU, territory id or 0)."""

    days: list[date] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    floors: list[dict[tuple[str, int], int]] = field(default_factory=list)

    def floor_of(self, sku: str, territory_id: int, day: date, currency: str) -> int | None:
        """The floor in force on the day for the SKU in the territory (its own line, else the general one)."""
        index = bisect.bisect_right(self.days, day) - 1
        if index < 0 or self.currencies[index] != currency:
            return None
        prices = self.floors[index]
        return prices.get((sku, territory_id), prices.get((sku, 0)))


def load_floors() -> Floors:
    lists = db.session.execute(
        select(PriceList.id, PriceList.effective_from, PriceList.currency)
        .where(PriceList.status == PriceListStatus.PUBLISHED)
        .order_by(PriceList.effective_from, PriceList.version)
    ).all()
    by_list: dict[int, dict[tuple[str, int], int]] = defaultdict(dict)
    for list_id, sku, territory_key, floor_price in db.session.execute(
        select(PriceListItem.price_list_id, PriceListItem.sku, PriceListItem.territory_key, PriceListItem.floor_price)
    ):
        by_list[list_id][(sku, territory_key)] = floor_price
    floors = Floors()
    for list_id, day, currency in lists:
        if floors.days and floors.days[-1] == day:  # two versions for one day: the later one is in force
            floors.currencies[-1], floors.floors[-1] = currency, by_list[list_id]
            continue
        floors.days.append(day)
        floors.currencies.append(currency)
        floors.floors.append(by_list[list_id])
    return floors


def floor_in_force(sku: str, territory_id: int, day: date, currency: str) -> int | None:
    """`Floors.floor_of` for one price, read without loading every list: the published list in force on the day
    (the latest to take effect, the later version of one day), its line for the territory, else its general one."""
    in_force = db.session.execute(
        select(PriceList.id, PriceList.currency)
        .where(PriceList.status == PriceListStatus.PUBLISHED, PriceList.effective_from <= day)
        .order_by(PriceList.effective_from.desc(), PriceList.version.desc())
        .limit(1)
    ).first()
    if in_force is None:
        return None
    prices = db.session.execute(
        select(PriceListItem.territory_key, PriceListItem.floor_price).where(
            PriceListItem.price_list_id == in_force.id,
            PriceListItem.sku == sku,
            PriceListItem.territory_key.in_((territory_id, 0)),
        )
    ).all()
    # The list alone, as load_floors would hold it: which line counts is Floors.floor_of's rule.
    alone = Floors([day], [in_force.currency], [{(sku, key): floor for key, floor in prices}])
    return alone.floor_of(sku, territory_id, day, currency)


def territory_regions(territory_id: int) -> frozenset[str]:
    """The regions one territory holds."""
    return frozenset(
        db.session.execute(
            select(TerritoryRegion.region_code).where(TerritoryRegion.territory_id == territory_id)
        ).scalars()
    )


@dataclass
class Channel:
    """Each dealer's territory and currency, and each territory's regions."""

    dealers: dict[int, tuple[int, str]]
    regions: dict[int, frozenset[str]]


def load_channel() -> Channel:
    dealers = {
        dealer_id: (territory_id, currency)
        for dealer_id, territory_id, currency in db.session.execute(
            select(Dealer.id, Dealer.territory_id, Dealer.currency)
        )
    }
    regions: dict[int, set[str]] = defaultdict(set)
    for territory_id, code in db.session.execute(select(TerritoryRegion.territory_id, TerritoryRegion.region_code)):
        regions[territory_id].add(code)
    return Channel(dealers, {territory: frozenset(codes) for territory, codes in regions.items()})


LineFacts = tuple[int, date, str | None, int | None, int, str | None]  # dealer, day, SKU, unit price, units, region


def findings_of(
    line: LineFacts,
    floors: Floors,
    channel: Channel,
    tolerance: int,
    enclosing_of: dict[str, tuple[str, ...]],
) -> Iterator[LineFinding]:
    """What one line is suspected of."""
    dealer_id, sold_on, sku, unit_price, units, region = line
    territory_id, currency = channel.dealers[dealer_id]
    if sku is not None and unit_price is not None:
        floor = floors.floor_of(sku, territory_id, sold_on, currency)
        if floor is not None and is_below_floor(unit_price, floor, tolerance):
            yield LineFinding(
                SuspicionRule.BELOW_FLOOR,
                below_floor_stake(unit_price, floor, units),
                floor,
                gap_basis_points(unit_price, floor),
            )
    if region is not None:
        if region not in enclosing_of:
            enclosing_of[region] = enclosing(region)
        if not is_inside(enclosing_of[region], channel.regions.get(territory_id, frozenset())):
            yield LineFinding(SuspicionRule.OUTSIDE_TERRITORY, 0)


# What detection reads of a sales line, in the order `detect_lines` takes it.
CHECKED_COLUMNS = (
    SalesLine.id,
    SalesLine.dealer_id,
    SalesLine.sold_on,
    SalesLine.sku,
    SalesLine.unit_price,
    SalesLine.units,
    SalesLine.ship_to_region,
    SalesLine.amount,
)


def detect_import(import_id: int) -> int:
    """The suspicions an import's new sales lines raise; returns how many lines became evidence. Lines the import
    replaced (an ERP's correction of the price or region, decided "replace") are evidence no more: their new
    values are checked instead."""
    replaced = select(SalesLine.reverses_id).where(SalesLine.import_id == import_id, SalesLine.reverses_id.is_not(None))
    withdraw_evidence(
        cast(Select[int], replaced),
        None,
        _("A later sales file replaced the lines that were this suspicion's evidence; their new values are checked."),
    )
    lines = (
        select(*CHECKED_COLUMNS)
        .where(
            SalesLine.import_id == import_id,
            SalesLine.reverses_id.is_(None),
            SalesLine.corrects_invoice.is_(None),
            SalesLine.amount > 0,
            or_(
                and_(SalesLine.sku.is_not(None), SalesLine.unit_price.is_not(None)),
                SalesLine.ship_to_region.is_not(None),
            ),
        )
        .execution_options(stream_results=True, max_row_buffer=STREAM_ROWS)
    )
    return detect_lines(db.session.connection().execute(lines))  # plain rows: no ORM loading per line


Evidence = tuple[int, int, int | None, int, int, date]  # line id, stake, floor, gap, amount sold, day


def detect_lines(rows: Iterable[Sequence[object]]) -> int:
    """Rows of CHECKED_COLUMNS, checked and grouped."""
    floors, channel = load_floors(), load_channel()
    tolerance = int(current_app.config["REFEREE_FLOOR_TOLERANCE_BP"])
    enclosing_of: dict[str, tuple[str, ...]] = {}
    groups: dict[tuple[int, SuspicionRule, date], list[Evidence]] = defaultdict(list)
    for row in rows:
        line_id, dealer_id, sold_on, amount = cast(tuple[int, int, date, int], (row[0], row[1], row[2], row[7]))
        for finding in findings_of(cast(LineFacts, tuple(row[1:7])), floors, channel, tolerance, enclosing_of):
            stake = finding.stake if finding.rule is SuspicionRule.BELOW_FLOOR else amount
            groups[(dealer_id, finding.rule, week_of(sold_on))].append(
                (line_id, stake, finding.floor_price, finding.gap_basis_points, amount, sold_on)
            )
    if not groups:
        return 0
    suspicion_ids = open_suspicions(groups)
    evidence = [
        {
            "suspicion_id": suspicion_ids[key],
            "sales_line_id": line_id,
            "rule": key[1].value,
            "floor_price": floor,
            "stake": stake,
            "gap_basis_points": gap,
        }
        for key, lines in groups.items()
        for line_id, stake, floor, gap, _amount, _day in lines
    ]
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(EVIDENCE).on_conflict_do_nothing()
    for start in range(0, len(evidence), WRITE_ROWS):
        db.session.execute(statement, evidence[start : start + WRITE_ROWS])
    if len(evidence) >= ANALYZE_AFTER and db.session.get_bind().dialect.name == "postgresql":
        # Thousands of rows the planner has not seen yet: without fresh statistics it took the evidence for a few
        # hundred rows and joined them to the sales lines by reading all of those (half a second per chunk).
        db.session.execute(text("ANALYZE suspicions, suspicion_lines"))
    refresh_totals(sorted(set(suspicion_ids.values())))
    return len(evidence)


def open_suspicions(groups: Iterable[tuple[int, SuspicionRule, date]]) -> dict[tuple[int, SuspicionRule, date], int]:
    """The open suspicion of each (dealer, rule, week), raised where there is none. Two imports detecting at once
    cannot raise two: the partial unique index on open suspicions keeps one, and the loser reads it.

    One statement executed for every key (not a statement of many VALUES, compiled anew for each chunk): a million
    lines raise tens of thousands of suspicions."""
    keys = list(groups)
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    raise_missing = insert(SUSPICIONS).on_conflict_do_nothing(
        index_elements=["dealer_id", "rule", "week_starts_on"],
        index_where=OPEN_ONLY,  # the partial unique index's own predicate, as text (executemany takes no IN)
    )
    now = utcnow()
    for start in range(0, len(keys), WRITE_ROWS):
        db.session.execute(
            raise_missing,
            [
                {
                    "dealer_id": dealer_id,
                    "rule": rule.value,
                    "week_starts_on": week,
                    "status": SuspicionStatus.OPEN.value,
                    "last_sold_on": week,
                    "line_count": 0,
                    "sighting_count": 0,
                    "stake": 0,
                    "sales_amount": 0,
                    "worst_gap_basis_points": 0,
                    "raised_at": now,
                    "reason": "",
                }
                for dealer_id, rule, week in keys[start : start + WRITE_ROWS]
            ],
        )
    found: dict[tuple[int, SuspicionRule, date], int] = {}
    dealers = sorted({dealer_id for dealer_id, _rule, _week in keys})
    for start in range(0, len(dealers), 500):
        for suspicion_id, dealer_id, rule, week in db.session.execute(
            select(Suspicion.id, Suspicion.dealer_id, Suspicion.rule, Suspicion.week_starts_on).where(
                Suspicion.status == SuspicionStatus.OPEN, Suspicion.dealer_id.in_(dealers[start : start + 500])
            )
        ):
            found[(dealer_id, rule, week)] = suspicion_id
    return {key: found[key] for key in keys}


def refresh_totals(suspicion_ids: Sequence[int]) -> None:
    """Each suspicion's totals, counted again from its evidence, sales lines and sightings (so a retry, or evidence
    added later, never counts twice). Written by one statement executed for every suspicion of a chunk; the
    session's copies of those suspicions are expired so that they read the new totals."""
    table = SUSPICIONS
    write = (
        update(table).where(table.c.id == bindparam("suspicion_id")).values({name: bindparam(name) for name in TOTALS})
    )
    for start in range(0, len(suspicion_ids), 500):
        chunk = suspicion_ids[start : start + 500]
        # Locked first (PostgreSQL): two reports joining one suspicion at once count in turn, the second seeing the
        # first's evidence once it committed, never each its own alone.
        last_days: dict[int, date] = dict(
            db.session.execute(
                locked_for_update(
                    select(Suspicion.id, Suspicion.last_sold_on).where(Suspicion.id.in_(chunk)).order_by(Suspicion.id)
                )
            ).all()
        )
        totals: dict[int, dict[str, object]] = {
            suspicion_id: {
                "suspicion_id": suspicion_id,
                "line_count": 0,
                "sighting_count": 0,
                "stake": 0,
                "sales_amount": 0,
                "worst_gap_basis_points": 0,
                "last_sold_on": last_days[suspicion_id],
            }
            for suspicion_id in chunk
        }
        latest: dict[int, list[date]] = defaultdict(list)
        for suspicion_id, count, stake, sold, gap, last_day in db.session.execute(
            select(
                SuspicionLine.suspicion_id,
                func.count(),
                func.coalesce(func.sum(SuspicionLine.stake), 0),
                func.coalesce(func.sum(SalesLine.amount), 0),
                func.coalesce(func.max(SuspicionLine.gap_basis_points), 0),
                func.max(SalesLine.sold_on),
            )
            .join(SalesLine, SalesLine.id == SuspicionLine.sales_line_id)
            .where(SuspicionLine.suspicion_id.in_(chunk))
            .group_by(SuspicionLine.suspicion_id)
        ).all():
            totals[suspicion_id].update(line_count=count, stake=stake, sales_amount=sold, worst_gap_basis_points=gap)
            latest[suspicion_id].append(last_day)
        for suspicion_id, count, stake, gap, last_day in db.session.execute(
            select(
                SuspicionSighting.suspicion_id,
                func.count(),
                func.coalesce(func.sum(SuspicionSighting.stake), 0),
                func.coalesce(func.max(SuspicionSighting.gap_basis_points), 0),
                func.max(Sighting.seen_on),
            )
            .join(Sighting, Sighting.id == SuspicionSighting.sighting_id)
            .where(SuspicionSighting.suspicion_id.in_(chunk))
            .group_by(SuspicionSighting.suspicion_id)
        ).all():
            found = totals[suspicion_id]
            found["sighting_count"] = count
            found["stake"] = cast(int, found["stake"]) + stake
            found["worst_gap_basis_points"] = max(cast(int, found["worst_gap_basis_points"]), gap)
            latest[suspicion_id].append(last_day)
        for suspicion_id, days in latest.items():
            totals[suspicion_id]["last_sold_on"] = max(days)
        db.session.execute(write, list(totals.values()))
    held = set(suspicion_ids)
    for instance in list(db.session.identity_map.values()):
        if isinstance(instance, Suspicion) and instance.id in held:
            db.session.expire(instance, list(TOTALS))


# What `refresh_totals` counts again.
TOTALS = ("line_count", "sighting_count", "stake", "sales_amount", "worst_gap_basis_points", "last_sold_on")


def open_suspicions_of(lines: Select[int]) -> list[int]:
    """The open suspicions the sales lines are evidence of (read without a lock: see withdraw_evidence)."""
    return sorted(
        db.session.execute(
            select(SuspicionLine.suspicion_id)
            .join(Suspicion, Suspicion.id == SuspicionLine.suspicion_id)
            .where(SuspicionLine.sales_line_id.in_(lines), Suspicion.status == SuspicionStatus.OPEN)
            .distinct()
        ).scalars()
    )


def withdraw_evidence(lines: Select[int], decided_by_id: int | None, reason: str) -> tuple[int, int]:
    """Sales lines that no longer count (their import voided, or replaced by a later file's correction) are no
    longer evidence of an open suspicion: their evidence is removed and the totals counted again; a suspicion left
    with no evidence at all is dismissed with the reason. A decided suspicion keeps its evidence as it was decided
    (a violation is withdrawn in its own flow). Returns (suspicions changed, suspicions dismissed)."""
    candidates = open_suspicions_of(lines)
    # Locked, and still open once locked: a manager who decided one meanwhile keeps its evidence as decided.
    affected: list[int] = []
    for start in range(0, len(candidates), 500):
        affected.extend(
            db.session.execute(
                locked_for_update(
                    select(Suspicion.id)
                    .where(Suspicion.id.in_(candidates[start : start + 500]), Suspicion.status == SuspicionStatus.OPEN)
                    .order_by(Suspicion.id)
                )
            ).scalars()
        )
    if not affected:
        return 0, 0
    for start in range(0, len(affected), 500):
        db.session.execute(
            delete(SuspicionLine).where(
                SuspicionLine.suspicion_id.in_(affected[start : start + 500]), SuspicionLine.sales_line_id.in_(lines)
            )
        )
    refresh_totals(affected)
    dismissed = 0
    for start in range(0, len(affected), 500):
        # Conditional: a manager deciding one of them at this moment keeps their decision.
        dismissed += rows_changed(
            db.session.execute(
                update(Suspicion)
                .where(
                    Suspicion.id.in_(affected[start : start + 500]),
                    Suspicion.status == SuspicionStatus.OPEN,
                    Suspicion.line_count == 0,
                    Suspicion.sighting_count == 0,
                )
                .values(
                    status=SuspicionStatus.DISMISSED, decided_by_id=decided_by_id, decided_at=utcnow(), reason=reason
                )
                .execution_options(synchronize_session=False)
            )
        )
    return len(affected), dismissed
