"""What the ERP pushes through the API: sales lines and credit notes imported by the file import's own code, with
idempotency keys (a retry answers the first answer, another body with the key is refused, copies sent at once
import once), and payments of claims and statements as the client's own identity in the audit trail."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.api import clients
from portal.api.models import IdempotencyKey, IntegrationClient
from portal.audit.models import AuditEvent
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.jobs import huey_of
from portal.rebates import ledger
from portal.rebates.models import LedgerEntry, LedgerKind, RebateStatement, SalesImport, SalesLine
from portal.rebates.rules import StatementStatus
from tests.factories import Channel, RebateRecords, examples, make_world, user
from tests.helpers import (
    BACKENDS,
    build_app,
    csrf_token_on,
    dispose_app,
    example_savepoint,
    logged_in_client,
    migrated_database_url,
)
from tests.threads import run_together

PROBLEM = "application/problem+json"
_keys = iter(range(1, 10**9))


def _client(app: Flask, channel: Channel, *scopes: str) -> tuple[int, str]:
    with app.app_context():
        made, token = clients.create_client(user(channel, "admin"), f"ERP {next(_keys)}", list(scopes), [])
        db.session.commit()
        return made.id, token


def _post(http: FlaskClient, path: str, token: str, body: Any, key: str | None = "auto") -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = f"key-{next(_keys)}" if key == "auto" else key
    return http.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def _today() -> str:
    """The company's day (the tests' apps keep the default time zone, Asia/Shanghai), outside an app context."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def _line(dealer: str, invoice: str, amount: str, day: str | None = None, **more: str) -> dict[str, str]:
    return {
        "dealer_code": dealer,
        "date": day or _today(),
        "amount": amount,
        "invoice_ref": invoice,
        **more,
    }


def _fen(amount: str) -> int:
    """Yuan as the ERP writes them, in fen, computed here by hand."""
    return int(Decimal(amount) * 100)


def _lines_of(app: Flask, invoices: list[str]) -> list[tuple[str, int]]:
    with app.app_context():
        return sorted(
            db.session.execute(
                select(SalesLine.invoice_ref, SalesLine.amount).where(SalesLine.invoice_ref.in_(invoices))
            ).all()
        )


def test_a_nightly_push_imports_sales_and_credit_notes_and_answers_totals(app: Flask, channel: Channel) -> None:
    client_id, token = _client(app, channel, "sales:write")
    today = date.fromisoformat(_today())
    lines = [
        _line(channel.own_dealer, "FP-9001", "1234.50", today.strftime("%Y/%m/%d"), units="3", product_line="Pumps"),
        _line(channel.own_dealer, "FP-9002", "99.99", f"{today.isoformat()} 00:00:00"),
        _line(channel.second_dealer, "FP-9003", "2000", f"{today.year}年{today.month}月{today.day}日"),
        _line(channel.own_dealer, "CN-9001", "-200.50", original_invoice_ref="FP-9001"),
    ]
    response = _post(app.test_client(), "/api/v1/sales-batches", token, {"lines": lines})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "imported" and body["lines"] == 4 and body["imported"] == 4 and body["errors"] == []
    by_dealer = {total["dealer_code"]: total for total in body["totals"]}
    assert by_dealer[channel.own_dealer]["new_amount"] == _fen("1234.50") + _fen("99.99")
    assert by_dealer[channel.own_dealer]["returns_amount"] == _fen("-200.50")
    assert by_dealer[channel.second_dealer]["new_amount"] == _fen("2000")
    assert _lines_of(app, ["FP-9001", "FP-9002", "FP-9003", "CN-9001"]) == sorted(
        [("FP-9001", 123450), ("FP-9002", 9999), ("FP-9003", 200000), ("CN-9001", -20050)]
    )
    with app.app_context():
        client = db.session.get(IntegrationClient, client_id)
        assert client is not None
        uploader = db.session.get(User, db.session.get(SalesImport, body["import_id"]).uploaded_by_id)  # type: ignore[union-attr]
        assert uploader is not None and uploader.id == client.user_id and uploader.name.endswith("(API)")
        actions = (
            db.session.execute(
                select(AuditEvent.action).where(AuditEvent.actor_id == client.user_id).order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
        assert "sales_import.uploaded" in actions and "sales_import.confirmed" in actions


def test_pushed_lines_carry_their_sku_price_and_region_to_the_referee(app: Flask, channel: Channel) -> None:
    """The optional columns of the file import: a region by code or by full name, a price with a thousands comma;
    an unreadable region refuses the batch and names the line."""
    _client_id, token = _client(app, channel, "sales:write")
    lines = [
        _line(channel.own_dealer, "FP-9601", "9,000.00", sku="ac-1200", unit_price="4,500.00", ship_to_region="440305"),
        _line(channel.own_dealer, "FP-9602", "5000", units="1", ship_to_region="广东省深圳市南山区"),
    ]
    response = _post(app.test_client(), "/api/v1/sales-batches", token, {"lines": lines})
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        stored = db.session.execute(
            select(SalesLine.invoice_ref, SalesLine.sku, SalesLine.unit_price, SalesLine.ship_to_region)
            .where(SalesLine.invoice_ref.in_(["FP-9601", "FP-9602"]))
            .order_by(SalesLine.invoice_ref)
        ).all()
    assert [tuple(row) for row in stored] == [
        ("FP-9601", "AC-1200", _fen("4500.00"), "440305"),
        ("FP-9602", None, None, "440305"),
    ]
    assert "detect_suspicions" in [task.name for task in huey_of(app).pending()]
    refused = _post(
        app.test_client(),
        "/api/v1/sales-batches",
        token,
        {"lines": [_line(channel.own_dealer, "FP-9603", "10", ship_to_region="朝阳区")]},
    )
    assert refused.status_code == 422
    assert [(error["index"], error["field"]) for error in refused.get_json()["errors"]] == [(0, "ship_to_region")]


def test_the_same_key_and_body_answer_again_without_a_second_import(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "sales:write")
    http = app.test_client()
    body = {"lines": [_line(channel.own_dealer, "FP-9101", "10.00")]}
    first = _post(http, "/api/v1/sales-batches", token, body, key="nightly-2026-12-06")
    again = _post(http, "/api/v1/sales-batches", token, body, key="nightly-2026-12-06")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert (
            db.session.execute(
                select(func.count())
                .select_from(SalesImport)
                .where(SalesImport.uploaded_by_id.in_(select(IntegrationClient.user_id)))
            ).scalar_one()
            == 1
        )
    other = _post(
        http,
        "/api/v1/sales-batches",
        token,
        {"lines": [_line(channel.own_dealer, "FP-9102", "10.00")]},
        key="nightly-2026-12-06",
    )
    assert other.status_code == 422 and other.get_json()["type"] == "urn:dealer-portal:problem:idempotency-key-reused"
    assert _lines_of(app, ["FP-9102"]) == []


@pytest.mark.parametrize("key", [None, "", "k" * 201])
def test_a_push_without_a_usable_key_is_refused(app: Flask, channel: Channel, key: str | None) -> None:
    _id, token = _client(app, channel, "sales:write")
    response = _post(
        app.test_client(),
        "/api/v1/sales-batches",
        token,
        {"lines": [_line(channel.own_dealer, "FP-9201", "1")]},
        key=key,
    )
    assert (
        response.status_code == 400
        and response.get_json()["type"] == "urn:dealer-portal:problem:idempotency-key-missing"
    )
    assert _lines_of(app, ["FP-9201"]) == []


def test_a_batch_with_bad_lines_imports_nothing_and_names_each_line(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "sales:write")
    lines = [
        _line(channel.own_dealer, "FP-9301", "10.00"),
        _line("NO-SUCH", "FP-9302", "10.00"),
        _line(channel.own_dealer, "FP-9303", "ten"),
        _line(channel.own_dealer, "FP-9304", "10.00", "2026-02-30"),
    ]
    response = _post(app.test_client(), "/api/v1/sales-batches", token, {"lines": lines})
    assert response.status_code == 422
    body = response.get_json()
    assert body["status"] == "rejected" and body["imported"] == 0
    assert sorted({error["index"] for error in body["errors"]}) == [1, 2, 3]
    assert {error["field"] for error in body["errors"]} >= {"dealer_code", "amount", "date"}
    assert _lines_of(app, ["FP-9301", "FP-9302", "FP-9303", "FP-9304"]) == []


def test_an_erp_correcting_only_where_goods_were_shipped_gets_a_conflict_naming_both_regions(
    app: Flask, channel: Channel
) -> None:
    _id, token = _client(app, channel, "sales:write")
    http = app.test_client()
    first = {"lines": [_line(channel.own_dealer, "FP-9451", "100.00", sku="AC-1200", ship_to_region="440305")]}
    assert _post(http, "/api/v1/sales-batches", token, first).status_code == 201
    moved = {"lines": [_line(channel.own_dealer, "FP-9451", "100.00", sku="AC-1200", ship_to_region="110105")]}
    conflict = _post(http, "/api/v1/sales-batches", token, moved)
    assert conflict.status_code == 409
    [found] = conflict.get_json()["conflicts"]
    assert (found["booked_amount"], found["sent_amount"]) == (10_000, 10_000)
    assert found["booked_product"] == {"sku": "AC-1200", "unit_price": None, "ship_to_region": "440305"}
    assert found["sent_product"] == {"sku": "AC-1200", "unit_price": None, "ship_to_region": "110105"}


def test_an_invoice_sent_again_with_another_amount_is_a_conflict_decided_by_the_sender(
    app: Flask, channel: Channel
) -> None:
    _id, token = _client(app, channel, "sales:write")
    http = app.test_client()
    assert (
        _post(
            http, "/api/v1/sales-batches", token, {"lines": [_line(channel.own_dealer, "FP-9401", "100.00")]}
        ).status_code
        == 201
    )
    corrected = {"lines": [_line(channel.own_dealer, "FP-9401", "120.00")]}
    conflict = _post(http, "/api/v1/sales-batches", token, corrected)
    assert conflict.status_code == 409
    found = conflict.get_json()["conflicts"]
    assert found == [
        {
            "index": 0,
            "dealer_code": channel.own_dealer,
            "invoice_ref": "FP-9401",
            "line_no": "",
            "booked_amount": 10000,
            "sent_amount": 12000,
            "booked_product": None,  # the product facts are the same: only the amount differs
            "sent_product": None,
        }
    ]
    assert _lines_of(app, ["FP-9401"]) == [("FP-9401", 10000)]
    replaced = _post(http, "/api/v1/sales-batches", token, {**corrected, "conflicts": "replace"})
    assert replaced.status_code == 201, replaced.get_data(as_text=True)
    with app.app_context():
        counted = db.session.execute(
            select(func.sum(SalesLine.amount)).where(SalesLine.invoice_ref == "FP-9401")
        ).scalar_one()
    assert counted == 12000  # the booked line reversed, the new one counted: 10000 - 10000 + 12000


def test_a_batch_of_more_than_ten_thousand_lines_is_refused_whole(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "sales:write")
    lines = [_line(channel.own_dealer, f"BIG-{number}", "1") for number in range(10_001)]
    response = _post(app.test_client(), "/api/v1/sales-batches", token, {"lines": lines})
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "lines"
    assert _lines_of(app, ["BIG-0"]) == []


@pytest.mark.parametrize("scope", ["statements:read", "claims:read", "payments:write", "events:read"])
def test_pushing_sales_needs_sales_write(app: Flask, channel: Channel, scope: str) -> None:
    _id, token = _client(app, channel, scope)
    response = _post(
        app.test_client(), "/api/v1/sales-batches", token, {"lines": [_line(channel.own_dealer, "FP-9501", "1")]}
    )
    assert response.status_code == 403 and response.get_json()["required_scope"] == "sales:write"
    assert _lines_of(app, ["FP-9501"]) == []


def test_a_signed_in_admins_cookie_pushes_nothing_with_or_without_a_csrf_token(app: Flask, channel: Channel) -> None:
    admin = logged_in_client(app, channel.emails["admin"])
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        token = csrf_token_on(admin, "/admin/integrations")
        for headers in ({}, {"X-CSRFToken": token or ""}):
            response = admin.post(
                "/api/v1/payments",
                data=json.dumps({"reference": "T", "claim_ids": [1]}),
                content_type="application/json",
                headers={"Idempotency-Key": "cookie", **headers},
            )
            assert response.status_code == 401 and response.mimetype == PROBLEM
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(IdempotencyKey)).scalar_one() == 0


def test_a_sales_client_reads_no_claims(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "sales:write")
    assert app.test_client().get("/api/v1/claims", headers={"Authorization": f"Bearer {token}"}).status_code == 403


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_the_same_key_sent_five_times_at_once_imports_one_batch(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(migrated_database_url(backend_name, "api_races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)
    with app.app_context():
        world = make_world()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        _made, token = clients.create_client(admin, "Racing ERP", ["sales:write"], [])
        db.session.commit()
        dealer = world.own_dealer
    body = {"lines": [_line(dealer, f"RACE-{number}", "10.00") for number in range(50)]}

    def push(wait: Any) -> tuple[int, bool]:
        http = app.test_client()
        wait()
        response = _post(http, "/api/v1/sales-batches", token, body, key="the-same-key")
        return response.status_code, response.headers.get("Idempotent-Replayed") == "true"

    results = run_together([push] * 5)
    with app.app_context():
        imports = db.session.execute(
            select(func.count()).select_from(SalesImport).where(SalesImport.filename.like("api-%"))
        ).scalar_one()
        lines = db.session.execute(
            select(func.count(), func.sum(SalesLine.amount)).where(SalesLine.invoice_ref.like("RACE-%"))
        ).one()
    dispose_app(app)
    assert imports == 1 and tuple(lines) == (50, 50 * 1000)
    assert sorted(status for status, _replayed in results).count(201) >= 1
    assert all(status in (201, 409) for status, _replayed in results), results
    assert sum(1 for status, replayed in results if status == 201 and not replayed) == 1


# --- Payments ---------------------------------------------------------------------------------------------------------


def _approved_claims(app: Flask) -> list[tuple[int, int]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(Claim.id, Claim.amount_approved)
                .where(Claim.status.in_((ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)))
                .order_by(Claim.id)
            ).all()
        ]


@pytest.mark.usefixtures("claim_records")
def test_the_erp_confirms_claims_paid_as_itself_in_the_audit_trail(app: Flask, channel: Channel) -> None:
    client_id, token = _client(app, channel, "payments:write", "claims:read")
    approved = _approved_claims(app)
    assert approved
    http = app.test_client()
    response = _post(
        http,
        "/api/v1/payments",
        token,
        {"reference": "TRF-2026-12-06-01", "claim_ids": [claim_id for claim_id, _ in approved]},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json() == {"reference": "TRF-2026-12-06-01", "claims_paid": len(approved), "statements_paid": 0}
    with app.app_context():
        client = db.session.get(IntegrationClient, client_id)
        assert client is not None
        for claim_id, _amount in approved:
            claim = db.session.get(Claim, claim_id)
            assert (
                claim is not None
                and claim.status is ClaimStatus.PAID
                and claim.payment_reference == "TRF-2026-12-06-01"
            )
        paid_by = db.session.execute(
            select(User.name)
            .join(AuditEvent, AuditEvent.actor_id == User.id)
            .where(AuditEvent.subject_type == "claim", AuditEvent.subject_id == approved[0][0])
            .order_by(AuditEvent.id.desc())
            .limit(1)
        ).scalar_one()
    assert paid_by == f"{client.name} (API)"
    paid = http.get("/api/v1/claims?state=paid", headers={"Authorization": f"Bearer {token}"}).get_json()["items"]
    assert {item["id"] for item in paid} >= {claim_id for claim_id, _ in approved}
    twice = _post(http, "/api/v1/payments", token, {"reference": "TRF-2", "claim_ids": [approved[0][0]]})
    assert twice.status_code == 409 and twice.mimetype == PROBLEM
    with app.app_context():
        claim = db.session.get(Claim, approved[0][0])
        assert claim is not None and claim.payment_reference == "TRF-2026-12-06-01"


def test_the_erp_pays_a_final_statement_and_the_ledger_books_what_was_due(
    app: Flask, channel: Channel, rebate_records: RebateRecords
) -> None:
    _id, token = _client(app, channel, "payments:write")
    with app.app_context():
        statement = db.session.get(RebateStatement, rebate_records.own_final_statement)
        assert statement is not None and statement.status is StatementStatus.FINAL
        dealer_code = db.session.get(Dealer, statement.dealer_id).code  # type: ignore[union-attr]
        period_code = db.session.get(Period, statement.period_id).code  # type: ignore[union-attr]
        # Due, by hand: every entry of the dealer for the period, before the payment.
        due = sum(
            db.session.execute(
                select(LedgerEntry.amount).where(
                    LedgerEntry.dealer_id == statement.dealer_id, LedgerEntry.period_id == statement.period_id
                )
            ).scalars()
        )
        assert due == ledger.amounts_due(statement.period, [statement.dealer_id]).get(statement.dealer_id, 0)
    body = {"reference": "TRF-R-1", "statements": [{"dealer_code": dealer_code, "period": period_code}]}
    response = _post(app.test_client(), "/api/v1/payments", token, body)
    if due <= 0:
        assert response.status_code == 409
        return
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        statement = db.session.get(RebateStatement, rebate_records.own_final_statement)
        assert statement is not None and statement.status is StatementStatus.PAID and statement.paid_amount == due
        payment = db.session.execute(
            select(LedgerEntry).where(
                LedgerEntry.dealer_id == statement.dealer_id, LedgerEntry.kind == LedgerKind.PAYMENT
            )
        ).scalar_one()
        assert payment.amount == -due


@pytest.mark.parametrize(
    "body",
    [
        {"reference": "T"},
        {"reference": "", "claim_ids": [1]},
        {"reference": "T", "statements": [{"dealer_code": "NOPE", "period": "2026-Q1"}]},
        {"reference": "T", "claim_ids": ["x"]},
        {"claim_ids": [1]},
    ],
)
def test_payment_bodies_that_cannot_be_right_are_problems(app: Flask, channel: Channel, body: dict[str, Any]) -> None:
    _id, token = _client(app, channel, "payments:write")
    response = _post(app.test_client(), "/api/v1/payments", token, body)
    assert response.status_code == 422 and response.mimetype == PROBLEM and response.get_json()["errors"]


def test_a_claim_not_approved_refuses_the_whole_payment(app: Flask, channel: Channel, claim_records: Any) -> None:
    _id, token = _client(app, channel, "payments:write")
    approved = _approved_claims(app)
    with app.app_context():
        draft = db.session.execute(select(Claim.id).where(Claim.status == ClaimStatus.DRAFT).limit(1)).scalar_one()
    response = _post(
        app.test_client(), "/api/v1/payments", token, {"reference": "T-3", "claim_ids": [approved[0][0], draft]}
    )
    assert response.status_code == 409
    assert _approved_claims(app) == approved
    with app.app_context():
        assert (
            db.session.execute(
                select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.status_code.is_(None))
            ).scalar_one()
            == 0
        )


# --- Any body ---------------------------------------------------------------------------------------------------------

cell = st.one_of(
    st.text(max_size=12), st.sampled_from(["1,234.50", "¥10", "１２", "-5", "2026-02-30", "", "\x00", "1e9"])
)


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"dealer_code": st.one_of(st.just("D001"), cell), "date": cell, "amount": cell, "invoice_ref": cell},
            optional={"units": cell, "original_invoice_ref": cell, "line_no": st.one_of(cell, st.integers())},
        ),
        max_size=5,
    ),
    conflicts=st.one_of(st.none(), st.sampled_from(["keep", "replace", "maybe"])),
)
def test_any_sales_body_gets_an_answer_and_imports_all_or_nothing(
    app: Flask, db_connection: sa.Connection, channel: Channel, rows: list[dict[str, Any]], conflicts: str | None
) -> None:
    with example_savepoint(db_connection):
        _id, token = _client(app, channel, "sales:write")
        with app.app_context():
            before = db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one()
        response = _post(app.test_client(), "/api/v1/sales-batches", token, {"lines": rows, "conflicts": conflicts})
        assert response.status_code in (201, 409, 422), response.get_data(as_text=True)
        with app.app_context():
            after = db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one()
            keys = db.session.execute(
                select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.status_code.is_(None))
            ).scalar_one()
        assert keys == 0
        if response.status_code == 201:
            body = response.get_json()
            replaced = len(body["conflicts"]) if conflicts == "replace" else 0  # a reversal and the new line each
            assert after - before == body["imported"] + replaced
        else:
            assert after == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/payments", {"reference": "T", "statements": [{"dealer_code": "D001", "period": "\x00"}]}),
        (
            "/api/v1/sales-batches",
            {"lines": [{"dealer_code": "D\x00", "date": "2026-12-01", "amount": "1", "invoice_ref": "x"}]},
        ),
    ],
)
def test_text_with_a_nul_character_is_refused_before_anything_is_read(
    app: Flask, channel: Channel, path: str, body: dict[str, Any]
) -> None:
    _id, token = _client(app, channel, "payments:write", "sales:write")
    response = _post(app.test_client(), path, token, body)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["detail"] == "Text may not contain the NUL character."
