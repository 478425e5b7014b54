"""The integration API's door: tokens of integration clients only (hashed, rotated with an overlap, revoked, tied
to address ranges), scopes, problem details, cursor paging, ETags, the OpenAPI description; session cookies open
nothing here and tokens open no page."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.api import clients
from portal.api.models import ApiToken, IntegrationClient
from portal.api.rules import Scope, token_hash
from portal.audit.models import AuditEvent
from portal.claims.models import Claim
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.rebates.models import RebateStatement
from portal.rebates.rules import StatementStatus
from portal.service_errors import Forbidden, InvalidInput
from portal.types import utcnow
from tests.factories import Channel, RebateRecords, examples, user
from tests.helpers import count_queries, example_savepoint, logged_in_client

PROBLEM = "application/problem+json"
PAYEE = {"name": "Eastern Star Trading", "bank": "ICBC Shanghai", "account": "6222 0001"}


def _client(app: Flask, channel: Channel, *scopes: str, networks: tuple[str, ...] = ()) -> tuple[int, str]:
    with app.app_context():
        made, token = clients.create_client(
            user(channel, "admin"), f"ERP {len(scopes)} {scopes}", list(scopes), list(networks)
        )
        db.session.commit()
        return made.id, token


def _get(client: FlaskClient, path: str, token: str | None, **headers: str) -> object:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


def test_a_client_sees_itself_with_its_token(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "statements:read", "claims:read")
    response = _get(app.test_client(), "/api/v1/me", token)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {
        "client": "ERP 2 ('statements:read', 'claims:read')",
        "scopes": ["claims:read", "statements:read"],
    }
    assert "Access-Control-Allow-Origin" not in response.headers  # no CORS: no page elsewhere may call it


def test_the_token_is_stored_only_as_its_hash_and_creation_is_audited(app: Flask, channel: Channel) -> None:
    client_id, token = _client(app, channel, "statements:read")
    with app.app_context():
        stored = db.session.execute(select(ApiToken).where(ApiToken.client_id == client_id)).scalar_one()
        assert stored.token_hash == token_hash(token) and token not in stored.token_hash
        assert stored.shown_start == token[:8] and token.startswith("dpp_") and len(token) > 40
        audited = db.session.execute(
            select(AuditEvent).where(
                AuditEvent.action == "integration_client.created", AuditEvent.subject_id == client_id
            )
        ).scalar_one()
        assert token not in json.dumps(audited.details)


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer dpp_not-a-token", "Bearer " + "x" * 5000, "bearer \x7f"],
)
def test_without_a_valid_token_the_answer_is_401_as_a_problem(app: Flask, authorization: str) -> None:
    response = app.test_client().get("/api/v1/me", headers={"Authorization": authorization} if authorization else {})
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["type"] == "urn:dealer-portal:problem:unauthenticated" and body["status"] == 401


def test_a_session_cookie_opens_nothing_on_the_api_and_a_token_opens_no_page(app: Flask, channel: Channel) -> None:
    admin = logged_in_client(app, channel.emails["admin"])
    assert admin.get("/admin/").status_code == 200
    refused = admin.get("/api/v1/me")
    assert refused.status_code == 401 and refused.mimetype == PROBLEM
    _id, token = _client(app, channel, "statements:read")
    page = app.test_client().get("/admin/", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_no_csrf_token_is_asked_and_unknown_methods_are_problems(app: Flask, channel: Channel) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        _id, token = _client(app, channel, "statements:read")
        posted = app.test_client().post("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert posted.status_code == 405 and posted.mimetype == PROBLEM  # not a CSRF refusal: the API has no forms


def test_a_missing_scope_is_403_naming_it(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "sales:write")
    response = _get(app.test_client(), f"/api/v1/statements?period={channel.previous_period}", token)
    assert response.status_code == 403 and response.mimetype == PROBLEM
    body = response.get_json()
    assert (
        body["type"] == "urn:dealer-portal:problem:insufficient-scope" and body["required_scope"] == "statements:read"
    )


def test_rotation_keeps_the_old_token_for_the_overlap_and_revocation_ends_all(app: Flask, channel: Channel) -> None:
    client_id, old = _client(app, channel, "statements:read")
    with app.app_context():
        client = db.session.get(IntegrationClient, client_id)
        assert client is not None
        new = clients.rotate_token(user(channel, "admin"), client)
        db.session.commit()
    http = app.test_client()
    assert _get(http, "/api/v1/me", old).status_code == 200 and _get(http, "/api/v1/me", new).status_code == 200
    with app.app_context():
        later = utcnow() + clients.ROTATION_OVERLAP + timedelta(seconds=1)
        assert clients.authenticate(old, "127.0.0.1", later) is None
        assert clients.authenticate(new, "127.0.0.1", later) is not None
        client = db.session.get(IntegrationClient, client_id)
        assert client is not None
        clients.revoke_client(user(channel, "admin"), client)
        db.session.commit()
    assert _get(http, "/api/v1/me", new).status_code == 401


def test_an_address_outside_the_clients_ranges_is_refused(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "statements:read", networks=("203.0.113.0/24",))
    http = app.test_client()
    inside = http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    outside = http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert inside.status_code == 200 and outside.status_code == 401


def test_last_use_is_recorded_with_the_address(app: Flask, channel: Channel) -> None:
    client_id, token = _client(app, channel, "statements:read")
    app.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": "192.0.2.4"}
    )
    with app.app_context():
        client = db.session.get(IntegrationClient, client_id)
        assert client is not None and client.last_used_at is not None and client.last_used_from == "192.0.2.4"


def test_only_an_admin_creates_clients_and_input_is_checked(app: Flask, channel: Channel) -> None:
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(IntegrationClient)).scalar_one()
        with pytest.raises(Forbidden):
            clients.create_client(user(channel, "manager"), "ERP", ["statements:read"], [])
        for name, scopes, networks, field in (
            ("", ["statements:read"], [], "name"),
            ("ERP", [], [], "scopes"),
            ("ERP", ["root"], [], "scopes"),
            ("ERP", ["statements:read"], ["not a range"], "networks"),
        ):
            with pytest.raises(InvalidInput) as refused:
                clients.create_client(user(channel, "admin"), name, scopes, networks)
            assert refused.value.field == field
        assert db.session.execute(select(func.count()).select_from(IntegrationClient)).scalar_one() == before


def _final_period(app: Flask, rebate_records: RebateRecords) -> str:
    """The period of the records' final statement of D001."""
    with app.app_context():
        return db.session.execute(
            select(Period.code)
            .join(RebateStatement, RebateStatement.period_id == Period.id)
            .where(RebateStatement.id == rebate_records.own_final_statement)
        ).scalar_one()


def _attainment_by_hand(sales: int, target: int) -> str | None:
    if target <= 0:
        return None
    return str((Decimal(sales) * 100 / Decimal(target)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


@pytest.mark.usefixtures("rebate_records")
def test_final_statements_page_by_cursor_with_the_same_figures_as_stored(
    app: Flask, channel: Channel, rebate_records: RebateRecords
) -> None:
    _id, token = _client(app, channel, "statements:read")
    code = _final_period(app, rebate_records)
    with app.app_context():
        expected = [
            (dealer_code, statement.sales, statement.target, statement.net_payable)
            for statement, dealer_code in db.session.execute(
                select(RebateStatement, Dealer.code)
                .join(Dealer, Dealer.id == RebateStatement.dealer_id)
                .join(Period, Period.id == RebateStatement.period_id)
                .where(
                    Period.code == code,
                    RebateStatement.status.in_((StatementStatus.FINAL, StatementStatus.PAID)),
                )
                .order_by(RebateStatement.id)
            ).all()
        ]
    http = app.test_client()
    seen: list[dict[str, object]] = []
    cursor = ""
    for _page in range(10):
        response = _get(http, f"/api/v1/statements?period={code}&limit=1&cursor={cursor}", token)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert len(body["items"]) <= 1
        seen.extend(body["items"])
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert len(expected) >= 1
    assert [(item["dealer_code"], item["sales"], item["target"], item["net_payable"]) for item in seen] == expected
    for item, (_code, sales, target, _net) in zip(seen, expected, strict=True):
        assert item["attainment_percent"] == _attainment_by_hand(sales, target)


def test_reads_carry_an_etag_and_answer_304_when_unchanged(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "statements:read")
    http = app.test_client()
    first = _get(http, "/api/v1/me", token)
    etag = first.headers["ETag"]
    again = _get(http, "/api/v1/me", token, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""


@pytest.mark.parametrize(
    "query",
    [
        "",
        "period=",
        "period=2026-Q1&limit=0",
        "period=2026-Q1&limit=501",
        "period=2026-Q1&limit=x",
        "period=" + "Q" * 40,
    ],
)
def test_invalid_queries_are_problems_with_the_fields(app: Flask, channel: Channel, query: str) -> None:
    _id, token = _client(app, channel, "statements:read")
    response = _get(app.test_client(), f"/api/v1/statements?{query}", token)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == "urn:dealer-portal:problem:invalid-input" and body["errors"]
    assert all(set(error) == {"field", "message"} for error in body["errors"])


@pytest.mark.parametrize("cursor", ["!!!", "LTE", "eA", "%00"])
def test_a_cursor_not_given_by_the_api_is_a_400(app: Flask, channel: Channel, cursor: str) -> None:
    _id, token = _client(app, channel, "statements:read")
    response = _get(app.test_client(), f"/api/v1/statements?period={channel.previous_period}&cursor={cursor}", token)
    assert response.status_code == 400 and response.mimetype == PROBLEM


def test_an_unknown_period_is_a_404_problem(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "statements:read")
    response = _get(app.test_client(), "/api/v1/statements?period=1999-Q1", token)
    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_the_openapi_description_is_generated_and_public(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0" and spec["info"]["version"] == "v1"
    assert {"/api/v1/me", "/api/v1/statements"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearer": []}]


@pytest.mark.usefixtures("rebate_records")
def test_a_page_of_statements_costs_the_same_queries_for_one_or_many(
    app: Flask, channel: Channel, rebate_records: RebateRecords
) -> None:
    _id, token = _client(app, channel, "statements:read")
    code = _final_period(app, rebate_records)
    http = app.test_client()
    _get(http, "/api/v1/me", token)  # the last-use stamp written once, not counted below
    with count_queries(app) as one:
        _get(http, f"/api/v1/statements?period={code}&limit=1", token)
    with count_queries(app) as many:
        _get(http, f"/api/v1/statements?period={code}&limit=500", token)
    assert len(many) == len(one) <= 4
    _id, claims_token = _client(app, channel, "claims:read")
    _get(http, "/api/v1/me", claims_token)
    with count_queries(app) as one_claim:
        _get(http, "/api/v1/claims?limit=1&state=paid", claims_token)
    with count_queries(app) as many_claims:
        _get(http, "/api/v1/claims?limit=500&state=paid", claims_token)
    assert len(many_claims) == len(one_claim) <= 3


def test_scopes_are_the_ones_the_issue_names() -> None:
    assert {scope.value for scope in Scope} == {
        "dealers:write",
        "targets:write",
        "sales:write",
        "statements:read",
        "claims:read",
        "payments:write",
        "events:read",
    }


@pytest.mark.parametrize("scope", [scope.value for scope in Scope])
def test_each_scope_opens_only_its_own_reads(app: Flask, channel: Channel, scope: str) -> None:
    """The scope matrix: a client with one scope; /me answers every client, statements only statements:read."""
    _id, token = _client(app, channel, scope)
    http = app.test_client()
    assert _get(http, "/api/v1/me", token).status_code == 200
    expected = 200 if scope == Scope.STATEMENTS_READ else 403
    assert _get(http, f"/api/v1/statements?period={channel.previous_period}", token).status_code == expected
    assert _get(http, "/api/v1/claims", token).status_code == (200 if scope == Scope.CLAIMS_READ else 403)


@pytest.mark.usefixtures("claim_records")
def test_claims_to_pay_come_with_the_payee_and_the_approved_amount(app: Flask, channel: Channel) -> None:
    _id, token = _client(app, channel, "claims:read")
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        dealer.payee_name, dealer.payee_bank, dealer.payee_account = (
            "Eastern Star Trading",
            "ICBC Shanghai",
            "6222 0001",
        )
        db.session.commit()
        expected = {
            claim_id: (amount, requested)
            for claim_id, amount, requested in db.session.execute(
                select(Claim.id, Claim.amount_approved, Claim.amount_requested).where(
                    Claim.status.in_(("approved", "partially_approved"))
                )
            ).all()
        }
    http = app.test_client()
    seen: dict[int, dict[str, object]] = {}
    cursor = ""
    for _page in range(50):
        body = _get(http, f"/api/v1/claims?limit=1&cursor={cursor}", token).get_json()
        seen.update({item["id"]: item for item in body["items"]})
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    assert expected and set(seen) == set(expected)
    for claim_id, (approved, requested) in expected.items():
        assert (seen[claim_id]["amount_approved"], seen[claim_id]["amount_claimed"]) == (approved, requested)
    own = [item for item in seen.values() if item["dealer_code"] == channel.own_dealer]
    assert own and all(
        item["payee"] == {"name": "Eastern Star Trading", "bank": "ICBC Shanghai", "account": "6222 0001"}
        for item in own
    )
    later = (utcnow() + timedelta(days=1)).isoformat()
    assert _get(http, f"/api/v1/claims?updated_since={later.replace('+', '%2B')}", token).get_json()["items"] == []
    naive = _get(http, "/api/v1/claims?updated_since=2026-01-01T00:00:00", token)
    assert naive.status_code == 422 and naive.get_json()["errors"][0]["field"] == "updated_since"


def test_the_command_line_creates_rotates_and_revokes_a_client(app: Flask, channel: Channel) -> None:
    runner = app.test_cli_runner()
    admin = channel.emails["admin"]
    created = runner.invoke(
        args=["api-clients", "create", "--name", "SAP production", "--scope", "statements:read", "--by", admin]
    )
    assert created.exit_code == 0, created.output
    token = created.output.rsplit(": ", 1)[1].strip()
    http = app.test_client()
    assert _get(http, "/api/v1/me", token).get_json()["client"] == "SAP production"
    rotated = runner.invoke(args=["api-clients", "rotate", "--name", "SAP production", "--by", admin])
    assert rotated.exit_code == 0, rotated.output
    new = rotated.output.rsplit(": ", 1)[1].strip()
    assert new != token and _get(http, "/api/v1/me", new).status_code == 200
    assert _get(http, "/api/v1/me", token).status_code == 200  # the overlap
    refused = runner.invoke(
        args=["api-clients", "create", "--name", "X", "--scope", "root", "--by", channel.emails["manager"]]
    )
    assert refused.exit_code != 0
    revoked = runner.invoke(args=["api-clients", "revoke", "--name", "SAP production", "--by", admin])
    assert revoked.exit_code == 0
    assert _get(http, "/api/v1/me", new).status_code == 401 and _get(http, "/api/v1/me", token).status_code == 401


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    period=st.text(max_size=30),
    cursor=st.one_of(st.none(), st.text(max_size=70)),
    limit=st.one_of(st.none(), st.text(max_size=8), st.integers(-10, 10_000).map(str)),
)
def test_any_query_gets_an_answer_or_a_problem_never_a_500(
    app: Flask, db_connection: sa.Connection, channel: Channel, period: str, cursor: str | None, limit: str | None
) -> None:
    with example_savepoint(db_connection):
        _query_anything(app, channel, period, cursor, limit)


def _query_anything(app: Flask, channel: Channel, period: str, cursor: str | None, limit: str | None) -> None:
    _id, token = _client(app, channel, "statements:read")
    query = {
        "period": period,
        **({"cursor": cursor} if cursor is not None else {}),
        **({"limit": limit} if limit else {}),
    }
    response = app.test_client().get(
        "/api/v1/statements", query_string=query, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (200, 400, 404, 422), response.status_code
    assert response.mimetype == ("application/json" if response.status_code == 200 else PROBLEM)


def test_the_documentation_page_lists_every_operation_of_the_description(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    page = app.test_client().get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    methods = ("get", "put", "post", "patch", "delete")
    for path, item in spec["paths"].items():
        for method in (name for name in item if name in methods):
            assert f"<code>{method.upper()} {path}</code>" in html, (method, path)
    assert 'id="schema-DealerPut"' in html and "<code>code</code>" in html  # a path's own parameter is listed
