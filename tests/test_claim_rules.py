"""The claim workflow, submission checks and flags: pure rules, proven with Hypothesis before the pages exist."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal.claims.rules import (
    APPROVED,
    PENDING,
    TRANSITIONS,
    ClaimLimits,
    ClaimStatus,
    Flag,
    FlagFacts,
    Problem,
    Submission,
    available,
    bulk_approvable,
    can_move,
    claim_deadline,
    flags_for,
    limits_in,
    needs_second_approval,
    submission_problems,
)

S = ClaimStatus
TODAY = date(2026, 11, 28)


def test_the_table_is_the_design() -> None:
    assert set(TRANSITIONS) == set(ClaimStatus)
    assert TRANSITIONS[S.DRAFT] == {S.SUBMITTED, S.WITHDRAWN}
    assert TRANSITIONS[S.NEEDS_INFO] == {S.SUBMITTED, S.WITHDRAWN}
    assert TRANSITIONS[S.AWAITING_SECOND_APPROVAL] == {S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED, S.SUBMITTED}
    assert {status for status, targets in TRANSITIONS.items() if not targets} == {S.REJECTED, S.PAID, S.WITHDRAWN}
    assert not can_move(S.REJECTED, S.SUBMITTED) and can_move(S.REJECTED, S.SUBMITTED, reopened=True)
    assert not can_move(S.APPROVED, S.WITHDRAWN) and not can_move(S.PAID, S.APPROVED)


@given(st.lists(st.sampled_from(list(ClaimStatus)), max_size=30), st.booleans())
def test_every_walk_through_the_table_keeps_its_promises(steps: list[ClaimStatus], reopen: bool) -> None:
    """Paid only after an approval, nothing after paid or withdrawn, and a claim leaves draft only by submission."""
    current, seen = S.DRAFT, [S.DRAFT]
    for target in steps:
        if can_move(current, target, reopened=reopen):
            current = target
            seen.append(current)
    for before, after in itertools.pairwise(seen):
        if after is S.PAID:
            assert before in APPROVED - {S.PAID}
        assert before not in (S.PAID, S.WITHDRAWN)
        if before is S.DRAFT:
            assert after in (S.SUBMITTED, S.WITHDRAWN)


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))
def test_second_approval_is_strictly_above_the_threshold_of_the_claim_or_the_reviewers_total(
    claimed: int, reviewer_total: int, threshold: int, bulk: int
) -> None:
    """Either the amount claimed (not the part approved) or what the reviewer approved for the dealer in the
    period, this approval included, above the threshold: a second person."""
    expected = claimed > threshold or reviewer_total > threshold
    assert needs_second_approval(claimed, reviewer_total, ClaimLimits(threshold, bulk)) is expected
    assert needs_second_approval(claimed, reviewer_total, None) is True  # no limits in the currency: always


@given(
    status=st.sampled_from(list(S)),
    flagged=st.booleans(),
    amount=st.integers(0, 10**9),
    bulk=st.integers(0, 10**9),
    configured=st.booleans(),
)
def test_bulk_approval_needs_a_limit_in_the_claims_currency(
    status: S, flagged: bool, amount: int, bulk: int, configured: bool
) -> None:
    limits = limits_in("CNY", {"CNY": (10**9, bulk)} if configured else {"USD": (1, 1)})
    expected = configured and status.value == "submitted" and not flagged and amount <= bulk
    assert bulk_approvable(status, flagged, amount, limits) is expected


def test_pending_and_approved_do_not_overlap_and_budget_arithmetic() -> None:
    assert not PENDING & APPROVED
    assert available(100_000, 30_000, 20_000) == 50_000


def good_claim() -> Submission:
    return Submission(
        amount=500_000,
        evidence_count=2,
        activity_start=date(2026, 10, 5),
        activity_end=date(2026, 10, 7),
        period_start=date(2026, 10, 1),
        period_end=date(2026, 12, 31),
        today=TODAY,
        claim_window_days=60,
        left_in_budget=1_000_000,
        needs_pre_approval=False,
        pre_approved_amount=None,
        over_pre_approval_reason="",
        dealer_may_submit=True,
    )


def test_a_good_claim_has_no_problem_and_each_fault_names_itself() -> None:
    claim = good_claim()
    assert submission_problems(claim) == []
    cases = {
        Problem.NO_EVIDENCE: replace(claim, evidence_count=0),
        Problem.DATES_OUTSIDE_PERIOD: replace(claim, activity_start=date(2026, 9, 30)),
        Problem.DATES_REVERSED: replace(claim, activity_end=date(2026, 10, 4)),
        Problem.ACTIVITY_NOT_OVER: replace(claim, activity_end=TODAY + timedelta(days=1)),
        Problem.WINDOW_CLOSED: replace(claim, today=date(2026, 12, 7)),
        Problem.AMOUNT_NOT_POSITIVE: replace(claim, amount=0),
        Problem.OVER_BUDGET: replace(claim, amount=1_000_001),
        Problem.PRE_APPROVAL_MISSING: replace(claim, needs_pre_approval=True),
        Problem.OVER_PRE_APPROVAL: replace(claim, pre_approved_amount=400_000),
        Problem.DEALER_CANNOT_SUBMIT: replace(claim, dealer_may_submit=False),
    }
    for problem, faulty in cases.items():
        assert submission_problems(faulty) == [problem], problem
    assert (
        submission_problems(replace(claim, pre_approved_amount=400_000, over_pre_approval_reason="Bigger stand")) == []
    )
    assert submission_problems(replace(claim, pre_approved_amount=400_000, over_pre_approval_reason=" ")) == [
        Problem.OVER_PRE_APPROVAL
    ]


def test_the_claim_window_is_inclusive() -> None:
    claim = good_claim()
    last_day = claim_deadline(claim.activity_end, 60)
    assert submission_problems(replace(claim, today=last_day, period_end=date(2027, 3, 31))) == []
    assert Problem.WINDOW_CLOSED in submission_problems(replace(claim, today=last_day + timedelta(days=1)))


@given(amount=st.integers(-(10**6), 10**9), left=st.integers(-(10**6), 10**9), evidence=st.integers(0, 3))
def test_money_and_evidence_checks_hold_for_any_figures(amount: int, left: int, evidence: int) -> None:
    problems = submission_problems(replace(good_claim(), amount=amount, left_in_budget=left, evidence_count=evidence))
    assert (Problem.AMOUNT_NOT_POSITIVE in problems) is (amount <= 0)
    assert (Problem.OVER_BUDGET in problems) is (amount > 0 and amount > left)
    assert (Problem.NO_EVIDENCE in problems) is (evidence == 0)


def facts(**changes: object) -> FlagFacts:
    base = FlagFacts(
        amount=1_234_500,
        minor_per_major=100,
        second_approval_threshold=5_000_000,
        allocation=10_000_000,
        activity_end=date(2026, 10, 7),
        submitted_on=date(2026, 10, 20),
        claim_window_days=60,
        claims_sharing_evidence=(),
        claims_sharing_invoice=(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_ordinary_claim_raises_no_flag() -> None:
    assert flags_for(facts()) == []


def test_each_flag_with_its_reason() -> None:
    shared = flags_for(facts(claims_sharing_evidence=(7, 3, 7), claims_sharing_invoice=(9,)))
    assert [(raised.flag, raised.related_claims) for raised in shared] == [
        (Flag.SAME_EVIDENCE_ELSEWHERE, (3, 7)),
        (Flag.SAME_INVOICE_ELSEWHERE, (9,)),
    ]
    assert [raised.flag for raised in flags_for(facts(amount=4_612_345))] == [Flag.JUST_UNDER_THRESHOLD]
    assert [raised.flag for raised in flags_for(facts(amount=300_000))] == [Flag.ROUND_AMOUNT]
    assert [raised.flag for raised in flags_for(facts(submitted_on=date(2026, 12, 1)))] == [Flag.LATE_SUBMISSION]
    assert [raised.flag for raised in flags_for(facts(amount=5_000_100, second_approval_threshold=9_000_000))] == [
        Flag.MOST_OF_BUDGET
    ]


@given(amount=st.integers(1, 10**10), threshold=st.integers(1, 10**10))
def test_just_under_the_threshold_is_the_last_tenth_below_it(amount: int, threshold: int) -> None:
    raised = Flag.JUST_UNDER_THRESHOLD in {
        r.flag for r in flags_for(facts(amount=amount, second_approval_threshold=threshold))
    }
    assert raised is (threshold * 0.9 <= amount <= threshold or (threshold * 90 <= amount * 100 <= threshold * 100))


@given(major=st.integers(1, 10**6), cents=st.integers(0, 99))
def test_round_amounts_are_whole_thousands(major: int, cents: int) -> None:
    amount = major * 100 + cents
    raised = Flag.ROUND_AMOUNT in {r.flag for r in flags_for(facts(amount=amount, second_approval_threshold=0))}
    assert raised is (cents == 0 and major % 1000 == 0)


@given(days=st.integers(0, 60))
def test_late_means_after_three_quarters_of_the_window(days: int) -> None:
    submitted = date(2026, 10, 7) + timedelta(days=days)
    raised = Flag.LATE_SUBMISSION in {r.flag for r in flags_for(facts(submitted_on=submitted))}
    assert raised is (days > 45)
