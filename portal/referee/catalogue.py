"""The products, the price lists and the regions of each territory: kept by admins and senior managers. A price
list is drafted, filled from a file, and published; once published it is a promise to the dealers (their owners
acknowledge it) and never changes: the next version replaces it from its own day."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import aliased

from portal.access import AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change, record_event
from portal.csv_io import (
    BrokenTable,
    UnreadableFile,
    extra_cells,
    find_header,
    misread_amount,
    open_table,
    too_many_cells,
    total_word,
)
from portal.dates import company_today
from portal.dealers import acknowledgements
from portal.dealers.amounts import FileRefused, LineError
from portal.dealers.models import Acknowledgement, Dealer, DealerStatus, Territory
from portal.dealers.services import owners_of_dealers
from portal.extensions import db
from portal.money import MAX_MONEY, MisreadAmount, NumberFormat, parse_file_money
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.referee.detection import territory_regions
from portal.referee.models import (
    PRICE_LIST_ACKNOWLEDGED,
    PriceList,
    PriceListItem,
    Product,
    TerritoryRegion,
)
from portal.referee.rules import PriceListStatus, can_move_price_list, is_editable
from portal.regions import read_region
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import label, utcnow
from portal.workflow import move_checked

KEEPERS = (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


PRODUCT_COLUMNS = {
    "sku": "sku",
    "物料编码": "sku",
    "商品编码": "sku",
    "存货编码": "sku",
    "产品编码": "sku",
    "name_en": "name_en",
    "name": "name_en",
    "english_name": "name_en",
    "英文名称": "name_en",
    "name_zh": "name_zh",
    "chinese_name": "name_zh",
    "名称": "name_zh",
    "产品名称": "name_zh",
    "物料名称": "name_zh",
    "product_line": "product_line",
    "产品线": "product_line",
    "产品类别": "product_line",
    "unit": "unit",
    "单位": "unit",
    "计量单位": "unit",
}


PRICE_COLUMNS = {
    "sku": "sku",
    "物料编码": "sku",
    "商品编码": "sku",
    "存货编码": "sku",
    "产品编码": "sku",
    "list_price": "list_price",
    "建议零售价": "list_price",
    "零售价": "list_price",
    "指导价": "list_price",
    "floor_price": "floor_price",
    "最低限价": "floor_price",
    "最低价": "floor_price",
    "限价": "floor_price",
    "territory": "territory",
    "territory_code": "territory",
    "区域": "territory",
    "区域代码": "territory",
}


MAX_SKU = 40


def require_keeper(actor: User) -> None:
    require_role(actor, *KEEPERS)


# --- Products ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductsImported:
    created: int
    changed: int


def import_products(actor: User, content: bytes, sheet: str = "") -> ProductsImported:
    """The catalogue from a file (an ERP's item master): each SKU created or brought to the file's names. All or
    nothing: any error refuses the whole file, with every error by line."""
    require_keeper(actor)
    rows = table_rows(content, sheet, PRODUCT_COLUMNS, ("sku", "name_zh"))
    errors: list[LineError] = []
    wanted: dict[str, tuple[int, dict[str, str]]] = {}
    for line, cells in rows:
        sku = cells.get("sku", "").strip().upper()
        if not sku or len(sku) > MAX_SKU:
            errors.append(LineError(line, "sku", _("Give the SKU (at most %(count)s characters).", count=MAX_SKU), sku))
            continue
        if sku in wanted:
            errors.append(LineError(line, "sku", _("Repeats line %(line)s.", line=wanted[sku][0]), sku))
            continue
        values = {
            "name_en": cells.get("name_en", "").strip(),
            "name_zh": cells.get("name_zh", "").strip(),
            "product_line": cells.get("product_line", "").strip(),
            "unit": cells.get("unit", "").strip(),
        }
        if not values["name_en"] and not values["name_zh"]:
            errors.append(LineError(line, "name_zh", _("Give the product's name in one language at least.")))
            continue
        longest = {"name_en": 200, "name_zh": 200, "product_line": 80, "unit": 20}
        too_long = [name for name, value in values.items() if len(value) > longest[name]]
        if too_long:
            errors.append(LineError(line, too_long[0], _("At most %(count)s characters.", count=longest[too_long[0]])))
            continue
        wanted[sku] = (line, values)
    if errors or not wanted:
        raise FileRefused(errors or [LineError(1, "", _("The file has no products."))])
    known = {
        product.sku: product
        for product in db.session.execute(select(Product).where(Product.sku.in_(list(wanted)))).scalars()
    }
    created = changed = 0
    for sku, (_line, values) in wanted.items():
        product = known.get(sku)
        if product is None:
            db.session.add(Product(sku=sku, **values))
            created += 1
        elif any(getattr(product, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(product, name, value)
            changed += 1
    db.session.flush()
    record_event(
        "products.imported",
        actor_id=actor.id,
        subject_type="catalogue",
        subject_label=_("Products"),
        details={"created": created, "changed": changed},
    )
    return ProductsImported(created, changed)


def table_rows(
    content: bytes, sheet: str, columns: dict[str, str], required: Sequence[str]
) -> list[tuple[int, dict[str, str]]]:
    """A table's lines as cells by field, through the shared reader; any problem of the file refuses it."""
    try:
        table = open_table(content, sheet)
        found = find_header(table, columns, required)
    except UnreadableFile as refused:
        raise FileRefused([LineError(1, "", refused.message(), refused.detected)]) from None
    except BrokenTable as broken:
        raise FileRefused([LineError(broken.line, "", broken.message)]) from None
    header = found.header
    missing = [column for column in required if column not in header.fields]
    if header.problems or missing:
        problems = [LineError(found.line, "", problem) for problem in header.problems]
        if missing:
            problems.append(
                LineError(
                    found.line,
                    "",
                    _("The first line must name the columns; missing: %(columns)s.", columns=", ".join(missing)),
                )
            )
        raise FileRefused(problems)
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[LineError] = []
    try:
        for line, row in table.rows:
            if not "".join(row).strip():
                continue
            if total_word(row) is not None:  # a 合计 row under the table: not a product
                continue
            if extra_cells(row, header.width):
                errors.append(LineError(line, "", too_many_cells(len(row), header.width)))
                continue
            rows.append((line, dict(zip(header.fields, row, strict=False))))
    except BrokenTable as broken:
        errors.append(LineError(broken.line, "", broken.message))
    if errors:
        raise FileRefused(errors)
    return rows


# --- Price lists ------------------------------------------------------------------------------------------------------


def create_price_list(actor: User, name: str, effective_from: date, currency: str = "CNY") -> PriceList:
    """A new draft version. Its day is today or later: a list never re-rates sales already made."""
    require_keeper(actor)
    name = name.strip()
    if not name:
        raise InvalidInput("name", _("Name the price list."))
    if effective_from < company_today():
        raise InvalidInput("effective_from", _("A price list takes effect today or later, never in the past."))
    version = (db.session.execute(select(func.max(PriceList.version))).scalar() or 0) + 1
    price_list = PriceList(
        version=version, name=name[:120], effective_from=effective_from, currency=currency, created_by_id=actor.id
    )
    db.session.add(price_list)
    db.session.flush()
    audit_change("price_list.created", actor=actor, subject=price_list, after={"version": version})
    return price_list


def get_price_list(price_list_id: int) -> PriceList:
    price_list = db.session.get(PriceList, price_list_id)
    if price_list is None:
        raise NotFound()
    return price_list


def import_price_items(
    actor: User,
    price_list: PriceList,
    content: bytes,
    *,
    number_format: NumberFormat = NumberFormat.UNSAID,
    sheet: str = "",
) -> int:
    """A draft's prices from a file: SKU, list price, floor price, and optionally a territory's code (that line then
    applies there only). Replaces the draft's prices; all or nothing, every error by line."""
    require_keeper(actor)
    if not is_editable(price_list.status):
        raise IllegalTransition(_("A published price list does not change; draft a new version."))
    rows = table_rows(content, sheet, PRICE_COLUMNS, ("sku", "list_price", "floor_price"))
    file_format = number_format if not content.startswith(b"PK") else NumberFormat.UNSAID
    skus = set(db.session.execute(select(Product.sku)).scalars())
    territories = {territory.code: territory.id for territory in db.session.execute(select(Territory)).scalars()}
    errors: list[LineError] = []
    wanted: dict[tuple[str, int], tuple[int, int, int]] = {}
    seen: dict[tuple[str, int], int] = {}
    for line, cells in rows:
        sku = cells.get("sku", "").strip().upper()
        if sku not in skus:
            errors.append(LineError(line, "sku", _("No product has this SKU in the catalogue."), sku))
            continue
        written_territory = cells.get("territory", "").strip().upper()
        territory_key = 0
        if written_territory:
            if written_territory not in territories:
                errors.append(LineError(line, "territory", _("No territory has this code."), written_territory))
                continue
            territory_key = territories[written_territory]
        prices: list[int] = []
        for column in ("list_price", "floor_price"):
            written = cells.get(column, "").strip()
            try:
                price = parse_file_money(written, price_list.currency, number_format=file_format)
            except MisreadAmount as refused:
                errors.append(LineError(line, column, misread_amount(written, refused.reason), written))
                break
            except ValueError:
                price = -1
            if price <= 0 or price >= MAX_MONEY:
                errors.append(LineError(line, column, _("Enter a price above zero."), written))
                break
            prices.append(price)
        if len(prices) < 2:
            continue
        list_price, floor_price = prices
        if floor_price > list_price:
            errors.append(
                LineError(line, "floor_price", _("The floor price is above the list price."), str(floor_price))
            )
            continue
        key = (sku, territory_key)
        if key in seen:
            errors.append(LineError(line, "sku", _("Repeats line %(line)s.", line=seen[key]), sku))
            continue
        seen[key] = line
        wanted[key] = (line, list_price, floor_price)
    if errors or not wanted:
        raise FileRefused(errors or [LineError(1, "", _("The file has no prices."))])
    db.session.execute(delete(PriceListItem).where(PriceListItem.price_list_id == price_list.id))
    db.session.add_all(
        PriceListItem(
            price_list_id=price_list.id,
            sku=sku,
            territory_id=territory_key or None,
            territory_key=territory_key,
            list_price=list_price,
            floor_price=floor_price,
        )
        for (sku, territory_key), (_line, list_price, floor_price) in wanted.items()
    )
    db.session.flush()
    audit_change("price_list.prices_imported", actor=actor, subject=price_list, after={"prices": len(wanted)})
    return len(wanted)


def publish_price_list(actor: User, price_list: PriceList) -> PriceList:
    """The draft becomes the version in force from its day; every active dealer's owners are told to read and
    acknowledge it."""
    require_keeper(actor)
    if not can_move_price_list(price_list.status, PriceListStatus.PUBLISHED):
        raise IllegalTransition(_("This price list is %(status)s already.", status=label(price_list.status)))
    if not db.session.execute(select(PriceListItem.id).where(PriceListItem.price_list_id == price_list.id)).first():
        raise InvalidInput("file", _("Import the prices before publishing."))
    if price_list.effective_from < company_today():
        raise InvalidInput("effective_from", _("Its day has passed: draft it again with a day from today."))
    move_checked(
        price_list,
        price_list.status,
        PriceListStatus.PUBLISHED,
        legal=can_move_price_list(price_list.status, PriceListStatus.PUBLISHED),
        illegal=_("This price list is %(status)s already.", status=label(price_list.status)),
        raced=_("Someone else published this price list first. Reload the page."),
        published_by_id=actor.id,
        published_at=utcnow(),
    )
    audit_change("price_list.published", actor=actor, subject=price_list, after={"version": price_list.version})
    dealer_ids = db.session.execute(
        select(Dealer.id).where(Dealer.status.in_((DealerStatus.ACTIVE, DealerStatus.ONBOARDING)))
    ).scalars()
    notify(
        owners_of_dealers(dealer_ids),
        "price_list_published",
        {"name": price_list.name, "day": params.day(price_list.effective_from)},
        link("referee.dealer_prices"),
    )
    return price_list


def acknowledge_price_list(actor: User, dealer: Dealer, price_list: PriceList) -> Acknowledgement:
    """The dealer's owner says they have read the list: kept with who and when; a second press changes nothing."""
    require_role(actor, AccessRole.DEALER_OWNER)
    if actor.dealer_id != dealer.id:
        raise NotFound()
    if price_list.status is not PriceListStatus.PUBLISHED:
        raise NotFound()
    made, new = acknowledgements.acknowledge(actor, dealer, PRICE_LIST_ACKNOWLEDGED, price_list.id)
    if new:
        audit_change("price_list.acknowledged", actor=actor, subject=price_list, after={"dealer": dealer.code})
    return made


REMIND_AFTER = timedelta(days=3)  # a list published this long ago and not acknowledged: its owners are reminded
REMIND_EVERY = timedelta(days=7)


def lists_to_acknowledge(today: date) -> list[PriceList]:
    """The published lists a dealer still has to read: each currency's list in force today and any published to
    take effect later (a list replaced by a newer one in force is not asked for any more)."""
    return list(
        db.session.execute(
            select(PriceList)
            .where(due_to_acknowledge(today))
            .order_by(PriceList.currency, PriceList.effective_from, PriceList.version)
        ).scalars()
    )


_OTHER_LIST = aliased(PriceList)  # built once: an alias costs more to make than the query that uses it


def due_to_acknowledge(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    """The condition of a price list to acknowledge (see lists_to_acknowledge), in SQL so the reminders and the
    owner's inbox count by the same rule: published, and taking effect later or the latest in force in its
    currency (the last to take effect by today; of two the same day, the higher version)."""
    in_force = (
        select(_OTHER_LIST.id)
        .where(
            _OTHER_LIST.status == PriceListStatus.PUBLISHED,
            _OTHER_LIST.currency == PriceList.currency,
            _OTHER_LIST.effective_from <= today,
        )
        .order_by(_OTHER_LIST.effective_from.desc(), _OTHER_LIST.version.desc())
        .limit(1)
        .correlate(PriceList)
        .scalar_subquery()
    )
    return (PriceList.status == PriceListStatus.PUBLISHED) & (
        (PriceList.effective_from > today) | (PriceList.id == in_force)
    )


def remind_unacknowledged(now: datetime | None = None) -> int:
    """Remind the owners of active dealers that have not acknowledged a list they must read, three days after it
    was published and then weekly; returns how many dealers were reminded."""
    now = now or utcnow()
    reminded = 0
    for price_list in lists_to_acknowledge(company_today()):
        if price_list.published_at is None or price_list.published_at > now - REMIND_AFTER:
            continue
        due = acknowledgements.due_reminders(
            PRICE_LIST_ACKNOWLEDGED, price_list.id, Dealer.currency == price_list.currency, now, REMIND_EVERY
        )
        if not due:
            continue
        notify(
            owners_of_dealers(due),
            "price_list_reminder",
            {"name": price_list.name, "day": params.day(price_list.effective_from)},
            link("referee.dealer_prices"),
        )
        reminded += len(due)
    db.session.flush()
    return reminded


# --- Territories ------------------------------------------------------------------------------------------------------


def set_territory_regions(actor: User, territory: Territory, written: str) -> list[str]:
    """A territory's regions from codes or names, separated by commas, spaces or lines. Every unknown one is said at
    once; nothing changes then."""
    require_keeper(actor)
    codes: list[str] = []
    unknown: list[str] = []
    for piece in re.split(r"[,，、;；\n]", written):  # noqa: RUF001 - the full-width separators people type
        # "广东省 深圳市" is one region written with a space; "440300 440100" is two codes.
        parts = [piece] if read_region(piece) is not None else piece.split()
        for part in parts:
            code = read_region(part)
            if code is None:
                unknown.append(part.strip())
            elif code not in codes:
                codes.append(code)
    if unknown:
        raise InvalidInput("regions", _("Unknown regions: %(regions)s.", regions=", ".join(unknown[:20])))
    before = sorted(territory_regions(territory.id))
    db.session.execute(delete(TerritoryRegion).where(TerritoryRegion.territory_id == territory.id))
    db.session.add_all(TerritoryRegion(territory_id=territory.id, region_code=code) for code in codes)
    db.session.flush()
    audit_change(
        "territory.regions_set", actor=actor, subject=territory, before={"regions": before}, after={"regions": codes}
    )
    return codes
