"""Promotion budgets, pre-approval requests, claims, their events and flags.

Money is integer minor units in the dealer's currency. A claim's status changes only through the workflow table in
rules.py, by a conditional UPDATE in the services; every change leaves a ClaimEvent.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.claims.rules import RELEASES_PRE_APPROVAL, ClaimStatus, Flag, FundRequestStatus
from portal.extensions import Model
from portal.page_cache import CHANNEL_WIDE, by_dealer, register_write_scope, through
from portal.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer, Period


class ActivityType(Model):
    """Advertising, in-store display, trade show, promotion event...; some need pre-approval."""

    __tablename__ = "activity_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    needs_pre_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FundAllocation(Model):
    """A dealer's promotion budget for a period."""

    __tablename__ = "fund_allocations"
    __table_args__ = (UniqueConstraint("dealer_id", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class FundRequest(Model):
    """Pre-approval of a planned activity; an approved request is used by one claim."""

    __tablename__ = "fund_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    activity_type_id: Mapped[int] = mapped_column(ForeignKey("activity_types.id"))
    title: Mapped[str] = mapped_column(String(200))
    planned_start: Mapped[date] = mapped_column(Date)
    planned_end: Mapped[date] = mapped_column(Date)
    estimated_cost: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[FundRequestStatus] = mapped_column(str_enum(FundRequestStatus), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


LIVE_CLAIM_SQL = "status NOT IN ({})".format(", ".join(f"'{status.value}'" for status in sorted(RELEASES_PRE_APPROVAL)))


class Claim(Model):
    __tablename__ = "claims"
    __table_args__ = (
        Index("ix_claims_status_submitted", "status", "submitted_at"),
        # The same invoice in two claims, whoever typed it how (invoices.py normalises both fields).
        Index("ix_claims_invoice", "invoice_number", "invoice_code"),
        Index("ix_claims_dealer_vendor", "dealer_id", "vendor_key", "submitted_at"),  # split claims
        Index("ix_claims_dealer_period", "dealer_id", "period_id"),
        # A manager's queue, their dealers' waiting claims; the backlog counted on the start page reads it alone.
        Index("ix_claims_dealer_status", "dealer_id", "status", "submission_count", "submitted_at"),
        # One live claim per pre-approval; a withdrawn or rejected claim keeps the link as history but frees it.
        Index(
            "uq_claims_live_fund_request",
            "fund_request_id",
            unique=True,
            sqlite_where=text(LIVE_CLAIM_SQL),
            postgresql_where=text(LIVE_CLAIM_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    activity_type_id: Mapped[int] = mapped_column(ForeignKey("activity_types.id"))
    fund_request_id: Mapped[int | None] = mapped_column(ForeignKey("fund_requests.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    activity_start: Mapped[date] = mapped_column(Date)
    activity_end: Mapped[date] = mapped_column(Date)
    vendor: Mapped[str] = mapped_column(String(200), default="")
    vendor_tax_id: Mapped[str] = mapped_column(String(32), default="")
    # The vendor as compared between claims: its tax id, else its name folded (invoices.vendor_key).
    vendor_key: Mapped[str] = mapped_column(String(200), default="")
    # The fapiao: type (an InvoiceType value, "" before it is given), code and number as digits (a foreign
    # invoice's number as letters and digits), date, and its amounts in minor units.
    invoice_type: Mapped[str] = mapped_column(String(16), default="")
    invoice_code: Mapped[str] = mapped_column(String(20), default="")
    invoice_number: Mapped[str] = mapped_column(String(64), default="")
    invoice_date: Mapped[date | None] = mapped_column(Date)
    invoice_amount_before_tax: Mapped[int | None] = mapped_column(BigInteger)
    invoice_tax: Mapped[int | None] = mapped_column(BigInteger)
    invoice_total: Mapped[int | None] = mapped_column(BigInteger)
    # The evidence file whose QR code filled the invoice fields, until the dealer saves the claim (confirms them).
    invoice_read_from_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="SET NULL"))
    amount_requested: Mapped[int] = mapped_column(BigInteger, default=0)
    # What the claim holds against its budget while it waits (PENDING): the amount requested when submitted; what
    # was left when a mediator reopened it into a smaller budget; the amount proposed at the second approval.
    budget_held: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_approved: Mapped[int | None] = mapped_column(BigInteger)
    over_pre_approval_reason: Mapped[str] = mapped_column(Text, default="")
    rejection_reason: Mapped[str] = mapped_column(String(40), default="")  # a RejectionReason value
    turnaround_seconds: Mapped[int | None] = mapped_column(BigInteger)  # last submission to final decision
    status: Mapped[ClaimStatus] = mapped_column(str_enum(ClaimStatus, 40), default=ClaimStatus.DRAFT, index=True)
    submission_count: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who approved at the first step (alone, or before a second approval): their approvals of one dealer in one
    # period add up towards the second-approval threshold.
    first_approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payment_reference: Mapped[str] = mapped_column(String(120), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    period: Mapped[Period] = relationship(lazy="joined")
    activity_type: Mapped[ActivityType] = relationship(lazy="joined")

    def audit_subject(self) -> tuple[str, int, str]:
        return "claim", self.id, f"{self.dealer.code} {self.title}"[:200]


class ClaimEvent(Model):
    """The claim's timeline: every transition with who, from, to and the note, and comments between them."""

    __tablename__ = "claim_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[ClaimStatus | None] = mapped_column(str_enum(ClaimStatus, 40))
    to_status: Mapped[ClaimStatus | None] = mapped_column(str_enum(ClaimStatus, 40))
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class ClaimFlag(Model):
    """A reason to look twice, with the claims it relates to: computed at submission, and added to every earlier
    claim a new submission relates to (the same picture, invoice, split or budget rush), so both carry it."""

    __tablename__ = "claim_flags"
    __table_args__ = (UniqueConstraint("claim_id", "flag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    flag: Mapped[Flag] = mapped_column(str_enum(Flag, 40), index=True)
    related_claims: Mapped[list[int]] = mapped_column(JSON, default=list)


register_write_scope(ActivityType, CHANNEL_WIDE)
for _owned in (FundAllocation, FundRequest, Claim):
    register_write_scope(_owned, by_dealer("dealer_id"))
for _part in (ClaimEvent, ClaimFlag):
    register_write_scope(_part, through(Claim, "claim_id", "dealer_id"))
