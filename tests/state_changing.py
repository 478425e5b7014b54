"""Every state-changing route with the role that may use it, a URL with real objects and a valid form.

Shared by the CSRF tests and the Hypothesis form tests; a POST route missing here fails test_csrf.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.accounts.models import User
from portal.claims.budgets import budget_of
from portal.claims.models import Claim, FundAllocation
from portal.dealers import closing
from portal.dealers.models import Period
from portal.extensions import db
from tests.evidence_files import pdf
from tests.factories import PASSWORD, RECOVERY_CODES, World, activity_day, this_quarter, today
from tests.helpers import csrf_token_on, log_in, start_two_factor_login

NEW_PASSWORD = "a brand new long password"


def news_form() -> dict[str, object]:
    """A policy for two named dealers of the manager's portfolio, codes pasted with a Chinese comma."""
    return {
        "kind": "policy",
        "title_en": "Penalty schedule 2027",
        "title_zh": "2027 年处罚标准",
        "body_en": "| Breach | Penalty |\n|---|---|\n| Below the floor | 2,000.00 |",
        "body_zh": "低于最低限价：罚款 2,000.00 元。",
        "audience_kind": "dealers",
        "audience_codes": "d001，D002",
        "must_acknowledge": "y",
        "expires_on": "",
        "policy_key": "Penalty-Schedule",
    }


def campaign_form() -> dict[str, object]:
    """A campaign as pasted from a spreadsheet: Chinese commas between SKUs, a lump sum at a money threshold."""
    first, last = this_quarter()[1:]
    return {
        "name_en": "Spring sprint",
        "name_zh": "春季冲刺",
        "description": "Sell the new AC line.",
        "audience_kind": "territories",
        "audience_codes": "east\nNORTH",
        "starts_on": first.isoformat(),
        "ends_on": last.isoformat(),
        "skus": "ac-1200，AC-900\t",
        "product_lines": "",
        "currency": "CNY",
        "measure": "amount",
        "reward_kind": "threshold",
        "rate": "3,000.00",
        "threshold_amount": "120,000",
        "cap": "",
        "budget": "90,000.00",
    }


@dataclass(frozen=True)
class Route:
    rule: str
    role: str | None  # None: anonymous
    url: Callable[[World], str]
    form: Callable[[World], dict[str, object]]
    fields: tuple[str, ...] = field(default=())
    # Brings an anonymous client to where the route is used (the code step of a login), instead of logging in.
    before: Callable[[FlaskClient, World], None] | None = None
    # What a valid form answers: a redirect, or 200 for a page shown once (new recovery codes).
    done: int = 303


def _close_asked_for(client: FlaskClient, world: World, role: str) -> None:
    """An admin has asked for the close of the ended period; then `role` logs in (with the form's token when CSRF
    is on), to confirm or withdraw it."""
    app = client.application
    with app.app_context():
        period = db.session.execute(select(Period).where(Period.code == world.ended_period)).scalar_one()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        closing.request_close(admin, period)
        db.session.commit()
    token = csrf_token_on(client, "/login")
    log_in(client, world.emails[role], **({"csrf_token": token} if token else {}))


def _budget_short(client: FlaskClient, world: World, role: str) -> None:
    """The waiting claim holds nothing and its budget has nothing left (as after a reopening into a full
    budget); then `role` logs in."""
    app = client.application
    with app.app_context():
        claim = db.session.get(Claim, world.claims.own_claim)
        assert claim is not None
        db.session.execute(update(Claim).where(Claim.id == claim.id).values(budget_held=0))
        budget = budget_of(claim.dealer, claim.period)
        db.session.execute(
            update(FundAllocation)
            .where(FundAllocation.dealer_id == claim.dealer_id, FundAllocation.period_id == claim.period_id)
            .values(amount=budget.approved + budget.pending)
        )
        db.session.commit()
    token = csrf_token_on(client, "/login")
    log_in(client, world.emails[role], **({"csrf_token": token} if token else {}))


def totp_code(secret: str) -> str:

    return pyotp.TOTP(secret).now()


def _at_the_code_step(client: FlaskClient, world: World) -> None:

    start_two_factor_login(client, world.emails["two_factor_manager"])


def _pdf_upload() -> tuple[io.BytesIO, str]:

    return io.BytesIO(pdf()), "invoice.pdf"


STATE_CHANGING = (
    Route("/dealer/documents", "dealer_owner", lambda w: "/dealer/documents", lambda w: {"file": _pdf_upload()}),
    Route(
        "/dealer/documents/<int:evidence_id>/remove",
        "dealer_owner",
        lambda w: f"/dealer/documents/{w.people.own_document}/remove",
        lambda w: {},
    ),
    Route(
        "/notifications/<int:notification_id>/open",
        "manager",
        lambda w: f"/notifications/{w.notifications['manager']}/open",
        lambda w: {},
    ),
    Route(
        "/notifications/<int:notification_id>/read",
        "manager",
        lambda w: f"/notifications/{w.notifications['manager']}/read",
        lambda w: {},
    ),
    Route("/notifications/read-all", "manager", lambda w: "/notifications/read-all", lambda w: {}),
    Route(
        "/notifications/preferences",
        "manager",
        lambda w: "/notifications/preferences",
        lambda w: {"portfolio_changed": "y", "colleague_added": "y"},
    ),
    Route("/admin/jobs/retry-emails", "admin", lambda w: "/admin/jobs/retry-emails", lambda w: {}),
    Route("/password/forgot", None, lambda w: "/password/forgot", lambda w: {"email": w.emails["dealer_staff"]}),
    Route(
        "/password/reset/<token>",
        None,
        lambda w: f"/password/reset/{w.tokens['reset']}",
        lambda w: {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    ),
    Route(
        "/invitation/<token>",
        None,
        lambda w: f"/invitation/{w.tokens['invitation']}",
        lambda w: {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    ),
    Route("/login", None, lambda w: "/login", lambda w: {"email": w.emails["manager"], "password": PASSWORD}),
    Route("/logout", "manager", lambda w: "/logout", lambda w: {}),
    Route(
        "/login/two-factor",
        None,
        lambda w: "/login/two-factor",
        lambda w: {"code": totp_code(w.tokens["totp_secret"])},
        before=_at_the_code_step,
    ),
    Route(
        "/account/two-factor/setup",
        "manager",
        lambda w: "/account/two-factor/setup",
        lambda w: {"password": PASSWORD},
        done=200,  # the key is shown once, in this answer
    ),
    Route(
        "/account/two-factor/confirm",
        "two_factor_manager",
        lambda w: "/account/two-factor/confirm",
        lambda w: {
            "code": totp_code(w.tokens["pending_totp_secret"]),
            "password": PASSWORD,
            "current_code": RECOVERY_CODES[0],  # the login just used this step's app code
        },
        done=200,
    ),
    Route(
        "/account/two-factor/recovery-codes",
        "two_factor_manager",
        lambda w: "/account/two-factor/recovery-codes",
        lambda w: {"password": PASSWORD, "code": RECOVERY_CODES[1]},
        done=200,
    ),
    Route(
        "/account/two-factor/disable",
        "two_factor_manager",
        lambda w: "/account/two-factor/disable",
        lambda w: {"password": PASSWORD, "code": RECOVERY_CODES[0]},
    ),
    Route(
        "/admin/users/<int:user_id>/two-factor/reset",
        "admin",
        lambda w: f"/admin/users/{w.people.two_factor_manager}/two-factor/reset",
        lambda w: {"password": PASSWORD},
    ),
    Route(
        "/account/email",
        "manager",
        lambda w: "/account/email",
        lambda w: {"new_email": "manager.elsewhere@example.test", "password": PASSWORD},
    ),
    Route(
        "/account/email/confirm/<token>",
        None,
        lambda w: f"/account/email/confirm/{w.tokens['email_change']}",
        lambda w: {},
    ),
    Route(
        "/account/password",
        "manager",
        lambda w: "/account/password",
        lambda w: {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    ),
    Route("/language", "manager", lambda w: "/language", lambda w: {"locale": "zh_Hans", "next": "/account"}),
    Route(
        "/dealer/people/staff",
        "dealer_owner",
        lambda w: "/dealer/people/staff",
        lambda w: {
            "staff-name": "New Colleague",
            "staff-email": "new.colleague@example.test",
            "staff-temporary_password": NEW_PASSWORD,
        },
    ),
    Route(
        "/dealer/people/staff/<int:user_id>/deactivate",
        "dealer_owner",
        lambda w: f"/dealer/people/staff/{w.people.staff}/deactivate",
        lambda w: {},
    ),
    Route(
        "/dealer/people/staff/<int:user_id>/reactivate",
        "dealer_owner",
        lambda w: f"/dealer/people/staff/{w.people.former_staff}/reactivate",
        lambda w: {},
    ),
    Route(
        "/dealer/people/staff/<int:user_id>/make-owner",
        "dealer_owner",
        lambda w: f"/dealer/people/staff/{w.people.staff}/make-owner",
        lambda w: {},
    ),
    Route(
        "/dealer/people/trainees",
        "dealer_owner",
        lambda w: "/dealer/people/trainees",
        lambda w: {
            "trainee-name": "New Trainee",
            "trainee-job_title": "Installer",
            "trainee-email": "",
            "trainee-phone": "138 0000 0000",
        },
    ),
    Route(
        "/dealer/people/trainees/<int:trainee_id>/edit",
        "dealer_owner",
        lambda w: f"/dealer/people/trainees/{w.people.own_trainee}/edit",
        lambda w: {"name": "Renamed Trainee", "job_title": "Lead", "email": "t@example.test", "phone": ""},
    ),
    Route(
        "/dealer/people/trainees/<int:trainee_id>/remove",
        "dealer_owner",
        lambda w: f"/dealer/people/trainees/{w.people.own_trainee}/remove",
        lambda w: {},
    ),
    Route(
        "/console/dealers/<code>/status",
        "admin",
        lambda w: f"/console/dealers/{w.own_dealer}/status",
        lambda w: {"expected": "active", "status": "suspended", "reason": "Price war below the floor price."},
    ),
    Route(
        "/console/dealers/<code>/tier",
        "admin",
        lambda w: f"/console/dealers/{w.own_dealer}/tier",
        lambda w: {"tier": "platinum", "effective_from": w.next_period_start, "why": "Three quarters above target."},
    ),
    Route(
        "/console/dealers/<code>/manager",
        "admin",
        lambda w: f"/console/dealers/{w.own_dealer}/manager",
        lambda w: {"manager_id": str(w.people.other_manager)},
    ),
    Route(
        "/console/portfolios",
        "admin",
        lambda w: "/console/portfolios",
        lambda w: {"from_manager_id": str(w.people.manager), "to_manager_id": str(w.people.other_manager)},
    ),
    Route(
        "/admin/dealers/new",
        "admin",
        lambda w: "/admin/dealers/new",
        lambda w: {
            "code": "D900",
            "name": "Harbour Lights Trading",
            "territory_id": str(w.people.territory),
            "tier": "gold",
            "status": "onboarding",
            "manager_id": str(w.people.manager),
            "currency": "CNY",
            "payee_name": "Harbour Lights Trading Co.",
            "payee_bank": "",
            "payee_account": "",
        },
    ),
    Route(
        "/admin/dealers/<code>/edit",
        "admin",
        lambda w: f"/admin/dealers/{w.own_dealer}/edit",
        lambda w: {
            "name": "Eastern Star Trading Co.",
            "territory_id": str(w.people.territory),
            "tier": "platinum",
            "currency": "CNY",
            "payee_name": "",
            "payee_bank": "",
            "payee_account": "",
        },
    ),
    Route("/admin/territories", "admin", lambda w: "/admin/territories", lambda w: {"code": "CTR", "name": "Central"}),
    Route(
        "/admin/territories/<int:territory_id>/edit",
        "admin",
        lambda w: f"/admin/territories/{w.people.territory}/edit",
        lambda w: {"code": "EAST", "name": "East China"},
    ),
    Route("/admin/periods", "admin", lambda w: "/admin/periods", lambda w: {"year": "2031", "quarter": "2"}),
    Route(
        "/admin/periods/<code>/close",
        "admin",
        lambda w: f"/admin/periods/{w.ended_period}/close",
        lambda w: {},
    ),
    Route(
        "/admin/periods/<code>/close/confirm",
        "senior_manager",
        lambda w: f"/admin/periods/{w.ended_period}/close/confirm",
        lambda w: {},
        before=lambda client, w: _close_asked_for(client, w, "senior_manager"),
    ),
    Route(
        "/admin/periods/<code>/close/withdraw",
        "admin",
        lambda w: f"/admin/periods/{w.ended_period}/close/withdraw",
        lambda w: {},
        before=lambda client, w: _close_asked_for(client, w, "admin"),
    ),
    Route(
        "/admin/periods/<code>/reopen",
        "admin",
        lambda w: f"/admin/periods/{w.previous_period}/reopen",
        lambda w: {"reason": "A sales file of the quarter was missed."},
        fields=("reason",),
    ),
    Route(
        "/admin/users/new",
        "admin",
        lambda w: "/admin/users/new",
        lambda w: {
            "email": "new.user@example.test",
            "name": "New User",
            "role": "dealer",
            "dealer_code": w.own_dealer,
            "dealer_role": "staff",
            "locale": "zh_Hans",
            "timezone": "Asia/Shanghai",
            "active": "y",
            "temporary_password": NEW_PASSWORD,
        },
    ),
    Route(
        "/admin/users/<int:user_id>/edit",
        "admin",
        lambda w: f"/admin/users/{w.people.staff}/edit",
        lambda w: {
            "email": w.emails["dealer_staff"],
            "name": "Staff Renamed",
            "role": "dealer",
            "dealer_code": w.own_dealer,
            "dealer_role": "staff",
            "locale": "",
            "timezone": "Asia/Shanghai",
            "active": "y",
            "temporary_password": "",
        },
    ),
    Route(
        "/console/dealers/<code>/adjustments",
        "admin",
        lambda w: f"/console/dealers/{w.own_dealer}/adjustments",
        lambda w: {"amount": "-120.50", "note": "Goodwill correction", "corrects": w.previous_period},
    ),
    Route(
        "/console/targets/<period_code>/<code>",
        "manager",
        lambda w: f"/console/targets/{w.current_period}/{w.own_dealer}",
        lambda w: {"amount": "1,250,000.00", "reason": "Lost its largest customer."},
        fields=("amount", "reason"),
    ),
    Route(
        "/console/targets/<period_code>/import",
        "manager",
        lambda w: f"/console/targets/{w.current_period}/import",
        lambda w: {
            "file": (io.BytesIO(f"dealer_code,target\n{w.own_dealer},900000\n".encode()), "targets.csv"),
            "reason": "New territory split.",
        },
    ),
    Route(
        "/console/target-changes/<int:change_id>/<decision>",
        "senior_manager",
        lambda w: f"/console/target-changes/{w.rebates.pending_target_change}/approve",
        lambda w: {},
    ),
    Route(
        "/console/sales-imports",
        "manager",
        lambda w: "/console/sales-imports",
        lambda w: {"file": (io.BytesIO(sales_csv(w).encode()), "sales.csv")},
    ),
    Route(
        "/console/sales-imports/<int:import_id>/confirm",
        "manager",
        lambda w: f"/console/sales-imports/{w.rebates.own_import}/confirm",
        lambda w: {},
    ),
    Route(
        "/console/sales-imports/<int:import_id>/cancel",
        "manager",
        lambda w: f"/console/sales-imports/{w.rebates.own_import}/cancel",
        lambda w: {},
    ),
    Route(
        "/console/sales-imports/<int:import_id>/conflicts",
        "manager",
        lambda w: f"/console/sales-imports/{w.rebates.conflict_import}/conflicts",
        lambda w: {"all": "replace"},
    ),
    Route(
        "/console/sales-imports/<int:import_id>/columns",
        "manager",
        lambda w: f"/console/sales-imports/{w.rebates.rejected_import}/columns",
        lambda w: {"column-0": "dealer_code", "column-1": "date", "column-2": "amount", "column-3": "invoice_ref"},
    ),
    Route(
        "/console/sales-imports/<int:import_id>/void",
        "manager",
        lambda w: f"/console/sales-imports/{w.rebates.imported_import}/void",
        lambda w: {"reason": "Sent twice"},
    ),
    Route(
        "/admin/programs/new/<period_code>",
        "admin",
        lambda w: f"/admin/programs/new/{w.open_period}",
        lambda w: {
            "name": "Growth",
            "method": "stepped",
            "eligible": "gold",
            "tiers-0-threshold": "90",
            "tiers-0-rate": "1",
            "tiers-1-threshold": "100",
            "tiers-1-rate": "2.5",
        },
    ),
    Route(
        "/admin/programs/<int:program_id>/edit",
        "admin",
        lambda w: f"/admin/programs/{w.rebates.program}/edit",
        lambda w: {
            "name": "Standard",
            "method": "stepped",
            "eligible": "silver",
            "tiers-0-threshold": "80",
            "tiers-0-rate": "1.5",
        },
    ),
    Route(
        "/admin/statements/pay",
        "admin",
        lambda w: "/admin/statements/pay",
        lambda w: {"reference": "BANK-2026-001", "statement_id": str(w.rebates.own_final_statement)},
    ),
    Route(
        "/training/sessions/<int:session_id>/enrol",
        "dealer_owner",
        lambda w: f"/training/sessions/{w.training.upcoming_session}/enrol",
        lambda w: {"person": f"u{w.people.staff}"},
    ),
    Route(
        "/training/enrollments/<int:enrollment_id>/cancel",
        "dealer_owner",
        lambda w: f"/training/enrollments/{w.training.own_enrollment}/cancel",
        lambda w: {},
    ),
    Route(
        "/console/training/enrollments/<int:enrollment_id>/attendance",
        "manager",
        lambda w: f"/console/training/enrollments/{w.training.attending_enrollment}/attendance",
        lambda w: {"outcome": "attended"},
    ),
    Route(
        "/admin/courses/new",
        "admin",
        lambda w: "/admin/courses/new",
        lambda w: {
            "code": "SAFE-2",
            "title": "Advanced safety",
            "category": "compliance",
            "description": "After SAFE-1.",
            "validity_months": "24",
            "prerequisite_ids": str(w.training.course),
            "active": "y",
        },
    ),
    Route(
        "/admin/courses/<int:course_id>/edit",
        "admin",
        lambda w: f"/admin/courses/{w.training.course}/edit",
        lambda w: {"code": "SAFE-1", "title": "Safety first", "category": "technical", "validity_months": "6"},
    ),
    Route(
        "/admin/courses/<int:course_id>/sessions/new",
        "admin",
        lambda w: f"/admin/courses/{w.training.course}/sessions/new",
        lambda w: {
            "starts_at": "2031-03-10T10:00",
            "ends_at": "2031-03-10T17:00",
            "place": "Shanghai",
            "online_link": "",
            "capacity": "12",
            "enrol_deadline": "2031-03-08T18:00",
            "cancel_deadline": "2031-03-07T18:00",
        },
    ),
    Route(
        "/admin/training/sessions/<int:session_id>/edit",
        "admin",
        lambda w: f"/admin/training/sessions/{w.training.upcoming_session}/edit",
        lambda w: {
            "starts_at": "2031-03-10T10:00",
            "ends_at": "2031-03-10T17:00",
            "place": "Shanghai",
            "online_link": "https://meet.example.com/x",
            "capacity": "5",
            "enrol_deadline": "2031-03-08T18:00",
            "cancel_deadline": "2031-03-07T18:00",
        },
    ),
    Route(
        "/admin/training/sessions/<int:session_id>/cancel",
        "admin",
        lambda w: f"/admin/training/sessions/{w.training.upcoming_session}/cancel",
        lambda w: {"reason": "The trainer is ill."},
    ),
    Route(
        "/claims/new",
        "dealer_owner",
        lambda w: "/claims/new",
        lambda w: _claim_form(w),
    ),
    Route(
        "/admin/integrations",
        "admin",
        lambda w: "/admin/integrations",
        lambda w: {"name": "Crawl ERP", "scopes": "statements:read", "networks": "203.0.113.0/24"},
        done=200,
    ),
    Route(
        "/admin/integrations/<int:client_id>/rotate",
        "admin",
        lambda w: f"/admin/integrations/{w.tokens['api_client']}/rotate",
        lambda w: {},
        done=200,
    ),
    Route(
        "/admin/integrations/<int:client_id>/revoke",
        "admin",
        lambda w: f"/admin/integrations/{w.tokens['api_client']}/revoke",
        lambda w: {},
    ),
    Route(
        "/admin/integrations/<int:client_id>/webhooks",
        "admin",
        lambda w: f"/admin/integrations/{w.tokens['api_client']}/webhooks",
        lambda w: {"url": "https://erp.example.test/crawl", "kinds": "claim.approved"},
        done=200,
    ),
    Route(
        "/admin/integrations/webhooks/<int:subscription_id>/remove",
        "admin",
        lambda w: f"/admin/integrations/webhooks/{w.tokens['api_subscription']}/remove",
        lambda w: {},
    ),
    Route(
        "/admin/integrations/deliveries/<int:delivery_id>/send-again",
        "admin",
        lambda w: f"/admin/integrations/deliveries/{w.tokens['api_delivery']}/send-again",
        lambda w: {},
    ),
    Route(
        "/claims/quick",
        "dealer_owner",
        lambda w: "/claims/quick",
        lambda w: _quick_claim_form(w),
    ),
    Route(
        "/claims/<int:claim_id>/edit",
        "dealer_owner",
        lambda w: f"/claims/{w.claims.own_draft}/edit",
        lambda w: _claim_form(w),
    ),
    Route(
        "/claims/<int:claim_id>/evidence",
        "dealer_owner",
        lambda w: f"/claims/{w.claims.own_draft}/evidence",
        lambda w: {"file": _pdf_upload()},
    ),
    Route(
        "/claims/<int:claim_id>/evidence/<int:evidence_id>/remove",
        "dealer_owner",
        lambda w: f"/claims/{w.claims.own_draft}/evidence/{w.claims.draft_file}/remove",
        lambda w: {},
    ),
    Route(
        "/claims/<int:claim_id>/submit",
        "dealer_owner",
        lambda w: f"/claims/{w.claims.ready_draft}/submit",
        lambda w: {},
    ),
    Route(
        "/claims/<int:claim_id>/withdraw",
        "dealer_owner",
        lambda w: f"/claims/{w.claims.own_claim}/withdraw",
        lambda w: {"reason": "Entered twice."},
    ),
    Route(
        "/claims/<int:claim_id>/comments",
        "manager",
        lambda w: f"/claims/{w.claims.own_claim}/comments",
        lambda w: {"comment": "Please add the photo of the window."},
    ),
    Route(
        "/claims/pre-approvals",
        "dealer_owner",
        lambda w: "/claims/pre-approvals",
        lambda w: {
            "period": w.current_period,
            "activity_type_id": str(w.claims.activity_type),
            "title": "Spring fair booth",
            "planned_start": "2031-03-01",
            "planned_end": "2031-03-03",
            "estimated_cost": "18,000.00",
        },
    ),
    Route(
        "/console/pre-approvals/<int:request_id>/decide",
        "manager",
        lambda w: f"/console/pre-approvals/{w.claims.own_request}/decide",
        lambda w: {"decision": "reject", "note": "Not in this quarter's plan."},
    ),
    Route(
        "/console/claims/<int:claim_id>/ask-budget",
        "admin",
        lambda w: f"/console/claims/{w.claims.own_claim}/ask-budget",
        lambda w: {"note": "Raise it, please."},
        before=lambda client, w: _budget_short(client, w, "admin"),
    ),
    Route(
        "/console/claims/<int:claim_id>/decide",
        "manager",
        lambda w: f"/console/claims/{w.claims.own_claim}/decide",
        lambda w: {"decision": "approve_part", "amount": "1,500.00", "reason_code": "", "reason": "Half the stand."},
    ),
    Route(
        "/console/claims/bulk-approve",
        "manager",
        lambda w: "/console/claims/bulk-approve",
        lambda w: {"claim_ids": str(w.claims.own_claim)},
    ),
    Route(
        "/admin/budgets/<period_code>/<code>",
        "admin",
        lambda w: f"/admin/budgets/{w.current_period}/{w.second_dealer}",
        lambda w: {"amount": "80,000.00"},
    ),
    Route(
        "/admin/budgets/<period_code>/import",
        "admin",
        lambda w: f"/admin/budgets/{w.current_period}/import",
        lambda w: {"file": (io.BytesIO(f"dealer_code,budget\n{w.second_dealer},90000\n".encode()), "budgets.csv")},
    ),
    Route(
        "/admin/claims/payments",
        "admin",
        lambda w: "/admin/claims/payments",
        lambda w: {"claim_ids": str(w.claims.approved_claim), "reference": "BANK-2026-7"},
    ),
    Route(
        "/dealer/violations/<int:violation_id>/appeal",
        "dealer_owner",
        lambda w: f"/dealer/violations/{w.disputes.own_violation}/appeal",
        lambda w: {"reason": "The sale was inside our territory."},
    ),
    Route(
        "/console/dealers/<code>/violations/new",
        "manager",
        lambda w: f"/console/dealers/{w.own_dealer}/violations/new",
        lambda w: {
            "kind": "cross_territory",
            "period": w.current_period,
            "description": "Sold in Shanghai.",
            "penalty": "1,500.00",
        },
    ),
    Route(
        "/console/violations/<int:violation_id>/evidence",
        "manager",
        lambda w: f"/console/violations/{w.disputes.proposed_violation}/evidence",
        lambda w: {"file": _pdf_upload()},
    ),
    Route(
        "/console/violations/<int:violation_id>/confirm",
        "senior_manager",
        lambda w: f"/console/violations/{w.disputes.proposed_violation}/confirm",
        lambda w: {},
    ),
    Route(
        "/referee/suspicions/<int:suspicion_id>/dismiss",
        "manager",
        lambda w: f"/referee/suspicions/{w.referee.suspicion}/dismiss",
        lambda w: {"reason": "A clearance sale we agreed in writing."},
    ),
    Route(
        "/referee/suspicions/<int:suspicion_id>/violation",
        "manager",
        lambda w: f"/referee/suspicions/{w.referee.suspicion}/violation",
        lambda w: {
            "description": "Sold below the agreed floor.",
            "penalty": "1,000.00",
            "change_reason": "A warning was given by phone last month.",
        },
    ),
    Route(
        "/referee/price-lists",
        "senior_manager",
        lambda w: "/referee/price-lists",
        lambda w: {"name": "Spring prices", "effective_from": today().isoformat()},
    ),
    Route(
        "/referee/price-lists/<int:price_list_id>/prices",
        "admin",
        lambda w: f"/referee/price-lists/{w.referee.draft_list}/prices",
        lambda w: {
            "file": (io.BytesIO('物料编码,建议零售价,最低限价\nAC-1200,"6,200.00",5200\n'.encode()), "价格.csv")
        },
    ),
    Route(
        "/referee/price-lists/<int:price_list_id>/publish",
        "admin",
        lambda w: f"/referee/price-lists/{w.referee.draft_list}/publish",
        lambda w: {},
    ),
    Route(
        "/referee/products",
        "admin",
        lambda w: "/referee/products",
        lambda w: {"file": (io.BytesIO("物料编码,物料名称,计量单位\nAC-1500,空调 1500,台\n".encode()), "物料.csv")},
    ),
    Route(
        "/referee/territories/<code>",
        "senior_manager",
        lambda w: f"/referee/territories/{w.referee.referee_territory}",
        lambda w: {"regions": "广东省\n上海市, 440300"},
    ),
    Route(
        "/referee/shipments",
        "admin",
        lambda w: "/referee/shipments",
        lambda w: {
            "file": (
                io.BytesIO("追溯码,物料编码,客户编码,发货日期\nQR-7001,AC-1200,D002,2026-01-05\n".encode()),
                "发货.csv",
            )
        },
    ),
    Route(
        "/referee/field-check",
        "inspector",
        lambda w: "/referee/field-check",
        lambda w: {
            "code": w.referee.shipped_code,
            "region": "北京市朝阳区",
            "shop": "Chaoyang market",
            "price_seen": "4,100.00",
            "seen_on": today().isoformat(),
        },
    ),
    Route(
        "/referee/prices/<int:price_list_id>/acknowledge",
        "dealer_owner",
        lambda w: f"/referee/prices/{w.referee.price_list}/acknowledge",
        lambda w: {},
    ),
    Route("/campaigns/new", "senior_manager", lambda w: "/campaigns/new", lambda w: campaign_form()),
    Route(
        "/campaigns/<int:campaign_id>/edit",
        "admin",
        lambda w: f"/campaigns/{w.campaigns.draft_campaign}/edit",
        lambda w: campaign_form(),
    ),
    Route(
        "/campaigns/<int:campaign_id>/launch",
        "admin",
        lambda w: f"/campaigns/{w.campaigns.draft_campaign}/launch",
        lambda w: {},
    ),
    Route(
        "/campaigns/<int:campaign_id>/cancel",
        "admin",
        lambda w: f"/campaigns/{w.campaigns.live_campaign}/cancel",
        lambda w: {},
    ),
    Route(
        "/campaigns/<int:campaign_id>/request-settlement",
        "admin",
        lambda w: f"/campaigns/{w.campaigns.ended_campaign}/request-settlement",
        lambda w: {},
    ),
    Route(
        "/campaigns/<int:campaign_id>/send-back",
        "admin",
        lambda w: f"/campaigns/{w.campaigns.requested_campaign}/send-back",
        lambda w: {},
    ),
    Route(
        "/campaigns/<int:campaign_id>/settle",
        "senior_manager",
        lambda w: f"/campaigns/{w.campaigns.requested_campaign}/settle",
        lambda w: {},
    ),
    Route("/news/manage/new", "manager", lambda w: "/news/manage/new", lambda w: news_form()),
    Route(
        "/news/manage/<int:announcement_id>/edit",
        "admin",
        lambda w: f"/news/manage/{w.news.news_draft}/edit",
        lambda w: news_form(),
    ),
    Route(
        "/news/manage/<int:announcement_id>/publish",
        "senior_manager",
        lambda w: f"/news/manage/{w.news.news_draft}/publish",
        lambda w: {},
    ),
    Route(
        "/news/manage/<int:announcement_id>/withdraw",
        "admin",
        lambda w: f"/news/manage/{w.news.notice}/withdraw",
        lambda w: {},
    ),
    Route(
        "/plans/new",
        "manager",
        lambda w: "/plans/new",
        lambda w: {"period": w.open_period, "dealer_code": w.second_dealer.lower()},
    ),
    Route(
        "/plans/<int:plan_id>/goals",
        "dealer_owner",
        lambda w: f"/plans/{w.plans.own_plan}/goals",
        lambda w: {"kind": "promotion", "budget": "12,000.00", "activity_type_id": "", "note": "国庆促销"},
    ),
    Route(
        "/plans/<int:plan_id>/goals/<int:goal_id>/remove",
        "manager",
        lambda w: f"/plans/{w.plans.own_plan}/goals/{w.plans.own_goal}/remove",
        lambda w: {},
    ),
    Route(
        "/plans/<int:plan_id>/actions",
        "manager",
        lambda w: f"/plans/{w.plans.own_plan}/actions",
        lambda w: {
            "what": "Shop staff trained on the AC range",
            "side": "manager",
            "who": "Li Na",
            "due_on": "2030-02-01",
        },
    ),
    Route(
        "/plans/<int:plan_id>/actions/<int:action_id>/remove",
        "dealer_owner",
        lambda w: f"/plans/{w.plans.own_plan}/actions/{w.plans.own_action}/remove",
        lambda w: {},
    ),
    Route(
        "/plans/<int:plan_id>/actions/<int:action_id>/done",
        "dealer_owner",
        lambda w: f"/plans/{w.plans.own_plan}/actions/{w.plans.own_action}/done",
        lambda w: {},
    ),
    Route(
        "/plans/<int:plan_id>/accept",
        "dealer_owner",
        lambda w: f"/plans/{w.plans.spare_plan}/accept",
        lambda w: {"revision": "0"},
    ),
    Route(
        "/plans/<int:plan_id>/review",
        "manager",
        lambda w: f"/plans/{w.plans.ended_plan}/review",
        lambda w: {"notes": "两个目标达成。"},
    ),
    Route(
        "/plans/<int:plan_id>/comment",
        "dealer_owner",
        lambda w: f"/plans/{w.plans.reviewed_plan}/comment",
        lambda w: {"comments": "Agreed; the landlord delayed the second shop."},
    ),
    Route(
        "/plans/visits/new",
        "manager",
        lambda w: "/plans/visits/new",
        lambda w: {"dealer_code": w.own_dealer, "visited_on": today().isoformat(), "notes": "Visited", "shared": "y"},
    ),
    Route(
        "/plans/visits/<int:visit_id>/edit",
        "manager",
        lambda w: f"/plans/visits/{w.plans.private_visit}/edit",
        lambda w: {"dealer_code": w.own_dealer, "visited_on": today().isoformat(), "notes": "Changed"},
    ),
    Route(
        "/news/manage/<int:announcement_id>/attachments",
        "admin",
        lambda w: f"/news/manage/{w.news.news_draft}/attachments",
        lambda w: {"file": _pdf_upload()},
    ),
    Route(
        "/news/manage/<int:announcement_id>/attachments/<int:evidence_id>/remove",
        "senior_manager",
        lambda w: f"/news/manage/{w.news.news_draft}/attachments/{w.news.draft_attachment}/remove",
        lambda w: {},
    ),
    Route(
        "/news/<int:announcement_id>/acknowledge",
        "dealer_owner",
        lambda w: f"/news/{w.news.notice}/acknowledge",
        lambda w: {},
    ),
    Route(
        "/console/violations/<int:violation_id>/withdraw",
        "manager",
        lambda w: f"/console/violations/{w.disputes.proposed_violation}/withdraw",
        lambda w: {},
    ),
    Route(
        "/disputes/new",
        "dealer_owner",
        lambda w: "/disputes/new",
        lambda w: {
            "category": "pricing_conflict",
            "respondent": w.foreign_dealer,
            "claim_id": "",
            "statement_id": "",
            "title": "Below the floor",
            "description": "Quotes at 12 % under the floor.",
        },
    ),
    Route(
        "/disputes/<int:dispute_id>/messages",
        "dealer_owner",
        lambda w: f"/disputes/{w.disputes.cross_dispute}/messages",
        lambda w: {"body": "Here is the quote."},
    ),
    Route(
        "/disputes/<int:dispute_id>/evidence",
        "dealer_owner",
        lambda w: f"/disputes/{w.disputes.cross_dispute}/evidence",
        lambda w: {"file": _pdf_upload()},
    ),
    Route(
        "/disputes/<int:dispute_id>/withdraw",
        "dealer_owner",
        lambda w: f"/disputes/{w.disputes.cross_dispute}/withdraw",
        lambda w: {"reason": "We settled it."},
    ),
    Route(
        "/disputes/<int:dispute_id>/assign",
        "mediator",
        lambda w: f"/disputes/{w.disputes.foreign_dispute}/assign",
        lambda w: {"mediator": str(w.people.mediator)},
    ),
    Route(
        "/disputes/<int:dispute_id>/take",
        "mediator",
        lambda w: f"/disputes/{w.disputes.foreign_dispute}/take",
        lambda w: {},
    ),
    Route(
        "/disputes/<int:dispute_id>/request-information",
        "mediator",
        lambda w: f"/disputes/{w.disputes.cross_dispute}/request-information",
        lambda w: {"party": str(w.people.own_dealer_id), "message": "Send the quote.", "days": "5"},
    ),
    Route(
        "/disputes/<int:dispute_id>/resolve",
        "mediator",
        lambda w: f"/disputes/{w.disputes.cross_dispute}/resolve",
        lambda w: {
            "outcome": "penalty",
            "party": str(w.people.own_dealer_id),
            "amount": "2,000.00",
            "summary": "D001 sold below the floor.",
            "confirmed": "yes",
        },
    ),
    Route(
        "/disputes/<int:dispute_id>/dismiss",
        "mediator",
        lambda w: f"/disputes/{w.disputes.cross_dispute}/dismiss",
        lambda w: {"reason": "Not a dispute between dealers."},
    ),
)


def _quick_claim_form(world: World) -> dict[str, object]:
    """The phone's claim: a photo, the amount, the activity, today's dates (the title left to be suggested)."""
    day = activity_day().isoformat()
    return {
        "files": [(io.BytesIO(pdf()), "invoice.pdf")],
        "amount": "880.00",
        "activity_type_id": str(world.claims.activity_type),
        "activity_start": day,
        "activity_end": day,
        "title": "",
        "invoice_number": "",
        "fund_request_id": "",
    }


def _claim_form(world: World) -> dict[str, object]:
    """A complete claim for an activity this quarter that can be submitted today."""
    start = activity_day()
    return {
        "period": world.current_period,
        "activity_type_id": str(world.claims.activity_type),
        "fund_request_id": "",
        "title": "Window display",
        "description": "Two weeks in the window.",
        "activity_start": start.isoformat(),
        "activity_end": start.isoformat(),
        "vendor": "Print Co",
        "vendor_tax_id": "91350100M000100Y43",
        "invoice_type": "special",
        "invoice_code": "3100204130",
        "invoice_number": "No. 1234 5678",
        "invoice_date": start.isoformat(),
        "invoice_amount_before_tax": "2,831.86",
        "invoice_tax": "368.14",
        "invoice_total": "3,200.00",
        "amount": "3,200.00",
        "over_pre_approval_reason": "",
    }


def sales_csv(world: World) -> str:
    """A clean sales file for the open quarter: two lines for the own dealer."""

    day = date.fromisoformat(world.current_period[:4] + "-" + f"{(int(world.current_period[-1]) - 1) * 3 + 1:02d}-01")
    return (
        "dealer_code,date,amount,units,product_line,invoice_ref\n"
        f"{world.own_dealer},{day.isoformat()},12000.50,3,Compressors,CSV-1\n"
        f"{world.own_dealer},{day.isoformat()},8000,2,Controls,CSV-2\n"
    )
