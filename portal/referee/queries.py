"""The read side of the referee's pages: bounded queries, each page's rows in a fixed number of statements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select

from portal.dealers import acknowledgements
from portal.dealers.models import Acknowledgement, Dealer, Territory
from portal.evidence.models import Evidence
from portal.extensions import db
from portal.rebates.models import SalesLine
from portal.referee.models import (
    PRICE_LIST_ACKNOWLEDGED,
    CodedShipment,
    PriceList,
    PriceListItem,
    Product,
    Sighting,
    SuspicionLine,
    SuspicionSighting,
    TerritoryRegion,
)
from portal.referee.rules import PriceListStatus
from portal.regions import region
from portal.request_locale import in_reader_language

LINES_SHOWN = 200


def evidence_lines(suspicion_id: int) -> list[tuple[SuspicionLine, SalesLine]]:
    """The suspicion's lines (the first LINES_SHOWN, most at stake first) with their sales lines."""
    return [
        (evidence, line)
        for evidence, line in db.session.execute(
            select(SuspicionLine, SalesLine)
            .join(SalesLine, SalesLine.id == SuspicionLine.sales_line_id)
            .where(SuspicionLine.suspicion_id == suspicion_id)
            .order_by(SuspicionLine.stake.desc(), SuspicionLine.id)
            .limit(LINES_SHOWN)
        ).all()
    ]


def product_name(product: Product) -> str:
    """The product's name in the reader's language, or the other one when that is empty."""
    return in_reader_language(product.name_en, product.name_zh)


def products_named(skus: set[str]) -> dict[str, Product]:
    if not skus:
        return {}
    return {
        product.sku: product for product in db.session.execute(select(Product).where(Product.sku.in_(skus))).scalars()
    }


def region_names(codes: Iterable[str]) -> dict[str, str]:
    return {code: found.full_name for code in codes if (found := region(code)) is not None}


@dataclass(frozen=True)
class ListInForce:
    """The list in force today and the next one published, for a dealer's page."""

    current: PriceList | None
    upcoming: PriceList | None


def lists_for_dealer(today: date, currency: str) -> ListInForce:
    published = (
        select(PriceList)
        .where(PriceList.status == PriceListStatus.PUBLISHED, PriceList.currency == currency)
        .order_by(PriceList.effective_from.desc(), PriceList.version.desc())
    )
    current = db.session.execute(published.where(PriceList.effective_from <= today).limit(1)).scalar_one_or_none()
    upcoming = db.session.execute(
        published.where(PriceList.effective_from > today).order_by(None).order_by(PriceList.effective_from).limit(1)
    ).scalar_one_or_none()
    return ListInForce(current, upcoming)


def prices_for(price_list: PriceList, territory_id: int | None) -> list[tuple[PriceListItem, Product | None]]:
    """A list's prices as one dealer (its territory) or a keeper (every line: territory None) sees them: a
    territory's own line replaces the general one."""
    items = list(
        db.session.execute(
            select(PriceListItem).where(PriceListItem.price_list_id == price_list.id).order_by(PriceListItem.sku)
        ).scalars()
    )
    if territory_id is not None:
        own = {item.sku for item in items if item.territory_key == territory_id}
        items = [
            item
            for item in items
            if item.territory_key == territory_id or (item.territory_key == 0 and item.sku not in own)
        ]
    products = products_named({item.sku for item in items})
    return [(item, products.get(item.sku)) for item in items]


def receipts_report(price_list: PriceList, viewer_dealers: Select[Dealer]) -> tuple[int, list[Dealer]]:
    """How many active dealers (of the list's currency) acknowledged the list, and the first 100 who have not."""
    asked = viewer_dealers.where(Dealer.currency == price_list.currency)
    return acknowledgements.report(PRICE_LIST_ACKNOWLEDGED, price_list.id, asked)


def territories_with_regions() -> list[tuple[Territory, list[str]]]:
    codes: dict[int, list[str]] = {}
    for territory_id, code in db.session.execute(
        select(TerritoryRegion.territory_id, TerritoryRegion.region_code).order_by(TerritoryRegion.id)
    ):
        codes.setdefault(territory_id, []).append(code)
    return [
        (territory, codes.get(territory.id, []))
        for territory in db.session.execute(select(Territory).order_by(Territory.code)).scalars()
    ]


def all_products(limit: int = 500) -> list[Product]:
    return list(db.session.execute(select(Product).order_by(Product.sku).limit(limit)).scalars())


def all_price_lists() -> list[PriceList]:
    return list(db.session.execute(select(PriceList).order_by(PriceList.version.desc()).limit(100)).scalars())


def item_count(price_list_id: int) -> int:
    return db.session.execute(select(func.count()).where(PriceListItem.price_list_id == price_list_id)).scalar_one()


def receipts_of(dealer_id: int, limit: int = 20) -> list[tuple[Acknowledgement, PriceList]]:
    """The dealer's acknowledgements of price lists, newest first, with their price lists."""
    return [
        (receipt, price_list)
        for receipt, price_list in db.session.execute(
            select(Acknowledgement, PriceList)
            .join(PriceList, PriceList.id == Acknowledgement.subject_id)
            .where(Acknowledgement.subject_type == PRICE_LIST_ACKNOWLEDGED, Acknowledgement.dealer_id == dealer_id)
            .order_by(Acknowledgement.acknowledged_at.desc())
            .limit(limit)
        ).all()
    ]


def latest_shipments(limit: int = 50) -> list[CodedShipment]:
    return list(db.session.execute(select(CodedShipment).order_by(CodedShipment.id.desc()).limit(limit)).scalars())


def sightings_of(suspicion_id: int) -> list[tuple[SuspicionSighting, Sighting]]:
    """The sightings that are evidence of the suspicion, with the ids of their photos."""
    return [
        (link, sighting)
        for link, sighting in db.session.execute(
            select(SuspicionSighting, Sighting)
            .join(Sighting, Sighting.id == SuspicionSighting.sighting_id)
            .where(SuspicionSighting.suspicion_id == suspicion_id)
            .order_by(Sighting.id)
            .limit(LINES_SHOWN)
        ).all()
    ]


def photos_of(sighting_ids: list[int]) -> dict[int, list[Evidence]]:
    found: dict[int, list[Evidence]] = {}
    if not sighting_ids:
        return found
    for evidence in db.session.execute(
        select(Evidence)
        .where(Evidence.owner_type == "sighting", Evidence.owner_id.in_(sighting_ids))
        .order_by(Evidence.id)
    ).scalars():
        found.setdefault(evidence.owner_id, []).append(evidence)
    return found
