"""Rebate programs, targets, sales lines and their imports, adjustments and the statements derived from them.

Money is integer minor units in the dealer's currency. Percentages are stored as integer hundredths of a percent
("basis points of a percent": 10000 is 100 %, 250 is 2.5 %), turned into exact Decimals for the calculation.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import STATEMENT_CHECKED_KEYS
from portal.extensions import Model
from portal.page_cache import CHANNEL_WIDE, by_dealer, by_user, register_write_scope
from portal.rebates.rules import (
    ImportStatus,
    Method,
    StatementStatus,
    TargetChangeStatus,
    Tier,
    attainment,
    attainment_shown,
    invoice_key,
)
from portal.request_locale import lazy_gettext as _l
from portal.types import UTCDateTime, register_labels, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer, Period

HUNDREDTHS = Decimal(100)


class AdjustmentKind(enum.StrEnum):
    LATE_SALES = "late_sales"
    MANUAL = "manual"
    DISPUTE_OUTCOME = "dispute_outcome"
    PENALTY_OVERTURNED = "penalty_overturned"


register_labels(
    {
        AdjustmentKind.LATE_SALES: _l("Late sales"),
        AdjustmentKind.MANUAL: _l("Manual adjustment"),
        AdjustmentKind.DISPUTE_OUTCOME: _l("Dispute outcome"),
        AdjustmentKind.PENALTY_OVERTURNED: _l("Penalty overturned"),
    }
)


def percent(hundredths: int) -> Decimal:
    return Decimal(hundredths) / HUNDREDTHS


class RebateProgram(Model):
    """A period's program for the dealers of some tiers; two programs of a period never share a dealer tier."""

    __tablename__ = "rebate_programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    method: Mapped[Method] = mapped_column(str_enum(Method))
    eligible_tiers: Mapped[str] = mapped_column(String(64))  # dealer tiers, comma-separated values
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    period: Mapped[Period] = relationship(lazy="joined")
    tiers: Mapped[list[ProgramTier]] = relationship(
        order_by="ProgramTier.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def eligible(self) -> list[str]:
        return [value for value in self.eligible_tiers.split(",") if value]

    @property
    def rule_tiers(self) -> list[Tier]:
        return [tier.rule for tier in self.tiers]

    def audit_subject(self) -> tuple[str, int, str]:
        return "rebate_program", self.id, self.name


class ProgramTier(Model):
    __tablename__ = "rebate_program_tiers"
    __table_args__ = (UniqueConstraint("program_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("rebate_programs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    threshold_hundredths: Mapped[int] = mapped_column(Integer)  # attainment, 10000 = 100 %
    rate_hundredths: Mapped[int] = mapped_column(Integer)  # rebate rate, 250 = 2.5 %

    @property
    def rule(self) -> Tier:
        return Tier(percent(self.threshold_hundredths), percent(self.rate_hundredths))


class Target(Model):
    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("dealer_id", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TargetChange(Model):
    """A change of a target after its period started: the old and new amount, why, who asked and who decided. The
    statement shows the approved ones as the target's history."""

    __tablename__ = "target_changes"
    __table_args__ = (Index("ix_target_changes_dealer_period", "dealer_id", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    old_amount: Mapped[int | None] = mapped_column(BigInteger)
    new_amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[TargetChangeStatus] = mapped_column(
        str_enum(TargetChangeStatus), default=TargetChangeStatus.PENDING, index=True
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(Text, default="")

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    period: Mapped[Period] = relationship(lazy="joined")
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


class SalesImport(Model):
    """One uploaded file of sales lines: checked completely first, imported only when free of errors."""

    __tablename__ = "sales_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    encoding: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus), default=ImportStatus.VALIDATING, index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    # After confirmation: "reading" (the file read again) then "booking" (rows_done counts lines booked); "" before
    phase: Mapped[str] = mapped_column(String(16), default="")
    new_rows: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_rows: Mapped[int] = mapped_column(Integer, default=0)
    late_rows: Mapped[int] = mapped_column(Integer, default=0)
    imported_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [line, column, message], the first few hundred
    skipped: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [line, why]: a title above the header, a total
    # What the check found per dealer: [code, currency, lines, new lines, new amount, already imported]
    dealer_totals: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # How the uploader said the file writes amounts: "" not said, "point" (1,234.56) or "comma" (1.234,56).
    number_format: Mapped[str] = mapped_column(String(8), default="")
    sheet: Mapped[str] = mapped_column(String(100), default="")  # a workbook's sheet to read; "" the first
    return_rows: Mapped[int] = mapped_column(Integer, default=0)  # credit notes among the new lines
    # Invoices sent again with other values: [dealer code, invoice key, line no, old amount, old date, new amount,
    # new date, file line, decision ("" until the manager decides, "keep" or "replace")]
    conflicts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    conflict_count: Mapped[int] = mapped_column(Integer, default=0)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str] = mapped_column(Text, default="")
    failure: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id], lazy="joined")
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id], lazy="joined")
    # The file in a row of its own: progress is committed while the import runs, and SQLite rewrites a whole row,
    # a 50 MB file included, on every update of it.
    upload: Mapped[SalesImportFile] = relationship(cascade="all, delete-orphan", single_parent=True)

    @property
    def content(self) -> bytes:
        return self.upload.content

    @content.setter
    def content(self, value: bytes) -> None:
        self.upload = SalesImportFile(content=value)

    def audit_subject(self) -> tuple[str, int, str]:
        return "sales_import", self.id, self.filename


class SalesImportFile(Model):
    """The uploaded bytes of a sales import, read by its check and by its import."""

    __tablename__ = "sales_import_files"

    import_id: Mapped[int] = mapped_column(ForeignKey("sales_imports.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class CheckedSalesLines(Model):
    """The lines a clean check read (portal.rebates.checked_lines), kept for the import after confirmation: when
    nothing the check depended on has changed, the import books them instead of reading the file again. Removed
    once the file is imported."""

    __tablename__ = "sales_import_checked_lines"

    import_id: Mapped[int] = mapped_column(ForeignKey("sales_imports.id", ondelete="CASCADE"), primary_key=True)
    checked_against: Mapped[str] = mapped_column(String(64))  # the digest of what the check depended on
    lines: Mapped[bytes] = mapped_column(LargeBinary)


class ImportColumnChoice(Model):
    """A manager's answer to "which field is this column?" for a header no synonym knows, offered again next time."""

    __tablename__ = "import_column_choices"
    __table_args__ = (UniqueConstraint("user_id", "header"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    header: Mapped[str] = mapped_column(String(120))  # as compared: trimmed, lower case
    field: Mapped[str] = mapped_column(String(32))  # "dealer_code", "amount"...; "" to leave the column out
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def _invoice_key_of_row(context: DefaultExecutionContext) -> str:
    """The key a row's invoice compares by, from the reference as written (inserts by the ORM, Core or seeds)."""
    return invoice_key(str(context.get_current_parameters()["invoice_ref"]))


# On PostgreSQL a sales line's two periods are checked per statement (migration 0025): as two row-by-row keys they
# cost a 1,000,000-line import 10 s of its 60 (measured), a set of 50,000 copied lines checked at once costs nothing.
STATEMENT_CHECKED_KEYS.update({"fk_sales_lines_period_id_periods", "fk_sales_lines_booked_period_id_periods"})


class SalesLine(Model):
    """A sale or a credit note, counted in the period of its date; if that period was already closed, booked in the
    open one.

    Lines are never edited or deleted: a correction or a void adds a reversal (the negated line, naming the line it
    reverses) and, for a correction, the new values as the invoice's next revision. An invoice line is live while no
    reversal names it; one invoice (compared by its key: trimmed, upper case) has one live line per line number.
    """

    __tablename__ = "sales_lines"
    __table_args__ = (
        # One line per invoice line and revision; a reversal takes the revision -1 - the one it reverses, so the
        # same index allows one reversal per line. Whole (not partial): lookups are answered from it alone.
        Index("uq_sales_lines_invoice", "dealer_id", "invoice_key", "line_no", "revision", unique=True),
        Index(  # a line is reversed once; ordinary lines (no reversal) take no room in it
            "uq_sales_lines_reverses",
            "reverses_id",
            unique=True,
            sqlite_where=text("reverses_id IS NOT NULL"),
            postgresql_where=text("reverses_id IS NOT NULL"),
        ),
        Index(
            "ix_sales_lines_corrects",
            "dealer_id",
            "corrects_invoice",
            sqlite_where=text("corrects_invoice IS NOT NULL"),
            postgresql_where=text("corrects_invoice IS NOT NULL"),
        ),
        # Statements and the dashboard read a period's lines per dealer. Every index costs each imported line its
        # upkeep, so there is none that no query uses (the booked period alone, the dealer and day were dropped).
        Index("ix_sales_lines_period_dealer", "period_id", "dealer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    booked_period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    sold_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)  # signed: a credit note or a reversal is negative
    units: Mapped[int] = mapped_column(Integer, default=0)
    product_line: Mapped[str] = mapped_column(String(80), default="")
    invoice_ref: Mapped[str] = mapped_column(String(64))  # as the file wrote it
    invoice_key: Mapped[str] = mapped_column(String(64), default=_invoice_key_of_row)
    line_no: Mapped[int] = mapped_column(Integer, default=0)  # 0: the file had no line-number column
    # 1, 2...: the values that replaced earlier ones; a reversal of revision r has -1 - r
    revision: Mapped[int] = mapped_column(Integer, default=0)
    corrects_invoice: Mapped[str | None] = mapped_column(String(64))  # a credit note: the key of the invoice
    # What the referee checks, when the file gives it: the product, the price of one unit, where it was shipped.
    sku: Mapped[str | None] = mapped_column(String(40))
    unit_price: Mapped[int | None] = mapped_column(BigInteger)
    ship_to_region: Mapped[str | None] = mapped_column(String(6))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("sales_lines.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("sales_imports.id"), index=True)


class Adjustment(Model):
    """Money added to or taken from an open statement, naming the closed period it corrects, if any."""

    __tablename__ = "rebate_adjustments"
    __table_args__ = (Index("ix_rebate_adjustments_booked", "booked_period_id", "dealer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    booked_period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    corrects_period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))
    kind: Mapped[AdjustmentKind] = mapped_column(str_enum(AdjustmentKind))
    amount: Mapped[int] = mapped_column(BigInteger)  # signed minor units: positive is owed to the dealer
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str | None] = mapped_column(String(64), unique=True)  # e.g. "dispute:12", applied once
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    corrects_period: Mapped[Period | None] = relationship(foreign_keys=[corrects_period_id], lazy="joined")


class RebateStatement(Model):
    """The figures of one dealer and period as the calculation produced them; frozen when the period closes."""

    __tablename__ = "rebate_statements"
    __table_args__ = (
        UniqueConstraint("dealer_id", "period_id"),
        Index("ix_rebate_statements_period_attainment", "period_id", "attainment_hundredths"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("rebate_programs.id"))
    status: Mapped[StatementStatus] = mapped_column(
        str_enum(StatementStatus), default=StatementStatus.PROVISIONAL, index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[Method | None] = mapped_column(str_enum(Method))
    tiers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[threshold, rate], ...] in hundredths
    sales: Mapped[int] = mapped_column(BigInteger, default=0)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[int] = mapped_column(BigInteger, default=0)
    attainment_hundredths: Mapped[int] = mapped_column(Integer, default=0)  # rounded down, for sorting only
    reached_tier: Mapped[int | None] = mapped_column(Integer)  # index into tiers
    rebate: Mapped[int] = mapped_column(BigInteger, default=0)
    next_tier_sales: Mapped[int | None] = mapped_column(BigInteger)  # total sales the next tier needs
    sales_to_next_tier: Mapped[int] = mapped_column(BigInteger, default=0)
    rebate_at_next_tier: Mapped[int] = mapped_column(BigInteger, default=0)
    penalties: Mapped[int] = mapped_column(BigInteger, default=0)
    adjustments: Mapped[int] = mapped_column(BigInteger, default=0)
    net_payable: Mapped[int] = mapped_column(BigInteger, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_reference: Mapped[str] = mapped_column(String(120), default="")
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The dealer's account around this period, written when the period closes (portal/rebates/ledger.py): the
    # balance brought forward from earlier periods and the balance carried after this period's entries.
    opening_balance: Mapped[int | None] = mapped_column(BigInteger)
    closing_balance: Mapped[int | None] = mapped_column(BigInteger)
    paid_amount: Mapped[int | None] = mapped_column(BigInteger)  # what the payment of this statement transferred
    # Any change (a recomputation, finalising, a payment): what the API's `updated_since` compares.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    period: Mapped[Period] = relationship(lazy="joined")

    @property
    def rule_tiers(self) -> list[Tier]:
        return [Tier(percent(threshold), percent(rate)) for threshold, rate in self.tiers]

    @property
    def attainment_percent(self) -> Decimal:
        """Exact, for bars and sorting; what people read is `attainment_shown`."""
        return attainment(self.sales, self.target)

    @property
    def attainment_shown(self) -> Decimal | None:
        return attainment_shown(self.sales, self.target)

    @property
    def has_target(self) -> bool:
        return self.target > 0

    def audit_subject(self) -> tuple[str, int, str]:
        return "rebate_statement", self.id, f"{self.dealer.code} {self.period.code}"


class LedgerKind(enum.StrEnum):
    """What moved money on a dealer's account. A deposit (保证金) would be one more kind, booked and reversed like
    the others."""

    REBATE = "rebate"  # a closed period's final rebate, owed to the dealer
    PENALTY = "penalty"  # a confirmed penalty, owed by the dealer
    ADJUSTMENT = "adjustment"  # late sales, a manual correction or a dispute's outcome, either way
    REFUND = "refund"  # an overturned penalty given back
    PAYMENT = "payment"  # money transferred to the dealer
    REVERSAL = "reversal"  # takes back an earlier entry (a reopened period), never an edit
    CAMPAIGN = "campaign"  # a settled sales campaign's reward, booked when it is settled (not by a period's close)


register_labels(
    {
        LedgerKind.REBATE: _l("Rebate"),
        LedgerKind.PENALTY: _l("Penalty"),
        LedgerKind.ADJUSTMENT: _l("Adjustment"),
        LedgerKind.REFUND: _l("Refund"),
        LedgerKind.PAYMENT: _l("Payment"),
        LedgerKind.REVERSAL: _l("Reversal"),
        LedgerKind.CAMPAIGN: _l("Campaign reward"),
    }
)


class LedgerEntry(Model):
    """One movement on a dealer's account, append-only: positive is owed to the dealer, negative owed by the dealer
    or paid out. The balance is the sum of the entries; a negative balance is carried until later rebates cover
    it. Entries are never changed or deleted (a guard refuses it): a correction is a new entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_dealer_period", "dealer_id", "period_id"),
        Index("ix_ledger_entries_dealer_booked", "dealer_id", "booked_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)  # the period it belongs to
    kind: Mapped[LedgerKind] = mapped_column(str_enum(LedgerKind))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    booked_on: Mapped[date] = mapped_column(Date)  # the company's day it was recorded
    source: Mapped[str] = mapped_column(String(64), default="")  # "statement:7", "violation:3", "adjustment:9"...
    note: Mapped[str] = mapped_column(Text, default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    period: Mapped[Period] = relationship(lazy="joined")


@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
def _entries_are_never_changed(_mapper: Any, _connection: Any, entry: LedgerEntry) -> None:
    raise RuntimeError(f"ledger entry {entry.id} is append-only: book a new entry instead")


# Programs and their tiers apply to every dealer; an import's own records are rare and shown channel-wide.
for _shared in (RebateProgram, ProgramTier, SalesImport, SalesImportFile, CheckedSalesLines):
    register_write_scope(_shared, CHANNEL_WIDE)
for _owned in (Target, TargetChange, SalesLine, Adjustment, RebateStatement, LedgerEntry):
    register_write_scope(_owned, by_dealer("dealer_id"))
register_write_scope(ImportColumnChoice, by_user("user_id"))
