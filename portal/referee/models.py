"""Products, price lists (versions with the day they take effect), the regions each territory holds, and the
suspicions the portal raises by itself, with the sales lines that are their evidence."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.page_cache import CHANNEL_WIDE, by_dealer, register_write_scope, through
from portal.referee.rules import PriceListStatus, SightingOutcome, SuspicionRule, SuspicionStatus
from portal.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer, Territory


class Product(Model):
    """A product of the catalogue, named in both languages; sales lines and price lists name it by its SKU."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(200), default="")
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    product_line: Mapped[str] = mapped_column(String(80), default="")
    unit: Mapped[str] = mapped_column(String(20), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PriceList(Model):
    """One version of the price list: its prices apply to sales from `effective_from` until the next published
    version's day. A draft can be changed; a published version cannot (a new version replaces it)."""

    __tablename__ = "price_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(120))
    effective_from: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")  # only dealers paid in it are compared
    status: Mapped[PriceListStatus] = mapped_column(str_enum(PriceListStatus), default=PriceListStatus.DRAFT)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id], lazy="joined")

    def audit_subject(self) -> tuple[str, int, str]:
        return "price_list", self.id, f"v{self.version} {self.name}"


class PriceListItem(Model):
    """A SKU's list price and floor price in one version, for every territory (no territory) or for one territory,
    which then overrides the general line there."""

    __tablename__ = "price_list_items"
    __table_args__ = (
        # One general line per SKU (territory 0 stands for "every territory": a NULL would not be unique).
        UniqueConstraint("price_list_id", "sku", "territory_key", name="uq_price_list_items_sku"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id"))
    territory_key: Mapped[int] = mapped_column(Integer, default=0)  # the territory's id, or 0 for all of them
    list_price: Mapped[int] = mapped_column(BigInteger)
    floor_price: Mapped[int] = mapped_column(BigInteger)

    territory: Mapped[Territory | None] = relationship(lazy="joined")


class TerritoryRegion(Model):
    """A region (GB/T 2260 code: a province, a city or a district) that belongs to a territory. A region may belong
    to two territories (a city split between them): a shipment there is inside both."""

    __tablename__ = "territory_regions"
    __table_args__ = (UniqueConstraint("territory_id", "region_code", name="uq_territory_regions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))


# How the acknowledgements (dealers.acknowledgements) name a price list: what a dealer's owner acknowledged.
PRICE_LIST_ACKNOWLEDGED = "price_list"


# The predicate of the partial unique index of open suspicions; detection names it again when it raises them.
OPEN_SUSPICION = "status = 'open'"


class Suspicion(Model):
    """What the portal suspects a dealer of, in one week under one rule, with the lines as evidence. While open,
    lines found later for the same dealer, rule and week join it; once decided, a new one is raised."""

    __tablename__ = "suspicions"
    __table_args__ = (
        Index(
            "uq_suspicions_open",
            "dealer_id",
            "rule",
            "week_starts_on",
            unique=True,
            sqlite_where=text(OPEN_SUSPICION),
            postgresql_where=text(OPEN_SUSPICION),
        ),
        Index("ix_suspicions_status_raised", "status", "raised_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    rule: Mapped[SuspicionRule] = mapped_column(str_enum(SuspicionRule))
    week_starts_on: Mapped[date] = mapped_column(Date)
    status: Mapped[SuspicionStatus] = mapped_column(str_enum(SuspicionStatus), default=SuspicionStatus.OPEN)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    sighting_count: Mapped[int] = mapped_column(Integer, default=0)
    stake: Mapped[int] = mapped_column(BigInteger, default=0)  # the money at stake, in the dealer's currency
    sales_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # what the lines sold for
    worst_gap_basis_points: Mapped[int] = mapped_column(Integer, default=0)  # below the floor, at worst
    last_sold_on: Mapped[date] = mapped_column(Date)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    violation_id: Mapped[int | None] = mapped_column(ForeignKey("violations.id"), unique=True)

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    decided_by: Mapped[User | None] = relationship(lazy="joined")

    def audit_subject(self) -> tuple[str, int, str]:
        return "suspicion", self.id, f"{self.dealer.code} {self.rule.value} {self.week_starts_on.isoformat()}"


class SuspicionLine(Model):
    """A sales line that is evidence of a suspicion, with the floor price it was compared with."""

    __tablename__ = "suspicion_lines"
    # A line is evidence once per rule: detection run again over the same import (a retried job) adds nothing.
    __table_args__ = (UniqueConstraint("sales_line_id", "rule", name="uq_suspicion_lines"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suspicion_id: Mapped[int] = mapped_column(ForeignKey("suspicions.id"), index=True)
    sales_line_id: Mapped[int] = mapped_column(ForeignKey("sales_lines.id"))
    rule: Mapped[SuspicionRule] = mapped_column(str_enum(SuspicionRule))
    floor_price: Mapped[int | None] = mapped_column(BigInteger)
    stake: Mapped[int] = mapped_column(BigInteger, default=0)
    gap_basis_points: Mapped[int] = mapped_column(Integer, default=0)


class CodedShipment(Model):
    """One item (or case) code the ERP shipped to a dealer: one item, one code. An item packed in a case names
    the case's code, so a scanned case code finds its dealer too. A code shipped again (a return sent to another
    dealer) keeps the latest shipment."""

    __tablename__ = "coded_shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    case_code: Mapped[str | None] = mapped_column(String(64), index=True)
    sku: Mapped[str] = mapped_column(String(40), default="")
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    shipped_on: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer: Mapped[Dealer] = relationship(lazy="joined")


class Sighting(Model):
    """A coded item seen in a shop: where, at what price, by whom, with photos (evidence owner "sighting"). The
    dealer it was shipped to is looked up when it is recorded; what it showed is kept with it."""

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    shipped_to_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    sku: Mapped[str | None] = mapped_column(String(40))
    region_code: Mapped[str] = mapped_column(String(6))
    shop: Mapped[str] = mapped_column(String(200), default="")
    price_seen: Mapped[int | None] = mapped_column(BigInteger)
    floor_price: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[SightingOutcome] = mapped_column(str_enum(SightingOutcome))
    seen_on: Mapped[date] = mapped_column(Date)
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reporter_dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    shipped_to: Mapped[Dealer | None] = relationship(lazy="joined", foreign_keys=[shipped_to_id])
    reported_by: Mapped[User] = relationship(lazy="joined")

    def audit_subject(self) -> tuple[str, int, str]:
        return "sighting", self.id, self.code[:64]


class SuspicionSighting(Model):
    """A sighting that is evidence of a suspicion (once per rule), with the money at stake it adds."""

    __tablename__ = "suspicion_sightings"
    __table_args__ = (UniqueConstraint("sighting_id", "rule", name="uq_suspicion_sightings"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suspicion_id: Mapped[int] = mapped_column(ForeignKey("suspicions.id"), index=True)
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id"))
    rule: Mapped[SuspicionRule] = mapped_column(str_enum(SuspicionRule))
    stake: Mapped[int] = mapped_column(BigInteger, default=0)
    gap_basis_points: Mapped[int] = mapped_column(Integer, default=0)


for _shared in (Product, PriceList, PriceListItem, TerritoryRegion):
    register_write_scope(_shared, CHANNEL_WIDE)
register_write_scope(Suspicion, by_dealer("dealer_id"))
register_write_scope(SuspicionLine, through(Suspicion, "suspicion_id", "dealer_id"))
register_write_scope(SuspicionSighting, through(Suspicion, "suspicion_id", "dealer_id"))
register_write_scope(CodedShipment, by_dealer("dealer_id"))
register_write_scope(Sighting, by_dealer("reporter_dealer_id", "shipped_to_id"))
