"""What the ERP pushes: sales lines and credit notes in batches (through the file import's own code), payments made
(claims and rebate statements paid, with the transfer's reference), its dealer master (a dealer put by code) and
targets (through the pages' governance).
Every POST carries an `Idempotency-Key`: a retry after a lost answer gets the first answer again, never a second
import or payment; a PUT is idempotent by itself (the same record changes nothing the second time)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Response, json, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.access import public
from portal.accounts.models import User
from portal.api import idempotency
from portal.api.blueprint import LARGEST_ID, blp, caller_with
from portal.api.clients import Caller
from portal.api.problems import ApiProblem, invalid_field
from portal.api.rules import Scope
from portal.claims.services import pay_claims
from portal.database import begin_write
from portal.dealers.models import Dealer, DealerTier, Period
from portal.dealers.rules import DealerStatus
from portal.dealers.tiers import TierChange
from portal.dealers.upserts import DealerRecord, upsert_dealer
from portal.extensions import db
from portal.rebates.imports import import_sales_lines
from portal.rebates.models import RebateStatement, SalesImport
from portal.rebates.rules import ImportStatus
from portal.rebates.sales_jobs import (
    ALREADY,
    C_CODE,
    C_INVOICE,
    C_LINE,
    C_LINE_NO,
    C_NEW_AMOUNT,
    C_OLD_AMOUNT,
    C_PRODUCT,
    FIELDS,
    LINES,
    NEW_AMOUNT,
    NEW_SALES,
    RETURNS,
    RETURNS_AMOUNT,
)
from portal.rebates.services import mark_paid, put_target
from portal.service_errors import InvalidInput

MAX_LINES = 10_000
DEALER_CODE = re.compile(r"[A-Za-z0-9_-]{1,16}")  # as the admin's dealer form accepts them
HEADER_LINES = 1  # the CSV the lines are written as has its header on line 1
KEY_HEADER = {
    "Idempotency-Key": {
        "description": "Any unique text up to 200 characters; the same key and body answer the first answer again.",
        "schema": {"type": "string", "maxLength": 200},
        "required": True,
    }
}


def report_or_problem(description: str) -> dict[str, Any]:
    """A status answered either with the batch's report (its lines checked) or a problem document (the request
    itself refused): both content types described."""
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SalesBatchResult"}},
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
        },
    }


def acting_user(caller: Caller) -> User:
    """The client's own user: services check it as they check a person, and the audit trail names the client."""
    user = db.session.get(User, caller.user_id)
    assert user is not None and user.is_service
    return user


def idempotent(caller: Caller, operation: str, work: Callable[[], idempotency.Answer]) -> Response:
    """Run `work` once per Idempotency-Key: claim the key, do the work, keep its answer with it; a copy gets the
    kept answer, marked `Idempotent-Replayed: true`."""
    key = request.headers.get("Idempotency-Key", "")
    earlier = idempotency.claim(caller.client_id, key, operation, request.get_json(silent=True))
    if earlier is not None:
        response = _answer(earlier)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    try:
        begin_write()  # the work reads then writes: under the write lock from its start (SQLite)
        answer = work()
    except Exception:
        idempotency.release(caller.client_id, key)
        raise
    idempotency.remember(caller.client_id, key, answer)
    db.session.commit()
    return _answer(answer)


def _answer(answer: idempotency.Answer) -> Response:
    return Response(json.dumps(answer.body), status=answer.status, mimetype="application/json")


# --- Sales lines and credit notes -------------------------------------------------------------------------------------


def _text(description: str, required: bool = False, longest: int = 200) -> fields.String:
    if required:
        return fields.String(
            required=True, validate=validate.Length(min=1, max=longest), metadata={"description": description}
        )
    return fields.String(load_default="", validate=validate.Length(max=longest), metadata={"description": description})


class SalesLineSchema(Schema):
    dealer_code = _text("The dealer's code in the portal.", required=True, longest=64)
    date = _text("The invoice date: 2026-10-05 (an ERP's time after it is ignored).", required=True, longest=40)
    amount = _text(
        "In the currency's units with a decimal point, as text: '1234.50'. Negative for a credit note.",
        required=True,
        longest=40,
    )
    units = _text("Whole units, as text; may be empty.", longest=20)
    product_line = _text("The product line's name or code; may be empty.", longest=120)
    invoice_ref = _text("The invoice's (or credit note's) number; unique per dealer.", required=True, longest=120)
    line_no = _text("The line of the invoice, for invoices of several lines; may be empty.", longest=20)
    original_invoice_ref = _text("A credit note's original invoice; empty for a sale.", longest=120)
    sku = _text(
        "The product's SKU in the catalogue; may be empty (the line is then not checked against a floor).", longest=40
    )
    unit_price = _text("The price of one unit, as text like the amount; may be empty.", longest=40)
    ship_to_region = _text(
        "Where the goods were shipped: a GB/T 2260 region code ('440305') or a full region name; may be empty.",
        longest=60,
    )


class SalesBatchSchema(Schema):
    lines = fields.List(fields.Nested(SalesLineSchema), required=True, validate=validate.Length(min=1, max=MAX_LINES))
    conflicts = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["keep", "replace"]),
        metadata={"description": "Invoices sent again with other values: keep the booked ones or replace them."},
    )


class LineErrorSchema(Schema):
    index = fields.Integer(required=True, metadata={"description": "The line's place in `lines`, from 0."})
    field = fields.String(required=True)
    message = fields.String(required=True)
    found = fields.String(required=True, metadata={"description": "The value as sent, cut to 80 characters."})


class ConflictSchema(Schema):
    index = fields.Integer(required=True)
    dealer_code = fields.String(required=True)
    invoice_ref = fields.String(required=True)
    line_no = fields.String(required=True)
    booked_amount = fields.Integer(required=True, metadata={"description": "In minor units (fen)."})
    sent_amount = fields.Integer(required=True)
    booked_product = fields.Nested(
        "ProductFactsSchema",
        allow_none=True,
        metadata={"description": "The booked SKU, unit price and region, when the line sent says others."},
    )
    sent_product = fields.Nested("ProductFactsSchema", allow_none=True)


class ProductFactsSchema(Schema):
    sku = fields.String(allow_none=True)
    unit_price = fields.Integer(allow_none=True, metadata={"description": "In minor units (fen)."})
    ship_to_region = fields.String(allow_none=True)


def _product_facts(conflict: list[Any]) -> dict[str, dict[str, Any] | None]:
    facts = conflict[C_PRODUCT] if len(conflict) > C_PRODUCT else None
    if not facts:
        return {"booked_product": None, "sent_product": None}
    names = ("sku", "unit_price", "ship_to_region")
    return {
        "booked_product": dict(zip(names, facts[:3], strict=True)),
        "sent_product": dict(zip(names, facts[3:], strict=True)),
    }


class DealerTotalSchema(Schema):
    dealer_code = fields.String(required=True)
    currency = fields.String(required=True)
    lines = fields.Integer(required=True)
    new_sales = fields.Integer(required=True)
    new_amount = fields.Integer(required=True, metadata={"description": "In minor units (fen)."})
    already_imported = fields.Integer(required=True)
    returns = fields.Integer(required=True)
    returns_amount = fields.Integer(required=True)


class SalesBatchResultSchema(Schema):
    import_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["imported", "rejected", "conflicts"]})
    lines = fields.Integer(required=True)
    imported = fields.Integer(required=True)
    already_imported = fields.Integer(required=True)
    late = fields.Integer(required=True, metadata={"description": "Dated in a closed period: booked in the open one."})
    error_count = fields.Integer(required=True)
    errors = fields.List(fields.Nested(LineErrorSchema), required=True)
    conflicts = fields.List(fields.Nested(ConflictSchema), required=True)
    totals = fields.List(fields.Nested(DealerTotalSchema), required=True)


def _index(file_line: Any) -> int:
    return int(file_line) - HEADER_LINES - 1 if isinstance(file_line, int) else -1


def batch_answer(batch: SalesImport) -> idempotency.Answer:
    """What the push answers: 201 imported; 422 refused with every line's errors; 409 conflicts to decide."""
    if batch.status is ImportStatus.IMPORTED:
        status, state = 201, "imported"
    elif batch.conflicts and batch.status is ImportStatus.CANCELLED:
        status, state = 409, "conflicts"
    elif batch.status is ImportStatus.REJECTED:
        status, state = 422, "rejected"
    else:  # failed on the portal's side: the key is freed, so the same request may be sent again
        raise ApiProblem(503, "import-failed", f"Import {batch.id} failed on the portal's side; send it again.")
    body = {
        "import_id": batch.id,
        "status": state,
        "lines": batch.total_rows,
        "imported": batch.imported_rows,
        "already_imported": batch.duplicate_rows,
        "late": batch.late_rows,
        "error_count": batch.error_count,
        "errors": [
            {
                "index": _index(error[0]),
                "field": error[1] or "",
                "message": error[2],
                "found": error[3] if len(error) > 3 else "",
            }
            for error in batch.errors
        ],
        "conflicts": [
            {
                "index": _index(conflict[C_LINE]),
                "dealer_code": conflict[C_CODE],
                "invoice_ref": conflict[C_INVOICE],
                "line_no": str(conflict[C_LINE_NO] or ""),
                "booked_amount": conflict[C_OLD_AMOUNT],
                "sent_amount": conflict[C_NEW_AMOUNT],
                **_product_facts(conflict),
            }
            for conflict in batch.conflicts
        ],
        "totals": [
            {
                "dealer_code": row[0],
                "currency": row[1],
                "lines": row[2 + LINES],
                "new_sales": row[2 + NEW_SALES],
                "new_amount": row[2 + NEW_AMOUNT],
                "already_imported": row[2 + ALREADY],
                "returns": row[2 + RETURNS],
                "returns_amount": row[2 + RETURNS_AMOUNT],
            }
            for row in batch.dealer_totals
        ],
    }
    return idempotency.Answer(status, body)


@blp.route("/sales-batches", methods=["POST"])
@blp.arguments(SalesBatchSchema)
@blp.response(201, SalesBatchResultSchema, description="Imported.")
@blp.doc(
    parameters=[{"in": "header", "name": name, **spec} for name, spec in KEY_HEADER.items()],
    responses={
        "409": report_or_problem("Invoices sent again with other values (the report), or the key is in use."),
        "422": report_or_problem("Refused, nothing imported: each line's errors (the report), or a malformed body."),
    },
)
@public
def push_sales(batch: dict[str, Any]) -> Response:
    """Sales lines and credit notes, up to 10,000 a batch, checked by the same rules as a file import (one code
    path) and imported only when every line is clean. An invoice already imported with the same values is skipped;
    with other values it is a conflict, decided by sending again with `conflicts`. Needs sales:write."""
    caller = caller_with(Scope.SALES_WRITE)
    lines = [{name: line[name] for name in FIELDS} for line in batch["lines"]]

    def import_batch() -> idempotency.Answer:
        answer = batch_answer(import_sales_lines(acting_user(caller), lines, conflicts=batch["conflicts"]))
        begin_write()  # the import committed as it went; the answer is kept under the write lock (SQLite)
        return answer

    return idempotent(caller, "sales-batch", import_batch)


# --- Payments ---------------------------------------------------------------------------------------------------------


class StatementRefSchema(Schema):
    dealer_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    period = fields.String(required=True, validate=validate.Length(min=1, max=20))


class PaymentSchema(Schema):
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={"description": "The bank transfer's reference, shown to the dealer."},
    )
    claim_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=LARGEST_ID)),
        load_default=list,
        validate=validate.Length(max=1000),
    )
    statements = fields.List(fields.Nested(StatementRefSchema), load_default=list, validate=validate.Length(max=1000))


class PaymentResultSchema(Schema):
    reference = fields.String(required=True)
    claims_paid = fields.Integer(required=True)
    statements_paid = fields.Integer(required=True)


def _statement_ids(refs: list[dict[str, str]]) -> list[int]:
    """The statements named by dealer code and period, found in one query; the first one missing is refused."""
    wanted = {(ref["dealer_code"], ref["period"]) for ref in refs}
    found = {
        (dealer_code, period_code): statement_id
        for statement_id, dealer_code, period_code in db.session.execute(
            select(RebateStatement.id, Dealer.code, Period.code)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .join(Period, Period.id == RebateStatement.period_id)
            .where(Dealer.code.in_({code for code, _ in wanted}), Period.code.in_({period for _, period in wanted}))
        ).all()
    }
    for place, ref in enumerate(refs):
        if (ref["dealer_code"], ref["period"]) not in found:
            raise invalid_field(f"statements.{place}", "No statement of this dealer and period.")
    return [found[(ref["dealer_code"], ref["period"])] for ref in refs]


@blp.route("/payments", methods=["POST"])
@blp.arguments(PaymentSchema)
@blp.response(201, PaymentResultSchema)
@blp.doc(parameters=[{"in": "header", "name": name, **spec} for name, spec in KEY_HEADER.items()])
@public
def push_payment(payment: dict[str, Any]) -> Response:
    """Payments the ERP made: approved claims paid and final rebate statements paid, with the transfer's reference.
    All of them or none: one already paid, not approved or not final refuses the whole payment (409). Each dealer
    is told, and each statement's payment is booked on the dealer's account. Needs payments:write."""
    caller = caller_with(Scope.PAYMENTS_WRITE)
    if not payment["claim_ids"] and not payment["statements"]:
        raise invalid_field("claim_ids", "Name at least one claim or statement.")

    def pay() -> idempotency.Answer:
        actor = acting_user(caller)
        statement_ids = _statement_ids(payment["statements"])
        claims_paid = pay_claims(actor, payment["claim_ids"], payment["reference"]) if payment["claim_ids"] else 0
        statements_paid = mark_paid(actor, statement_ids, payment["reference"]) if statement_ids else 0
        body = {"reference": payment["reference"], "claims_paid": claims_paid, "statements_paid": statements_paid}
        return idempotency.Answer(201, body)

    return idempotent(caller, "payment", pay)


# --- Dealers ----------------------------------------------------------------------------------------------------------


class TierChangeSchema(Schema):
    tier = fields.String(required=True, validate=validate.OneOf([tier.value for tier in DealerTier]))
    effective_from = fields.Date(
        required=True, metadata={"description": "The next period's first day, or the first day of an open period."}
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class PayeeInSchema(Schema):
    name = fields.String(load_default="", validate=validate.Length(max=200))
    bank = fields.String(load_default="", validate=validate.Length(max=200))
    account = fields.String(load_default="", validate=validate.Length(max=64))


class ContactSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(load_default="", validate=validate.Length(max=200))
    phone = fields.String(load_default="", validate=validate.Length(max=40))
    email = fields.String(load_default="", validate=validate.Length(max=200))


class DealerPutSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    territory = fields.String(required=True, validate=validate.Length(min=1, max=16), metadata={"description": "Code."})
    status = fields.String(required=True, validate=validate.OneOf([status.value for status in DealerStatus]))
    status_reason = fields.String(
        load_default="", validate=validate.Length(max=300), metadata={"description": "Needed when the status changes."}
    )
    currency = fields.String(load_default="CNY", validate=validate.Regexp(r"^[A-Za-z]{3}$"))
    tier = fields.String(
        load_default=DealerTier.BRONZE.value,
        validate=validate.OneOf([tier.value for tier in DealerTier]),
        metadata={"description": "The tier a new dealer joins with; an existing dealer's changes by tier_change."},
    )
    tier_change = fields.Nested(TierChangeSchema, load_default=None, allow_none=True)
    manager_email = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=254), metadata={"description": "Left as is."}
    )
    payee = fields.Nested(PayeeInSchema, load_default=None, allow_none=True)
    contacts = fields.List(
        fields.Nested(ContactSchema),
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=20),
        metadata={"description": "The dealer's contact people, replacing those kept; absent: left as they are."},
    )


class DealerOutSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    territory = fields.String(required=True)
    status = fields.String(required=True)
    tier = fields.String(required=True)
    currency = fields.String(required=True)
    created = fields.Boolean(required=True)
    changes = fields.List(fields.String(), required=True)


@blp.route("/dealers/<string:code>", methods=["PUT"])
@blp.arguments(DealerPutSchema)
@blp.response(200, DealerOutSchema, description="Updated (or already as sent: `changes` is empty).")
@blp.alt_response(201, schema=DealerOutSchema, description="Created.")
@public
def put_dealer(record: dict[str, Any], code: str) -> tuple[dict[str, Any], int]:
    """A dealer of the ERP's dealer master, by its code: created when new, else brought to what is sent (profile,
    payee, contacts, manager, status with its reason, a tier from a day on), each change through the rules of the
    admin's pages, with their audit and notices. Sending the same record again changes nothing. Needs
    dealers:write."""
    caller = caller_with(Scope.DEALERS_WRITE)
    if not DEALER_CODE.fullmatch(code):
        raise invalid_field("code", "A dealer code has 1 to 16 letters, digits, - and _.")
    payee = record["payee"] or {"name": "", "bank": "", "account": ""}
    change = record["tier_change"]
    wanted = DealerRecord(
        name=record["name"],
        territory_code=record["territory"],
        status=DealerStatus(record["status"]),
        status_reason=record["status_reason"],
        currency=record["currency"],
        tier=DealerTier(record["tier"]),
        tier_change=TierChange(DealerTier(change["tier"]), change["effective_from"], change["reason"])
        if change
        else None,
        manager_email=record["manager_email"],
        payee_name=payee["name"],
        payee_bank=payee["bank"],
        payee_account=payee["account"],
        contacts=record["contacts"],
    )
    result = None
    for attempt in (1, 2):
        begin_write()  # SQLite: the checks and the writes under one write lock, never a read upgraded half-way
        try:
            result = upsert_dealer(acting_user(caller), code, wanted)
            db.session.commit()
            break
        except (IntegrityError, InvalidInput) as refused:
            # The same new code put twice at once (PostgreSQL): the other request created it between this one's
            # look and its insert. Put again, now as an update; any other refusal is the record's own.
            db.session.rollback()
            if attempt == 2 or (isinstance(refused, InvalidInput) and refused.field != "code"):
                raise
    assert result is not None
    dealer = result.dealer
    body = {
        "code": dealer.code,
        "name": dealer.name,
        "territory": dealer.territory.code,
        "status": dealer.status.value,
        "tier": dealer.tier.value,
        "currency": dealer.currency,
        "created": result.created,
        "changes": result.changes,
    }
    return body, 201 if result.created else 200


# --- Targets ----------------------------------------------------------------------------------------------------------


class TargetPutSchema(Schema):
    amount = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "In the currency's units with a decimal point, as text: '1200000.00'."},
    )
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=500),
        metadata={"description": "Needed once the period started: the change then waits for a senior manager."},
    )


class TargetOutSchema(Schema):
    dealer_code = fields.String(required=True)
    period = fields.String(required=True)
    outcome = fields.String(required=True, metadata={"enum": ["set", "asked", "unchanged", "already_asked"]})
    amount = fields.Integer(required=True, metadata={"description": "In minor units (fen)."})
    current = fields.Integer(allow_none=True, required=True, metadata={"description": "The target in force."})


@blp.route("/targets/<string:period>/<string:dealer_code>", methods=["PUT"])
@blp.arguments(TargetPutSchema)
@blp.response(200, TargetOutSchema, description="Set, or already so.")
@blp.alt_response(202, schema=TargetOutSchema, description="The period started: asked, a senior manager decides.")
@public
def put_target_of(target: dict[str, Any], period: str, dealer_code: str) -> tuple[dict[str, Any], int]:
    """A dealer's sales target of a period, through the pages' governance: set while the period has not started;
    from its first day a change with its reason waits for a senior manager (202), as a manager's change on the
    pages does. A closed period's targets are frozen (409). The same value again changes nothing. Needs
    targets:write."""
    caller = caller_with(Scope.TARGETS_WRITE)
    begin_write()  # SQLite: the checks and the writes under one write lock
    result = put_target(acting_user(caller), dealer_code, period, target["amount"], target["reason"])
    db.session.commit()
    body = {
        "dealer_code": result.dealer.code,
        "period": result.period.code,
        "outcome": result.outcome,
        "amount": result.amount,
        "current": result.current,
    }
    return body, 202 if result.outcome in ("asked", "already_asked") else 200
