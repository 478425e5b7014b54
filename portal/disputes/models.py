"""Violations (penalties on a dealer, confirmed by a second person) and disputes (a dealer's complaint or appeal,
settled by a mediator), with their messages and events. Money is integer minor units in the dealer's currency."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.disputes.rules import DisputeCategory, DisputeStatus, Outcome, ViolationKind, ViolationStatus
from portal.extensions import Model
from portal.page_cache import by_dealer, register_write_scope, through
from portal.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer, Period


class Violation(Model):
    """A breach recorded by a manager; it counts (its penalty is deducted) once a second person confirms it."""

    __tablename__ = "violations"
    __table_args__ = (Index("ix_violations_dealer_status", "dealer_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    kind: Mapped[ViolationKind] = mapped_column(str_enum(ViolationKind, 32))
    description: Mapped[str] = mapped_column(Text)
    penalty: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[ViolationStatus] = mapped_column(str_enum(ViolationStatus, 32), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_on: Mapped[date | None] = mapped_column(Date)
    appeal_until: Mapped[date | None] = mapped_column(Date)
    # Where the penalty is deducted: its own period while open, else the open period as a prior-period adjustment.
    booked_period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))
    source: Mapped[str | None] = mapped_column(String(64), unique=True)  # "dispute:<id>" when an outcome made it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)  # for the API

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    period: Mapped[Period] = relationship(lazy="joined", foreign_keys=[period_id])

    def audit_subject(self) -> tuple[str, int, str]:
        return "violation", self.id, f"{self.dealer.code} {self.kind.value}"


class Dispute(Model):
    __tablename__ = "disputes"
    # The mediation queues' counts read the second alone (not the wide rows); a mediator's own queue walks the
    # third in its order and stops at the page's end (PostgreSQL otherwise joined all of them to their dealers and
    # sorted); a dealer's start page counts the disputes waiting for its answer with the fourth.
    __table_args__ = (
        Index("ix_disputes_status_due", "status", "due_at"),
        Index("ix_disputes_status_mediator_due", "status", "mediator_id", "due_at"),
        Index("ix_disputes_mediator_due", "mediator_id", "due_at", "id"),
        Index("ix_disputes_awaiting_dealer", "awaiting_dealer_id", "awaiting_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    raised_by_dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    respondent_dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    category: Mapped[DisputeCategory] = mapped_column(str_enum(DisputeCategory, 32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("rebate_statements.id"))
    violation_id: Mapped[int | None] = mapped_column(ForeignKey("violations.id"), unique=True)
    status: Mapped[DisputeStatus] = mapped_column(str_enum(DisputeStatus, 32), default=DisputeStatus.OPEN)
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # indexed first in ix_disputes_mediator_due
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    awaiting_dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    awaiting_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[Outcome | None] = mapped_column(str_enum(Outcome, 32))
    outcome_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    raiser: Mapped[Dealer] = relationship(lazy="joined", foreign_keys=[raised_by_dealer_id])
    respondent: Mapped[Dealer | None] = relationship(lazy="joined", foreign_keys=[respondent_dealer_id])
    mediator: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[mediator_id])

    def audit_subject(self) -> tuple[str, int, str]:
        return "dispute", self.id, self.title[:200]

    def party_ids(self) -> set[int]:
        return {self.raised_by_dealer_id} | ({self.respondent_dealer_id} if self.respondent_dealer_id else set())


class DisputeMessage(Model):
    """A message in the dispute: to the parties (both dealers and the mediator see it) or internal (staff only).
    Transitions are written here too, as messages without a body, so the thread is the dispute's timeline."""

    __tablename__ = "dispute_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    internal: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text, default="")
    from_status: Mapped[DisputeStatus | None] = mapped_column(str_enum(DisputeStatus, 32))
    to_status: Mapped[DisputeStatus | None] = mapped_column(str_enum(DisputeStatus, 32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User | None] = relationship(lazy="joined")


_PARTIES = ("raised_by_dealer_id", "respondent_dealer_id", "awaiting_dealer_id")
register_write_scope(Violation, by_dealer("dealer_id"))
register_write_scope(Dispute, by_dealer(*_PARTIES))
register_write_scope(DisputeMessage, through(Dispute, "dispute_id", *_PARTIES))
