"""Claims through their services: drafting, the submission checks, flags, review with a second approval, bulk
approval and payment. The pages come with the rest of issue 8; these rules stand on their own already."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.claims import budgets, pre_approvals, services
from portal.claims.models import Claim, ClaimEvent, FundRequest, FundRequestStatus
from portal.claims.rules import ClaimStatus, Flag, Problem, RejectionReason
from portal.dealers.models import Dealer, DealerStatus
from portal.evidence.services import add_evidence
from portal.extensions import db
from portal.jobs import _DECLARED
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from tests.evidence_files import pdf
from tests.factories import World, activity, activity_day, all_flags, attach, draft, period, user
from tests.helpers import log_in
from tests.state_changing import _claim_form

# Dates decide here (windows, deadlines, quarters): also run at a quarter's first and last minute and on 29 February.
pytestmark = pytest.mark.calendar


@pytest.fixture
def funded(app: Flask, world: World) -> World:
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        budgets.set_allocation(user(world, "admin"), dealer, period(world.current_period), 10_000_000)
        foreign = db.session.execute(select(Dealer).where(Dealer.code == world.foreign_dealer)).scalar_one()
        budgets.set_allocation(user(world, "admin"), foreign, period(world.current_period), 10_000_000)
        db.session.commit()
    return world


def test_a_claim_without_evidence_is_refused_with_every_reason(app: Flask, funded: World) -> None:
    with app.app_context():
        claim = draft(funded, amount=0)
        with pytest.raises(services.SubmissionRefused) as refused:
            services.submit(user(funded, "dealer_owner"), claim)
        assert refused.value.problems == [Problem.NO_EVIDENCE, Problem.AMOUNT_NOT_POSITIVE]
        assert "Attach at least one evidence file." in refused.value.message


def test_submission_flags_and_the_budget(app: Flask, funded: World) -> None:
    with app.app_context():
        owner = user(funded, "dealer_owner")
        claim = draft(funded, amount=6_000_000)
        before = budgets.budget_of(claim.dealer, claim.period)  # the world's own claims hold some already
        attach(funded, claim)
        raised = {found.flag for found in services.submit(owner, claim)}
        assert raised == {Flag.ROUND_AMOUNT, Flag.MOST_OF_BUDGET}
        assert claim.status is ClaimStatus.SUBMITTED and claim.submission_count == 1
        budget = budgets.budget_of(claim.dealer, claim.period)
        assert (budget.pending, budget.left) == (before.pending + 6_000_000, before.left - 6_000_000)
        second = draft(funded, amount=budget.left + 1, invoice="INV-2")
        attach(funded, second)
        with pytest.raises(services.SubmissionRefused) as refused:
            services.submit(owner, second)
        assert refused.value.problems == [Problem.OVER_BUDGET]


def test_the_same_file_or_invoice_in_another_dealers_claim_is_flagged(app: Flask, funded: World) -> None:
    with app.app_context():
        evidence = pdf()
        own = draft(funded, amount=123_456, invoice="FP-777")
        attach(funded, own, evidence)
        services.submit(user(funded, "dealer_owner"), own)
        foreign_owner = db.session.execute(
            select(User).where(User.email == funded.emails["foreign_owner"])
        ).scalar_one()
        theirs = services.create_draft(
            foreign_owner,
            own.period,
            services.ClaimInput(
                own.activity_type_id,
                "Same stand",
                "",
                own.activity_start,
                own.activity_end,
                "Print Co",
                "91310000x",
                "fp-777",
                123_456,
            ),
        )
        add_evidence(foreign_owner, services.CLAIM_OWNER, theirs.id, io.BytesIO(evidence), "copy.pdf")
        raised = {found.flag: found.related_claims for found in services.submit(foreign_owner, theirs)}
        assert raised == {Flag.SAME_EVIDENCE_ELSEWHERE: (own.id,), Flag.SAME_INVOICE_ELSEWHERE: (own.id,)}
        assert {flag.flag for flag in services.flags_of(theirs)} == set(raised)


def test_review_with_a_second_approval_above_the_threshold(app: Flask, funded: World) -> None:
    with app.app_context():
        claim = draft(funded, amount=3_000_123)
        attach(funded, claim)
        services.submit(user(funded, "dealer_owner"), claim)
        manager, senior = user(funded, "manager"), user(funded, "senior_manager")
        services.decide(manager, claim, services.Decision.APPROVE, checked=all_flags(claim))
        assert claim.status is ClaimStatus.AWAITING_SECOND_APPROVAL and claim.first_approver_id == manager.id
        with pytest.raises(IllegalTransition, match="second approval"):
            services.decide(manager, claim, services.Decision.APPROVE, checked=all_flags(claim))
        services.decide(senior, claim, services.Decision.APPROVE, checked=all_flags(claim))
        assert claim.status is ClaimStatus.APPROVED and claim.amount_approved == 3_000_123
        budget = budgets.budget_of(claim.dealer, claim.period)
        assert (budget.approved, budget.pending) == (3_000_123 + 300_000, 300_000)  # the world's own two claims
        moves = [(event.from_status, event.to_status) for event in services.timeline(claim)]
        assert moves == [
            (None, ClaimStatus.DRAFT),
            (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED),
            (ClaimStatus.SUBMITTED, ClaimStatus.AWAITING_SECOND_APPROVAL),
            (ClaimStatus.AWAITING_SECOND_APPROVAL, ClaimStatus.APPROVED),
        ]


def test_partial_approval_rejection_and_requests_need_reasons(app: Flask, funded: World) -> None:
    with app.app_context():
        owner, manager = user(funded, "dealer_owner"), user(funded, "manager")
        claim = draft(funded, amount=900_000)
        attach(funded, claim)
        services.submit(owner, claim)
        with pytest.raises(InvalidInput, match="reason"):
            services.decide(manager, claim, services.Decision.APPROVE_PART, amount=500_000)
        services.decide(manager, claim, services.Decision.REQUEST_INFO, reason="Send the photo of the stand.")
        assert claim.status is ClaimStatus.NEEDS_INFO
        attach(funded, claim)
        services.submit(owner, claim)
        assert claim.status is ClaimStatus.SUBMITTED and claim.submission_count == 2
        with pytest.raises(InvalidInput, match="above zero and below"):
            services.decide(manager, claim, services.Decision.APPROVE_PART, amount=900_000, reason="Too much")
        services.decide(
            manager,
            claim,
            services.Decision.APPROVE_PART,
            amount=500_000,
            reason="Only one week ran.",
            checked=all_flags(claim),
        )
        assert claim.status is ClaimStatus.PARTIALLY_APPROVED and claim.amount_approved == 500_000
        with pytest.raises(IllegalTransition, match="already decided"):
            services.decide(manager, claim, services.Decision.REJECT, reason="Changed my mind")


def test_bulk_approval_takes_only_unflagged_small_claims_and_payment_all_or_none(app: Flask, funded: World) -> None:
    with app.app_context():
        owner, manager, admin = user(funded, "dealer_owner"), user(funded, "manager"), user(funded, "admin")
        small = []
        for number in range(2):
            claim = draft(funded, amount=123_400 + number, invoice=f"B-{number}")
            attach(funded, claim, pdf(text=f"Invoice B-{number}"))
            services.submit(owner, claim)
            small.append(claim)
        round_one = draft(funded, amount=100_000, invoice="B-9")
        attach(funded, round_one, pdf(text="Invoice B-9"))
        services.submit(owner, round_one)  # flagged: a round amount
        with pytest.raises(IllegalTransition, match="review Shop window display on its own"):
            services.bulk_approve(manager, [claim.id for claim in small] + [round_one.id])
        assert services.bulk_approve(manager, [claim.id for claim in small]) == 2
        with pytest.raises(IllegalTransition), db.session.begin_nested():  # the round one is not approved
            services.pay_claims(admin, [small[0].id, round_one.id], "BANK-1")
        db.session.expire_all()
        assert db.session.get(Claim, small[0].id).status is ClaimStatus.APPROVED  # nothing of the batch stayed
        assert services.pay_claims(admin, [claim.id for claim in small], "BANK-1") == 2
        paid = db.session.get(Claim, small[0].id)
        assert paid.status is ClaimStatus.PAID and paid.payment_reference == "BANK-1"


def test_withdrawing_and_what_cannot_be_withdrawn(app: Flask, funded: World) -> None:
    with app.app_context():
        owner = user(funded, "dealer_owner")
        claim = draft(funded)
        services.withdraw(owner, claim, "Duplicate")
        assert claim.status is ClaimStatus.WITHDRAWN
        with pytest.raises(IllegalTransition):
            services.withdraw(owner, claim)
        events = db.session.execute(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id)).scalars().all()
        assert events[-1].note == "Duplicate"


def test_an_activity_that_needs_pre_approval_is_claimed_against_an_approved_request(app: Flask, funded: World) -> None:
    with app.app_context():
        owner, manager = user(funded, "dealer_owner"), user(funded, "manager")
        show = activity(needs_pre_approval=True)
        claim = draft(funded, amount=1_234_567)
        claim.activity_type_id = show.id
        attach(funded, claim)
        with pytest.raises(services.SubmissionRefused) as refused:
            services.submit(owner, claim)
        assert refused.value.problems == [Problem.PRE_APPROVAL_MISSING]
        request = pre_approvals.request_pre_approval(
            owner, claim.period, show.id, "Spring trade show", claim.activity_start, claim.activity_end, 1_000_000
        )
        with pytest.raises(InvalidInput, match="reason"):
            pre_approvals.decide_pre_approval(manager, request, approve=False)
        pre_approvals.decide_pre_approval(manager, request, approve=True)
        with pytest.raises(IllegalTransition, match="already decided"):
            pre_approvals.decide_pre_approval(user(funded, "senior_manager"), request, approve=False, note="No")
        claim.fund_request_id = request.id
        with pytest.raises(services.SubmissionRefused) as refused:
            services.submit(owner, claim)
        assert refused.value.problems == [Problem.OVER_PRE_APPROVAL]  # above the estimate, and no reason given
        claim.over_pre_approval_reason = "The booth cost more than quoted."
        services.submit(owner, claim)
        assert claim.status is ClaimStatus.SUBMITTED
        db.session.refresh(request)
        assert request.status.value == "used"


def test_a_manager_cannot_decide_another_portfolios_request(app: Flask, funded: World) -> None:
    with app.app_context():
        foreign_owner = db.session.execute(
            select(User).where(User.email == funded.emails["foreign_owner"])
        ).scalar_one()
        show = activity(needs_pre_approval=True)
        current = period(funded.current_period)
        request = pre_approvals.request_pre_approval(
            foreign_owner, current, show.id, "Expo", current.starts_on, current.starts_on, 500_000
        )
        with pytest.raises(NotFound):
            pre_approvals.decide_pre_approval(user(funded, "manager"), request, approve=True)


def test_a_suspended_dealer_answers_but_submits_nothing_new(app: Flask, funded: World) -> None:
    with app.app_context():
        owner, manager = user(funded, "dealer_owner"), user(funded, "manager")
        asked = draft(funded, amount=222_222, invoice="INV-ASK")
        attach(funded, asked)
        services.submit(owner, asked)
        services.decide(manager, asked, services.Decision.REQUEST_INFO, reason="Which shop?")
        fresh = draft(funded, amount=111_111, invoice="INV-NEW")
        attach(funded, fresh)
        asked.dealer.status = DealerStatus.SUSPENDED
        db.session.flush()
        with pytest.raises(services.SubmissionRefused) as refused:
            services.submit(owner, fresh)
        assert refused.value.problems == [Problem.DEALER_CANNOT_SUBMIT]
        services.submit(owner, asked)
        assert asked.status is ClaimStatus.SUBMITTED


def _approved_request(world: World, cost: int = 1_000_000) -> FundRequest:
    owner, manager = user(world, "dealer_owner"), user(world, "manager")
    show = activity(needs_pre_approval=True)
    day = activity_day()
    request = pre_approvals.request_pre_approval(
        owner, period(world.current_period), show.id, "Spring trade show", day, day, cost
    )
    pre_approvals.decide_pre_approval(manager, request, approve=True)
    return request


def _naming(claim_input: services.ClaimInput, request: FundRequest, **changes: object) -> services.ClaimInput:
    return dataclasses.replace(
        claim_input, fund_request_id=request.id, activity_type_id=request.activity_type_id, **changes
    )  # type: ignore[arg-type]


def _input_of(claim: Claim) -> services.ClaimInput:
    return services.ClaimInput(
        activity_type_id=claim.activity_type_id,
        title=claim.title,
        description=claim.description,
        activity_start=claim.activity_start,
        activity_end=claim.activity_end,
        vendor=claim.vendor,
        vendor_tax_id=claim.vendor_tax_id,
        invoice_number=claim.invoice_number,
        amount=claim.amount_requested,
    )


def test_a_pre_approval_used_by_one_claim_is_refused_to_another_on_create_and_edit(app: Flask, funded: World) -> None:
    with app.app_context():
        owner = user(funded, "dealer_owner")
        request = _approved_request(funded)
        first = draft(funded, invoice="INV-FIRST")
        services.update_draft(owner, first, _naming(_input_of(first), request))
        second = draft(funded, invoice="INV-SECOND")
        with pytest.raises(InvalidInput, match="already used by the claim \u201cShop window display\u201d"):
            services.create_draft(owner, period(funded.current_period), _naming(_input_of(second), request))
        with pytest.raises(InvalidInput, match="already used by the claim") as refused:
            services.update_draft(owner, second, _naming(_input_of(second), request))
        assert refused.value.field == "fund_request_id"
        db.session.refresh(second)
        assert second.fund_request_id is None  # nothing half-saved
        assert request.id not in {offered.id for offered in pre_approvals.usable_requests(owner.dealer_id)}
        assert request.id in {offered.id for offered in pre_approvals.usable_requests(owner.dealer_id, keep=request.id)}
        services.update_draft(owner, first, _naming(_input_of(first), request, title="Booth, renamed"))  # its own


def test_a_withdrawn_or_rejected_claim_frees_its_pre_approval(app: Flask, funded: World) -> None:
    with app.app_context():
        owner, manager = user(funded, "dealer_owner"), user(funded, "manager")
        request = _approved_request(funded)
        first = draft(funded, invoice="INV-FIRST")
        services.update_draft(owner, first, _naming(_input_of(first), request))
        services.withdraw(owner, first, "Wrong booth")
        assert request.id in {offered.id for offered in pre_approvals.usable_requests(owner.dealer_id)}
        second = draft(funded, invoice="INV-SECOND")
        services.update_draft(owner, second, _naming(_input_of(second), request))
        attach(funded, second)
        services.submit(owner, second)
        db.session.refresh(request)
        assert request.status is FundRequestStatus.USED
        services.decide(
            manager, second, services.Decision.REJECT, reason="Not our booth.", reason_code=RejectionReason.NOT_ELIGIBLE
        )
        db.session.refresh(request)
        assert request.status is FundRequestStatus.APPROVED  # claimable again
        third = services.create_draft(owner, period(funded.current_period), _naming(_input_of(second), request))
        assert third.fund_request_id == request.id
        # The mediator would reopen the rejected claim, but its pre-approval is the third claim's now and the activity
        # needs one: a reopening passes the checks of a submission, so it is refused with the reason, nothing changed.
        mediator = user(funded, "mediator")
        with pytest.raises(services.SubmissionRefused) as refused, db.session.begin_nested():
            services.reopen(mediator, second, "The booth was ours after all.")
        assert refused.value.problems == [Problem.PRE_APPROVAL_MISSING]
        db.session.refresh(second)
        assert second.status is ClaimStatus.REJECTED and second.fund_request_id == request.id
        # Once the third claim lets it go, the reopened claim takes its pre-approval again.
        services.withdraw(owner, third, "Duplicate")
        services.reopen(mediator, second, "The booth was ours after all.")
        db.session.refresh(second)
        db.session.refresh(request)
        assert second.status is ClaimStatus.SUBMITTED and second.fund_request_id == request.id
        assert request.status is FundRequestStatus.USED
        assert second.budget_held == second.amount_requested


def test_two_drafts_naming_one_pre_approval_through_the_pages_get_a_message_not_a_500(
    app: Flask, funded: World
) -> None:
    with app.app_context():
        request_id = _approved_request(funded).id
        db.session.commit()
    client = app.test_client()
    log_in(client, funded.emails["dealer_owner"])
    form = {**_claim_form(funded), "fund_request_id": str(request_id)}
    with app.app_context():
        form["activity_type_id"] = str(db.session.get(FundRequest, request_id).activity_type_id)  # type: ignore[union-attr]
    assert client.post("/claims/new", data={**form, "invoice_number": "A-1"}).status_code == 303
    refused = client.post("/claims/new", data={**form, "invoice_number": "A-2"})
    assert refused.status_code == 422
    assert "This pre-approval is already used by the claim" in refused.get_data(as_text=True).replace("&#34;", '"')


def test_an_approved_pre_approval_expires_when_its_claim_window_closes_unused(app: Flask, funded: World) -> None:
    """The day after the last day a claim may be made against its period, an unused approval expires; one a claim
    uses, and one still waiting for a decision, stay as they are."""
    with app.app_context():
        owner, manager, current = user(funded, "dealer_owner"), user(funded, "manager"), period(funded.current_period)
        unused = _approved_request(funded)
        used, waiting = (
            pre_approvals.request_pre_approval(
                owner, current, unused.activity_type_id, title, activity_day(), activity_day(), 500_000
            )
            for title in ("Autumn fair", "Winter fair")
        )
        pre_approvals.decide_pre_approval(manager, used, approve=True)
        claim = draft(funded, invoice="INV-USES")
        services.update_draft(owner, claim, _naming(_input_of(claim), used))
        attach(funded, claim)
        services.submit(owner, claim)
        window = app.config["CLAIM_WINDOW_DAYS"]
        last_claim_day = period(funded.current_period).ends_on + timedelta(days=window)
        assert services.claimable_periods(last_claim_day)[0].code == funded.current_period  # still claimable
        assert pre_approvals.expire_pre_approvals(today=last_claim_day) == 0
        assert pre_approvals.expire_pre_approvals(today=last_claim_day + timedelta(days=1)) == 1
        for request in (unused, used, waiting):
            db.session.refresh(request)
        assert (unused.status, used.status, waiting.status) == (
            FundRequestStatus.EXPIRED,
            FundRequestStatus.USED,
            FundRequestStatus.SUBMITTED,
        )
        assert pre_approvals.expire_pre_approvals(today=last_claim_day + timedelta(days=1)) == 0  # once
        events = db.session.execute(
            select(AuditEvent.subject_id).where(AuditEvent.action == "fund_request.expired")
        ).scalars()
        assert list(events) == [unused.id]


def test_the_nightly_task_expires_pre_approvals() -> None:
    declared = _DECLARED["expire_pre_approvals"]
    assert declared.schedule is not None and declared.function.__module__ == "portal.claims.tasks"
