"""Claim races with real commits on a file SQLite database and on PostgreSQL, threads released together:
two submit requests make one submission; two reviewers deciding at once make one decision; two claims reaching for
the last money of a budget: one gets it; two admins paying the same claim pay it once."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.accounts.models import User, UserRole
from portal.claims import budgets, pre_approvals, services
from portal.claims.models import ActivityType, Claim, ClaimEvent, ClaimFlag, FundRequest
from portal.claims.rules import ClaimStatus, Flag, RejectionReason
from portal.dealers.models import Dealer, Period
from portal.evidence.services import add_evidence
from portal.extensions import db
from tests.evidence_files import as_jpeg, pdf, shop_photo
from tests.factories import activity_day, all_flags, draft, make_user, make_world
from tests.helpers import BACKENDS, dispose_app, race_app
from tests.threads import acting_as, run_together


def _submitted_claim(app: Flask, submit: bool) -> tuple[Any, int]:
    with app.app_context():
        world = make_world()
        owner = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        budgets.set_allocation(admin, dealer, period, 10_000_000)
        claim = draft(world, amount=123_456)
        add_evidence(owner, services.CLAIM_OWNER, claim.id, io.BytesIO(pdf()), "invoice.pdf")
        if submit:
            services.submit(owner, claim)
        claim_id = claim.id
        db.session.commit()
        return world, claim_id


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_submit_requests_make_one_submission(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    app = race_app(backend_name, tmp_path_factory)
    world, claim_id = _submitted_claim(app, submit=False)
    owner, staff = world.emails["dealer_owner"], world.emails["dealer_staff"]
    try:
        results = run_together(
            [
                acting_as(app, email, Claim, claim_id, lambda actor, claim: services.submit(actor, claim))
                for email in (owner, staff)
            ]
        )
        with app.app_context():
            claim = db.session.get(Claim, claim_id)
            submissions = db.session.execute(
                select(func.count()).where(
                    ClaimEvent.claim_id == claim_id, ClaimEvent.to_status == ClaimStatus.SUBMITTED
                )
            ).scalar_one()
            state = (claim.status, claim.submission_count)
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert state == (ClaimStatus.SUBMITTED, 1) and submissions == 1


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_reviewers_deciding_at_once_make_one_decision(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    world, claim_id = _submitted_claim(app, submit=True)
    with app.app_context():
        second_manager = make_user(UserRole.MANAGER, is_senior=True).email
        db.session.commit()

    def approve(actor: User, claim: Claim) -> None:
        services.decide(actor, claim, services.Decision.APPROVE, checked=all_flags(claim))

    def reject(actor: User, claim: Claim) -> None:
        services.decide(
            actor,
            claim,
            services.Decision.REJECT,
            reason="Not our product on the stand.",
            reason_code=RejectionReason.NOT_ELIGIBLE,
        )

    try:
        results = run_together(
            [
                acting_as(app, world.emails["manager"], Claim, claim_id, approve),
                acting_as(app, second_manager, Claim, claim_id, reject),
            ]
        )
        with app.app_context():
            claim = db.session.get(Claim, claim_id)
            decisions = db.session.execute(
                select(func.count()).where(
                    ClaimEvent.claim_id == claim_id,
                    ClaimEvent.to_status.in_((ClaimStatus.APPROVED, ClaimStatus.REJECTED)),
                )
            ).scalar_one()
            status = claim.status
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert decisions == 1
    assert status is (ClaimStatus.APPROVED if results[0] == "done" else ClaimStatus.REJECTED)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_claims_reaching_for_the_last_money_of_a_budget(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each claim fits what is left on its own, not both: the budget row is locked, so one is refused."""
    app = race_app(backend_name, tmp_path_factory)
    world, first = _submitted_claim(app, submit=False)
    with app.app_context():
        owner = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        left = budgets.budget_of(dealer, period).left
        claims = []
        for number, claim_id in enumerate((first, draft(world, amount=1, invoice="INV-LAST").id)):
            claim = db.session.get(Claim, claim_id)
            assert claim is not None
            claim.amount_requested = left // 2 + 1 + number  # each fits alone; together they are over
            if number:
                add_evidence(owner, services.CLAIM_OWNER, claim.id, io.BytesIO(pdf()), "second.pdf")
            claims.append(claim.id)
        db.session.commit()
    try:
        results = run_together(
            [
                acting_as(app, email, Claim, claim_id, lambda actor, claim: services.submit(actor, claim))
                for email, claim_id in zip(
                    (world.emails["dealer_owner"], world.emails["dealer_staff"]), claims, strict=True
                )
            ]
        )
        with app.app_context():
            budget = budgets.budget_of(db.session.merge(dealer), db.session.merge(period))
            statuses = sorted(db.session.get(Claim, claim_id).status.value for claim_id in claims)  # type: ignore[union-attr]
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert statuses == ["draft", "submitted"]
    assert budget.left >= 0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_admins_paying_the_same_claim_pay_it_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    world, claim_id = _submitted_claim(app, submit=True)
    with app.app_context():
        manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
        claim = db.session.get(Claim, claim_id)
        assert claim is not None
        services.decide(manager, claim, services.Decision.APPROVE, checked=all_flags(claim))
        other_admin = make_user(UserRole.ADMIN).email
        db.session.commit()

    def pay(reference: str) -> Callable[[User, Claim], Any]:
        return lambda actor, claim: services.pay_claims(actor, [claim.id], reference)

    try:
        results = run_together(
            [
                acting_as(app, world.emails["admin"], Claim, claim_id, pay("BANK-A")),
                acting_as(app, other_admin, Claim, claim_id, pay("BANK-B")),
            ]
        )
        with app.app_context():
            payments = db.session.execute(
                select(func.count()).where(ClaimEvent.claim_id == claim_id, ClaimEvent.to_status == ClaimStatus.PAID)
            ).scalar_one()
            reference = db.session.get(Claim, claim_id).payment_reference  # type: ignore[union-attr]
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert payments == 1 and reference in ("BANK-A", "BANK-B")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_drafts_reaching_for_one_pre_approval_at_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two colleagues name the same approved pre-approval on two drafts at the same moment: one draft holds it, the
    other is told which claim has it. On PostgreSQL both pass the check and the partial unique index decides."""

    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        owner = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
        manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        show = ActivityType(code="SHOW", name_en="Trade show", name_zh="展会", needs_pre_approval=True)
        db.session.add(show)
        db.session.flush()
        day = activity_day()
        request = pre_approvals.request_pre_approval(owner, period, show.id, "Expo booth", day, day, 900_000)
        pre_approvals.decide_pre_approval(manager, request, approve=True)
        drafts = [draft(world, invoice=f"INV-{number}") for number in (1, 2)]
        claim_ids, request_id, show_id = [claim.id for claim in drafts], request.id, show.id
        db.session.commit()

    def name_the_request(actor: User, claim: Claim) -> None:
        wanted = services.ClaimInput(
            activity_type_id=show_id,
            title=claim.title,
            description="",
            activity_start=claim.activity_start,
            activity_end=claim.activity_end,
            vendor="Expo Co",
            vendor_tax_id="",
            invoice_number=claim.invoice_number,
            amount=800_000,
        )
        services.update_draft(actor, claim, replace(wanted, fund_request_id=request_id))

    if backend_name == "postgresql":
        # Both have passed the "who holds it" check before either writes (SQLite's BEGIN IMMEDIATE serialises the
        # two instead): only the unique index can then refuse the second.
        both_checked = threading.Barrier(2, timeout=30)
        offered = pre_approvals.usable_requests

        def usable_after_both_checked(dealer_id: int, keep: int | None = None) -> list[FundRequest]:
            both_checked.wait()
            return offered(dealer_id, keep)

        monkeypatch.setattr(services, "usable_requests", usable_after_both_checked)
    try:
        results = run_together(
            [
                acting_as(app, world.emails[role], Claim, claim_id, name_the_request)
                for role, claim_id in zip(("dealer_owner", "dealer_staff"), claim_ids, strict=True)
            ]
        )
        with app.app_context():
            holders = db.session.execute(select(Claim.id).where(Claim.fund_request_id == request_id)).scalars().all()
            assert db.session.get(FundRequest, request_id) is not None
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert len(holders) == 1


def _rejected_claims(app: Flask, allocation: int, amounts: tuple[int, ...]) -> tuple[Any, list[int], int]:
    """Claims submitted and rejected, then the budget set to what other claims of the dealer hold plus
    `allocation`: what a reopening meets. Returns the channel, the claims and what the others hold."""
    with app.app_context():
        world = make_world()
        owner = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
        manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        before = budgets.budget_of(dealer, period)
        others = before.approved + before.pending
        budgets.set_allocation(admin, dealer, period, others + sum(amounts))
        ids = []
        for number, amount in enumerate(amounts):
            claim = draft(world, amount=amount, invoice=f"R-{number}")
            add_evidence(owner, services.CLAIM_OWNER, claim.id, io.BytesIO(pdf()), "invoice.pdf")
            services.submit(owner, claim)
            services.decide(manager, claim, services.Decision.REJECT, reason="No.", reason_code=RejectionReason.OTHER)
            ids.append(claim.id)
        budgets.set_allocation(admin, dealer, period, others + allocation)
        db.session.commit()
        return world, ids, others


def _held_and_approved(app: Flask, ids: list[int]) -> tuple[int, int, int]:
    with app.app_context():
        claims = [db.session.get(Claim, claim_id) for claim_id in ids]
        dealer_period = claims[0]
        assert dealer_period is not None
        budget = budgets.budget_of(dealer_period.dealer, dealer_period.period)
        return budget.pending, budget.approved, budget.allocation


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_mediators_reopening_into_one_budget_hold_no_more_than_it_has(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two rejected claims of 6,000.00 reopened at once into a budget of 10,000.00: both go back to review, and
    together they hold 10,000.00 (6,000.00 and what is left, 4,000.00), never 12,000.00."""
    app = race_app(backend_name, tmp_path_factory)
    world, ids, others = _rejected_claims(app, 1_000_000, (600_000, 600_000))
    try:
        results = run_together(
            [
                acting_as(
                    app,
                    world.emails[role],
                    Claim,
                    claim_id,
                    lambda actor, claim: services.reopen(actor, claim, "Again."),
                )
                for role, claim_id in zip(("mediator", "admin"), ids, strict=True)
            ]
        )
        pending, approved, allocation = _held_and_approved(app, ids)
        with app.app_context():
            held = sorted(db.session.get(Claim, claim_id).budget_held for claim_id in ids)  # type: ignore[union-attr]
    finally:
        dispose_app(app)
    assert results == ["done", "done"]
    assert held == [1_000_000 - 600_000, 600_000]
    assert pending + approved == allocation == others + 1_000_000


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_reviewers_approving_beyond_what_reopened_claims_hold_share_the_last_money(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two claims reopened into an empty budget hold nothing; the admin adds 3,000.00; two reviewers approve both
    in full (3,000.00 each) at once: one approval fits, the other is told how much is left (none)."""
    app = race_app(backend_name, tmp_path_factory)
    world, ids, others = _rejected_claims(app, 0, (300_000, 300_000))
    with app.app_context():
        mediator = db.session.execute(select(User).where(User.email == world.emails["mediator"])).scalar_one()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        for claim_id in ids:
            claim = db.session.get(Claim, claim_id)
            assert claim is not None
            services.reopen(mediator, claim, "Again.")
            assert claim.budget_held == 0
        budgets.set_allocation(admin, claim.dealer, claim.period, others + 300_000)
        db.session.commit()
        second_reviewer = make_user(UserRole.MANAGER, is_senior=True).email
        db.session.commit()
    try:
        results = run_together(
            [
                acting_as(
                    app,
                    email,
                    Claim,
                    claim_id,
                    lambda actor, claim: services.decide(
                        actor, claim, services.Decision.APPROVE, checked=all_flags(claim)
                    ),
                )
                for email, claim_id in zip((world.emails["manager"], second_reviewer), ids, strict=True)
            ]
        )
        pending, approved, allocation = _held_and_approved(app, ids)
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert pending + approved == allocation == others + 300_000


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_dealers_submitting_the_same_photo_at_once_are_both_flagged(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each claim is the other's draft until it commits: submitted at the same moment, neither would see the other.
    Flags are computed one submission at a time, so the second sees the first, and both carry the flag."""
    app = race_app(backend_name, tmp_path_factory)
    photo = as_jpeg(shop_photo(11))
    with app.app_context():
        world = make_world()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        ids = []
        for code, role in ((world.own_dealer, "dealer_owner"), (world.foreign_dealer, "foreign_owner")):
            dealer = db.session.execute(select(Dealer).where(Dealer.code == code)).scalar_one()
            budgets.set_allocation(admin, dealer, period, 10_000_000)
            owner = db.session.execute(select(User).where(User.email == world.emails[role])).scalar_one()
            claim = draft(world, amount=123_400, invoice=f"S-{role}", role=role, vendor=role)
            add_evidence(owner, services.CLAIM_OWNER, claim.id, io.BytesIO(photo), "display.jpg")
            ids.append(claim.id)
        db.session.commit()
    try:
        results = run_together(
            [
                acting_as(app, world.emails[role], Claim, claim_id, lambda actor, claim: services.submit(actor, claim))
                for role, claim_id in zip(("dealer_owner", "foreign_owner"), ids, strict=True)
            ]
        )
        with app.app_context():
            flags = {
                claim_id: related
                for claim_id, related in db.session.execute(
                    select(ClaimFlag.claim_id, ClaimFlag.related_claims).where(
                        ClaimFlag.flag == Flag.SAME_EVIDENCE_ELSEWHERE
                    )
                )
            }
    finally:
        dispose_app(app)
    assert results == ["done", "done"]
    assert flags == {ids[0]: [ids[1]], ids[1]: [ids[0]]}
