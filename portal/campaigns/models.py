"""A sales campaign and, once settled, each dealer's result as it was booked."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.campaigns.rules import CampaignStatus, Measure, RewardKind, Terms
from portal.dealers.audiences import AudienceKind
from portal.extensions import Model
from portal.page_cache import CHANNEL_WIDE, by_dealer, register_write_scope
from portal.request_locale import in_language
from portal.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer


class Campaign(Model):
    """A short sales incentive: who is concerned, when, which products count, how they count and what they earn.
    Changed only as a draft; launched, only its status moves. `settled_total` is what settlement booked, held by
    the database below the budget (the last guard against a budget overrun, whatever the code above it does)."""

    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint("settled_total <= budget", name="settled_within_budget"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name_en: Mapped[str] = mapped_column(String(120), default="")
    name_zh: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[CampaignStatus] = mapped_column(str_enum(CampaignStatus), default=CampaignStatus.DRAFT, index=True)
    audience_kind: Mapped[AudienceKind] = mapped_column(str_enum(AudienceKind), default=AudienceKind.ALL)
    audience: Mapped[list[str]] = mapped_column(JSON, default=list)  # tier values, territory or dealer codes
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    product_lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    measure: Mapped[Measure] = mapped_column(str_enum(Measure), default=Measure.UNITS)
    reward_kind: Mapped[RewardKind] = mapped_column(str_enum(RewardKind), default=RewardKind.PER_UNIT)
    rate: Mapped[int] = mapped_column(BigInteger, default=0)  # per unit, or the lump sum (minor units)
    threshold: Mapped[int] = mapped_column(BigInteger, default=0)  # units or minor units, by measure
    cap: Mapped[int | None] = mapped_column(BigInteger)  # per dealer; None: no cap
    budget: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_total: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settlement_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    settlement_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))

    settlement_requested_by: Mapped[User | None] = relationship(
        foreign_keys=[settlement_requested_by_id], lazy="joined"
    )
    settled_by: Mapped[User | None] = relationship(foreign_keys=[settled_by_id], lazy="joined")

    @property
    def terms(self) -> Terms:
        return Terms(self.measure, self.reward_kind, self.rate, self.threshold, self.cap)

    def name_in(self, language: str) -> str:
        """The name in the reader's language, else the other one."""
        return in_language(language, self.name_en, self.name_zh)

    @property
    def source(self) -> str:
        """How its ledger entries name it."""
        return f"campaign:{self.id}"

    def audit_subject(self) -> tuple[str, int, str]:
        return "campaign", self.id, self.name_en or self.name_zh


class CampaignResult(Model):
    """One dealer's figures as the settlement counted them, and the reward booked (after the budget's share)."""

    __tablename__ = "campaign_results"
    __table_args__ = (UniqueConstraint("campaign_id", "dealer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    earned: Mapped[int] = mapped_column(BigInteger, default=0)  # by the terms, before the budget's share
    reward: Mapped[int] = mapped_column(BigInteger, default=0)  # booked on the dealer's account
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))

    dealer: Mapped[Dealer] = relationship(lazy="joined")


register_write_scope(Campaign, CHANNEL_WIDE)
register_write_scope(CampaignResult, by_dealer("dealer_id"))
