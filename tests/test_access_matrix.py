"""The access matrix of record: every route x every role -> the expected status, called for real.

Each row names a route as Flask knows it and a concrete URL built from real objects of the test world: the own
dealer (D001, in `manager`'s portfolio) and a foreign one (D003, in another manager's portfolio). A route that is
not in this table fails test_every_route_is_in_the_matrix. Later areas add their rows here.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.dealers.models import Dealer, DealerStatus
from portal.extensions import db
from tests.evidence_files import pdf
from tests.factories import PASSWORD, Channel, World, this_quarter, today
from tests.helpers import log_in
from tests.state_changing import _claim_form, _quick_claim_form

ROLES = (
    "anonymous",
    "dealer_owner",
    "dealer_staff",
    "suspended_owner",
    "manager",
    "senior_manager",
    "mediator",
    "admin",
    "inspector",
)

# Dates decide here (windows, deadlines, quarters): also run at a quarter's first and last minute and on 29 February.
pytestmark = pytest.mark.calendar
# The owner of D001 while D001 is suspended: reads, answers, appeals and manages people like any owner, but starts
# nothing new (a claim, a pre-approval request, an enrolment). Unless a row says otherwise it expects what the owner
# of an active dealer gets.
PERSONAS = {"suspended_owner": "dealer_owner"}
BASE_ROLES = tuple(role for role in ROLES if role not in PERSONAS)
STAFF = ("manager", "senior_manager", "mediator", "admin", "inspector")


def everyone(status: int, anonymous: int | None = None) -> dict[str, int]:
    table = dict.fromkeys(BASE_ROLES, status)
    if anonymous is not None:
        table["anonymous"] = anonymous
    return table


def only(allowed: dict[str, int], others: int = 403, anonymous: int = 302) -> dict[str, int]:
    table = dict.fromkeys(BASE_ROLES, others)
    table["anonymous"] = anonymous
    table.update(allowed)
    return table


def foreign_files() -> dict[str, int]:
    """D003's documents: its manager's colleagues in the same portfolio do not see them; seniors and admins do."""
    table = everyone(404, anonymous=302)
    table.update({"senior_manager": 200, "admin": 200})
    return table


@dataclass(frozen=True)
class Case:
    method: str
    rule: str
    url: str
    expected: dict[str, int]
    # Field values ({ids} filled in), or a function of the world for forms built from today's date.
    form: dict[str, str] | Callable[[World], dict[str, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for persona, like in PERSONAS.items():
            self.expected.setdefault(persona, self.expected[like])

    def form_for(self, world: World) -> dict[str, object]:
        if callable(self.form):
            return self.form(world)
        return {
            name: value.format(**world.placeholders()) if "{" in value else value for name, value in self.form.items()
        }


def claim_form(world: World) -> dict[str, object]:
    return _claim_form(world)


def quick_claim_form(world: World) -> dict[str, object]:
    return _quick_claim_form(world)


def pre_approval_form(world: World) -> dict[str, object]:
    """A trade show planned in a week's time, inside this quarter when the quarter has a week left."""
    start = min(today() + timedelta(days=7), this_quarter()[2])
    kind, day = str(world.claims.activity_type), start.isoformat()
    return {
        "period": world.current_period,
        "activity_type_id": kind,
        "title": "Expo",
        "planned_start": day,
        "planned_end": day,
        "estimated_cost": "9,000.00",
    }


DECIDE_200 = {"manager": 200, "senior_manager": 200, "admin": 200}
DECIDE_404 = {"manager": 404, "senior_manager": 404, "admin": 404}
DECIDE_422 = {"manager": 422, "senior_manager": 422, "admin": 422}
DECIDE_303 = {"manager": 303, "senior_manager": 303, "admin": 303}
RUN_200 = {"senior_manager": 200, "admin": 200}
READ_200 = {"dealer_owner": 200, "dealer_staff": 200}
READ_404 = {"dealer_owner": 404, "dealer_staff": 404}
RUN_303 = {"senior_manager": 303, "admin": 303}
RUN_404 = {"senior_manager": 404, "admin": 404}
RUN_409 = {"senior_manager": 409, "admin": 409}
RUN_422 = {"senior_manager": 422, "admin": 422}
DECIDE_409 = {"manager": 409, "senior_manager": 409, "admin": 409}
PLAN_200 = {**READ_200, **DECIDE_200}
PLAN_404 = {**READ_404, **DECIDE_404}
PLAN_FOREIGN_200 = {**PLAN_404, **RUN_200}  # D003's: another manager's dealer
PLANNER_303 = {"dealer_owner": 303, **DECIDE_303}
PLANNER_404 = {"dealer_owner": 404, **DECIDE_404}
PLANNER_409 = {"dealer_owner": 409, **DECIDE_409}
PLANNER_422 = {"dealer_owner": 422, **DECIDE_422}
PLANNER_FOREIGN_303 = {"dealer_owner": 404, "manager": 404, **RUN_303}


def attachment_form(_world: World) -> dict[str, object]:
    """A price sheet as a PDF, as a manager attaches it from their laptop."""
    return {"file": (io.BytesIO(pdf(text="Price sheet")), "价格表 2027.pdf")}


def visit_form(world: World) -> dict[str, object]:
    """A visit to D001 the day before yesterday, shared with the dealer, as a manager would type it on a phone."""
    return {
        "dealer_code": world.own_dealer.lower(),
        "visited_on": (today() - timedelta(days=2)).isoformat(),
        "attendees": "王经理, Li Na",
        "notes": "新品陈列到位。",
        "follow_ups": "Send the posters",
        "shared": "y",
    }


def news_form(_world: World) -> dict[str, object]:
    """A must-acknowledge policy change for every dealer (a manager's reaches their portfolio), in Markdown."""
    return {
        "kind": "news",
        "title_en": "Claims need invoices",
        "title_zh": "报销须附发票",
        "body_en": "From **next month**:\n\n- an invoice\n- a photo",
        "body_zh": "自**下月**起须附发票。",
        "audience_kind": "all",
        "must_acknowledge": "y",
    }


def campaign_form(_world: World) -> dict[str, object]:
    """A campaign over this quarter for the gold dealers: 2,000.00 once 10 units of the AC line are sold."""
    _code, first, last = this_quarter()
    return {
        "name_en": "Gold sprint",
        "name_zh": "金牌冲刺",
        "audience_kind": "tiers",
        "tiers": "gold",
        "starts_on": first.isoformat(),
        "ends_on": last.isoformat(),
        "skus": "AC-1200，AC-900",
        "currency": "CNY",
        "measure": "units",
        "reward_kind": "threshold",
        "rate": "2,000.00",
        "threshold_units": "10",
        "budget": "50,000.00",
    }


def published_prices_file(_world: World) -> dict[str, object]:
    return {"file": (io.BytesIO(b"sku,list_price,floor_price\nAC-1200,1,1\n"), "prices.csv")}


MATRIX = (
    Case("GET", "/", "/", everyone(302)),
    Case("GET", "/healthz", "/healthz", everyone(200)),
    # --- the integration API: a client's bearer token only; a page's session cookie opens nothing (test_api.py has
    # the scopes of clients) ---
    Case("GET", "/api/v1/me", "/api/v1/me", everyone(401, anonymous=401)),
    Case("GET", "/api/v1/statements", "/api/v1/statements?period={previous_period}", everyone(401, anonymous=401)),
    Case("GET", "/api/v1/claims", "/api/v1/claims", everyone(401, anonymous=401)),
    Case(
        "GET", "/api/v1/ledger-entries", "/api/v1/ledger-entries?period={previous_period}", everyone(401, anonymous=401)
    ),
    Case("GET", "/api/v1/violations", "/api/v1/violations", everyone(401, anonymous=401)),
    Case("GET", "/api/v1/events", "/api/v1/events", everyone(401, anonymous=401)),
    Case("POST", "/api/v1/sales-batches", "/api/v1/sales-batches", everyone(401, anonymous=401)),
    Case("POST", "/api/v1/payments", "/api/v1/payments", everyone(401, anonymous=401)),
    Case("PUT", "/api/v1/dealers/<string:code>", "/api/v1/dealers/{own_dealer}", everyone(401, anonymous=401)),
    Case(
        "PUT",
        "/api/v1/targets/<string:period>/<string:dealer_code>",
        "/api/v1/targets/{open_period}/{own_dealer}",
        everyone(401, anonymous=401),
    ),
    Case("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", everyone(200, anonymous=200)),
    Case("GET", "/api/docs", "/api/docs", everyone(200, anonymous=200)),
    # --- a client's webhooks (before the client is revoked below): admins only; the secret of a new subscription
    # is in the answer (200); a delivery is sent again before its subscription is removed ---
    Case(
        "GET",
        "/admin/integrations/<int:client_id>/webhooks",
        "/admin/integrations/{api_client}/webhooks",
        only({"admin": 200}),
    ),
    Case(
        "GET",
        "/admin/integrations/<int:client_id>/webhooks",
        "/admin/integrations/999999/webhooks",
        only({"admin": 404}),
    ),
    Case(
        "POST",
        "/admin/integrations/<int:client_id>/webhooks",
        "/admin/integrations/{api_client}/webhooks",
        only({"admin": 422}),
    ),
    Case(
        "POST",
        "/admin/integrations/<int:client_id>/webhooks",
        "/admin/integrations/{api_client}/webhooks",
        only({"admin": 200}),
        form=lambda w: {"url": "https://erp.example.test/matrix", "kinds": "claim.paid"},
    ),
    Case(
        "POST",
        "/admin/integrations/deliveries/<int:delivery_id>/send-again",
        "/admin/integrations/deliveries/{api_delivery}/send-again",
        only({"admin": 303}),
    ),
    Case(
        "POST",
        "/admin/integrations/deliveries/<int:delivery_id>/send-again",
        "/admin/integrations/deliveries/999999/send-again",
        only({"admin": 404}),
    ),
    Case(
        "POST",
        "/admin/integrations/webhooks/<int:subscription_id>/remove",
        "/admin/integrations/webhooks/{api_subscription}/remove",
        only({"admin": 303}),
    ),
    Case(
        "POST",
        "/admin/integrations/webhooks/<int:subscription_id>/remove",
        "/admin/integrations/webhooks/999999/remove",
        only({"admin": 404}),
    ),
    # --- the admin's integration clients: admins only; the token of a new client is in the answer (200) ---
    Case("GET", "/admin/integrations", "/admin/integrations", only({"admin": 200})),
    Case("POST", "/admin/integrations", "/admin/integrations", only({"admin": 422})),
    Case(
        "POST",
        "/admin/integrations",
        "/admin/integrations",
        only({"admin": 200}),
        form=lambda w: {"name": "Matrix ERP", "scopes": "claims:read", "networks": ""},
    ),
    Case(
        "POST",
        "/admin/integrations/<int:client_id>/rotate",
        "/admin/integrations/{api_client}/rotate",
        only({"admin": 200}),
    ),
    Case(
        "POST", "/admin/integrations/<int:client_id>/rotate", "/admin/integrations/999999/rotate", only({"admin": 404})
    ),
    Case(
        "POST",
        "/admin/integrations/<int:client_id>/revoke",
        "/admin/integrations/{api_client}/revoke",
        only({"admin": 303}),
    ),
    Case(
        "POST", "/admin/integrations/<int:client_id>/revoke", "/admin/integrations/999999/revoke", only({"admin": 404})
    ),
    Case("GET", "/ping", "/ping", everyone(200)),
    Case("GET", "/static/<path:filename>", "/static/css/portal.css", everyone(200)),
    Case("GET", "/login", "/login", everyone(303, anonymous=200)),
    Case("POST", "/login", "/login", everyone(303, anonymous=422)),
    Case("POST", "/logout", "/logout", everyone(303, anonymous=302)),
    Case("POST", "/language", "/language", everyone(303), form={"locale": "en", "next": "/"}),
    Case("GET", "/account", "/account", everyone(200, anonymous=302)),
    Case("POST", "/account/password", "/account/password", everyone(422, anonymous=302)),
    Case("POST", "/account/email", "/account/email", everyone(422, anonymous=302)),
    # a link from an email: anyone holding it may open it; the change asks for a button's POST
    Case("GET", "/account/email/confirm/<token>", "/account/email/confirm/{email_change}", everyone(200)),
    Case("GET", "/account/email/confirm/<token>", "/account/email/confirm/forged", everyone(400)),
    Case("POST", "/account/email/confirm/<token>", "/account/email/confirm/forged", everyone(400)),
    Case("POST", "/account/email/confirm/<token>", "/account/email/confirm/{email_change}", everyone(303)),
    Case("POST", "/account/email/confirm/<token>", "/account/email/confirm/{email_change}", everyone(400)),  # once
    # --- two-factor sign-in: staff only; the code step belongs to a login in progress, so nobody else uses it ---
    Case("GET", "/login/two-factor", "/login/two-factor", everyone(303)),
    Case("POST", "/login/two-factor", "/login/two-factor", everyone(303), form={"code": "123456"}),
    Case("GET", "/account/two-factor", "/account/two-factor", only(dict.fromkeys(STAFF, 200))),
    Case("POST", "/account/two-factor/confirm", "/account/two-factor/confirm", only(dict.fromkeys(STAFF, 422))),
    Case(
        "POST",
        "/account/two-factor/recovery-codes",
        "/account/two-factor/recovery-codes",
        only(dict.fromkeys(STAFF, 422)),
    ),
    Case("POST", "/account/two-factor/disable", "/account/two-factor/disable", only(dict.fromkeys(STAFF, 422))),
    Case("POST", "/account/two-factor/setup", "/account/two-factor/setup", only(dict.fromkeys(STAFF, 422))),
    Case(
        "POST",
        "/account/two-factor/setup",
        "/account/two-factor/setup",
        only(dict.fromkeys(STAFF, 200)),  # the password proves it: the key is shown once, in this answer
        form={"password": PASSWORD},
    ),
    Case(
        "POST",
        "/admin/users/<int:user_id>/two-factor/reset",
        "/admin/users/{manager}/two-factor/reset",
        only({"admin": 422}),
    ),
    Case(
        "POST",
        "/admin/users/<int:user_id>/two-factor/reset",
        "/admin/users/999999/two-factor/reset",
        only({"admin": 404}),
    ),
    Case(
        "POST",
        "/admin/users/<int:user_id>/two-factor/reset",
        "/admin/users/{two_factor_manager}/two-factor/reset",
        only({"admin": 422}),  # without the administrator's own password
    ),
    Case(
        "POST",
        "/admin/users/<int:user_id>/two-factor/reset",
        "/admin/users/{two_factor_manager}/two-factor/reset",
        only({"admin": 303}),
        form={"password": PASSWORD},
    ),
    Case("GET", "/dealer/", "/dealer/", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("GET", "/console/", "/console/", only({"manager": 200, "senior_manager": 200, "admin": 200})),
    Case(
        "GET",
        "/console/dealers/<code>",
        "/console/dealers/{own_dealer}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>",
        "/console/dealers/{foreign_dealer}",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>",
        "/console/dealers/NO-SUCH",
        only({"manager": 404, "senior_manager": 404, "admin": 404}),
    ),
    Case("GET", "/mediation/", "/mediation/", only({"mediator": 200, "admin": 200})),
    Case("GET", "/admin/", "/admin/", only({"admin": 200})),
    # --- the dealer's people (owners manage; staff read) ---
    Case("GET", "/dealer/people", "/dealer/people", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("POST", "/dealer/people/staff", "/dealer/people/staff", only({"dealer_owner": 422})),
    Case(
        "POST",
        "/dealer/people/staff/<int:user_id>/deactivate",
        "/dealer/people/staff/{staff}/deactivate",
        only({"dealer_owner": 303}),
    ),
    Case(
        "POST",
        "/dealer/people/staff/<int:user_id>/deactivate",
        "/dealer/people/staff/{foreign_owner}/deactivate",
        only({"dealer_owner": 404}),
    ),
    Case(
        "POST",
        "/dealer/people/staff/<int:user_id>/reactivate",
        "/dealer/people/staff/{staff}/reactivate",
        only({"dealer_owner": 303}),
    ),
    Case(
        "POST",
        "/dealer/people/staff/<int:user_id>/reactivate",
        "/dealer/people/staff/{foreign_owner}/reactivate",
        only({"dealer_owner": 404}),
    ),
    Case(
        "POST",
        "/dealer/people/staff/<int:user_id>/make-owner",
        "/dealer/people/staff/{foreign_owner}/make-owner",
        only({"dealer_owner": 404}),
    ),
    Case(
        "POST",
        "/dealer/people/staff/<int:user_id>/make-owner",
        "/dealer/people/staff/{staff}/make-owner",
        only({"dealer_owner": 303}),
    ),
    Case("POST", "/dealer/people/trainees", "/dealer/people/trainees", only({"dealer_owner": 422})),
    Case(
        "GET",
        "/dealer/people/trainees/<int:trainee_id>/edit",
        "/dealer/people/trainees/{own_trainee}/edit",
        only({"dealer_owner": 200}),
    ),
    Case(
        "GET",
        "/dealer/people/trainees/<int:trainee_id>/edit",
        "/dealer/people/trainees/{foreign_trainee}/edit",
        only({"dealer_owner": 404}),
    ),
    Case(
        "POST",
        "/dealer/people/trainees/<int:trainee_id>/edit",
        "/dealer/people/trainees/{own_trainee}/edit",
        only({"dealer_owner": 422}),
        form={"name": ""},
    ),
    Case(
        "POST",
        "/dealer/people/trainees/<int:trainee_id>/edit",
        "/dealer/people/trainees/{foreign_trainee}/edit",
        only({"dealer_owner": 404}),
    ),
    Case(
        "POST",
        "/dealer/people/trainees/<int:trainee_id>/remove",
        "/dealer/people/trainees/{foreign_trainee}/remove",
        only({"dealer_owner": 404}),
    ),
    Case(
        "POST",
        "/dealer/people/trainees/<int:trainee_id>/remove",
        "/dealer/people/trainees/{own_trainee}/remove",
        only({"dealer_owner": 303}),
    ),
    # --- the console: lifecycle and portfolios (senior managers and admins decide) ---
    Case(
        "POST",
        "/console/dealers/<code>/status",
        "/console/dealers/{own_dealer}/status",
        only({"senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/console/dealers/<code>/status",
        "/console/dealers/NO-SUCH/status",
        only({"senior_manager": 404, "admin": 404}),
    ),
    Case("POST", "/console/dealers/<code>/tier", "/console/dealers/{own_dealer}/tier", only({"admin": 422})),
    Case("POST", "/console/dealers/<code>/tier", "/console/dealers/NO-SUCH/tier", only({"admin": 404})),
    Case(
        "POST",
        "/console/dealers/<code>/manager",
        "/console/dealers/{foreign_dealer}/manager",
        only({"senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/console/dealers/<code>/manager",
        "/console/dealers/NO-SUCH/manager",
        only({"senior_manager": 404, "admin": 404}),
    ),
    Case("GET", "/console/portfolios", "/console/portfolios", only({"senior_manager": 200, "admin": 200})),
    Case("POST", "/console/portfolios", "/console/portfolios", only({"senior_manager": 422, "admin": 422})),
    Case("GET", "/audit/", "/audit/", only({"senior_manager": 200, "admin": 200})),
    # --- the admin directory ---
    Case("GET", "/admin/dealers/new", "/admin/dealers/new", only({"admin": 200})),
    Case("POST", "/admin/dealers/new", "/admin/dealers/new", only({"admin": 422})),
    Case("GET", "/admin/dealers/<code>/edit", "/admin/dealers/{own_dealer}/edit", only({"admin": 200})),
    Case("GET", "/admin/dealers/<code>/edit", "/admin/dealers/NO-SUCH/edit", only({"admin": 404})),
    Case("POST", "/admin/dealers/<code>/edit", "/admin/dealers/{own_dealer}/edit", only({"admin": 422}), {"name": ""}),
    Case("GET", "/admin/territories", "/admin/territories", only({"admin": 200})),
    Case("POST", "/admin/territories", "/admin/territories", only({"admin": 422})),
    Case(
        "GET",
        "/admin/territories/<int:territory_id>/edit",
        "/admin/territories/{territory}/edit",
        only({"admin": 200}),
    ),
    Case("GET", "/admin/territories/<int:territory_id>/edit", "/admin/territories/999999/edit", only({"admin": 404})),
    Case(
        "POST",
        "/admin/territories/<int:territory_id>/edit",
        "/admin/territories/{territory}/edit",
        only({"admin": 422}),
        form={"name": ""},
    ),
    Case("GET", "/admin/periods", "/admin/periods", only({"admin": 200})),
    Case("POST", "/admin/periods", "/admin/periods", only({"admin": 422})),
    # --- closing takes two people, after the grace days; reopening takes a reason ---
    Case(
        "GET",
        "/admin/periods/<code>/close",
        "/admin/periods/{ended_period}/close",
        only({"admin": 200, "senior_manager": 200}),
    ),
    Case(
        "GET",
        "/admin/periods/<code>/close",
        "/admin/periods/{previous_period}/close",
        only({"admin": 200, "senior_manager": 200}),
    ),
    Case(
        "GET",
        "/admin/periods/<code>/close",
        "/admin/periods/NO-SUCH/close",
        only({"admin": 404, "senior_manager": 404}),
    ),
    Case("POST", "/admin/periods/<code>/close", "/admin/periods/NO-SUCH/close", only({"admin": 404})),
    Case("POST", "/admin/periods/<code>/close", "/admin/periods/{open_period}/close", only({"admin": 409})),
    Case(
        "POST",
        "/admin/periods/<code>/close/withdraw",
        "/admin/periods/{ended_period}/close/withdraw",
        only({"admin": 409}),
    ),
    Case(
        "POST",
        "/admin/periods/<code>/close/confirm",
        "/admin/periods/{ended_period}/close/confirm",
        only({"admin": 409, "senior_manager": 409}),
    ),
    Case("POST", "/admin/periods/<code>/close", "/admin/periods/{ended_period}/close", only({"admin": 303})),
    Case("POST", "/admin/periods/<code>/close", "/admin/periods/{ended_period}/close", only({"admin": 409})),
    Case(
        "POST",
        "/admin/periods/<code>/close/confirm",
        "/admin/periods/NO-SUCH/close/confirm",
        only({"admin": 404, "senior_manager": 404}),
    ),
    Case(
        "POST",
        "/admin/periods/<code>/close/withdraw",
        "/admin/periods/NO-SUCH/close/withdraw",
        only({"admin": 404}),
    ),
    Case("POST", "/admin/periods/<code>/reopen", "/admin/periods/{previous_period}/reopen", only({"admin": 422})),
    Case("POST", "/admin/periods/<code>/reopen", "/admin/periods/NO-SUCH/reopen", only({"admin": 404})),
    Case("GET", "/admin/users", "/admin/users", only({"admin": 200})),
    Case("GET", "/admin/users/new", "/admin/users/new", only({"admin": 200})),
    Case("POST", "/admin/users/new", "/admin/users/new", only({"admin": 422})),
    Case("GET", "/admin/users/<int:user_id>/edit", "/admin/users/{staff}/edit", only({"admin": 200})),
    Case("GET", "/admin/users/<int:user_id>/edit", "/admin/users/999999/edit", only({"admin": 404})),
    Case("POST", "/admin/users/<int:user_id>/edit", "/admin/users/{staff}/edit", only({"admin": 422}), {"name": ""}),
    # --- notifications: everyone has their own, nobody else's ---
    Case("GET", "/notifications/", "/notifications/", everyone(200, anonymous=302)),
    Case("GET", "/notifications/bell", "/notifications/bell", everyone(200, anonymous=302)),
    Case(
        "POST",
        "/notifications/<int:notification_id>/read",
        "/notifications/{foreign_notification}/read",
        everyone(404, anonymous=302),
    ),
    Case(
        "POST",
        "/notifications/<int:notification_id>/read",
        "/notifications/{my_notification}/read",
        everyone(303, anonymous=302),
    ),
    Case(
        "POST",
        "/notifications/<int:notification_id>/open",
        "/notifications/{foreign_notification}/open",
        everyone(404, anonymous=302),
    ),
    Case(
        "POST",
        "/notifications/<int:notification_id>/open",
        "/notifications/{my_notification}/open",
        everyone(303, anonymous=302),
    ),
    Case("POST", "/notifications/read-all", "/notifications/read-all", everyone(303, anonymous=302)),
    Case("GET", "/notifications/preferences", "/notifications/preferences", everyone(200, anonymous=302)),
    Case("POST", "/notifications/preferences", "/notifications/preferences", everyone(303, anonymous=302)),
    Case("GET", "/admin/jobs", "/admin/jobs", only({"admin": 200})),
    Case("POST", "/admin/jobs/retry-emails", "/admin/jobs/retry-emails", only({"admin": 303})),
    # --- forgotten passwords and invitations: public, and a bad link is refused for everyone ---
    Case("GET", "/password/forgot", "/password/forgot", everyone(200)),
    Case("POST", "/password/forgot", "/password/forgot", everyone(422)),
    Case("GET", "/password/reset/<token>", "/password/reset/not-a-token", everyone(400)),
    Case("POST", "/password/reset/<token>", "/password/reset/not-a-token", everyone(400)),
    Case("GET", "/invitation/<token>", "/invitation/not-a-token", everyone(400)),
    Case("POST", "/invitation/<token>", "/invitation/not-a-token", everyone(400)),
    # --- evidence: whoever may see the owning object, and nobody else (404) ---
    Case("GET", "/dealer/documents", "/dealer/documents", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("POST", "/dealer/documents", "/dealer/documents", only({"dealer_owner": 422, "dealer_staff": 422})),
    Case(
        "GET",
        "/evidence/<int:evidence_id>",
        "/evidence/{own_document}",
        everyone(200, anonymous=302) | {"mediator": 404} | {"inspector": 404},
    ),
    Case("GET", "/evidence/<int:evidence_id>", "/evidence/{foreign_document}", foreign_files()),
    Case(
        "GET",
        "/evidence/<int:evidence_id>/preview",
        "/evidence/{own_document}/preview",
        everyone(200, anonymous=302) | {"mediator": 404} | {"inspector": 404},
    ),
    Case("GET", "/evidence/<int:evidence_id>/preview", "/evidence/{foreign_document}/preview", foreign_files()),
    Case(
        "GET",
        "/evidence/<int:evidence_id>/download",
        "/evidence/{own_document}/download",
        everyone(200, anonymous=302) | {"mediator": 404} | {"inspector": 404},
    ),
    Case("GET", "/evidence/<int:evidence_id>/download", "/evidence/{foreign_document}/download", foreign_files()),
    Case("GET", "/evidence/<int:evidence_id>/download", "/evidence/999999/download", everyone(404, anonymous=302)),
    Case(
        "POST",
        "/dealer/documents/<int:evidence_id>/remove",
        "/dealer/documents/{foreign_document}/remove",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/dealer/documents/<int:evidence_id>/remove",
        "/dealer/documents/{own_document}/remove",
        only({"dealer_owner": 303, "dealer_staff": 404}),  # staff remove only what they uploaded
    ),
    # --- rebates: the dealer's own statements; a portfolio's in the console; programs and payments for admins ---
    Case("GET", "/dealer/statements", "/dealer/statements", only({"dealer_owner": 200, "dealer_staff": 200})),
    # --- the dealer's account (ledger): the dealer's own, its managers', the admin's; finance's balances due ---
    Case("GET", "/dealer/account", "/dealer/account", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("GET", "/dealer/account", "/dealer/account?from=2026-13-01", only({"dealer_owner": 400, "dealer_staff": 400})),
    Case("GET", "/dealer/account.<export>", "/dealer/account.csv", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("GET", "/dealer/account.<export>", "/dealer/account.xlsx", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("GET", "/dealer/account.<export>", "/dealer/account.pdf", only({"dealer_owner": 404, "dealer_staff": 404})),
    Case(
        "GET",
        "/console/dealers/<code>/account",
        "/console/dealers/{own_dealer}/account",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/account",
        "/console/dealers/{foreign_dealer}/account",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/account.<export>",
        "/console/dealers/{own_dealer}/account.xlsx",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/account.<export>",
        "/console/dealers/{foreign_dealer}/account.csv",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/admin/statements/due.<export>",
        "/admin/statements/due.csv?period={previous_period}",
        only({"admin": 200}),
    ),
    Case("GET", "/admin/statements/due.<export>", "/admin/statements/due.xlsx", only({"admin": 200})),
    Case(
        "GET",
        "/admin/statements/due.<export>",
        "/admin/statements/due.csv?period=NO-SUCH",
        only({"admin": 404}),
    ),
    Case(
        "GET",
        "/dealer/statements/<period_code>",
        "/dealer/statements/{current_period}",
        only({"dealer_owner": 200, "dealer_staff": 200}),
    ),
    Case(
        "GET",
        "/dealer/statements/<period_code>",
        "/dealer/statements/NO-SUCH",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "GET",
        "/dealer/statements/<period_code>.csv",
        "/dealer/statements/{previous_period}.csv",
        only({"dealer_owner": 200, "dealer_staff": 200}),
    ),
    Case(
        "GET",
        "/dealer/statements/<period_code>.csv",
        "/dealer/statements/{open_period}.csv",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/statements/<period_code>",
        "/console/dealers/{own_dealer}/statements/{current_period}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/statements/<period_code>",
        "/console/dealers/{foreign_dealer}/statements/{current_period}",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/statements/<period_code>.csv",
        "/console/dealers/{own_dealer}/statements/{previous_period}.csv",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/statements/<period_code>.csv",
        "/console/dealers/{foreign_dealer}/statements/{previous_period}.csv",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/console/dealers/<code>/adjustments",
        "/console/dealers/{own_dealer}/adjustments",
        only({"admin": 422}),
        form={"amount": "", "note": ""},
    ),
    Case(
        "POST",
        "/console/dealers/<code>/adjustments",
        "/console/dealers/{own_dealer}/adjustments",
        only({"admin": 303}),
        form={"amount": "-120.50", "note": "Goodwill correction", "corrects": ""},
    ),
    Case(
        "GET",
        "/console/performance",
        "/console/performance",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/performance",
        "/console/performance?period=NO-SUCH",
        only({"manager": 404, "senior_manager": 404, "admin": 404}),
    ),
    Case(
        "GET",
        "/console/target-changes",
        "/console/target-changes",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/console/target-changes/<int:change_id>/<decision>",
        "/console/target-changes/{foreign_target_change}/reject",
        only({"manager": 404, "senior_manager": 422, "admin": 403}),
    ),
    Case(
        "POST",
        "/console/target-changes/<int:change_id>/<decision>",
        "/console/target-changes/{pending_target_change}/approve",
        only({"manager": 403, "senior_manager": 303, "admin": 403}),
    ),
    Case(
        "POST",
        "/console/target-changes/<int:change_id>/<decision>",
        "/console/target-changes/{pending_target_change}/approve",
        only({"manager": 403, "senior_manager": 409, "admin": 403}),
    ),
    Case("GET", "/console/targets", "/console/targets", only({"manager": 200, "senior_manager": 200, "admin": 200})),
    Case(
        "POST",
        "/console/targets/<period_code>/<code>",
        "/console/targets/{current_period}/{foreign_dealer}",
        only({"manager": 404, "senior_manager": 303, "admin": 303}),
        form={"amount": "1,100,000", "reason": "Split territory."},
    ),
    Case(
        "POST",
        "/console/targets/<period_code>/<code>",
        "/console/targets/{current_period}/{own_dealer}",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        form={"amount": "1,100,000", "reason": "Split territory."},
    ),
    Case(
        "POST",
        "/console/targets/<period_code>/<code>",
        "/console/targets/{previous_period}/{own_dealer}",
        only({"manager": 409, "senior_manager": 409, "admin": 409}),
        form={"amount": "1,000,000"},
    ),
    Case(
        "POST",
        "/console/targets/<period_code>/import",
        "/console/targets/{current_period}/import",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
    ),
    Case(
        "GET",
        "/console/sales-imports",
        "/console/sales-imports",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/console/sales-imports",
        "/console/sales-imports",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
    ),
    Case(
        "GET",
        "/console/sales-imports/<int:import_id>",
        "/console/sales-imports/{own_import}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/sales-imports/<int:import_id>",
        "/console/sales-imports/{foreign_import}",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/sales-imports/<int:import_id>/errors.csv",
        "/console/sales-imports/{own_import}/errors.csv",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/sales-imports/<int:import_id>/errors.csv",
        "/console/sales-imports/{foreign_import}/errors.csv",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/sales-imports/template.<export>",
        "/console/sales-imports/template.xlsx?language=zh",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/sales-imports/template.<export>",
        "/console/sales-imports/template.pdf",
        only({"manager": 404, "senior_manager": 404, "admin": 404}),
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/confirm",
        "/console/sales-imports/{foreign_import}/confirm",
        only({"manager": 404, "senior_manager": 303, "admin": 303}),
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/confirm",
        "/console/sales-imports/{own_import}/confirm",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/cancel",
        "/console/sales-imports/{own_import}/cancel",
        only({"manager": 409, "senior_manager": 409, "admin": 409}),  # already importing
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/cancel",
        "/console/sales-imports/999999/cancel",
        only({"manager": 404, "senior_manager": 404, "admin": 404}),
    ),
    Case(
        "GET",
        "/console/sales-imports/<int:import_id>",
        "/console/sales-imports/{rejected_import}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/sales-imports/<int:import_id>",
        "/console/sales-imports/{conflict_import}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/conflicts",
        "/console/sales-imports/{conflict_import}/conflicts",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        {"all": "keep"},
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/conflicts",
        "/console/sales-imports/{foreign_import}/conflicts",
        only({"manager": 404, "senior_manager": 409, "admin": 409}),  # nothing to decide
        {"all": "keep"},
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/columns",
        "/console/sales-imports/{rejected_import}/columns",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        {"column-0": "dealer_code", "column-1": "date", "column-2": "amount", "column-3": "invoice_ref"},
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/columns",
        "/console/sales-imports/{foreign_import}/columns",
        only({"manager": 404, "senior_manager": 409, "admin": 409}),  # checked fine: no columns to choose
        {"column-0": "dealer_code"},
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/void",
        "/console/sales-imports/{imported_import}/void",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        {"reason": "Sent twice by the ERP"},
    ),
    Case(
        "POST",
        "/console/sales-imports/<int:import_id>/void",
        "/console/sales-imports/{foreign_import}/void",
        only({"manager": 404, "senior_manager": 409, "admin": 409}),  # not imported
        {"reason": "Sent twice by the ERP"},
    ),
    Case("GET", "/admin/programs", "/admin/programs", only({"admin": 200})),
    Case("GET", "/admin/programs/new/<period_code>", "/admin/programs/new/{current_period}", only({"admin": 200})),
    Case("GET", "/admin/programs/new/<period_code>", "/admin/programs/new/{previous_period}", only({"admin": 409})),
    Case("POST", "/admin/programs/new/<period_code>", "/admin/programs/new/{current_period}", only({"admin": 422})),
    Case("GET", "/admin/programs/<int:program_id>/edit", "/admin/programs/{program}/edit", only({"admin": 200})),
    Case("GET", "/admin/programs/<int:program_id>/edit", "/admin/programs/999999/edit", only({"admin": 404})),
    Case("POST", "/admin/programs/<int:program_id>/edit", "/admin/programs/{program}/edit", only({"admin": 422})),
    Case("GET", "/admin/statements", "/admin/statements", only({"admin": 200})),
    Case("POST", "/admin/statements/pay", "/admin/statements/pay", only({"admin": 422}), form={"reference": ""}),
    Case(
        "POST",
        "/admin/statements/pay",
        "/admin/statements/pay",
        only({"admin": 303}),
        form={"reference": "BANK-1", "statement_id": "{own_final_statement}"},
    ),
    Case(
        "POST",
        "/admin/statements/pay",
        "/admin/statements/pay",
        only({"admin": 409}),
        form={"reference": "BANK-1", "statement_id": "{own_final_statement}"},
    ),
    # --- training: dealers enrol their own people; managers see their portfolio's; anyone may check a number ---
    Case("GET", "/training/", "/training/", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case(
        "GET",
        "/training/sessions/<int:session_id>",
        "/training/sessions/{upcoming_session}",
        everyone(200, anonymous=302) | {"mediator": 403} | {"inspector": 403},
    ),
    Case(
        "GET",
        "/training/sessions/<int:session_id>",
        "/training/sessions/999999",
        everyone(404, anonymous=302) | {"mediator": 403} | {"inspector": 403},
    ),
    Case(
        "GET",
        "/training/enrollments/<int:enrollment_id>.ics",
        "/training/enrollments/{own_enrollment}.ics",
        only({"dealer_owner": 200, "dealer_staff": 200}),
    ),
    Case(
        "GET",
        "/training/enrollments/<int:enrollment_id>.ics",
        "/training/enrollments/{foreign_enrollment}.ics",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/training/sessions/<int:session_id>/enrol",
        "/training/sessions/{upcoming_session}/enrol",
        only({"dealer_owner": 303, "dealer_staff": 303, "suspended_owner": 409}),
        form={"person": "u{staff}"},
    ),
    Case(
        "POST",
        "/training/sessions/<int:session_id>/enrol",
        "/training/sessions/{upcoming_session}/enrol",
        only({"dealer_owner": 422, "dealer_staff": 422, "suspended_owner": 409}),  # already enrolled
        form={"person": "u{staff}"},
    ),
    Case(
        "POST",
        "/training/enrollments/<int:enrollment_id>/cancel",
        "/training/enrollments/{foreign_enrollment}/cancel",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/training/enrollments/<int:enrollment_id>/cancel",
        "/training/enrollments/{own_enrollment}/cancel",
        only({"dealer_owner": 303, "dealer_staff": 303}),
    ),
    Case(
        "POST",
        "/training/enrollments/<int:enrollment_id>/cancel",
        "/training/enrollments/{own_enrollment}/cancel",
        only({"dealer_owner": 409, "dealer_staff": 409}),
    ),
    Case("GET", "/dealer/training", "/dealer/training", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case(
        "GET",
        "/training/certificates/<number>",
        "/training/certificates/{own_certificate}",
        everyone(200, anonymous=302) | {"mediator": 403} | {"inspector": 403},
    ),
    Case(
        "GET",
        "/training/certificates/<number>",
        "/training/certificates/{foreign_certificate}",
        everyone(404, anonymous=302) | {"mediator": 403, "senior_manager": 200, "admin": 200} | {"inspector": 403},
    ),
    Case("GET", "/verify", "/verify?number={own_certificate}", everyone(200)),
    Case("GET", "/console/training", "/console/training", only({"manager": 200, "senior_manager": 200, "admin": 200})),
    Case(
        "GET",
        "/console/training/sessions/<int:session_id>",
        "/console/training/sessions/{began_session}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/console/training/enrollments/<int:enrollment_id>/attendance",
        "/console/training/enrollments/{foreign_enrollment}/attendance",
        only({"manager": 404, "senior_manager": 409, "admin": 409}),  # seen by seniors, but not begun
        form={"outcome": "attended"},
    ),
    Case(
        "POST",
        "/console/training/enrollments/<int:enrollment_id>/attendance",
        "/console/training/enrollments/{attending_enrollment}/attendance",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        form={"outcome": "attended"},
    ),
    Case(
        "POST",
        "/console/training/enrollments/<int:enrollment_id>/attendance",
        "/console/training/enrollments/{attending_enrollment}/attendance",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        form={"outcome": "completed"},
    ),
    Case("GET", "/admin/courses", "/admin/courses", only({"admin": 200})),
    Case("GET", "/admin/courses/new", "/admin/courses/new", only({"admin": 200})),
    Case("POST", "/admin/courses/new", "/admin/courses/new", only({"admin": 422})),
    Case("GET", "/admin/courses/<int:course_id>/edit", "/admin/courses/{course}/edit", only({"admin": 200})),
    Case("GET", "/admin/courses/<int:course_id>/edit", "/admin/courses/999999/edit", only({"admin": 404})),
    Case("POST", "/admin/courses/<int:course_id>/edit", "/admin/courses/{course}/edit", only({"admin": 422})),
    Case(
        "GET",
        "/admin/courses/<int:course_id>/sessions/new",
        "/admin/courses/{course}/sessions/new",
        only({"admin": 200}),
    ),
    Case(
        "POST",
        "/admin/courses/<int:course_id>/sessions/new",
        "/admin/courses/{course}/sessions/new",
        only({"admin": 422}),
    ),
    Case(
        "GET",
        "/admin/training/sessions/<int:session_id>/edit",
        "/admin/training/sessions/{upcoming_session}/edit",
        only({"admin": 200}),
    ),
    Case(
        "POST",
        "/admin/training/sessions/<int:session_id>/edit",
        "/admin/training/sessions/{upcoming_session}/edit",
        only({"admin": 422}),
    ),
    Case(
        "POST",
        "/admin/training/sessions/<int:session_id>/cancel",
        "/admin/training/sessions/{upcoming_session}/cancel",
        only({"admin": 422}),
        form={"reason": ""},
    ),
    Case(
        "POST",
        "/admin/training/sessions/<int:session_id>/cancel",
        "/admin/training/sessions/{upcoming_session}/cancel",
        only({"admin": 303}),
        form={"reason": "The trainer is ill."},
    ),
    Case(
        "POST",
        "/admin/training/sessions/<int:session_id>/cancel",
        "/admin/training/sessions/{upcoming_session}/cancel",
        only({"admin": 409}),
        form={"reason": "The trainer is ill."},
    ),
    # --- claims: dealers their own; reviewers their portfolio's submitted claims (drafts stay private); admins pay ---
    Case("GET", "/claims/", "/claims/", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("GET", "/claims/new", "/claims/new", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("POST", "/claims/new", "/claims/new", only({"dealer_owner": 422, "dealer_staff": 422})),
    Case(
        "POST",
        "/claims/new",
        "/claims/new",
        only({"dealer_owner": 303, "dealer_staff": 303, "suspended_owner": 409}),
        form=claim_form,
    ),
    Case("GET", "/claims/quick", "/claims/quick", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("POST", "/claims/quick", "/claims/quick", only({"dealer_owner": 422, "dealer_staff": 422})),
    Case(
        "POST",
        "/claims/quick",
        "/claims/quick",
        only({"dealer_owner": 303, "dealer_staff": 303, "suspended_owner": 409}),
        form=quick_claim_form,
    ),
    Case(
        "GET",
        "/claims/quick/check",
        "/claims/quick/check?amount=1.00&activity_end=2026-01-01",
        only({"dealer_owner": 200, "dealer_staff": 200}),
    ),
    Case("GET", "/claims/<int:claim_id>", "/claims/{own_draft}", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("GET", "/claims/<int:claim_id>", "/claims/{foreign_claim}", only({"dealer_owner": 404, "dealer_staff": 404})),
    Case(
        "GET",
        "/claims/<int:claim_id>/edit",
        "/claims/{own_draft}/edit",
        only({"dealer_owner": 200, "dealer_staff": 200}),
    ),
    Case(
        "GET",
        "/claims/<int:claim_id>/edit",
        "/claims/{foreign_claim}/edit",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "GET",
        "/claims/<int:claim_id>/edit",
        "/claims/{own_claim}/edit",
        only({"dealer_owner": 409, "dealer_staff": 409}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/edit",
        "/claims/{own_draft}/edit",
        only({"dealer_owner": 422, "dealer_staff": 422}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/edit",
        "/claims/{foreign_claim}/edit",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/evidence",
        "/claims/{own_draft}/evidence",
        only({"dealer_owner": 422, "dealer_staff": 422}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/evidence",
        "/claims/{foreign_claim}/evidence",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "GET",
        "/evidence/<int:evidence_id>/download",
        "/evidence/{draft_file}/download",
        everyone(404, anonymous=302) | {"dealer_owner": 200, "dealer_staff": 200},  # a draft stays the dealer's own
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/evidence/<int:evidence_id>/remove",
        "/claims/{foreign_claim}/evidence/{foreign_claim_file}/remove",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/evidence/<int:evidence_id>/remove",
        "/claims/{own_claim}/evidence/{own_claim_file}/remove",
        only({"dealer_owner": 404, "dealer_staff": 404}),  # submitted: its files are fixed
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/evidence/<int:evidence_id>/remove",
        "/claims/{own_draft}/evidence/{draft_file}/remove",
        only({"dealer_owner": 303, "dealer_staff": 404}),  # the owner or the uploader (the owner) removes it
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/submit",
        "/claims/{own_draft}/submit",
        only({"dealer_owner": 422, "dealer_staff": 422}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/submit",
        "/claims/{foreign_claim}/submit",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/submit",
        "/claims/{own_claim}/submit",
        only({"dealer_owner": 409, "dealer_staff": 409}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/withdraw",
        "/claims/{foreign_claim}/withdraw",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/withdraw",
        "/claims/{approved_claim}/withdraw",
        only({"dealer_owner": 409, "dealer_staff": 409}),
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/comments",
        "/claims/{own_claim}/comments",
        only({"dealer_owner": 303, "dealer_staff": 303, "manager": 303, "senior_manager": 303, "admin": 303}),
        form={"comment": "The photo is attached."},
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/comments",
        "/claims/{foreign_claim}/comments",
        only({"dealer_owner": 404, "dealer_staff": 404, "manager": 404, "senior_manager": 303, "admin": 303}),
        form={"comment": "Looks fine."},
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/comments",
        "/claims/{own_draft}/comments",
        only({"dealer_owner": 303, "dealer_staff": 303, "manager": 404, "senior_manager": 404, "admin": 404}),
        form={"comment": "A note to myself."},
    ),
    Case("GET", "/claims/pre-approvals", "/claims/pre-approvals", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("POST", "/claims/pre-approvals", "/claims/pre-approvals", only({"dealer_owner": 422, "dealer_staff": 422})),
    Case(
        "POST",
        "/claims/pre-approvals",
        "/claims/pre-approvals",
        only({"dealer_owner": 303, "dealer_staff": 303, "suspended_owner": 409}),
        form=pre_approval_form,
    ),
    Case("GET", "/console/claims", "/console/claims", only({"manager": 200, "senior_manager": 200, "admin": 200})),
    Case(
        "GET",
        "/console/claims",
        "/console/claims?status=all&flag=none",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/claims/report",
        "/console/claims/report",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/claims/<int:claim_id>",
        "/console/claims/{own_claim}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/claims/<int:claim_id>",
        "/console/claims/{foreign_claim}",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/claims/<int:claim_id>",
        "/console/claims/{own_draft}",
        only({"manager": 404, "senior_manager": 404, "admin": 404}),
    ),
    Case(
        "GET",
        "/console/claims/<int:claim_id>",
        "/console/claims/999999",
        only({"manager": 404, "senior_manager": 404, "admin": 404}),
    ),
    Case(
        "POST",
        "/console/claims/<int:claim_id>/decide",
        "/console/claims/{foreign_claim}/decide",
        only({"manager": 404, "senior_manager": 422, "admin": 422}),  # no decision chosen
    ),
    Case(
        "POST",
        "/console/claims/<int:claim_id>/decide",
        "/console/claims/{own_claim}/decide",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        form={"decision": "approve"},
    ),
    Case(
        "POST",
        "/console/claims/<int:claim_id>/decide",
        "/console/claims/{own_claim}/decide",
        only({"manager": 409, "senior_manager": 409, "admin": 409}),
        form={"decision": "reject", "reason_code": "duplicate", "reason": "Already claimed."},
    ),
    Case(
        "POST",
        "/console/claims/<int:claim_id>/ask-budget",
        "/console/claims/{own_claim}/ask-budget",
        only({"manager": 409, "senior_manager": 409, "admin": 409}),  # the budget has room for the whole claim
    ),
    Case(
        "POST",
        "/console/claims/<int:claim_id>/ask-budget",
        "/console/claims/{foreign_claim}/ask-budget",
        only({"manager": 404, "senior_manager": 409, "admin": 409}),
    ),
    Case(
        "POST",
        "/console/claims/bulk-approve",
        "/console/claims/bulk-approve",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/console/claims/bulk-approve",
        "/console/claims/bulk-approve",
        only({"manager": 404, "senior_manager": 303, "admin": 303}),  # foreign to the manager; small, unflagged
        form={"claim_ids": "{foreign_claim}"},
    ),
    Case(
        "GET",
        "/console/pre-approvals",
        "/console/pre-approvals",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/console/pre-approvals/<int:request_id>/decide",
        "/console/pre-approvals/{foreign_request}/decide",
        only({"manager": 404, "senior_manager": 303, "admin": 303}),
        form={"decision": "approve"},
    ),
    Case(
        "POST",
        "/console/pre-approvals/<int:request_id>/decide",
        "/console/pre-approvals/{own_request}/decide",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
        form={"decision": "reject"},  # a rejection needs its reason
    ),
    Case(
        "POST",
        "/console/pre-approvals/<int:request_id>/decide",
        "/console/pre-approvals/{own_request}/decide",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        form={"decision": "reject", "note": "Not in this quarter's plan."},
    ),
    Case(
        "POST",
        "/console/pre-approvals/<int:request_id>/decide",
        "/console/pre-approvals/{own_request}/decide",
        only({"manager": 409, "senior_manager": 409, "admin": 409}),
        form={"decision": "approve"},
    ),
    Case(
        "GET",
        "/evidence/<int:evidence_id>",
        "/evidence/{own_claim_file}",
        everyone(200, anonymous=302) | {"mediator": 404} | {"inspector": 404},
    ),
    Case(
        "GET",
        "/evidence/<int:evidence_id>/preview",
        "/evidence/{foreign_claim_file}/preview",
        everyone(404, anonymous=302) | {"senior_manager": 200, "admin": 200},
    ),
    Case("GET", "/admin/budgets", "/admin/budgets", only({"admin": 200})),
    Case("GET", "/admin/budgets", "/admin/budgets?period={previous_period}", only({"admin": 200})),
    Case(
        "POST",
        "/admin/budgets/<period_code>/<code>",
        "/admin/budgets/{current_period}/{own_dealer}",
        only({"admin": 422}),
    ),
    Case(
        "POST",
        "/admin/budgets/<period_code>/<code>",
        "/admin/budgets/{current_period}/{foreign_dealer}",
        only({"admin": 303}),
        form={"amount": "150,000.00"},
    ),
    Case(
        "POST",
        "/admin/budgets/<period_code>/<code>",
        "/admin/budgets/{previous_period}/{foreign_dealer}",
        only({"admin": 409}),
        form={"amount": "150,000.00"},
    ),
    Case("POST", "/admin/budgets/<period_code>/import", "/admin/budgets/{current_period}/import", only({"admin": 422})),
    Case("GET", "/admin/claims/payments", "/admin/claims/payments", only({"admin": 200})),
    Case("GET", "/admin/claims/payments.csv", "/admin/claims/payments.csv", only({"admin": 200})),
    Case("POST", "/admin/claims/payments", "/admin/claims/payments", only({"admin": 422})),
    Case(
        "POST",
        "/admin/claims/payments",
        "/admin/claims/payments",
        only({"admin": 303}),
        form={"claim_ids": "{approved_claim}", "reference": "BANK-2026-7"},
    ),
    Case(
        "POST",
        "/claims/<int:claim_id>/withdraw",
        "/claims/{own_draft}/withdraw",
        only({"dealer_owner": 303, "dealer_staff": 303}),
    ),
    # --- violations and disputes: dealers their own; managers their dealers'; mediators every dispute ---
    Case("GET", "/mediation/", "/mediation/?queue=overdue", only({"mediator": 200, "admin": 200})),
    Case("GET", "/dealer/violations", "/dealer/violations", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case(
        "GET",
        "/dealer/violations/<int:violation_id>",
        "/dealer/violations/{own_violation}",
        only({"dealer_owner": 200, "dealer_staff": 200}),
    ),
    Case(
        "GET",
        "/dealer/violations/<int:violation_id>",
        "/dealer/violations/{proposed_violation}",
        only({"dealer_owner": 404, "dealer_staff": 404}),  # not confirmed yet: the dealer does not see it
    ),
    Case(
        "GET",
        "/dealer/violations/<int:violation_id>",
        "/dealer/violations/{foreign_violation}",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "GET",
        "/evidence/<int:evidence_id>",
        "/evidence/{violation_file}",
        everyone(200, anonymous=302) | {"inspector": 404},
    ),
    Case(
        "POST",
        "/dealer/violations/<int:violation_id>/appeal",
        "/dealer/violations/{foreign_violation}/appeal",
        only({"dealer_owner": 404, "dealer_staff": 404}),
        form={"reason": "Not us."},
    ),
    Case(
        "POST",
        "/dealer/violations/<int:violation_id>/appeal",
        "/dealer/violations/{own_violation}/appeal",
        only({"dealer_owner": 422, "dealer_staff": 422}),
    ),
    Case(
        "POST",
        "/dealer/violations/<int:violation_id>/appeal",
        "/dealer/violations/{own_violation}/appeal",
        only({"dealer_owner": 303, "dealer_staff": 303}),
        form={"reason": "The sale was inside our territory."},
    ),
    Case(
        "POST",
        "/dealer/violations/<int:violation_id>/appeal",
        "/dealer/violations/{own_violation}/appeal",
        only({"dealer_owner": 409, "dealer_staff": 409}),
        form={"reason": "Again."},
    ),
    Case(
        "GET", "/console/violations", "/console/violations", only({"manager": 200, "senior_manager": 200, "admin": 200})
    ),
    Case(
        "GET",
        "/console/violations/<int:violation_id>",
        "/console/violations/{proposed_violation}",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/violations/<int:violation_id>",
        "/console/violations/{foreign_violation}",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/violations/new",
        "/console/dealers/{own_dealer}/violations/new",
        only({"manager": 200, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/console/dealers/<code>/violations/new",
        "/console/dealers/{foreign_dealer}/violations/new",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/console/dealers/<code>/violations/new",
        "/console/dealers/{own_dealer}/violations/new",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/console/violations/<int:violation_id>/evidence",
        "/console/violations/{proposed_violation}/evidence",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/console/violations/<int:violation_id>/evidence",
        "/console/violations/{foreign_violation}/evidence",
        only({"manager": 404, "senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/console/violations/<int:violation_id>/confirm",
        "/console/violations/{foreign_violation}/confirm",
        only({"manager": 404, "senior_manager": 409, "admin": 409}),  # already confirmed
    ),
    Case(
        "POST",
        "/console/violations/<int:violation_id>/confirm",
        "/console/violations/{proposed_violation}/confirm",
        only({"manager": 403, "senior_manager": 303, "admin": 303}),
    ),
    Case(
        "POST",
        "/console/violations/<int:violation_id>/withdraw",
        "/console/violations/{proposed_violation}/withdraw",
        only({"manager": 303, "senior_manager": 409, "admin": 409}),
    ),
    Case("GET", "/disputes/directory", "/disputes/directory?q=star", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("GET", "/disputes/new", "/disputes/new", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case("POST", "/disputes/new", "/disputes/new", only({"dealer_owner": 422, "dealer_staff": 422})),
    Case(
        "GET",
        "/disputes/<int:dispute_id>",
        "/disputes/{cross_dispute}",
        everyone(200, anonymous=302) | {"inspector": 403},
    ),
    Case(
        "GET",
        "/disputes/<int:dispute_id>",
        "/disputes/{foreign_dispute}",
        everyone(404, anonymous=302) | {"senior_manager": 200, "mediator": 200, "admin": 200} | {"inspector": 403},
    ),
    Case(
        "GET",
        "/evidence/<int:evidence_id>/download",
        "/evidence/{cross_dispute_file}/download",
        everyone(200, anonymous=302) | {"inspector": 404},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/messages",
        "/disputes/{cross_dispute}/messages",
        everyone(303, anonymous=302)
        | {"manager": 403, "senior_manager": 403}
        | {"inspector": 403},  # managers read, never write
        form={"body": "Here is the quote."},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/messages",
        "/disputes/{foreign_dispute}/messages",
        # nobody holds it yet: a mediator takes it before writing in it; an administrator stands in
        everyone(404, anonymous=302) | {"senior_manager": 403, "mediator": 409, "admin": 303} | {"inspector": 403},
        form={"body": "Hello."},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/evidence",
        "/disputes/{cross_dispute}/evidence",
        only({"dealer_owner": 422, "dealer_staff": 422, "mediator": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/evidence",
        "/disputes/{foreign_dispute}/evidence",
        only({"dealer_owner": 404, "dealer_staff": 404, "mediator": 422, "admin": 422}),  # an empty form: 422 first
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/take",
        "/disputes/{foreign_dispute}/take",
        only({"mediator": 303}),
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/assign",
        "/disputes/{cross_dispute}/assign",
        only({"mediator": 303, "admin": 303}),
        form={"mediator": "{mediator}"},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/request-information",
        "/disputes/{cross_dispute}/request-information",
        only({"mediator": 303, "admin": 303}),
        form={"party": "{own_dealer_id}", "message": "Send the quote.", "days": "5"},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/resolve",
        "/disputes/{cross_dispute}/resolve",
        only({"mediator": 422, "admin": 422}),
        form={"outcome": "no_action", "summary": ""},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/resolve",
        "/disputes/{cross_dispute}/resolve",
        only({"mediator": 200, "admin": 200}),  # the confirm step: what it would do, nothing applied
        form={"outcome": "no_action", "summary": "Both prices were approved."},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/resolve",
        "/disputes/{cross_dispute}/resolve",
        only({"mediator": 303, "admin": 303}),
        form={"outcome": "no_action", "summary": "Both prices were approved.", "confirmed": "yes"},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/resolve",
        "/disputes/{cross_dispute}/resolve",
        only({"mediator": 409, "admin": 409}),
        form={"outcome": "no_action", "summary": "Again."},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/dismiss",
        "/disputes/{cross_dispute}/dismiss",
        only({"mediator": 409, "admin": 409}),
        form={"reason": "Too late."},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/dismiss",
        "/disputes/{foreign_dispute}/dismiss",
        only({"mediator": 303, "admin": 303}),
        form={"reason": "Not a dispute between dealers."},
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/withdraw",
        "/disputes/{foreign_dispute}/withdraw",
        only({"dealer_owner": 404, "dealer_staff": 404}),
    ),
    Case(
        "POST",
        "/disputes/<int:dispute_id>/withdraw",
        "/disputes/{cross_dispute}/withdraw",
        only({"dealer_owner": 303, "dealer_staff": 303}),
    ),
    # The referee: the suspicion queue (channel managers), price lists, products and territories (read by managers,
    # kept by senior managers and admins), a dealer's prices (its owner acknowledges them).
    Case("GET", "/referee/suspicions", "/referee/suspicions", only(DECIDE_200)),
    Case("GET", "/referee/suspicions/<int:suspicion_id>", "/referee/suspicions/{suspicion}", only(DECIDE_200)),
    Case(
        "GET",
        "/referee/suspicions/<int:suspicion_id>",
        "/referee/suspicions/{foreign_suspicion}",
        only({"manager": 404, "senior_manager": 200, "admin": 200}),
    ),
    Case(
        "POST",
        "/referee/suspicions/<int:suspicion_id>/dismiss",
        "/referee/suspicions/{suspicion}/dismiss",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/referee/suspicions/<int:suspicion_id>/violation",
        "/referee/suspicions/{suspicion}/violation",
        only({"manager": 422, "senior_manager": 422, "admin": 422}),
        form={"penalty": "-5"},
    ),
    Case(
        "POST",
        "/referee/suspicions/<int:suspicion_id>/violation",
        "/referee/suspicions/{foreign_suspicion}/violation",
        only({"manager": 404, "senior_manager": 303, "admin": 303}),
        form={"penalty": "100.00", "description": "Below the floor again.", "change_reason": "Warned before."},
    ),
    Case(
        "POST",
        "/referee/suspicions/<int:suspicion_id>/dismiss",
        "/referee/suspicions/{foreign_suspicion}/dismiss",
        only({"manager": 404, "senior_manager": 409, "admin": 409}),  # made a violation just above
        form={"reason": "A clearance sale we agreed."},
    ),
    Case(
        "POST",
        "/referee/suspicions/<int:suspicion_id>/dismiss",
        "/referee/suspicions/{suspicion}/dismiss",
        only({"manager": 303, "senior_manager": 303, "admin": 303}),
        form={"reason": "A clearance sale we agreed."},
    ),
    Case("GET", "/referee/price-lists", "/referee/price-lists", only(DECIDE_200)),
    Case("POST", "/referee/price-lists", "/referee/price-lists", only({"senior_manager": 422, "admin": 422})),
    Case("GET", "/referee/price-lists/<int:price_list_id>", "/referee/price-lists/{price_list}", only(DECIDE_200)),
    Case("GET", "/referee/price-lists/<int:price_list_id>", "/referee/price-lists/999999", only(DECIDE_404)),
    Case(
        "POST",
        "/referee/price-lists/<int:price_list_id>/prices",
        "/referee/price-lists/{draft_list}/prices",
        only({"senior_manager": 422, "admin": 422}),
    ),
    Case(
        "POST",
        "/referee/price-lists/<int:price_list_id>/prices",
        "/referee/price-lists/{price_list}/prices",
        only({"senior_manager": 409, "admin": 409}),  # published: it never changes
        form=published_prices_file,
    ),
    Case(
        "POST",
        "/referee/price-lists/<int:price_list_id>/publish",
        "/referee/price-lists/{price_list}/publish",
        only({"senior_manager": 409, "admin": 409}),
    ),
    Case("GET", "/referee/products", "/referee/products", only(DECIDE_200)),
    Case("POST", "/referee/products", "/referee/products", only({"senior_manager": 422, "admin": 422})),
    Case("GET", "/referee/territories", "/referee/territories", only(DECIDE_200)),
    Case(
        "GET",
        "/referee/territories/<code>",
        "/referee/territories/{referee_territory}",
        only({"senior_manager": 200, "admin": 200}),
    ),
    Case(
        "GET",
        "/referee/territories/<code>",
        "/referee/territories/NOWHERE",
        only({"senior_manager": 404, "admin": 404}),
    ),
    Case(
        "POST",
        "/referee/territories/<code>",
        "/referee/territories/{referee_territory}",
        only({"senior_manager": 422, "admin": 422}),
        form={"regions": "Atlantis"},
    ),
    Case("GET", "/referee/shipments", "/referee/shipments", only(DECIDE_200)),
    Case("POST", "/referee/shipments", "/referee/shipments", only({"senior_manager": 422, "admin": 422})),
    Case(
        "GET",
        "/referee/field-check",
        "/referee/field-check",
        only({**DECIDE_200, "inspector": 200, "dealer_owner": 200}),
    ),
    Case(
        "GET",
        "/referee/field-check/regions",
        "/referee/field-check/regions?region=南山",
        only({**DECIDE_200, "inspector": 200, "dealer_owner": 200}),
    ),
    Case(
        "POST",
        "/referee/field-check",
        "/referee/field-check",
        only({**DECIDE_422, "inspector": 422, "dealer_owner": 422}),
        form={"code": "QR-X", "region": "Atlantis", "seen_on": "2026-01-01"},
    ),
    Case(
        "POST",
        "/referee/field-check",
        "/referee/field-check",
        only({**DECIDE_303, "inspector": 303, "dealer_owner": 303}),
        form={"code": "{shipped_code}", "region": "110105", "shop": "Wudaokou market", "seen_on": "2026-01-01"},
    ),
    Case("GET", "/referee/prices", "/referee/prices", only({"dealer_owner": 200, "dealer_staff": 200})),
    Case(
        "POST",
        "/referee/prices/<int:price_list_id>/acknowledge",
        "/referee/prices/{draft_list}/acknowledge",
        only({"dealer_owner": 404, "dealer_staff": 404}),  # a draft is no one's to read yet
    ),
    Case(
        "POST",
        "/referee/prices/<int:price_list_id>/acknowledge",
        "/referee/prices/{price_list}/acknowledge",
        only({"dealer_owner": 303, "dealer_staff": 403}),
    ),
    Case(
        "POST",
        "/referee/price-lists/<int:price_list_id>/publish",
        "/referee/price-lists/{draft_list}/publish",
        only({"senior_manager": 303, "admin": 303}),
    ),
    Case(
        "POST",
        "/referee/territories/<code>",
        "/referee/territories/{referee_territory}",
        only({"senior_manager": 303, "admin": 303}),
        form={"regions": "440000, 上海市"},
    ),
    # Sales campaigns: run by admins and senior managers, read by managers, a dealer's own page for its people.
    Case("GET", "/campaigns/", "/campaigns/", only(DECIDE_200)),
    Case("GET", "/campaigns/new", "/campaigns/new", only(RUN_200)),
    Case("POST", "/campaigns/new", "/campaigns/new", only(RUN_422), form={"name_en": "x"}),
    Case("POST", "/campaigns/new", "/campaigns/new", only(RUN_303), form=campaign_form),
    Case("GET", "/campaigns/<int:campaign_id>", "/campaigns/{draft_campaign}", only(DECIDE_200)),
    Case("GET", "/campaigns/<int:campaign_id>", "/campaigns/999999", only(DECIDE_404)),
    Case("GET", "/campaigns/<int:campaign_id>/edit", "/campaigns/{draft_campaign}/edit", only(RUN_200)),
    Case("GET", "/campaigns/<int:campaign_id>/edit", "/campaigns/999999/edit", only(RUN_404)),
    Case(
        "POST",
        "/campaigns/<int:campaign_id>/edit",
        "/campaigns/{draft_campaign}/edit",
        only(RUN_303),
        form=campaign_form,
    ),
    Case("POST", "/campaigns/<int:campaign_id>/launch", "/campaigns/999999/launch", only(RUN_404)),
    Case("POST", "/campaigns/<int:campaign_id>/launch", "/campaigns/{draft_campaign}/launch", only(RUN_303)),
    Case("POST", "/campaigns/<int:campaign_id>/launch", "/campaigns/{draft_campaign}/launch", only(RUN_409)),
    Case(
        "POST",
        "/campaigns/<int:campaign_id>/request-settlement",
        "/campaigns/{live_campaign}/request-settlement",
        only(RUN_409),  # still running
    ),
    Case(
        "POST",
        "/campaigns/<int:campaign_id>/request-settlement",
        "/campaigns/{ended_campaign}/request-settlement",
        only(RUN_303),
    ),
    Case("POST", "/campaigns/<int:campaign_id>/send-back", "/campaigns/{ended_campaign}/send-back", only(RUN_303)),
    Case("POST", "/campaigns/<int:campaign_id>/cancel", "/campaigns/{ended_campaign}/cancel", only(RUN_303)),
    Case("POST", "/campaigns/<int:campaign_id>/settle", "/campaigns/{live_campaign}/settle", only(RUN_409)),
    Case(
        "POST",
        "/campaigns/<int:campaign_id>/settle",
        "/campaigns/{requested_campaign}/settle",
        only({"senior_manager": 303, "admin": 409}),  # the admin asked for it: a second person confirms
    ),
    Case("GET", "/campaigns/mine", "/campaigns/mine", only({"dealer_owner": 200, "dealer_staff": 200})),
    # News and policies: read by the dealers addressed, written by admins and senior managers (any audience) and
    # managers (their portfolio; another's draft is not found).
    Case("GET", "/news/", "/news/", only(READ_200)),
    Case("GET", "/news/<int:announcement_id>", "/news/{notice}", only(READ_200)),
    Case("GET", "/news/<int:announcement_id>", "/news/{foreign_notice}", only(READ_404)),
    Case("GET", "/news/<int:announcement_id>", "/news/{news_draft}", only(READ_404)),
    Case("GET", "/news/policies", "/news/policies", only(READ_200)),
    Case("POST", "/news/<int:announcement_id>/acknowledge", "/news/{foreign_notice}/acknowledge", only(READ_404)),
    Case("POST", "/news/<int:announcement_id>/acknowledge", "/news/{policy}/acknowledge", only(READ_404)),
    Case(
        "POST",
        "/news/<int:announcement_id>/acknowledge",
        "/news/{notice}/acknowledge",
        only({"dealer_owner": 303, "dealer_staff": 403}),  # the owner acknowledges for the dealer
    ),
    Case("GET", "/news/manage/", "/news/manage/", only(DECIDE_200)),
    Case("GET", "/news/manage/new", "/news/manage/new", only(DECIDE_200)),
    Case("POST", "/news/manage/new", "/news/manage/new", only(DECIDE_422), form={"title_en": ""}),
    Case("POST", "/news/manage/new", "/news/manage/new", only(DECIDE_303), form=news_form),
    Case("GET", "/news/manage/<int:announcement_id>", "/news/manage/{news_draft}", only({**RUN_200, "manager": 404})),
    Case("GET", "/news/manage/<int:announcement_id>", "/news/manage/{notice}", only(DECIDE_200)),
    Case("GET", "/news/manage/<int:announcement_id>", "/news/manage/999999", only(DECIDE_404)),
    Case(
        "GET",
        "/news/manage/<int:announcement_id>/edit",
        "/news/manage/{news_draft}/edit",
        only({**RUN_200, "manager": 404}),
    ),
    Case("GET", "/news/manage/<int:announcement_id>/edit", "/news/manage/{manager_draft}/edit", only(DECIDE_200)),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/edit",
        "/news/manage/{manager_draft}/edit",
        only(DECIDE_303),
        form=news_form,
    ),
    # An announcement's attachments: read by whoever reads or manages it; added and removed while it is a draft.
    Case("GET", "/evidence/<int:evidence_id>", "/evidence/{notice_attachment}", only({**READ_200, **DECIDE_200}, 404)),
    Case(
        "GET",
        "/evidence/<int:evidence_id>/download",
        "/evidence/{foreign_attachment}/download",
        only(DECIDE_200, 404),  # D003's notice: any manager reads a published one, D001's people do not
    ),
    Case("GET", "/evidence/<int:evidence_id>", "/evidence/{draft_attachment}", only(RUN_200, 404)),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/attachments",
        "/news/manage/{manager_draft}/attachments",
        only(DECIDE_422),
    ),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/attachments",
        "/news/manage/{manager_draft}/attachments",
        only(DECIDE_303),
        form=attachment_form,
    ),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/attachments",
        "/news/manage/{notice}/attachments",
        only(DECIDE_404),  # published: nothing is added any more
        form=attachment_form,
    ),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/attachments/<int:evidence_id>/remove",
        "/news/manage/{notice}/attachments/{notice_attachment}/remove",
        only(DECIDE_404),
    ),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/attachments/<int:evidence_id>/remove",
        "/news/manage/{notice}/attachments/{draft_attachment}/remove",
        only({**RUN_404, "manager": 404}),
    ),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/attachments/<int:evidence_id>/remove",
        "/news/manage/{news_draft}/attachments/{draft_attachment}/remove",
        only({**RUN_303, "manager": 404}),
    ),
    Case(
        "POST", "/news/manage/<int:announcement_id>/publish", "/news/manage/{manager_draft}/publish", only(DECIDE_303)
    ),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/publish",
        "/news/manage/{news_draft}/publish",
        only({**RUN_303, "manager": 404}),
    ),
    Case(
        "POST",
        "/news/manage/<int:announcement_id>/withdraw",
        "/news/manage/{foreign_notice}/withdraw",
        only({**RUN_303, "manager": 404}),  # a manager reads another's published announcement, never withdraws it
    ),
    # Business plans: a dealer's people and the manufacturer's (the dealer's manager, seniors, admins); staff read.
    Case("GET", "/plans/", "/plans/", only(PLAN_200)),
    Case("GET", "/plans/visits/", "/plans/visits/", only(PLAN_200)),
    Case("GET", "/plans/<int:plan_id>", "/plans/{own_plan}", only(PLAN_200)),
    Case("GET", "/plans/<int:plan_id>", "/plans/{foreign_plan}", only(PLAN_FOREIGN_200)),
    Case("GET", "/plans/<int:plan_id>", "/plans/999999", only(PLAN_404)),
    Case("GET", "/plans/<int:plan_id>/versions", "/plans/{own_plan}/versions", only(PLAN_200)),
    Case("GET", "/plans/<int:plan_id>/versions", "/plans/{foreign_plan}/versions", only(PLAN_FOREIGN_200)),
    Case("POST", "/plans/new", "/plans/new", only(PLANNER_422), form={"period": "nope"}),
    Case(  # the owner's dealer already has a plan for 2030-Q1 (the spare one); the others start D002's
        "POST",
        "/plans/new",
        "/plans/new",
        only({**DECIDE_303, "dealer_owner": 422}),
        form={"period": "{open_period}", "dealer_code": "{second_dealer}"},
    ),
    Case(
        "POST", "/plans/<int:plan_id>/goals", "/plans/{own_plan}/goals", only(PLANNER_422), form={"kind": "certified"}
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/goals",
        "/plans/{own_plan}/goals",
        only(PLANNER_303),
        form={"kind": "new_outlets", "count": "5"},
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/goals",
        "/plans/{foreign_plan}/goals",
        only(PLANNER_FOREIGN_303),
        form={"kind": "new_outlets", "count": "5"},
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/goals/<int:goal_id>/remove",
        "/plans/{own_plan}/goals/{foreign_goal}/remove",
        only(PLANNER_404),
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/goals/<int:goal_id>/remove",
        "/plans/{own_plan}/goals/{own_goal}/remove",
        only(PLANNER_303),
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/actions",
        "/plans/{own_plan}/actions",
        only(PLANNER_303),
        form={"what": "Open a counter in Suzhou", "side": "dealer", "due_on": "2030-03-01"},
    ),
    Case("POST", "/plans/<int:plan_id>/actions", "/plans/{own_plan}/actions", only(PLANNER_422), form={"what": ""}),
    Case(
        "POST",
        "/plans/<int:plan_id>/actions/<int:action_id>/done",
        "/plans/{foreign_plan}/actions/{foreign_action}/done",
        only(PLANNER_FOREIGN_303),
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/actions/<int:action_id>/done",
        "/plans/{own_plan}/actions/{own_action}/done",
        only(PLANNER_303),
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/actions/<int:action_id>/done",
        "/plans/{own_plan}/actions/{own_action}/done",
        only(PLANNER_409),
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/actions/<int:action_id>/remove",
        "/plans/{own_plan}/actions/{foreign_action}/remove",
        only(PLANNER_404),
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/actions/<int:action_id>/remove",
        "/plans/{own_plan}/actions/{own_action}/remove",
        only(PLANNER_303),
    ),
    Case(
        "POST", "/plans/<int:plan_id>/accept", "/plans/{spare_plan}/accept", only(PLANNER_422), form={"revision": "x"}
    ),
    Case(
        "POST",
        # D003's plan: changed once (revision 1) by the goal a senior manager or admin added above
        "/plans/<int:plan_id>/accept",
        "/plans/{foreign_plan}/accept",
        only(PLANNER_FOREIGN_303),
        form={"revision": "1"},
    ),
    Case(
        "POST", "/plans/<int:plan_id>/accept", "/plans/{spare_plan}/accept", only(PLANNER_303), form={"revision": "0"}
    ),
    Case(
        "POST", "/plans/<int:plan_id>/accept", "/plans/{spare_plan}/accept", only(PLANNER_409), form={"revision": "0"}
    ),
    Case("POST", "/plans/<int:plan_id>/review", "/plans/{own_plan}/review", only(DECIDE_409), form={"notes": "Early"}),
    Case(
        "POST",
        "/plans/<int:plan_id>/review",
        "/plans/{foreign_plan}/review",
        only(RUN_409 | {"manager": 404}),
        form={"notes": "x"},
    ),
    Case("POST", "/plans/<int:plan_id>/review", "/plans/{ended_plan}/review", only(DECIDE_422), form={"notes": ""}),
    Case(
        "POST",
        "/plans/<int:plan_id>/review",
        "/plans/{ended_plan}/review",
        only(DECIDE_303),
        form={"notes": "Most goals met."},
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/comment",
        "/plans/{own_plan}/comment",
        only({"dealer_owner": 409}),
        form={"comments": "x"},
    ),
    Case(
        "POST",
        "/plans/<int:plan_id>/comment",
        "/plans/{reviewed_plan}/comment",
        only({"dealer_owner": 303}),
        form={"comments": "We missed the outlets: two landlords said no."},
    ),
    Case("GET", "/plans/visits/new", "/plans/visits/new", only(DECIDE_200)),
    Case("POST", "/plans/visits/new", "/plans/visits/new", only(DECIDE_422), form={"dealer_code": ""}),
    Case("POST", "/plans/visits/new", "/plans/visits/new", only(DECIDE_303), form=visit_form),
    Case(
        "GET",
        "/plans/visits/<int:visit_id>/edit",
        "/plans/visits/{own_visit}/edit",
        only({**DECIDE_404, "manager": 200}),
    ),
    Case("GET", "/plans/visits/<int:visit_id>/edit", "/plans/visits/{foreign_visit}/edit", only(DECIDE_404)),
    Case(
        "POST",
        "/plans/visits/<int:visit_id>/edit",
        "/plans/visits/{own_visit}/edit",
        only({**DECIDE_404, "manager": 303}),
        form=visit_form,
    ),
)


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    covered = {(case.method, case.rule) for case in MATRIX}
    missing = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) not in covered:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"routes missing from the access matrix: {missing}"


def test_every_matrix_row_names_every_role() -> None:
    for case in MATRIX:
        assert set(case.expected) == set(ROLES), case


def url_of(case: Case, world: World, role: str) -> str:
    """The row's URL with the test world's real codes and ids in it."""
    return case.url.format(
        **world.placeholders(),
        my_notification=world.notifications.get(PERSONAS.get(role, role), 1),
        foreign_notification=world.notifications["other_manager"],
    )


def become(app: Flask, world: World, role: str) -> str:
    """The email a role logs in with; the suspended owner is D001's owner, with D001 suspended first."""
    if role == "suspended_owner":
        with app.app_context():
            db.session.execute(
                sa.update(Dealer).where(Dealer.code == world.own_dealer).values(status=DealerStatus.SUSPENDED)
            )
            db.session.commit()
    return world.emails[PERSONAS.get(role, role)]


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app: Flask, world: World, role: str) -> None:
    """One client per role; after a POST (which may log out or change the session) log in again."""
    failures = []
    client = app.test_client()
    email = become(app, world, role) if role != "anonymous" else ""

    def fresh_login() -> None:
        client.delete_cookie("portal_session")
        if role != "anonymous":
            log_in(client, email)

    fresh_login()
    for case in MATRIX:
        url = url_of(case, world, role)
        form = case.form_for(world)
        response = client.open(url, method=case.method, data=form or None)
        response.close()
        if response.status_code != case.expected[role]:
            failures.append(f"{case.method} {url}: expected {case.expected[role]}, got {response.status_code}")
        if case.method != "GET":
            fresh_login()
    assert not failures, f"{role}: " + "; ".join(failures)


@pytest.mark.parametrize("role", ["dealer_owner", "dealer_staff"])
def test_dealer_home_shows_only_the_users_own_dealer(app: Flask, channel: Channel, role: str) -> None:
    client = app.test_client()
    log_in(client, channel.emails[role])
    html = client.get("/dealer/").get_data(as_text=True)
    assert "Eastern Star Trading" in html
    assert "Western Wind Retail" not in html and "Northern Light Supply" not in html
    assert "owner3@example.test" not in html


def test_manager_portfolio_lists_only_the_portfolio(app: Flask, channel: Channel) -> None:
    client = app.test_client()
    log_in(client, channel.emails["manager"])
    html = client.get("/console/").get_data(as_text=True)
    assert "Eastern Star Trading" in html and "Northern Light Supply" in html
    assert "Western Wind Retail" not in html
    senior = app.test_client()
    log_in(senior, channel.emails["senior_manager"])
    assert "Western Wind Retail" in senior.get("/console/").get_data(as_text=True)


def fragment_status(case: Case, role: str) -> int:
    """An htmx request gets what the page gets, except that redirects tell htmx to load the whole page (HX-Redirect)
    instead of swapping a redirect's target into a fragment: a missing login answers 401, a 303 answers 204."""
    page_status = case.expected[role]
    if page_status == 303:
        return 204
    if role == "anonymous" and page_status == 302 and case.rule != "/":  # "/" itself is public: it only redirects
        return 401
    return page_status


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix_for_htmx_fragments(app: Flask, world: World, role: str) -> None:
    """Every GET row again as an htmx request: a fragment never shows more than its page."""
    failures = []
    client = app.test_client()
    if role != "anonymous":
        log_in(client, become(app, world, role))
    for case in MATRIX:
        if case.method != "GET" or case.rule.startswith("/api/"):  # the API is no page: htmx never calls it
            continue
        url = url_of(case, world, role)
        response = client.get(url, headers={"HX-Request": "true"})
        response.close()
        expected = fragment_status(case, role)
        if response.status_code != expected:
            failures.append(f"GET {url} (htmx): expected {expected}, got {response.status_code}")
        if response.status_code in (204, 401) and not response.headers.get("HX-Redirect"):
            failures.append(f"GET {url} (htmx): {response.status_code} without HX-Redirect")
    assert not failures, f"{role}: " + "; ".join(failures)
