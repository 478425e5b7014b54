"""One item, one code: the ERP's shipments of coded goods, and sightings of them in shops. A sighting finds the
dealer its code was shipped to; seen outside that dealer's territory, or below the floor price in force, it
becomes evidence of a suspicion against that dealer, with its photos. A dealer who reports a sighting learns the
outcome and the other dealer's name, nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import Select, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from werkzeug.datastructures import FileStorage

from portal.access import DEALER_USERS, AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change, record_event
from portal.dates import company_today
from portal.dealers.amounts import FileRefused, LineError
from portal.dealers.models import Dealer
from portal.dealers.services import visible_dealers
from portal.evidence.services import OwnerRules, add_evidence, register_owner
from portal.evidence.validation import RejectedFile
from portal.extensions import db
from portal.money import MAX_MONEY
from portal.rebates.sales_jobs import parse_file_date
from portal.referee import detection
from portal.referee.catalogue import KEEPERS, table_rows
from portal.referee.models import CodedShipment, Sighting, SuspicionSighting
from portal.referee.rules import (
    SuspicionRule,
    gap_basis_points,
    is_below_floor,
    is_inside,
    raises_suspicion,
    sighting_outcome,
    week_of,
)
from portal.regions import enclosing, read_region
from portal.request_locale import gettext as _
from portal.service_errors import InvalidInput

SIGHTING_FILES = "sighting"


REPORTERS = (
    AccessRole.MANAGER,
    AccessRole.SENIOR_MANAGER,
    AccessRole.ADMIN,
    AccessRole.INSPECTOR,
    AccessRole.DEALER_OWNER,
)


SHIPMENT_COLUMNS = {
    "code": "code",
    "item_code": "code",
    "追溯码": "code",
    "防伪码": "code",
    "物流码": "code",
    "产品码": "code",
    "case_code": "case_code",
    "箱码": "case_code",
    "sku": "sku",
    "物料编码": "sku",
    "存货编码": "sku",
    "dealer_code": "dealer_code",
    "客户编码": "dealer_code",
    "经销商代码": "dealer_code",
    "ship_date": "ship_date",
    "shipped_on": "ship_date",
    "发货日期": "ship_date",
    "出库日期": "ship_date",
}


MAX_CODE = 64


@dataclass(frozen=True)
class ShipmentsImported:
    created: int
    moved: int  # codes shipped again to another dealer (a return sent on): the later shipment holds
    unchanged: int


def import_shipments(actor: User, content: bytes, sheet: str = "") -> ShipmentsImported:
    """The ERP's shipments of coded goods, from a file: all or nothing, every error by line. A code already known
    for the same dealer changes nothing; for another dealer, the later ship date holds (an ERP correction)."""
    require_role(actor, *KEEPERS)
    rows = table_rows(content, sheet, SHIPMENT_COLUMNS, ("code", "dealer_code", "ship_date"))
    dealers = {dealer.code: dealer.id for dealer in db.session.execute(select(Dealer)).scalars()}
    errors: list[LineError] = []
    wanted: dict[str, tuple[int, str | None, str, int, date]] = {}
    for line, cells in rows:
        code = cells.get("code", "").strip()
        if not code or len(code) > MAX_CODE:
            errors.append(
                LineError(line, "code", _("Give the code (at most %(count)s characters).", count=MAX_CODE), code)
            )
            continue
        if code in wanted:
            errors.append(LineError(line, "code", _("Repeats line %(line)s.", line=wanted[code][0]), code))
            continue
        written_dealer = cells.get("dealer_code", "").strip().upper()
        if written_dealer not in dealers:
            errors.append(LineError(line, "dealer_code", _("Unknown dealer code."), written_dealer))
            continue
        shipped_on = parse_file_date(cells.get("ship_date", ""))
        if shipped_on is None:
            errors.append(LineError(line, "ship_date", _("Write the date as YYYY-MM-DD."), cells.get("ship_date", "")))
            continue
        case_code = cells.get("case_code", "").strip() or None
        if case_code is not None and len(case_code) > MAX_CODE:
            errors.append(LineError(line, "case_code", _("At most %(count)s characters.", count=MAX_CODE), case_code))
            continue
        sku = cells.get("sku", "").strip().upper()[:40]
        wanted[code] = (line, case_code, sku, dealers[written_dealer], shipped_on)
    if errors or not wanted:
        raise FileRefused(errors or [LineError(1, "", _("The file has no codes."))])
    known: dict[str, CodedShipment] = {}
    codes = list(wanted)
    for start in range(0, len(codes), 500):
        known.update(
            (shipment.code, shipment)
            for shipment in db.session.execute(
                select(CodedShipment).where(CodedShipment.code.in_(codes[start : start + 500]))
            ).scalars()
        )
    created = moved = unchanged = 0
    new_rows = []
    for code, (_line, case_code, sku, dealer_id, shipped_on) in wanted.items():
        shipment = known.get(code)
        if shipment is None:
            new_rows.append(
                {"code": code, "case_code": case_code, "sku": sku, "dealer_id": dealer_id, "shipped_on": shipped_on}
            )
        elif shipment.dealer_id != dealer_id and shipped_on >= shipment.shipped_on:
            shipment.dealer_id, shipment.shipped_on, shipment.case_code = dealer_id, shipped_on, case_code
            shipment.sku = sku or shipment.sku
            moved += 1
        else:
            unchanged += 1
    # Two imports of one file at once: a code the other inserted first is skipped here, counted as known.
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(new_rows), 1000):
        block = new_rows[start : start + 1000]
        added = len(
            db.session.execute(
                insert(CodedShipment)
                .values(block)
                .on_conflict_do_nothing(index_elements=["code"])
                .returning(CodedShipment.code)  # only the rows inserted
            ).all()
        )
        created += added
        unchanged += len(block) - added
    db.session.flush()
    record_event(
        "shipments.imported",
        actor_id=actor.id,
        subject_type="shipments",
        subject_label=_("Coded shipments"),
        details={"created": created, "moved": moved, "unchanged": unchanged},
    )
    return ShipmentsImported(created, moved, unchanged)


def find_shipment(code: str) -> CodedShipment | None:
    """The shipment of an item code, or of the items packed under a case code."""
    found = db.session.execute(select(CodedShipment).where(CodedShipment.code == code)).scalar_one_or_none()
    if found is not None:
        return found
    return db.session.execute(
        select(CodedShipment).where(CodedShipment.case_code == code).order_by(CodedShipment.id).limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class SightingReport:
    code: str
    region: str
    shop: str
    price_seen: int | None
    seen_on: date


def record_sighting(actor: User, report: SightingReport, photos: Sequence[FileStorage] = ()) -> Sighting:
    """Record what was seen; find the dealer the code was shipped to; raise or join the suspicion it shows."""
    require_role(actor, *REPORTERS)
    code = report.code.strip()
    if not code or len(code) > MAX_CODE:
        raise InvalidInput("code", _("Scan or type the code (at most %(count)s characters).", count=MAX_CODE))
    region = read_region(report.region)
    if region is None:
        raise InvalidInput("region", _("Write the region as its six-digit code (GB/T 2260), or its full name."))
    if report.seen_on > company_today():
        raise InvalidInput("seen_on", _("This date is in the future."))
    if report.price_seen is not None and not 0 < report.price_seen < MAX_MONEY:
        raise InvalidInput("price_seen", _("Enter a price above zero."))
    shipment = find_shipment(code)
    findings: list[tuple[SuspicionRule, int, int]] = []  # rule, stake, gap
    floor = None
    if shipment is not None:
        dealer = shipment.dealer
        if not is_inside(enclosing(region), detection.territory_regions(dealer.territory_id)):
            findings.append((SuspicionRule.OUTSIDE_TERRITORY, 0, 0))
        if report.price_seen is not None and shipment.sku:
            floor = detection.floor_in_force(shipment.sku, dealer.territory_id, report.seen_on, dealer.currency)
            tolerance = int(current_app.config["REFEREE_FLOOR_TOLERANCE_BP"])
            if floor is not None and is_below_floor(report.price_seen, floor, tolerance):
                findings.append(
                    (
                        SuspicionRule.BELOW_FLOOR,
                        floor - report.price_seen,
                        gap_basis_points(report.price_seen, floor),
                    )
                )
    rules = {rule for rule, _stake, _gap in findings}
    sighting = Sighting(
        code=code,
        shipped_to_id=shipment.dealer_id if shipment else None,
        sku=shipment.sku if shipment else None,
        region_code=region,
        shop=report.shop.strip()[:200],
        price_seen=report.price_seen,
        floor_price=floor,
        outcome=sighting_outcome(
            shipment is not None, SuspicionRule.OUTSIDE_TERRITORY in rules, SuspicionRule.BELOW_FLOOR in rules
        ),
        seen_on=report.seen_on,
        reported_by_id=actor.id,
        reporter_dealer_id=actor.dealer_id if actor.access_role in DEALER_USERS else None,
    )
    db.session.add(sighting)
    db.session.flush()
    for photo in photos:
        try:
            add_evidence(actor, SIGHTING_FILES, sighting.id, photo.stream, photo.filename)
        except RejectedFile as refusal:  # nothing is kept: the view rolls back
            shown = (photo.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:100] or _("A file")
            raise InvalidInput("photos", f"{shown}: {refusal.message}") from None
    if shipment is not None and raises_suspicion(sighting.outcome):
        keys = [(shipment.dealer_id, rule, week_of(report.seen_on)) for rule, _stake, _gap in findings]
        suspicion_ids = detection.open_suspicions(keys)
        for (rule, stake, gap), key in zip(findings, keys, strict=True):
            db.session.add(
                SuspicionSighting(
                    suspicion_id=suspicion_ids[key],
                    sighting_id=sighting.id,
                    rule=rule,
                    stake=stake,
                    gap_basis_points=gap,
                )
            )
        db.session.flush()
        detection.refresh_totals(sorted(set(suspicion_ids.values())))
    audit_change(
        "sighting.recorded", actor=actor, subject=sighting, after={"outcome": sighting.outcome.value, "region": region}
    )
    return sighting


def visible_sightings(user: User) -> Select[Sighting]:
    """A reporter's own sightings; channel managers also those of their portfolio's codes; admins and senior
    managers every one."""
    own = Sighting.reported_by_id == user.id
    if user.access_role in (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER):
        return select(Sighting)
    if user.access_role is AccessRole.MANAGER:
        portfolio = visible_dealers(user).with_only_columns(Dealer.id)
        return select(Sighting).where(or_(own, Sighting.shipped_to_id.in_(portfolio)))
    return select(Sighting).where(own)


def register_evidence_owner() -> None:
    """A sighting's photos: whoever sees the sighting; added by its reporter as it is recorded, never removed (they
    are evidence)."""

    def can_view(user: User, sighting_id: int) -> bool:
        return db.session.execute(visible_sightings(user).where(Sighting.id == sighting_id)).first() is not None

    def can_add(user: User, sighting_id: int) -> bool:
        sighting = db.session.get(Sighting, sighting_id)
        return sighting is not None and sighting.reported_by_id == user.id

    register_owner(
        SIGHTING_FILES,
        OwnerRules(can_view=can_view, can_add=can_add, can_remove=lambda _user, _evidence: False),
    )
