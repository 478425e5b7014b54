"""The ERP's dealer master put through the API, by code: a new dealer is created, a known one brought to what was
sent through the admin pages' own rules (profile, payee, manager, status with a reason, a tier from a day on),
the same record twice changes nothing, and two puts of one new code at once make one dealer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.api import clients
from portal.api.models import IntegrationClient
from portal.audit.models import AuditEvent
from portal.dealers.models import Dealer, DealerEvent, DealerTier
from portal.dealers.rules import DealerStatus
from portal.extensions import db
from portal.outbox import OutboxEvent
from tests.factories import Channel, make_world, user
from tests.helpers import BACKENDS, build_app, dispose_app, logged_in_client, migrated_database_url
from tests.threads import run_together

PROBLEM = "application/problem+json"


def _token(app: Flask, channel: Channel, *scopes: str) -> tuple[int, str]:
    with app.app_context():
        made, token = clients.create_client(user(channel, "admin"), f"Master {scopes}", list(scopes), [])
        db.session.commit()
        return made.user_id, token


def _put(http: FlaskClient, token: str, code: str, body: dict[str, Any]) -> Any:
    return http.put(
        f"/api/v1/dealers/{code}",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def _territory(app: Flask, channel: Channel) -> str:
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        return dealer.territory.code


def _events_of(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.execute(
            select(func.count()).select_from(DealerEvent).join(Dealer).where(Dealer.code == code)
        ).scalar_one()


def test_a_new_dealer_is_created_and_the_same_record_again_changes_nothing(app: Flask, channel: Channel) -> None:
    service_user, token = _token(app, channel, "dealers:write")
    http = app.test_client()
    record = {
        "name": "西湖电器有限公司",
        "territory": _territory(app, channel),
        "status": "onboarding",
        "tier": "silver",
        "payee": {"name": "西湖电器", "bank": "中国工商银行杭州分行", "account": "6222 0202 0000 1234"},
    }
    created = _put(http, token, "ERP-7001", record)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json() == {
        "code": "ERP-7001",
        "name": "西湖电器有限公司",
        "territory": record["territory"],
        "status": "onboarding",
        "tier": "silver",
        "currency": "CNY",
        "created": True,
        "changes": ["created"],
    }
    events = _events_of(app, "ERP-7001")
    again = _put(http, token, "ERP-7001", record)
    assert again.status_code == 200 and again.get_json()["changes"] == [] and again.get_json()["created"] is False
    assert _events_of(app, "ERP-7001") == events
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == "ERP-7001")).scalar_one()
        assert (dealer.payee_bank, dealer.payee_account) == ("中国工商银行杭州分行", "6222 0202 0000 1234")
        audited = db.session.execute(
            select(AuditEvent.actor_id).where(AuditEvent.action == "dealer.created", AuditEvent.subject_id == dealer.id)
        ).scalar_one()
        assert audited == service_user
        published = (
            db.session.execute(
                select(OutboxEvent.kind).where(
                    OutboxEvent.subject_type == "dealer", OutboxEvent.subject_id == dealer.id
                )
            )
            .scalars()
            .all()
        )
        assert published == ["dealer.changed"]


def test_a_known_dealer_is_brought_to_what_was_sent(app: Flask, channel: Channel) -> None:
    _user, token = _token(app, channel, "dealers:write")
    http = app.test_client()
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        base = {
            "name": dealer.name,
            "territory": dealer.territory.code,
            "status": dealer.status.value,
            "currency": dealer.currency,
            "payee": {"name": dealer.payee_name, "bank": dealer.payee_bank, "account": dealer.payee_account},
        }
    renamed = _put(http, token, channel.own_dealer, {**base, "name": "Eastern Star Trading (Group)"})
    assert renamed.status_code == 200 and renamed.get_json()["changes"] == ["profile"]
    base["name"] = "Eastern Star Trading (Group)"
    unexplained = _put(http, token, channel.own_dealer, {**base, "status": "suspended"})
    assert unexplained.status_code == 422 and unexplained.get_json()["errors"][0]["field"] == "reason"
    suspended = _put(
        http, token, channel.own_dealer, {**base, "status": "suspended", "status_reason": "Unpaid deposit (ERP)."}
    )
    assert suspended.status_code == 200 and suspended.get_json()["changes"] == ["status"]
    base.update(status="suspended")
    tier = {"tier": "platinum", "effective_from": channel.next_period_start, "reason": "Annual review in the ERP."}
    tiered = _put(http, token, channel.own_dealer, {**base, "tier_change": tier})
    assert tiered.status_code == 200 and tiered.get_json()["changes"] == ["tier"]
    assert _put(http, token, channel.own_dealer, {**base, "tier_change": tier}).get_json()["changes"] == []
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        assert dealer.status is DealerStatus.SUSPENDED and dealer.tier is DealerTier.GOLD  # platinum from next period


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"territory": "NOWHERE"}, "territory"),
        ({"manager_email": "nobody@example.test"}, "manager_email"),
        ({"status": "retired"}, "status"),
        ({"currency": "RMB1"}, "currency"),
        ({"tier_change": {"tier": "bronze", "effective_from": "2001-01-01", "reason": "x"}}, "effective_from"),
        ({"name": ""}, "name"),
    ],
)
def test_a_record_that_cannot_be_right_is_refused_naming_the_field(
    app: Flask, channel: Channel, change: dict[str, Any], field: str
) -> None:
    _user, token = _token(app, channel, "dealers:write")
    record = {"name": "Checked", "territory": _territory(app, channel), "status": "active", **change}
    response = _put(app.test_client(), token, channel.own_dealer, record)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field in {error["field"].split(".")[-1] for error in response.get_json()["errors"]}


@pytest.mark.parametrize("code", ["X" * 17, "A B", "代码", "A.B"])
def test_a_code_the_portal_cannot_hold_is_refused(app: Flask, channel: Channel, code: str) -> None:
    _user, token = _token(app, channel, "dealers:write")
    record = {"name": "Long", "territory": _territory(app, channel), "status": "active"}
    response = _put(app.test_client(), token, code, record)
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "code"


@pytest.mark.parametrize("scope", ["sales:write", "statements:read", "payments:write", "targets:write"])
def test_putting_a_dealer_needs_dealers_write(app: Flask, channel: Channel, scope: str) -> None:
    _user, token = _token(app, channel, scope)
    record = {"name": "No", "territory": _territory(app, channel), "status": "active"}
    response = _put(app.test_client(), token, "ERP-9999", record)
    assert response.status_code == 403 and response.get_json()["required_scope"] == "dealers:write"
    with app.app_context():
        assert db.session.execute(select(Dealer.id).where(Dealer.code == "ERP-9999")).first() is None


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_one_new_code_put_twice_at_once_makes_one_dealer(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(migrated_database_url(backend_name, "dealer_puts", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)
    with app.app_context():
        world = make_world()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        _client, token = clients.create_client(admin, "Racing master", ["dealers:write"], [])
        territory = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one().territory
        record = {"name": "Twice", "territory": territory.code, "status": "active"}
        db.session.commit()

    def put(wait: Any) -> int:
        http = app.test_client()
        wait()
        return int(_put(http, token, "ERP-RACE", record).status_code)

    statuses = run_together([put, put])
    with app.app_context():
        made = db.session.execute(
            select(func.count()).select_from(Dealer).where(Dealer.code == "ERP-RACE")
        ).scalar_one()
        clients_seen = db.session.execute(select(func.count()).select_from(IntegrationClient)).scalar_one()
    dispose_app(app)
    assert made == 1 and clients_seen >= 1
    assert sorted(statuses)[0] in (200, 201) and 201 in statuses and set(statuses) <= {200, 201, 409}


def test_contacts_are_kept_replaced_when_sent_and_shown_on_the_dealer_page(app: Flask, channel: Channel) -> None:
    _user, token = _token(app, channel, "dealers:write")
    http = app.test_client()
    contacts = [
        {"name": "王芳", "role": "财务", "phone": "+86 571 8888 0001", "email": "wang.fang@xihu.example.cn"},
        {"name": "Li Lei", "role": "Sales director"},
    ]
    record = {"name": "Contacts Ltd", "territory": _territory(app, channel), "status": "active", "contacts": contacts}
    assert _put(http, token, "ERP-7100", record).status_code == 201
    assert _put(http, token, "ERP-7100", record).get_json()["changes"] == []
    without = {key: value for key, value in record.items() if key != "contacts"}
    assert _put(http, token, "ERP-7100", without).get_json()["changes"] == []  # absent: left as they are
    changed = _put(http, token, "ERP-7100", {**record, "contacts": contacts[:1]})
    assert changed.get_json()["changes"] == ["contacts"]
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == "ERP-7100")).scalar_one()
        assert dealer.contacts == [contacts[0]]
    page = logged_in_client(app, channel.emails["admin"]).get("/console/dealers/ERP-7100")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "王芳" in html and 'href="tel:+86 571 8888 0001"' in html
    nameless = _put(http, token, "ERP-7100", {**record, "contacts": [{"name": "", "phone": "1"}]})
    assert nameless.status_code == 422
