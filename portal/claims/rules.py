"""Promotion-expense claims: the workflow table, the submission checks and the flags. Pure: no database.

The workflow (docs/design.md): draft -> submitted -> approved | partially_approved | rejected | needs_info;
needs_info -> submitted; submitted -> awaiting_second_approval when the amount to approve is above the threshold;
awaiting_second_approval -> approved | partially_approved | rejected | submitted (sent back); approved and
partially_approved -> paid; draft, submitted and needs_info -> withdrawn; rejected -> submitted only through a
dispute outcome "reopen" (`reopened=True`).

Flags are reasons for a reviewer to look twice; they never decide anything by themselves.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class ClaimStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    NEEDS_INFO = "needs_info"
    PAID = "paid"
    WITHDRAWN = "withdrawn"


S = ClaimStatus
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset(
        {S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED, S.NEEDS_INFO, S.AWAITING_SECOND_APPROVAL, S.WITHDRAWN}
    ),
    S.NEEDS_INFO: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.AWAITING_SECOND_APPROVAL: frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED, S.SUBMITTED}),
    S.APPROVED: frozenset({S.PAID}),
    S.PARTIALLY_APPROVED: frozenset({S.PAID}),
    S.REJECTED: frozenset(),  # reopened only by a dispute outcome, see can_move
    S.PAID: frozenset(),
    S.WITHDRAWN: frozenset(),
}
PENDING = frozenset({S.SUBMITTED, S.AWAITING_SECOND_APPROVAL, S.NEEDS_INFO})  # money held against the budget
# A claim in these statuses no longer holds the pre-approval it names: another claim may use it. Every other status
# (a draft included) holds it, one claim at a time (a partial unique index keeps it so).
RELEASES_PRE_APPROVAL = frozenset({S.WITHDRAWN, S.REJECTED})
APPROVED = frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.PAID})


register_labels(
    {
        ClaimStatus.DRAFT: _l("Draft"),
        ClaimStatus.SUBMITTED: _l("Submitted"),
        ClaimStatus.AWAITING_SECOND_APPROVAL: _l("Awaiting second approval"),
        ClaimStatus.APPROVED: _l("Approved"),
        ClaimStatus.PARTIALLY_APPROVED: _l("Partially approved"),
        ClaimStatus.REJECTED: _l("Rejected"),
        ClaimStatus.NEEDS_INFO: _l("Information requested"),
        ClaimStatus.PAID: _l("Paid"),
        ClaimStatus.WITHDRAWN: _l("Withdrawn"),
    }
)


def can_move(current: ClaimStatus, target: ClaimStatus, *, reopened: bool = False) -> bool:
    if current is S.REJECTED and target is S.SUBMITTED:
        return reopened
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class ClaimLimits:
    """The review's money limits in one currency (minor units)."""

    second_approval_above: int
    bulk_up_to: int


def limits_in(currency: str, configured: Mapping[str, Sequence[int]]) -> ClaimLimits | None:
    """The limits configured for the currency; None where none are (CLAIM_LIMITS in the config)."""
    pair = configured.get(currency)
    return ClaimLimits(int(pair[0]), int(pair[1])) if pair else None


def needs_second_approval(amount_claimed: int, reviewer_total: int, limits: ClaimLimits | None) -> bool:
    """A second person decides when the amount claimed is above the threshold (approving 19,999.99 of a
    100,000.00 claim does not avoid it), or when what this reviewer has approved for the dealer in the period,
    this approval included, is (ten claims of 2,000.00 do not avoid it); in a currency without limits, always."""
    return limits is None or max(amount_claimed, reviewer_total) > limits.second_approval_above


def approvable_up_to(held: int, left: int) -> int:
    """The most a waiting claim can be approved for: what it holds of the budget plus what nobody holds."""
    return held + max(left, 0)


def held_on_reopening(amount_requested: int, left: int) -> int:
    """A reopened claim holds what it asks, or what is left when that is less (never below zero): approved plus
    pending never exceeds the allocation, and the reviewer sees how much is missing."""
    return min(amount_requested, max(left, 0))


def bulk_approvable(status: ClaimStatus, flagged: bool, amount_requested: int, limits: ClaimLimits | None) -> bool:
    """Bulk approval takes submitted, unflagged claims up to the currency's bulk limit, never a claim in a currency
    without limits."""
    return limits is not None and status is S.SUBMITTED and not flagged and amount_requested <= limits.bulk_up_to


def available(allocation: int, approved: int, pending: int) -> int:
    """What is left of a promotion budget: allocation - approved - pending (may be negative after a cut)."""
    return allocation - approved - pending


class RejectionReason(enum.StrEnum):
    """Why a claim was rejected, as a code reports can count; the reviewer's text explains it to the dealer."""

    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    NOT_ELIGIBLE = "not_eligible"
    DUPLICATE = "duplicate"
    COST_NOT_SUPPORTED = "cost_not_supported"
    OUTSIDE_POLICY = "outside_policy"
    OTHER = "other"


# --- Submission checks ----------------------------------------------------------------------------------------------


class Problem(enum.StrEnum):
    NO_EVIDENCE = "no_evidence"
    DATES_OUTSIDE_PERIOD = "dates_outside_period"
    DATES_REVERSED = "dates_reversed"
    ACTIVITY_NOT_OVER = "activity_not_over"
    WINDOW_CLOSED = "window_closed"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    OVER_BUDGET = "over_budget"
    OVER_PRE_APPROVAL = "over_pre_approval"
    PRE_APPROVAL_MISSING = "pre_approval_missing"
    DEALER_CANNOT_SUBMIT = "dealer_cannot_submit"
    OVER_INVOICE_TOTAL = "over_invoice_total"


@dataclass(frozen=True)
class Submission:
    """What the checks need to know about a claim as it is submitted."""

    amount: int
    evidence_count: int
    activity_start: date
    activity_end: date
    period_start: date
    period_end: date
    today: date
    claim_window_days: int
    left_in_budget: int  # available, not counting this claim
    needs_pre_approval: bool
    pre_approved_amount: int | None  # the approved request's estimate, None without one
    over_pre_approval_reason: str
    dealer_may_submit: bool
    invoice_total: int | None = None  # the fapiao's total with tax, when given


def submission_problems(claim: Submission) -> list[Problem]:
    """Every reason this claim cannot be submitted yet, in the order the form shows them; empty means it can."""
    problems = []
    if not claim.dealer_may_submit:
        problems.append(Problem.DEALER_CANNOT_SUBMIT)
    if claim.evidence_count < 1:
        problems.append(Problem.NO_EVIDENCE)
    if claim.activity_end < claim.activity_start:
        problems.append(Problem.DATES_REVERSED)
    elif claim.activity_start < claim.period_start or claim.activity_end > claim.period_end:
        problems.append(Problem.DATES_OUTSIDE_PERIOD)
    if claim.activity_end > claim.today:
        problems.append(Problem.ACTIVITY_NOT_OVER)
    elif claim.today > claim_deadline(claim.activity_end, claim.claim_window_days):
        problems.append(Problem.WINDOW_CLOSED)
    if claim.amount <= 0:
        problems.append(Problem.AMOUNT_NOT_POSITIVE)
    elif claim.amount > claim.left_in_budget:
        problems.append(Problem.OVER_BUDGET)
    if claim.invoice_total is not None and claim.amount > claim.invoice_total:
        problems.append(Problem.OVER_INVOICE_TOTAL)
    if claim.needs_pre_approval and claim.pre_approved_amount is None:
        problems.append(Problem.PRE_APPROVAL_MISSING)
    elif (
        claim.pre_approved_amount is not None
        and claim.amount > claim.pre_approved_amount
        and not claim.over_pre_approval_reason.strip()
    ):
        problems.append(Problem.OVER_PRE_APPROVAL)
    return problems


def reopening_problems(claim: Submission) -> list[Problem]:
    """A mediator's reopening passes the checks of a submission, but for the budget: a reopened claim goes back to
    the reviewer holding what is left (held_on_reopening), who approves at most that or asks for a bigger budget."""
    return [problem for problem in submission_problems(claim) if problem is not Problem.OVER_BUDGET]


def claim_deadline(activity_end: date, window_days: int) -> date:
    """The last day a claim may be submitted: `window_days` after the activity ended (inclusive)."""
    return activity_end + timedelta(days=window_days)


# --- Flags ------------------------------------------------------------------------------------------------------------


class Flag(enum.StrEnum):
    SAME_EVIDENCE_ELSEWHERE = "same_evidence_elsewhere"
    SAME_INVOICE_ELSEWHERE = "same_invoice_elsewhere"
    JUST_UNDER_THRESHOLD = "just_under_threshold"
    ROUND_AMOUNT = "round_amount"
    LATE_SUBMISSION = "late_submission"
    MOST_OF_BUDGET = "most_of_budget"
    SPLIT_CLAIMS = "split_claims"


# Flags about a claim's relation with other claims: a new submission adds itself to the flags of those it relates to.
SHARED_FLAGS = frozenset(
    {Flag.SAME_EVIDENCE_ELSEWHERE, Flag.SAME_INVOICE_ELSEWHERE, Flag.SPLIT_CLAIMS, Flag.MOST_OF_BUDGET}
)


JUST_UNDER_SHARE = 10  # % below the second-approval threshold that counts as "just under"
MOST_OF_BUDGET_SHARE = 50  # % of the allocation one claim may take before it is flagged
LATE_SHARE = 75  # % of the claim window after which a submission is late
ROUND_MAJOR_UNITS = 1000  # amounts that are a whole multiple of this many major units are "round"


@dataclass(frozen=True)
class FlagFacts:
    amount: int  # minor units
    minor_per_major: int  # 100 for CNY, 1 for JPY
    second_approval_threshold: int
    allocation: int
    activity_end: date
    submitted_on: date
    claim_window_days: int
    claims_sharing_evidence: Sequence[int]  # ids of other claims (any dealer) with a file of the same SHA-256
    claims_sharing_invoice: Sequence[int]  # ids of other claims (any dealer) with the same invoice code and number
    # Other claims of the dealer to the same vendor in the split window: (id, amount requested).
    same_vendor_claims: Sequence[tuple[int, int]] = ()
    # Other claims of the dealer against the same budget submitted in the rush window: (id, amount requested).
    recent_budget_claims: Sequence[tuple[int, int]] = ()


@dataclass(frozen=True)
class Raised:
    flag: Flag
    related_claims: tuple[int, ...] = ()


def flags_for(facts: FlagFacts) -> list[Raised]:
    raised = []
    if facts.claims_sharing_evidence:
        raised.append(Raised(Flag.SAME_EVIDENCE_ELSEWHERE, tuple(sorted(set(facts.claims_sharing_evidence)))))
    if facts.claims_sharing_invoice:
        raised.append(Raised(Flag.SAME_INVOICE_ELSEWHERE, tuple(sorted(set(facts.claims_sharing_invoice)))))
    threshold = facts.second_approval_threshold
    if threshold > 0 and threshold * (100 - JUST_UNDER_SHARE) <= facts.amount * 100 and facts.amount <= threshold:
        raised.append(Raised(Flag.JUST_UNDER_THRESHOLD))
    if facts.amount > 0 and facts.amount % (ROUND_MAJOR_UNITS * facts.minor_per_major) == 0:
        raised.append(Raised(Flag.ROUND_AMOUNT))
    waited = (facts.submitted_on - facts.activity_end).days
    if facts.claim_window_days > 0 and waited * 100 > facts.claim_window_days * LATE_SHARE:
        raised.append(Raised(Flag.LATE_SUBMISSION))
    split = split_partners(facts.amount, facts.same_vendor_claims, threshold)
    if split:
        raised.append(Raised(Flag.SPLIT_CLAIMS, split))
    if facts.allocation > 0 and facts.amount * 100 > facts.allocation * MOST_OF_BUDGET_SHARE:
        raised.append(Raised(Flag.MOST_OF_BUDGET))
    elif rush := rush_partners(facts.amount, facts.recent_budget_claims, facts.allocation):
        raised.append(Raised(Flag.MOST_OF_BUDGET, rush))
    return raised


def unchecked_flags(raised: Iterable[Flag], checked: Iterable[str]) -> list[Flag]:
    """The flags a reviewer has not ticked as checked. An approval waits until there are none, so one click never
    approves past a file shared with another dealer's claim; a flag raised after the page was opened is unticked."""
    ticked = set(checked)
    return [flag for flag in Flag if flag in set(raised) and flag.value not in ticked]


def split_partners(amount: int, same_vendor: Sequence[tuple[int, int]], threshold: int) -> tuple[int, ...]:
    """Claims to one vendor that each stay at or under the second-approval threshold but together cross it: the
    others of the group, or none."""
    if threshold <= 0 or amount > threshold or not same_vendor:
        return ()
    if amount + sum(other for _id, other in same_vendor) <= threshold:
        return ()
    return tuple(sorted({claim_id for claim_id, _amount in same_vendor}))


def rush_partners(amount: int, recent: Sequence[tuple[int, int]], allocation: int) -> tuple[int, ...]:
    """Several claims submitted in a short time that together take most of the budget: the others, or none."""
    if allocation <= 0 or not recent:
        return ()
    if (amount + sum(other for _id, other in recent)) * 100 <= allocation * MOST_OF_BUDGET_SHARE:
        return ()
    return tuple(sorted({claim_id for claim_id, _amount in recent}))


def needs_info(status: ClaimStatus) -> bool:
    """The reviewer asked the dealer for more; the dealer changes the claim and submits it again."""
    return status is ClaimStatus.NEEDS_INFO


def was_rejected(status: ClaimStatus) -> bool:
    return status is ClaimStatus.REJECTED


def awaits_second_approval(status: ClaimStatus) -> bool:
    return status is ClaimStatus.AWAITING_SECOND_APPROVAL


def can_edit(status: ClaimStatus) -> bool:
    """The dealer changes a draft, or a claim the reviewer asked information about."""
    return status in (ClaimStatus.DRAFT, ClaimStatus.NEEDS_INFO)


def can_withdraw(status: ClaimStatus) -> bool:
    return can_move(status, ClaimStatus.WITHDRAWN)


def can_comment(status: ClaimStatus) -> bool:
    """Comments start with the submission: a draft is the dealer's own."""
    return status is not ClaimStatus.DRAFT


def is_approved(status: ClaimStatus) -> bool:
    """Approved, in full or in part, and perhaps paid: the amount approved is final."""
    return status in APPROVED


def awaits_review(status: ClaimStatus) -> bool:
    """With a reviewer, first or second: the queue counts the days it has waited."""
    return status in (ClaimStatus.SUBMITTED, ClaimStatus.AWAITING_SECOND_APPROVAL)


# --- Pre-approval requests ---------------------------------------------------------------------------------------


class FundRequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    USED = "used"
    EXPIRED = "expired"


register_labels(
    {
        FundRequestStatus.SUBMITTED: _l("Submitted"),
        FundRequestStatus.APPROVED: _l("Approved"),
        FundRequestStatus.REJECTED: _l("Rejected"),
        FundRequestStatus.USED: _l("Used"),
        FundRequestStatus.EXPIRED: _l("Expired"),
    }
)

R = FundRequestStatus
REQUEST_TRANSITIONS: dict[FundRequestStatus, frozenset[FundRequestStatus]] = {
    R.SUBMITTED: frozenset({R.APPROVED, R.REJECTED}),
    # Used by the claim that refers to it; approved again when that claim is withdrawn or rejected; expired when
    # its period's claim window closes unused.
    R.APPROVED: frozenset({R.USED, R.EXPIRED}),
    R.USED: frozenset({R.APPROVED}),
    R.REJECTED: frozenset(),
    R.EXPIRED: frozenset(),
}


def can_move_request(current: FundRequestStatus, target: FundRequestStatus) -> bool:
    return target in REQUEST_TRANSITIONS[current]


register_labels(
    {
        Flag.SAME_EVIDENCE_ELSEWHERE: _l("The same picture or document is attached to another claim"),
        Flag.SAME_INVOICE_ELSEWHERE: _l("The same invoice (fapiao) is in another claim"),
        Flag.JUST_UNDER_THRESHOLD: _l("Just under the second-approval threshold"),
        Flag.ROUND_AMOUNT: _l("A round amount"),
        Flag.LATE_SUBMISSION: _l("Submitted late in the claim window"),
        Flag.MOST_OF_BUDGET: _l("Takes most of the budget, alone or with claims just before it"),
        Flag.SPLIT_CLAIMS: _l("Split: claims to the same vendor add up past the second-approval threshold"),
    }
)
register_labels(
    {
        RejectionReason.INSUFFICIENT_EVIDENCE: _l("The evidence does not prove the activity"),
        RejectionReason.NOT_ELIGIBLE: _l("The activity is not eligible for promotion funds"),
        RejectionReason.DUPLICATE: _l("Already claimed"),
        RejectionReason.COST_NOT_SUPPORTED: _l("The invoice does not support the amount"),
        RejectionReason.OUTSIDE_POLICY: _l("Outside the promotion policy"),
        RejectionReason.OTHER: _l("Another reason"),
    }
)
register_labels(
    {
        Problem.NO_EVIDENCE: _l("Attach at least one evidence file."),
        Problem.DATES_OUTSIDE_PERIOD: _l("The activity dates must fall inside the budget's period."),
        Problem.DATES_REVERSED: _l("The activity cannot end before it starts."),
        Problem.ACTIVITY_NOT_OVER: _l("Claim once the activity is over."),
        Problem.WINDOW_CLOSED: _l("The claim window for this activity has closed."),
        Problem.AMOUNT_NOT_POSITIVE: _l("Enter an amount above zero."),
        Problem.OVER_BUDGET: _l("The amount is more than what is left of the budget."),
        Problem.OVER_PRE_APPROVAL: _l("The amount is above the pre-approved cost: say why."),
        Problem.PRE_APPROVAL_MISSING: _l("This activity needs an approved pre-approval request first."),
        Problem.DEALER_CANNOT_SUBMIT: _l("Your dealer cannot submit new claims while it is suspended."),
        Problem.OVER_INVOICE_TOTAL: _l("The amount claimed is more than the invoice's total."),
    }
)
