"""Territories, dealers and the quarterly periods that targets, budgets and statements hang on."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.dealers.rules import DealerStatus, PeriodStatus, can_log_in
from portal.extensions import Model
from portal.page_cache import CHANNEL_WIDE, by_dealer, register_write_scope
from portal.request_locale import lazy_gettext as _l
from portal.types import UTCDateTime, register_labels, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User


class DealerTier(enum.StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class DealerEventKind(enum.StrEnum):
    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    MANAGER_CHANGED = "manager_changed"
    PROFILE_UPDATED = "profile_updated"
    TIER_CHANGED = "tier_changed"


register_labels(
    {
        DealerTier.BRONZE: _l("Bronze"),
        DealerTier.SILVER: _l("Silver"),
        DealerTier.GOLD: _l("Gold"),
        DealerTier.PLATINUM: _l("Platinum"),
    }
)
register_labels(
    {
        DealerEventKind.CREATED: _l("Dealer created"),
        DealerEventKind.STATUS_CHANGED: _l("Status changed"),
        DealerEventKind.MANAGER_CHANGED: _l("Channel manager changed"),
        DealerEventKind.PROFILE_UPDATED: _l("Profile updated"),
    }
)


class Territory(Model):
    __tablename__ = "territories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))

    def audit_subject(self) -> tuple[str, int, str]:
        return "territory", self.id, self.code


class Dealer(Model):
    __tablename__ = "dealers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    tier: Mapped[DealerTier] = mapped_column(str_enum(DealerTier), default=DealerTier.BRONZE)
    status: Mapped[DealerStatus] = mapped_column(str_enum(DealerStatus), default=DealerStatus.ONBOARDING, index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    payee_name: Mapped[str] = mapped_column(String(200), default="")
    payee_bank: Mapped[str] = mapped_column(String(200), default="")
    payee_account: Mapped[str] = mapped_column(String(64), default="")
    # The people the manufacturer calls at the dealer, as its dealer master keeps them: [{name, role, phone, email}]
    contacts: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    territory: Mapped[Territory] = relationship(lazy="joined")
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])

    @property
    def can_log_in(self) -> bool:
        """Terminated dealers lose portal access; what they are owed is still paid outside it."""
        return can_log_in(self.status)

    def audit_subject(self) -> tuple[str, int, str]:
        return "dealer", self.id, self.code


class Period(Model):
    """A quarter, its dates read in the company's time zone (inclusive start and end)."""

    __tablename__ = "periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[PeriodStatus] = mapped_column(str_enum(PeriodStatus), default=PeriodStatus.OPEN)
    # Closing takes two people: one asks for it after looking at the preview, another confirms.
    close_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Loaded when asked for (only the close page shows who asked): joined, it made every query that loads a period
    # (each claim of a list) join the users and their dealers as well.
    close_requested_by: Mapped[User | None] = relationship(foreign_keys=[close_requested_by_id])

    def audit_subject(self) -> tuple[str, int, str]:
        return "period", self.id, self.code


SINCE_JOINING = date(2000, 1, 1)  # the first row of a tier history: the tier the dealer had before any change


class DealerTierChange(Model):
    """A dealer's tier from a day on: the tier history. A period is rated with the tier in force on its first day,
    so a change recorded mid-quarter applies from a later period start (or, backdated by an admin with a reason, from
    the start of an open period). `Dealer.tier` is the tier in force today, kept by the change and a nightly task."""

    __tablename__ = "dealer_tier_changes"
    __table_args__ = (UniqueConstraint("dealer_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    tier: Mapped[DealerTier] = mapped_column(str_enum(DealerTier))
    effective_from: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    changed_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def since_joining(self) -> bool:
        return self.effective_from == SINCE_JOINING


class DealerEvent(Model):
    """The dealer's timeline: creation, status changes with their reason, portfolio moves, profile edits."""

    __tablename__ = "dealer_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    kind: Mapped[DealerEventKind] = mapped_column(str_enum(DealerEventKind))
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")

    @property
    def from_status(self) -> DealerStatus | None:
        return (
            DealerStatus(self.from_value) if self.kind is DealerEventKind.STATUS_CHANGED and self.from_value else None
        )

    @property
    def to_status(self) -> DealerStatus | None:
        return DealerStatus(self.to_value) if self.kind is DealerEventKind.STATUS_CHANGED and self.to_value else None


class Trainee(Model):
    """A dealer's person without a portal login, who can still be enrolled in training."""

    __tablename__ = "trainees"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def audit_subject(self) -> tuple[str, int, str]:
        return "trainee", self.id, self.name


class Acknowledgement(Model):
    """A dealer's owner saying they have read something the dealer must know (a price list, a policy change): who,
    and when. One per subject and dealer; the areas name their subjects ("price_list", "announcement")."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "dealer_id", name="uq_acknowledgements"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column()
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    acknowledged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    acknowledged_by: Mapped[User] = relationship(lazy="joined")


class AcknowledgementReminder(Model):
    """When a dealer's owners were last reminded to acknowledge a subject (one row per subject and dealer)."""

    __tablename__ = "acknowledgement_reminders"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "dealer_id", name="uq_acknowledgement_reminders"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column()
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    reminded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# A dealer's own row is channel-wide: its manager decides whose portfolio (and so whose pages) it is on.
for _shared in (Territory, Dealer, Period):
    register_write_scope(_shared, CHANNEL_WIDE)
for _owned in (DealerTierChange, DealerEvent, Trainee, Acknowledgement, AcknowledgementReminder):
    register_write_scope(_owned, by_dealer("dealer_id"))
