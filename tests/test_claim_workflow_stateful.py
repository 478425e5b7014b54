"""The claim workflow driven by Hypothesis as a state machine: dealers draft, submit, withdraw; reviewers approve in
full or in part, reject, ask for information; a second approver decides above the threshold; the admin pays; a
mediator reopens a rejected claim (into a budget that may have shrunk: it then holds what is left); the admin cuts
or raises the budget. Whatever the order, two things always hold after every step: the approved and the pending
money of a dealer's period never exceed its budget as it is then, and every status a claim had was reached by a
legal transition."""

from __future__ import annotations

from contextlib import ExitStack

import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.claims import budgets, services
from portal.claims.models import Claim, ClaimEvent
from portal.claims.rules import APPROVED, PENDING, TRANSITIONS, ClaimStatus, RejectionReason
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from tests.factories import Channel, attach, draft, examples, period, user
from tests.helpers import example_savepoint

ALLOCATION = 5_000_000  # 50,000.00 CNY: a few claims fit, then the budget is the limit
REFUSED = (IllegalTransition, InvalidInput, NotFound, Forbidden, HTTPException)
REVIEWERS = ("manager", "senior_manager", "admin")
DECIDABLE = (ClaimStatus.SUBMITTED, ClaimStatus.AWAITING_SECOND_APPROVAL)
PAYABLE = (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)


def legal(before: ClaimStatus | None, after: ClaimStatus | None, actor_role: str | None) -> bool:
    if before is None:  # created as a draft
        return after is ClaimStatus.DRAFT
    if after is None or after is before:  # a comment or a note on the timeline
        return True
    if before is ClaimStatus.REJECTED and after is ClaimStatus.SUBMITTED:
        return actor_role == "mediator"  # only a mediator's dispute outcome reopens a rejected claim
    return after in TRANSITIONS[before]


def test_the_claim_workflow_keeps_its_invariants(app: Flask, db_connection: sa.Connection, channel: Channel) -> None:
    class ClaimWorkflow(RuleBasedStateMachine):
        claims = Bundle("claims")

        def __init__(self) -> None:
            super().__init__()
            self.stack = ExitStack()
            self.stack.enter_context(app.app_context())
            self.stack.enter_context(example_savepoint(db_connection))
            self.invoices = 0

        @initialize()
        def fund_the_dealer(self) -> None:
            self.dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
            self.period = period(channel.current_period)
            budgets.set_allocation(user(channel, "admin"), self.dealer, self.period, ALLOCATION)
            db.session.commit()
            self.roles_by_user = {user(channel, role).id: role for role in (*REVIEWERS, "dealer_owner", "mediator")}

        def teardown(self) -> None:
            db.session.rollback()
            self.stack.close()

        def attempt(self, action) -> None:  # type: ignore[no-untyped-def]
            """A service call as a view makes it: committed when it goes through, rolled back when refused."""
            try:
                action()
                db.session.commit()
            except REFUSED:
                db.session.rollback()

        # Small claims, and claims above the second-approval threshold (2,000,000) that the budget can still hold.
        @rule(target=claims, amount=st.one_of(st.integers(1, 1_000_000), st.integers(2_000_001, 2_600_000)))
        def draft_a_claim(self, amount: int) -> int:
            self.invoices += 1
            claim = draft(channel, amount=amount, invoice=f"INV-{self.invoices}")
            attach(channel, claim)
            db.session.commit()
            return claim.id

        @rule(claim_id=claims)
        def submit(self, claim_id: int) -> None:
            self.attempt(lambda: services.submit(user(channel, "dealer_owner"), db.session.get(Claim, claim_id)))

        @rule(claim_id=claims)
        def withdraw(self, claim_id: int) -> None:
            self.attempt(lambda: services.withdraw(user(channel, "dealer_owner"), db.session.get(Claim, claim_id)))

        @rule(
            claim_id=claims,
            decision=st.sampled_from(services.Decision),
            reviewer=st.sampled_from(REVIEWERS),
            part=st.integers(min_value=1, max_value=3_000_000),
        )
        def decide(self, claim_id: int, decision: services.Decision, reviewer: str, part: int) -> None:
            self.attempt(
                lambda: services.decide(
                    user(channel, reviewer),
                    db.session.get(Claim, claim_id),
                    decision,
                    amount=part,
                    reason="Checked against the invoice.",
                    reason_code=RejectionReason.COST_NOT_SUPPORTED,
                )
            )

        def in_status(self, *statuses: ClaimStatus) -> list[int]:
            return sorted(
                db.session.execute(
                    select(Claim.id).where(Claim.dealer_id == self.dealer.id, Claim.status.in_(statuses))
                ).scalars()
            )

        # Besides blind attempts on any claim (mostly refused), decisions aimed at claims that can be decided, so
        # that the deep states (second approval, paid, reopened) are reached in most runs.
        @precondition(lambda self: hasattr(self, "dealer") and bool(self.in_status(*DECIDABLE)))
        @rule(
            data=st.data(),
            decision=st.sampled_from(services.Decision),
            reviewer=st.sampled_from(REVIEWERS),
            part=st.integers(min_value=1, max_value=2_600_000),
        )
        def decide_a_waiting_claim(
            self, data: st.DataObject, decision: services.Decision, reviewer: str, part: int
        ) -> None:
            self.decide(data.draw(st.sampled_from(self.in_status(*DECIDABLE))), decision, reviewer, part)

        @precondition(lambda self: hasattr(self, "dealer") and bool(self.in_status(*PAYABLE)))
        @rule(data=st.data())
        def pay_an_approved_claim(self, data: st.DataObject) -> None:
            self.pay(data.draw(st.sampled_from(self.in_status(*PAYABLE))))

        @precondition(lambda self: hasattr(self, "dealer") and bool(self.in_status(ClaimStatus.REJECTED)))
        @rule(data=st.data())
        def reopen_a_rejected_claim(self, data: st.DataObject) -> None:
            self.reopen_by_mediation(data.draw(st.sampled_from(self.in_status(ClaimStatus.REJECTED))))

        @rule(claim_id=claims)
        def pay(self, claim_id: int) -> None:
            self.attempt(lambda: services.pay_claims(user(channel, "admin"), [claim_id], "BANK-REF-1"))

        @rule(claim_id=claims)
        def reopen_by_mediation(self, claim_id: int) -> None:
            claim = db.session.get(Claim, claim_id)
            self.attempt(lambda: services.reopen(user(channel, "mediator"), claim, "Mediation outcome."))

        @rule(amount=st.integers(0, 2 * ALLOCATION))
        def change_the_budget(self, amount: int) -> None:
            """A cut below what approved and waiting claims hold is refused; anything else goes through."""
            self.attempt(lambda: budgets.set_allocation(user(channel, "admin"), self.dealer, self.period, amount))

        @precondition(lambda self: hasattr(self, "dealer"))
        @rule()
        def cut_the_budget_to_what_is_held(self) -> None:
            """Nothing left: a claim reopened now holds nothing, and the reviewer can approve none of it."""
            held = budgets.budget_of(self.dealer, self.period)
            self.change_the_budget(held.approved + held.pending)

        @precondition(lambda self: hasattr(self, "dealer"))
        @rule(amount=st.integers(500_000, 2_600_000))
        def submit_a_new_claim(self, amount: int) -> None:
            """Drafted and submitted at once, so that the budget fills within a few steps."""
            claim_id = self.draft_a_claim(amount)
            self.submit(claim_id)

        @precondition(lambda self: hasattr(self, "dealer") and bool(self.in_status(*DECIDABLE)))
        @rule(data=st.data())
        def ask_for_more_budget(self, data: st.DataObject) -> None:
            claim = db.session.get(Claim, data.draw(st.sampled_from(self.in_status(*DECIDABLE))))
            self.attempt(lambda: services.ask_for_budget(user(channel, "manager"), claim, "Raise it, please."))

        @invariant()
        def the_budget_is_never_exceeded(self) -> None:
            if not hasattr(self, "dealer"):
                return
            budget = budgets.budget_of(self.dealer, self.period)
            assert budget.approved + budget.pending <= budget.allocation, budget
            # What each waiting claim holds is at most what it asks (the part held when reopened into less room).
            for held, asked, approved in db.session.execute(
                select(Claim.budget_held, Claim.amount_requested, Claim.amount_approved).where(
                    Claim.dealer_id == self.dealer.id, Claim.status.in_(PENDING)
                )
            ):
                assert 0 <= held <= max(asked, approved or 0)
            # The pending figure is the sum of what waiting claims hold, computed here from the rows themselves.
            rows = db.session.execute(
                select(Claim.status, Claim.budget_held, Claim.amount_approved).where(Claim.dealer_id == self.dealer.id)
            ).all()
            assert budget.pending == sum(held for status, held, _ in rows if status in PENDING)
            assert budget.approved == sum(approved or 0 for status, _, approved in rows if status in APPROVED)

        @invariant()
        def every_status_came_by_a_legal_transition(self) -> None:
            events = db.session.execute(select(ClaimEvent).order_by(ClaimEvent.claim_id, ClaimEvent.id)).scalars()
            last: dict[int, ClaimStatus | None] = {}
            for event in events:
                if event.from_status is None and event.to_status is None:
                    continue  # a comment
                role = self.roles_by_user.get(event.actor_id or 0) if hasattr(self, "roles_by_user") else None
                assert legal(event.from_status, event.to_status, role), (
                    event.claim_id,
                    event.from_status,
                    event.to_status,
                    role,
                )
                if event.claim_id in last and event.from_status is not None:
                    assert event.from_status is last[event.claim_id], "a transition not recorded in the timeline"
                if event.to_status is not None:
                    last[event.claim_id] = event.to_status
            for claim_id, status in last.items():
                assert db.session.get(Claim, claim_id).status is status  # the claim is where its timeline says

    run_state_machine_as_test(
        ClaimWorkflow,
        settings=settings(
            max_examples=examples(60),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
