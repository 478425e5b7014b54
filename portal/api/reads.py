"""What the ERP pulls: final statements and ledger entries of a period, approved claims waiting for payment with
the payee's details, and confirmed violations for its dealer master. Every list is paged by cursor; those that
change after they are made take `updated_since`, so a nightly pull fetches only what changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from portal.access import public
from portal.api.blueprint import PageQuery, blp, caller_with, page_of, page_schema
from portal.api.problems import ApiProblem
from portal.api.rules import Scope
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.dealers.models import Dealer, Period
from portal.disputes.models import Violation
from portal.disputes.rules import COUNTING, ViolationStatus
from portal.extensions import db
from portal.rebates.models import LedgerEntry, RebateStatement
from portal.rebates.rules import StatementStatus, attainment_shown

MINOR_UNITS = "In minor units of the currency (fen)."
ONCE_CONFIRMED = COUNTING | {ViolationStatus.OVERTURNED}


def _period_id(code: str) -> int:
    found = db.session.execute(select(Period.id).where(Period.code == code)).scalar_one_or_none()
    if found is None:
        raise ApiProblem(404, "not-found", f"No period {code}.")
    return found


class ChangedQuery(PageQuery):
    updated_since = fields.AwareDateTime(load_default=None, metadata={"description": "With a time zone."})


# --- Statements -------------------------------------------------------------------------------------------------------


class StatementQuery(ChangedQuery):
    period = fields.String(required=True, validate=validate.Length(min=1, max=20))


class StatementSchema(Schema):
    id = fields.Integer(required=True)
    dealer_code = fields.String(required=True)
    period = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["final", "paid"]})
    currency = fields.String(required=True)
    sales = fields.Integer(required=True, metadata={"description": MINOR_UNITS})
    target = fields.Integer(required=True)
    attainment_percent = fields.String(allow_none=True, metadata={"description": "Cut to two decimals."})
    rebate = fields.Integer(required=True)
    penalties = fields.Integer(required=True)
    adjustments = fields.Integer(required=True)
    net_payable = fields.Integer(required=True)
    paid_at = fields.DateTime(allow_none=True)
    paid_reference = fields.String(required=True)
    updated_at = fields.DateTime(required=True)


@blp.route("/statements")
@blp.arguments(StatementQuery, location="query", as_kwargs=True)
@blp.response(200, page_schema(StatementSchema))
@public
def statements(period: str, updated_since: datetime | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """The final (and paid) rebate statements of a period, by dealer: what the ERP pays. Needs statements:read."""
    caller_with(Scope.STATEMENTS_READ)
    query = (
        select(RebateStatement, Dealer.code)
        .join(Dealer, Dealer.id == RebateStatement.dealer_id)
        .where(
            RebateStatement.period_id == _period_id(period),
            RebateStatement.status.in_((StatementStatus.FINAL, StatementStatus.PAID)),
        )
    )
    if updated_since is not None:
        query = query.where(RebateStatement.updated_at >= updated_since)
    page, next_cursor = page_of(query, RebateStatement.id, cursor, limit)
    items = []
    for statement, dealer_code, _key in page:
        shown = attainment_shown(statement.sales, statement.target)
        items.append(
            {
                "id": statement.id,
                "dealer_code": dealer_code,
                "period": period,
                "status": statement.status.value,
                "currency": statement.currency,
                "sales": statement.sales,
                "target": statement.target,
                "attainment_percent": f"{shown:.2f}" if shown is not None else None,
                "rebate": statement.rebate,
                "penalties": statement.penalties,
                "adjustments": statement.adjustments,
                "net_payable": statement.net_payable,
                "paid_at": statement.paid_at,
                "paid_reference": statement.paid_reference,
                "updated_at": statement.updated_at,
            }
        )
    return {"items": items, "next_cursor": next_cursor}


# --- Ledger entries ---------------------------------------------------------------------------------------------------


class LedgerQuery(ChangedQuery):
    period = fields.String(required=True, validate=validate.Length(min=1, max=20))


class LedgerEntrySchema(Schema):
    id = fields.Integer(required=True)
    dealer_code = fields.String(required=True)
    period = fields.String(required=True)
    kind = fields.String(required=True)
    amount = fields.Integer(
        required=True, metadata={"description": MINOR_UNITS + " Positive: owed to the dealer; negative: owed by it."}
    )
    currency = fields.String(required=True)
    booked_on = fields.Date(required=True)
    source = fields.String(required=True)
    note = fields.String(required=True)
    reverses_id = fields.Integer(allow_none=True)


@blp.route("/ledger-entries")
@blp.arguments(LedgerQuery, location="query", as_kwargs=True)
@blp.response(200, page_schema(LedgerEntrySchema))
@public
def ledger_entries(period: str, updated_since: datetime | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """The movements on the dealers' accounts belonging to a period, in the order they were booked. Entries are
    never changed (a correction is a new entry): `updated_since` gives those booked since a time. Needs
    statements:read."""
    caller_with(Scope.STATEMENTS_READ)
    query = (
        select(LedgerEntry, Dealer.code)
        .join(Dealer, Dealer.id == LedgerEntry.dealer_id)
        .where(LedgerEntry.period_id == _period_id(period))
    )
    if updated_since is not None:
        query = query.where(LedgerEntry.created_at >= updated_since)
    page, next_cursor = page_of(query, LedgerEntry.id, cursor, limit)
    items = [
        {
            "id": entry.id,
            "dealer_code": dealer_code,
            "period": period,
            "kind": entry.kind.value,
            "amount": entry.amount,
            "currency": entry.currency,
            "booked_on": entry.booked_on,
            "source": entry.source,
            "note": entry.note,
            "reverses_id": entry.reverses_id,
        }
        for entry, dealer_code, _key in page
    ]
    return {"items": items, "next_cursor": next_cursor}


# --- Claims to pay ----------------------------------------------------------------------------------------------------

CLAIM_SETS = {
    "to_pay": (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED),  # approved, waiting for the money
    "paid": (ClaimStatus.PAID,),
}


class ClaimQuery(ChangedQuery):
    state = fields.String(load_default="to_pay", validate=validate.OneOf(sorted(CLAIM_SETS)))


class PayeeSchema(Schema):
    name = fields.String(required=True)
    bank = fields.String(required=True)
    account = fields.String(required=True)


class ClaimSchema(Schema):
    id = fields.Integer(required=True)
    dealer_code = fields.String(required=True)
    dealer_name = fields.String(required=True)
    period = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    currency = fields.String(required=True)
    amount_claimed = fields.Integer(required=True, metadata={"description": MINOR_UNITS})
    amount_approved = fields.Integer(required=True)
    decided_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    payment_reference = fields.String(required=True)
    updated_at = fields.DateTime(required=True)
    payee = fields.Nested(PayeeSchema, required=True)


@blp.route("/claims")
@blp.arguments(ClaimQuery, location="query", as_kwargs=True)
@blp.response(200, page_schema(ClaimSchema))
@public
def claims(state: str, updated_since: datetime | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Approved claims waiting for payment (or paid ones), with the dealer's payee details: what the ERP pays.
    `updated_since` fetches only what changed since the last pull. Needs claims:read."""
    caller_with(Scope.CLAIMS_READ)
    query = (
        select(Claim, Dealer, Period.code)
        .join(Dealer, Dealer.id == Claim.dealer_id)
        .join(Period, Period.id == Claim.period_id)
        .where(Claim.status.in_(CLAIM_SETS[state]))
    )
    if updated_since is not None:
        query = query.where(Claim.updated_at >= updated_since)
    page, next_cursor = page_of(query, Claim.id, cursor, limit)
    items = [
        {
            "id": claim.id,
            "dealer_code": dealer.code,
            "dealer_name": dealer.name,
            "period": period_code,
            "title": claim.title,
            "status": claim.status.value,
            "currency": dealer.currency,
            "amount_claimed": claim.amount_requested,
            "amount_approved": claim.amount_approved or 0,
            "decided_at": claim.decided_at,
            "paid_at": claim.paid_at,
            "payment_reference": claim.payment_reference,
            "updated_at": claim.updated_at,
            "payee": {"name": dealer.payee_name, "bank": dealer.payee_bank, "account": dealer.payee_account},
        }
        for claim, dealer, period_code, _key in page
    ]
    return {"items": items, "next_cursor": next_cursor}


# --- Violations -------------------------------------------------------------------------------------------------------


class ViolationSchema(Schema):
    id = fields.Integer(required=True)
    dealer_code = fields.String(required=True)
    period = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": sorted(status.value for status in ONCE_CONFIRMED)})
    penalty = fields.Integer(required=True, metadata={"description": MINOR_UNITS})
    currency = fields.String(required=True)
    confirmed_on = fields.Date(allow_none=True)
    appeal_until = fields.Date(allow_none=True)
    updated_at = fields.DateTime(required=True)


@blp.route("/violations")
@blp.arguments(ChangedQuery, location="query", as_kwargs=True)
@blp.response(200, page_schema(ViolationSchema))
@public
def violations(updated_since: datetime | None, cursor: str | None, limit: int) -> dict[str, Any]:
    """Violations a second person confirmed, for the ERP's dealer master: those that count against the dealer
    (confirmed, appealed, upheld) and those overturned since, so a pull with `updated_since` learns that a penalty
    was taken back. Needs statements:read."""
    caller_with(Scope.STATEMENTS_READ)
    query = (
        select(Violation, Dealer, Period.code)
        .join(Dealer, Dealer.id == Violation.dealer_id)
        .join(Period, Period.id == Violation.period_id)
        .where(Violation.status.in_(sorted(ONCE_CONFIRMED)))
    )
    if updated_since is not None:
        query = query.where(Violation.updated_at >= updated_since)
    page, next_cursor = page_of(query, Violation.id, cursor, limit)
    items = [
        {
            "id": violation.id,
            "dealer_code": dealer.code,
            "period": period_code,
            "kind": violation.kind.value,
            "status": violation.status.value,
            "penalty": violation.penalty,
            "currency": dealer.currency,
            "confirmed_on": violation.confirmed_on,
            "appeal_until": violation.appeal_until,
            "updated_at": violation.updated_at,
        }
        for violation, dealer, period_code, _key in page
    ]
    return {"items": items, "next_cursor": next_cursor}
