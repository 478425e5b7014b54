"""Where the claim money can slip: a mediator's reopening into a budget that has since filled, an approval above
what is left, four eyes avoided by approving a part or by many small claims, and claims split to stay under the
threshold or rushed to drain the budget. Each amount is computed again here, from the figures of the test."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.claims import budgets, services
from portal.claims.models import Claim, ClaimFlag
from portal.claims.rules import ClaimStatus, Flag, Problem, RejectionReason
from portal.dealers.models import Dealer, DealerStatus
from portal.extensions import db
from portal.notifications.models import Notification
from portal.service_errors import IllegalTransition, InvalidInput
from portal.types import utcnow
from tests.evidence_files import pdf
from tests.factories import Channel, all_flags, attach, draft, period, user
from tests.helpers import csrf_token_on, log_in

_invoices = itertools.count(1)
THRESHOLD = 2_000_000  # CNY's second-approval threshold (config CLAIM_LIMITS): 20,000.00


def _dealer(channel: Channel, code: str | None = None) -> Dealer:
    return db.session.execute(select(Dealer).where(Dealer.code == (code or channel.own_dealer))).scalar_one()


def _submitted(channel: Channel, amount: int, *, role: str = "dealer_owner", **draft_options: str) -> Claim:
    claim = draft(channel, amount=amount, role=role, invoice=f"M-{next(_invoices)}", **draft_options)
    attach(channel, claim, role=role)
    services.submit(user(channel, role), claim)
    return claim


def _reject(channel: Channel, claim: Claim) -> None:
    services.decide(
        user(channel, "manager"),
        claim,
        services.Decision.REJECT,
        reason="No photo of the display.",
        reason_code=RejectionReason.INSUFFICIENT_EVIDENCE,
    )


def _flags(claim: Claim) -> dict[Flag, list[int]]:
    return {
        flag.flag: flag.related_claims
        for flag in db.session.execute(select(ClaimFlag).where(ClaimFlag.claim_id == claim.id)).scalars()
    }


def test_a_claim_reopened_into_a_full_budget_holds_what_is_left_and_is_approved_at_most_that(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    """The issue's case: allocation 10,000.00; a claim of 8,000.00 rejected, one of 9,000.00 approved, then the
    first reopened by a mediator. Before, approved ended at 17,000.00 (left -7,000.00)."""
    with app.app_context():
        dealer, current, admin = _dealer(channel), period(channel.current_period), user(channel, "admin")
        allocation = 1_000_000
        budgets.set_allocation(admin, dealer, current, allocation)
        rejected = _submitted(channel, 800_000)
        _reject(channel, rejected)
        approved = _submitted(channel, 900_000)
        services.decide(user(channel, "manager"), approved, services.Decision.APPROVE, checked=all_flags(approved))
        services.reopen(user(channel, "mediator"), rejected, "The photo was in the second file.")
        db.session.refresh(rejected)
        left_before_reopening = allocation - 900_000  # computed here: 1,000.00
        assert rejected.status is ClaimStatus.SUBMITTED and rejected.budget_held == left_before_reopening
        budget = budgets.budget_of(dealer, current)
        assert (budget.approved, budget.pending, budget.left) == (900_000, left_before_reopening, 0)
        assert "the claim holds that much" in services.timeline(rejected)[-1].note
        # The reviewer cannot approve it in full: nothing changes, and the message says how much fits.
        with pytest.raises(services.BudgetShort) as short, db.session.begin_nested():
            services.decide(user(channel, "manager"), rejected, services.Decision.APPROVE, checked=all_flags(rejected))
        assert short.value.room == left_before_reopening
        db.session.refresh(rejected)
        assert rejected.status is ClaimStatus.SUBMITTED
        db.session.commit()
        claim_id = rejected.id

    log_in(client, channel.emails["manager"])
    page = client.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert "The budget is short" in page and "CN¥1,000.00 of the CN¥8,000.00 claimed" in page
    # The reviewer asks the admins; the claim keeps waiting, and an admin hears of the 7,000.00 missing.
    token = csrf_token_on(client, f"/console/claims/{claim_id}")
    asked = client.post(
        f"/console/claims/{claim_id}/ask-budget",
        data={"note": "Trade show season.", **({"csrf_token": token} if token else {})},
    )
    assert asked.status_code == 303
    with app.app_context():
        told = db.session.execute(
            select(Notification).where(Notification.user_id == user(channel, "admin").id)
        ).scalars()
        asks = [notice for notice in told if notice.kind == "claim_budget_asked"]
        assert len(asks) == 1 and asks[0].params["amount"]["amount"] == 800_000 - 100_000
        # The admin can save the budget as it is (nothing is overdrawn), then raises it; the full claim fits.
        admin, dealer, current = user(channel, "admin"), _dealer(channel), period(channel.current_period)
        budgets.set_allocation(admin, dealer, current, allocation)
        budgets.set_allocation(admin, dealer, current, 1_700_000)
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        services.decide(user(channel, "manager"), claim, services.Decision.APPROVE, checked=all_flags(claim))
        budget = budgets.budget_of(dealer, current)
        assert (budget.approved, budget.pending, budget.left) == (900_000 + 800_000, 0, 0)


def test_a_reopened_claim_may_be_approved_in_part_up_to_what_is_left(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        dealer, current, admin = _dealer(budgets_set), period(budgets_set.current_period), user(budgets_set, "admin")
        claim = _submitted(budgets_set, 600_000)
        _reject(budgets_set, claim)
        budgets.set_allocation(admin, dealer, current, 250_000)  # cut while nothing holds it
        services.reopen(user(budgets_set, "mediator"), claim, "Reviewed again.")
        manager = user(budgets_set, "manager")
        with pytest.raises(services.BudgetShort), db.session.begin_nested():
            services.decide(
                manager, claim, services.Decision.APPROVE_PART, amount=250_001, reason="Part.", checked=all_flags(claim)
            )
        services.decide(
            manager,
            claim,
            services.Decision.APPROVE_PART,
            amount=250_000,
            reason="What is left.",
            checked=all_flags(claim),
        )
        assert claim.status is ClaimStatus.PARTIALLY_APPROVED and claim.amount_approved == 250_000
        budget = budgets.budget_of(dealer, current)
        assert budget.approved + budget.pending == 250_000 == budget.allocation


def test_reopening_passes_the_checks_of_a_submission(app: Flask, budgets_set: Channel) -> None:
    """Window (counted to the day the dealer disputed), evidence, suspended dealer: each refuses the reopening
    with its reason and changes nothing."""
    with app.app_context():
        mediator = user(budgets_set, "mediator")
        claim = _submitted(budgets_set, 300_000)
        _reject(budgets_set, claim)
        late = claim.activity_end + timedelta(days=61)  # CLAIM_WINDOW_DAYS is 60
        with pytest.raises(services.SubmissionRefused) as refused, db.session.begin_nested():
            services.reopen(mediator, claim, "Late.", disputed_on=late)
        assert refused.value.problems == [Problem.WINDOW_CLOSED]
        dealer = _dealer(budgets_set)
        dealer.status = DealerStatus.SUSPENDED
        db.session.flush()
        with pytest.raises(services.SubmissionRefused) as refused, db.session.begin_nested():
            services.reopen(mediator, claim, "Suspended.")
        assert refused.value.problems == [Problem.DEALER_CANNOT_SUBMIT]
        dealer.status = DealerStatus.ACTIVE
        db.session.flush()
        db.session.refresh(claim)
        assert claim.status is ClaimStatus.REJECTED
        services.reopen(mediator, claim, "In time.", disputed_on=claim.activity_end + timedelta(days=60))
        assert claim.status is ClaimStatus.SUBMITTED


def test_a_budget_overdrawn_in_the_past_can_be_saved_again_but_not_cut(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        dealer, current, admin = _dealer(budgets_set), period(budgets_set.current_period), user(budgets_set, "admin")
        claim = _submitted(budgets_set, 900_000)
        services.decide(user(budgets_set, "manager"), claim, services.Decision.APPROVE, checked=all_flags(claim))
        # As the old reopening left it: approved above the allocation.
        budgets.set_allocation(admin, dealer, current, 900_000)
        db.session.execute(update(Claim).where(Claim.id == claim.id).values(amount_approved=1_700_000))
        budgets.set_allocation(admin, dealer, current, 900_000)  # the same again: accepted
        with pytest.raises(InvalidInput, match="Claims already hold more"):
            budgets.set_allocation(admin, dealer, current, 899_999)
        budgets.set_allocation(admin, dealer, current, 1_700_000)


def test_four_eyes_on_the_amount_claimed_not_the_part_approved(app: Flask, channel: Channel) -> None:
    with app.app_context():
        budgets.set_allocation(user(channel, "admin"), _dealer(channel), period(channel.current_period), 20_000_000)
        claim = _submitted(channel, 10_000_000)  # 100,000.00 claimed
        services.decide(
            user(channel, "manager"),
            claim,
            services.Decision.APPROVE_PART,
            amount=1_999_999,
            reason="A part.",
            checked=all_flags(claim),
        )
        assert claim.status is ClaimStatus.AWAITING_SECOND_APPROVAL and claim.budget_held == 1_999_999
        services.decide(user(channel, "senior_manager"), claim, services.Decision.APPROVE, checked=all_flags(claim))
        assert claim.status is ClaimStatus.PARTIALLY_APPROVED and claim.amount_approved == 1_999_999


def test_four_eyes_on_what_one_reviewer_approved_for_the_dealer_in_the_period(app: Flask, budgets_set: Channel) -> None:
    """Ten claims of 2,000.00 by one manager: the one that takes their total past 20,000.00 goes to a second person;
    another reviewer's approvals, and another dealer's, do not count towards the manager's total."""
    with app.app_context():
        manager, admin = user(budgets_set, "manager"), user(budgets_set, "admin")
        approved_by_manager = 0
        statuses = []
        for number in range(12):
            claim = draft(budgets_set, amount=200_000, invoice=f"E-{number}", vendor=f"Vendor {number}")
            attach(budgets_set, claim)
            services.submit(user(budgets_set, "dealer_owner"), claim)
            reviewer = admin if number == 0 else manager  # the admin's approval is the admin's, not the manager's
            services.decide(reviewer, claim, services.Decision.APPROVE, checked=all_flags(claim))
            if reviewer is manager and claim.status is ClaimStatus.APPROVED:
                approved_by_manager += claim.amount_approved or 0
            statuses.append(claim.status)
        # Computed here: the admin approved claim 0; the manager claims 1 to 10, 10 x 2,000.00 = 20,000.00 (not
        # above the threshold); the manager's 11th would make 22,000.00.
        assert statuses[:11] == [ClaimStatus.APPROVED] * 11
        assert approved_by_manager == 10 * 200_000 == THRESHOLD
        assert statuses[11] is ClaimStatus.AWAITING_SECOND_APPROVAL
        assert services.approved_by(manager, claim) == THRESHOLD


def test_claims_split_to_one_vendor_are_flagged_together(app: Flask, budgets_set: Channel) -> None:
    """8,000 + 7,000 + 6,000 to one printer (its name written two ways, no tax id) within 30 days: 21,000.00
    crosses the 20,000.00 threshold, so all three carry the flag naming the other two."""
    with app.app_context():
        printer = {"vendor": "ABC Printing Co., Ltd.", "tax_id": ""}
        first = _submitted(budgets_set, 800_000, **printer)
        second = _submitted(budgets_set, 700_000, vendor="abc printing co ltd", tax_id="")
        assert Flag.SPLIT_CLAIMS not in _flags(first) | _flags(second)  # 15,000.00: not yet
        other_vendor = _submitted(budgets_set, 650_000, vendor="Another Printer", tax_id="")
        assert Flag.SPLIT_CLAIMS not in _flags(other_vendor)
        third = _submitted(budgets_set, 600_000, **printer)
        assert THRESHOLD < 800_000 + 700_000 + 600_000
        assert _flags(third)[Flag.SPLIT_CLAIMS] == sorted([first.id, second.id])
        assert _flags(first)[Flag.SPLIT_CLAIMS] == sorted([second.id, third.id])
        assert _flags(second)[Flag.SPLIT_CLAIMS] == sorted([first.id, third.id])


def test_an_old_claim_to_the_vendor_is_outside_the_split_window(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        old = _submitted(budgets_set, 1_500_000)
        db.session.execute(update(Claim).where(Claim.id == old.id).values(submitted_at=utcnow() - timedelta(days=31)))
        recent = _submitted(budgets_set, 1_000_000)
        assert Flag.SPLIT_CLAIMS not in _flags(recent)


def test_claims_rushing_most_of_the_budget_are_flagged_together(app: Flask, budgets_set: Channel) -> None:
    """Two claims of 45 % each within a week: 90 % of the budget, both flagged; one of 45 % alone is not."""
    with app.app_context():
        allocation = 10_000_000
        first = _submitted(budgets_set, allocation * 45 // 100, vendor="Hall A")
        assert Flag.MOST_OF_BUDGET not in _flags(first)
        second = _submitted(budgets_set, allocation * 45 // 100, vendor="Hall B")
        assert _flags(second)[Flag.MOST_OF_BUDGET] == [first.id]
        assert _flags(first)[Flag.MOST_OF_BUDGET] == [second.id]


def test_a_claim_flagged_by_a_later_one_leaves_the_bulk_approval_set(
    app: Flask, client: FlaskClient, budgets_set: Channel
) -> None:
    """The earlier of two claims with the same invoice is flagged when the later one arrives (another dealer's,
    typed another way): bulk approval refuses it, and the queue no longer offers its checkbox."""
    with app.app_context():
        earlier = draft(budgets_set, amount=123_400, invoice="No.12345678")
        attach(budgets_set, earlier)
        services.submit(user(budgets_set, "dealer_owner"), earlier)
        db.session.commit()
        earlier_id = earlier.id
    log_in(client, budgets_set.emails["admin"])
    assert f'value="{earlier_id}"' in client.get("/console/claims").get_data(as_text=True)
    with app.app_context():
        later = draft(budgets_set, amount=99_900, invoice="1234 5678", role="foreign_owner", tax_id="")
        attach(budgets_set, later, pdf(text="Their own scan"), role="foreign_owner")
        services.submit(user(budgets_set, "foreign_owner"), later)
        db.session.commit()
        earlier = db.session.get(Claim, earlier_id)
        assert earlier is not None and _flags(earlier)[Flag.SAME_INVOICE_ELSEWHERE] == [later.id]
        with pytest.raises(IllegalTransition), db.session.begin_nested():
            services.bulk_approve(user(budgets_set, "admin"), [earlier_id])
        db.session.rollback()
    assert f'value="{earlier_id}"' not in client.get("/console/claims").get_data(as_text=True)
