"""Claims through their pages: a dealer drafts, attaches, submits, answers and withdraws; a reviewer works the
queue, decides, approves in bulk and hands over to a second approver; an admin sets budgets and pays; everyone is
told. Assertions are on what each person sees."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.accounts.models import User
from portal.claims.models import ActivityType, Claim, ClaimEvent, FundAllocation, FundRequest, FundRequestStatus
from portal.claims.queries import _queue_of_shape
from portal.claims.rules import ClaimStatus
from portal.claims.views import DEALER_CHOICES_UP_TO
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.notifications.kinds import render_text
from portal.notifications.models import Notification
from tests.evidence_files import pdf
from tests.factories import Channel, ClaimRecords, World, examples, make_claim, make_dealer, utcnow_minus
from tests.helpers import example_savepoint, line_errors_of, logged_in_client
from tests.state_changing import _claim_form

# Dates decide here (windows, deadlines, quarters): also run at a quarter's first and last minute and on 29 February.
pytestmark = pytest.mark.calendar


def claim_row(app: Flask, claim_id: int) -> Claim:
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        db.session.expunge(claim)
        return claim


def notifications(app: Flask, email: str, kind: str) -> list[Notification]:
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        return list(
            db.session.execute(
                select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
            ).scalars()
        )


def new_draft(client: FlaskClient, world: World, **changes: str) -> int:
    response = client.post("/claims/new", data={**_claim_form(world), **changes})
    assert response.status_code == 303, response.get_data(as_text=True)[-1500:]
    return int(re.search(r"/claims/(\d+)", response.headers["Location"]).group(1))  # type: ignore[union-attr]


def test_a_dealer_drafts_attaches_and_submits_and_the_manager_is_told(app: Flask, world: World) -> None:
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    claim_id = new_draft(dealer, world)
    page = dealer.get(f"/claims/{claim_id}").get_data(as_text=True)
    assert "Before you submit:" in page and "Attach at least one evidence file." in page
    refused = dealer.post(f"/claims/{claim_id}/submit")
    assert refused.status_code == 422
    assert "The claim cannot be submitted yet:" in refused.get_data(as_text=True)
    assert claim_row(app, claim_id).status is ClaimStatus.DRAFT
    upload = dealer.post(f"/claims/{claim_id}/evidence", data={"file": (io.BytesIO(pdf()), "fapiao.pdf")})
    assert upload.status_code == 303
    page = dealer.get(f"/claims/{claim_id}").get_data(as_text=True)
    assert "fapiao.pdf" in page and "Everything is in place." in page
    assert dealer.post(f"/claims/{claim_id}/submit").status_code == 303
    claim = claim_row(app, claim_id)
    assert claim.status is ClaimStatus.SUBMITTED and claim.submission_count == 1
    page = dealer.get(f"/claims/{claim_id}").get_data(as_text=True)
    assert "Draft → Submitted" in page and "Withdraw the claim" in page and "Change the claim" not in page
    told = notifications(app, world.emails["manager"], "claim_submitted")
    assert told and (told[-1].link_endpoint, told[-1].link_args) == ("claims.review_page", {"claim_id": claim_id})
    with app.test_request_context():
        assert render_text("claim_submitted", told[-1].params) == (
            "Eastern Star Trading submitted the claim Window display for CN¥3,200.00."
        )
    # Submitting twice is told, not repeated; files of a submitted claim are fixed.
    assert dealer.post(f"/claims/{claim_id}/submit").status_code == 409
    assert dealer.post(f"/claims/{claim_id}/evidence", data={"file": (io.BytesIO(pdf()), "x.pdf")}).status_code == 404


def test_every_refusal_says_what_to_fix(app: Flask, world: World) -> None:
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    with app.app_context():
        previous = db.session.execute(select(Period).where(Period.code == world.previous_period)).scalar_one()
        outside = (previous.starts_on + timedelta(days=3)).isoformat()
    claim_id = new_draft(dealer, world, activity_start=outside, activity_end=outside, amount="0")
    html = dealer.post(f"/claims/{claim_id}/submit").get_data(as_text=True)
    for problem in (
        "Attach at least one evidence file.",
        "The activity dates must fall inside the budget&#39;s period.",
        "Enter an amount above zero.",
    ):
        assert problem in html
    too_much = new_draft(dealer, world, amount="99,000,000.00")
    dealer.post(f"/claims/{too_much}/evidence", data={"file": (io.BytesIO(pdf()), "big.pdf")})
    html = dealer.post(f"/claims/{too_much}/submit").get_data(as_text=True)
    assert "The amount is more than what is left of the budget." in html
    bad = dealer.post("/claims/new", data={**_claim_form(world), "amount": "12.345"})
    assert bad.status_code == 422 and "Enter an amount such as 12,000.00." in bad.get_data(as_text=True)
    untitled = dealer.post("/claims/new", data={**_claim_form(world), "title": ""})
    assert untitled.status_code == 422 and "This field is required." in untitled.get_data(as_text=True)


def test_the_dealer_sees_the_budget_and_the_payment(app: Flask, channel: Channel, claim_records: ClaimRecords) -> None:
    admin = logged_in_client(app, channel.emails["admin"])
    paid = admin.post(
        "/admin/claims/payments", data={"claim_ids": str(claim_records.approved_claim), "reference": "BANK-77"}
    )
    assert paid.status_code == 303
    html = logged_in_client(app, channel.emails["dealer_staff"]).get("/claims/").get_data(as_text=True)
    assert f"Promotion budget {channel.current_period}" in html
    # allocation 100,000.00; approved 3,000.00 (the paid claim); pending 3,000.00 (the submitted one)
    for figure in ("CN¥100,000.00", "CN¥3,000.00", "CN¥94,000.00"):
        assert figure in html
    assert "BANK-77" in html and "Paid" in html
    assert notifications(app, channel.emails["dealer_owner"], "claim_paid")


def test_the_queue_is_oldest_first_filtered_and_shows_age_and_flags(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    manager = logged_in_client(app, channel.emails["manager"])
    response = manager.get("/console/claims")
    html = response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]
    assert "Own window display" in html and "2 days" in html
    assert "Foreign shop event" not in html  # another manager's dealer
    assert "Own draft" not in html and "Ready draft" not in html  # drafts stay the dealer's own
    fragment = manager.get("/console/claims?status=all", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.strip().startswith('<div id="claim-queue">') and "<html" not in fragment
    assert "Own approved flyers" in fragment
    assert "Own approved flyers" not in manager.get("/console/claims?flag=round_amount").get_data(as_text=True)
    with app.app_context():
        db.session.execute(
            sa.update(Claim).where(Claim.id == claim_records.foreign_claim).values(submitted_at=utcnow_minus(days=6))
        )
        db.session.commit()
    senior = logged_in_client(app, channel.emails["senior_manager"]).get("/console/claims").get_data(as_text=True)
    assert "Awaiting second approval: 0" in senior
    assert senior.index("Foreign shop event") < senior.index("Own window display")  # the longest waiting first
    assert "6 days" in senior


def test_request_information_answer_and_approve_then_the_next_claim(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    manager = logged_in_client(app, channel.emails["manager"])
    own = claim_records.own_claim
    page = manager.get(f"/console/claims/{own}").get_data(as_text=True)
    assert "own invoice.pdf" in page and f"/evidence/{claim_records.own_claim_file}/preview" in page
    assert 'name="decision" value="approve"' in page and "Approve CN¥3,000.00" in page
    asked = manager.post(f"/console/claims/{own}/decide", data={"decision": "request_info", "reason": ""})
    assert asked.status_code == 422 and "Give the reason; the dealer sees it." in asked.get_data(as_text=True)
    asked = manager.post(
        f"/console/claims/{own}/decide", data={"decision": "request_info", "reason": "Add a photo of the window."}
    )
    assert asked.status_code == 303
    assert claim_row(app, own).status is ClaimStatus.NEEDS_INFO
    dealer = logged_in_client(app, channel.emails["dealer_owner"])
    page = dealer.get(f"/claims/{own}").get_data(as_text=True)
    assert "Your channel manager asks for more information." in page and "Add a photo of the window." in page
    assert notifications(app, channel.emails["dealer_owner"], "claim_needs_info")
    assert dealer.post(f"/claims/{own}/comments", data={"comment": "Photo added."}).status_code == 303
    assert dealer.post(f"/claims/{own}/evidence", data={"file": (io.BytesIO(pdf()), "window.pdf")}).status_code == 303
    assert dealer.post(f"/claims/{own}/submit").status_code == 303
    assert claim_row(app, own).submission_count == 2
    assert notifications(app, channel.emails["manager"], "claim_comment")
    # A second claim waits longer: approving this one opens it next.
    with app.app_context():
        dealer_row = db.session.execute(select(Dealer).where(Dealer.code == channel.second_dealer)).scalar_one()
        other = db.session.get(Claim, claim_records.foreign_claim)
        assert other is not None
        other.dealer_id, other.title = dealer_row.id, "Second dealer's stand"
        db.session.commit()
    approved = manager.post(f"/console/claims/{own}/decide", data={"decision": "approve"})
    assert approved.status_code == 422  # a round amount: the flag is ticked as looked at before approving
    assert "Tick each flag once you have looked at it, then approve: A round amount." in approved.get_data(as_text=True)
    assert claim_row(app, own).status is ClaimStatus.SUBMITTED
    approved = manager.post(f"/console/claims/{own}/decide", data={"decision": "approve", "checked": "round_amount"})
    assert approved.status_code == 303
    assert approved.headers["Location"] == f"/console/claims/{claim_records.foreign_claim}"
    claim = claim_row(app, own)
    assert claim.status is ClaimStatus.APPROVED and claim.amount_approved == 300_000
    assert claim.turnaround_seconds is not None and claim.turnaround_seconds >= 0
    timeline = dealer.get(f"/claims/{own}").get_data(as_text=True)
    for step in ("Submitted → Information requested", "Photo added.", "Information requested → Submitted"):
        assert step in timeline
    assert "Submitted → Approved" in timeline


def test_reject_needs_a_reason_code_and_the_dealer_sees_both(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    manager = logged_in_client(app, channel.emails["manager"])
    own = claim_records.own_claim
    refused = manager.post(f"/console/claims/{own}/decide", data={"decision": "reject", "reason": "Not ours."})
    assert refused.status_code == 422 and "Choose why the claim is rejected." in refused.get_data(as_text=True)
    assert claim_row(app, own).status is ClaimStatus.SUBMITTED
    manager.post(
        f"/console/claims/{own}/decide",
        data={"decision": "reject", "reason_code": "not_eligible", "reason": "A dinner is not a promotion."},
    )
    page = logged_in_client(app, channel.emails["dealer_staff"]).get(f"/claims/{own}").get_data(as_text=True)
    assert "The activity is not eligible for promotion funds" in page and "A dinner is not a promotion." in page
    told = notifications(app, channel.emails["dealer_owner"], "claim_rejected")
    assert told and told[-1].params["note"] == "A dinner is not a promotion."


def test_above_the_threshold_a_senior_decides_and_can_send_it_back(
    app: Flask, channel: Channel, claim_records: ClaimRecords, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CLAIM_LIMITS", {"CNY": (100_000, 500_000)})
    own = claim_records.own_claim
    manager = logged_in_client(app, channel.emails["manager"])
    manager.post(
        f"/console/claims/{own}/decide",
        data={"decision": "approve_part", "amount": "2,500.00", "reason": "One panel was not ours."},
    )
    claim = claim_row(app, own)
    assert claim.status is ClaimStatus.AWAITING_SECOND_APPROVAL and claim.amount_approved == 250_000
    page = manager.get(f"/console/claims/{own}").get_data(as_text=True)
    assert 'name="decision"' not in page and "waits for a second approval" in page
    assert notifications(app, channel.emails["senior_manager"], "claim_second_approval")
    senior = logged_in_client(app, channel.emails["senior_manager"])
    page = senior.get(f"/console/claims/{own}").get_data(as_text=True)
    assert "Give the second approval" in page and "Amount proposed by the first reviewer" in page
    senior.post(f"/console/claims/{own}/decide", data={"decision": "request_info", "reason": "Check the panel count."})
    assert claim_row(app, own).status is ClaimStatus.SUBMITTED
    assert notifications(app, channel.emails["manager"], "claim_sent_back")
    manager.post(
        f"/console/claims/{own}/decide",
        data={"decision": "approve_part", "amount": "2,500.00", "reason": "Counted again: one panel."},
    )
    assert senior.post(f"/console/claims/{own}/decide", data={"decision": "approve"}).status_code == 303
    claim = claim_row(app, own)
    assert claim.status is ClaimStatus.PARTIALLY_APPROVED and claim.amount_approved == 250_000
    assert notifications(app, channel.emails["dealer_owner"], "claim_partially_approved")


def test_bulk_approval_takes_only_what_the_queue_offers(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    manager = logged_in_client(app, channel.emails["manager"])
    html = manager.get("/console/claims").get_data(as_text=True)
    assert f'value="{claim_records.own_claim}"' in html and "Approve the selected claims" in html
    with app.app_context():
        db.session.execute(sa.update(Claim).where(Claim.id == claim_records.own_claim).values(amount_requested=900_000))
        db.session.commit()
    html = manager.get("/console/claims").get_data(as_text=True)
    assert f'value="{claim_records.own_claim}"' not in html  # above the bulk limit now
    refused = manager.post("/console/claims/bulk-approve", data={"claim_ids": str(claim_records.own_claim)})
    assert refused.status_code == 409 and "on its own" in refused.get_data(as_text=True)
    assert claim_row(app, claim_records.own_claim).status is ClaimStatus.SUBMITTED
    assert manager.post("/console/claims/bulk-approve", data={"claim_ids": "x"}).status_code == 422


def test_pre_approval_request_decision_and_a_claim_against_it(app: Flask, world: World) -> None:
    dealer = logged_in_client(app, world.emails["dealer_owner"])
    with app.app_context():
        trade_show = db.session.execute(sa.text("SELECT id FROM activity_types WHERE code = 'TRADE_SHOW'")).scalar()
    form = {
        "period": world.current_period,
        "activity_type_id": str(trade_show),
        "title": "Fair booth",
        "planned_start": "2031-01-05",
        "planned_end": "2031-01-02",
        "estimated_cost": "2,000.00",
    }
    refused = dealer.post("/claims/pre-approvals", data=form)
    assert refused.status_code == 422 and "The activity cannot end before it starts." in refused.get_data(as_text=True)
    assert dealer.post("/claims/pre-approvals", data={**form, "planned_end": "2031-01-06"}).status_code == 303
    with app.app_context():
        request = db.session.execute(select(FundRequest).where(FundRequest.title == "Fair booth")).scalar_one()
        request_id = request.id
    manager = logged_in_client(app, world.emails["manager"])
    assert "Fair booth" in manager.get("/console/pre-approvals").get_data(as_text=True)
    assert notifications(app, world.emails["manager"], "pre_approval_requested")
    assert manager.post(f"/console/pre-approvals/{request_id}/decide", data={"decision": "approve"}).status_code == 303
    assert notifications(app, world.emails["dealer_owner"], "pre_approval_approved")
    assert "Approved" in dealer.get("/claims/pre-approvals").get_data(as_text=True)
    # Without the request the trade show is refused; with it, more than estimated needs a reason.
    bare = new_draft(dealer, world, activity_type_id=str(trade_show), amount="2,500.00")
    dealer.post(f"/claims/{bare}/evidence", data={"file": (io.BytesIO(pdf()), "booth.pdf")})
    html = dealer.post(f"/claims/{bare}/submit").get_data(as_text=True)
    assert "This activity needs an approved pre-approval request first." in html
    against = new_draft(
        dealer,
        world,
        activity_type_id=str(trade_show),
        amount="2,500.00",
        fund_request_id=str(request_id),
        invoice_number="FP-200",
    )
    dealer.post(f"/claims/{against}/evidence", data={"file": (io.BytesIO(pdf()), "booth2.pdf")})
    html = dealer.post(f"/claims/{against}/submit").get_data(as_text=True)
    assert "The amount is above the pre-approved cost: say why." in html
    edit = dealer.get(f"/claims/{against}/edit").get_data(as_text=True)
    assert "2500.00" in edit and f'<option selected value="{request_id}"' in edit
    changed = {
        **_claim_form(world),
        "activity_type_id": str(trade_show),
        "amount": "2,500.00",
        "fund_request_id": str(request_id),
        "over_pre_approval_reason": "The booth needed a second wall.",
    }
    assert dealer.post(f"/claims/{against}/edit", data=changed).status_code == 303
    assert dealer.post(f"/claims/{against}/submit").status_code == 303
    with app.app_context():
        assert db.session.get(FundRequest, request_id).status is FundRequestStatus.USED  # type: ignore[union-attr]
    # A request already used cannot be picked by another claim.
    taken = dealer.post("/claims/new", data={**_claim_form(world), "fund_request_id": str(request_id)})
    assert taken.status_code == 422 and "This pre-approval is already used by the claim" in taken.get_data(True)


@pytest.mark.usefixtures("claim_records")
def test_budgets_by_form_and_csv_all_or_nothing(app: Flask, channel: Channel) -> None:
    admin = logged_in_client(app, channel.emails["admin"])
    html = admin.get("/admin/budgets").get_data(as_text=True)
    assert "Eastern Star Trading" in html and "CN¥100,000.00" in html and "not set" in html
    too_low = admin.post(f"/admin/budgets/{channel.current_period}/{channel.own_dealer}", data={"amount": "1,000"})
    assert too_low.status_code == 422 and "Claims already hold more than this" in too_low.get_data(as_text=True)
    content = f"dealer_code,budget\n{channel.second_dealer},50000\n{channel.own_dealer},10\nNOPE,5\n".encode()
    refused = admin.post(
        f"/admin/budgets/{channel.current_period}/import", data={"file": (io.BytesIO(content), "b.csv")}
    )
    html = refused.get_data(as_text=True)
    rows = line_errors_of(html)
    assert refused.status_code == 422 and {row[0] for row in rows} == {"3", "4"}
    assert ("4", "dealer_code", "Unknown dealer code, or not in your portfolio.") in rows
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(FundAllocation)).scalar_one() == 2
    content = f'经销商代码,预算\n{channel.second_dealer},"50,000.00"\n'.encode("gb18030")
    saved = admin.post(f"/admin/budgets/{channel.current_period}/import", data={"file": (io.BytesIO(content), "b.csv")})
    assert saved.status_code == 303
    assert "CN¥50,000.00" in admin.get("/admin/budgets").get_data(as_text=True)
    closed = admin.post(f"/admin/budgets/{channel.previous_period}/{channel.own_dealer}", data={"amount": "5"})
    assert closed.status_code == 409


def test_finance_export_is_spreadsheet_safe_and_payment_is_all_or_nothing(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    with app.app_context():
        claim = db.session.get(Claim, claim_records.approved_claim)
        assert claim is not None
        claim.title = '=HYPERLINK("http://evil.example")'
        db.session.commit()
    admin = logged_in_client(app, channel.emails["admin"])
    export = admin.get("/admin/claims/payments.csv")
    body = export.get_data().decode("utf-8")
    assert export.mimetype == "text/csv" and body.startswith("\ufeffclaim_id,dealer_code")
    assert "'=HYPERLINK" in body and ",3000.00,CNY," in body
    mixed = admin.post(
        "/admin/claims/payments",
        data={"claim_ids": [str(claim_records.approved_claim), str(claim_records.own_claim)], "reference": "B-1"},
    )
    assert mixed.status_code == 409
    assert claim_row(app, claim_records.approved_claim).status is ClaimStatus.APPROVED


def test_the_report_shows_spend_and_the_median_turnaround(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    with app.app_context():
        for claim_id, days in ((claim_records.own_claim, 1), (claim_records.approved_claim, 4)):
            db.session.execute(sa.update(Claim).where(Claim.id == claim_id).values(turnaround_seconds=days * 86_400))
        db.session.commit()
    html = logged_in_client(app, channel.emails["manager"]).get("/console/claims/report").get_data(as_text=True)
    assert "2.5 days" in html and "over 2 decided claims" in html
    assert "Eastern Star Trading" in html and "Western Wind Retail" not in html
    assert "3%" in html  # 3,000.00 approved of 100,000.00, as Babel writes a percentage in English


def test_comments_and_notifications_reach_readers_in_their_language(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    with app.app_context():
        owner = db.session.execute(select(User).where(User.email == channel.emails["dealer_owner"])).scalar_one()
        owner.locale = "zh_Hans"
        db.session.commit()
    manager = logged_in_client(app, channel.emails["manager"])
    manager.post(f"/claims/{claim_records.own_claim}/comments", data={"comment": "请补充照片。"})
    dealer = logged_in_client(app, channel.emails["dealer_owner"])
    page = dealer.get("/notifications/").get_data(as_text=True)
    assert "评论了核销申请" in page
    assert "请补充照片。" in dealer.get(f"/claims/{claim_records.own_claim}").get_data(as_text=True)
    with app.app_context():
        events = db.session.execute(select(ClaimEvent).where(ClaimEvent.claim_id == claim_records.own_claim)).scalars()
        assert [event.note for event in events] == ["请补充照片。"]


def test_withdrawing_frees_the_budget_and_tells_the_manager(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    dealer = logged_in_client(app, channel.emails["dealer_owner"])
    assert dealer.post(f"/claims/{claim_records.own_claim}/withdraw", data={"reason": "Twice."}).status_code == 303
    assert claim_row(app, claim_records.own_claim).status is ClaimStatus.WITHDRAWN
    assert "CN¥97,000.00" in dealer.get("/claims/").get_data(as_text=True)
    assert notifications(app, channel.emails["manager"], "claim_withdrawn")
    assert dealer.post(f"/claims/{claim_records.own_claim}/withdraw").status_code == 409


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(["status", "dealer", "period", "flag", "page"]), st.text(max_size=40)))
def test_queue_filters_survive_hostile_input(
    app: Flask, db_connection: sa.Connection, channel: Channel, claim_records: ClaimRecords, params: dict[str, str]
) -> None:
    with example_savepoint(db_connection):
        client = logged_in_client(app, channel.emails["senior_manager"])
        assert client.get("/console/claims", query_string=params).status_code in {200, 400}
        assert client.get(f"/console/claims/{claim_records.own_claim}", query_string=params).status_code in {200, 400}
        dealer = logged_in_client(app, channel.emails["dealer_staff"])
        assert dealer.get("/claims/", query_string=params).status_code in {200, 400}


@pytest.mark.usefixtures("claim_records")
def test_the_dealer_overview_shows_what_is_left_of_the_promotion_budget(app: Flask, channel: Channel) -> None:
    html = logged_in_client(app, channel.emails["dealer_owner"]).get("/dealer/").get_data(as_text=True)
    assert "Promotion budget left: CN¥94,000.00 of CN¥100,000.00." in html


@pytest.mark.usefixtures("claim_records")
@pytest.mark.parametrize("filters", ["", "?status=all", "?status=submitted&flag=none", "?status=all&period={period}"])
def test_managers_share_the_queues_statement_and_each_sees_their_own_portfolio(
    app: Flask, channel: Channel, filters: str
) -> None:
    """The queue's statement is built once per shape and kept; whose portfolio it reads and what the filters ask are
    values given on each request, so the second manager, served by the same statement, sees only their own."""
    url = "/console/claims" + filters.format(period=channel.current_period)
    before = _queue_of_shape.cache_info()
    mine = logged_in_client(app, channel.emails["manager"]).get(url).get_data(as_text=True)
    theirs = logged_in_client(app, channel.emails["other_manager"]).get(url).get_data(as_text=True)
    assert _queue_of_shape.cache_info().hits >= before.hits + 1  # the second manager's page reused the first's
    assert "Own window display" in mine and "Foreign shop event" not in mine
    assert "Foreign shop event" in theirs and "Own window display" not in theirs


def test_the_dealer_filter_lists_a_portfolio_and_takes_a_typed_code_in_a_large_one(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    """A manager picks from their own dealers (never another portfolio's); past DEALER_CHOICES_UP_TO dealers the
    filter is a field for the code, typed as people type it (lower case, spaces), and filters the same."""
    manager = logged_in_client(app, channel.emails["manager"])
    html = manager.get("/console/claims").get_data(as_text=True)
    assert '<select id="dealer" name="dealer">' in html
    assert f'<option value="{channel.own_dealer}">' in html and f'<option value="{channel.foreign_dealer}">' not in html
    with app.app_context():
        manager_user = db.session.execute(select(User).where(User.email == channel.emails["manager"])).scalar_one()
        for _number in range(DEALER_CHOICES_UP_TO):
            make_dealer(manager=manager_user)
        db.session.commit()
    html = manager.get("/console/claims").get_data(as_text=True)
    assert '<select id="dealer"' not in html and '<input type="search" id="dealer" name="dealer" value=""' in html
    typed = manager.get(f"/console/claims?status=all&dealer=%20{channel.own_dealer.lower()}%20").get_data(as_text=True)
    assert f'name="dealer" value="{channel.own_dealer}"' in typed and "Own approved flyers" in typed
    foreign = manager.get(f"/console/claims?status=all&dealer={channel.foreign_dealer}").get_data(as_text=True)
    assert "Foreign shop event" not in foreign and "Nothing waiting here." in foreign


def test_the_queue_pages_through_every_claim_once_oldest_first(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    """The page's claims are picked (oldest first, ties by id) before they are joined to what the list shows: across
    pages every claim of the queue appears once, in the queue's order, including claims submitted at the same
    instant."""
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        quarter = db.session.execute(select(Period).where(Period.code == channel.current_period)).scalar_one()
        kind = db.session.get(ActivityType, claim_records.activity_type)
        instants = [utcnow_minus(days=3 + number % 4) for number in range(4)]
        for number in range(31):
            claim = make_claim(dealer, quarter, kind, title=f"Queued {number}")
            claim.submitted_at = instants[number % 4]  # four instants, several claims at each
        db.session.commit()
        manager_id = db.session.execute(select(User.id).where(User.email == channel.emails["manager"])).scalar_one()
        waiting = db.session.execute(
            select(Claim.id, Claim.submitted_at)
            .join(Dealer, Dealer.id == Claim.dealer_id)
            .where(Dealer.manager_id == manager_id, Claim.status == ClaimStatus.SUBMITTED)
        ).all()
    expected = [claim_id for claim_id, _submitted in sorted(waiting, key=lambda row: (row[1], row[0]))]
    assert len(expected) > 25  # more than one page
    manager = logged_in_client(app, channel.emails["manager"])
    shown: list[int] = []
    for page in (1, 2):
        html = manager.get(f"/console/claims?page={page}").get_data(as_text=True)
        shown += [int(found) for found in re.findall(r'href="/console/claims/(\d+)', html)]
    assert shown == expected
