"""The guards templates ask, each against the rule written out here by status, independently of the code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.claims import rules as claims
from portal.claims.rules import ClaimStatus as C
from portal.dealers.rules import PeriodStatus as P
from portal.dealers.rules import can_close_period
from portal.disputes import rules as disputes
from portal.disputes.rules import DisputeStatus as D
from portal.disputes.rules import ViolationStatus as V
from portal.rebates import rules as rebates
from portal.rebates.rules import ImportStatus as I
from portal.rebates.rules import StatementStatus as S
from portal.training import rules as training
from portal.training.rules import EnrollmentStatus as E
from portal.training.rules import SessionStatus

CLAIM_GUARDS = {
    claims.can_edit: {C.DRAFT, C.NEEDS_INFO},
    claims.can_withdraw: {C.DRAFT, C.SUBMITTED, C.NEEDS_INFO},
    claims.can_comment: set(C) - {C.DRAFT},
    claims.is_approved: {C.APPROVED, C.PARTIALLY_APPROVED, C.PAID},
    claims.awaits_review: {C.SUBMITTED, C.AWAITING_SECOND_APPROVAL},
    claims.awaits_second_approval: {C.AWAITING_SECOND_APPROVAL},
    claims.needs_info: {C.NEEDS_INFO},
    claims.was_rejected: {C.REJECTED},
}
DISPUTE_GUARDS = {
    disputes.can_resolve: {D.IN_MEDIATION, D.AWAITING_PARTY},
    disputes.can_ask_a_party: {D.IN_MEDIATION},
    disputes.awaits_party: {D.AWAITING_PARTY},
    disputes.is_settled: {D.RESOLVED, D.DISMISSED},
}
ENROLLMENT_GUARDS = {
    training.holds_seat: {E.ENROLLED},
    training.is_waitlisted: {E.WAITLISTED},
    training.can_mark_attendance: {E.ENROLLED},
    training.can_record_attendance: {E.ENROLLED, E.ATTENDED},
}
IMPORT_GUARDS = {
    rebates.import_checked: {I.READY, I.IMPORTED, I.FAILED, I.VOIDED},
    rebates.import_finished: {I.IMPORTED, I.VOIDED},
    rebates.import_voided: {I.VOIDED},
    rebates.can_confirm_import: {I.READY},
    rebates.can_retry_import: {I.FAILED},
}


@pytest.mark.parametrize(
    ("guard", "statuses", "every"),
    [
        *((guard, true_for, C) for guard, true_for in CLAIM_GUARDS.items()),
        *((guard, true_for, D) for guard, true_for in DISPUTE_GUARDS.items()),
        *((guard, true_for, E) for guard, true_for in ENROLLMENT_GUARDS.items()),
        *((guard, true_for, I) for guard, true_for in IMPORT_GUARDS.items()),
        (disputes.awaits_confirmation, {V.PROPOSED}, V),
        (rebates.is_provisional, {S.PROVISIONAL}, S),
        (rebates.is_paid, {S.PAID}, S),
        (rebates.can_pay_period, {P.CLOSED}, P),
        (rebates.can_edit_programs, {P.OPEN}, P),
        (can_close_period, {P.OPEN}, P),
        (training.session_cancelled, {SessionStatus.CANCELLED}, SessionStatus),
        (training.can_edit_session, {SessionStatus.SCHEDULED}, SessionStatus),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else "",
)
def test_a_guard_is_true_for_exactly_its_statuses(guard, statuses, every) -> None:  # type: ignore[no-untyped-def]
    assert {status for status in every if guard(status)} == statuses


def test_a_seat_is_given_up_until_the_deadline_and_a_place_in_line_any_time() -> None:
    deadline = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    before, after = deadline - timedelta(seconds=1), deadline + timedelta(seconds=1)
    assert training.can_cancel_enrollment(E.ENROLLED, before, deadline)
    assert training.can_cancel_enrollment(E.ENROLLED, deadline, deadline)
    assert not training.can_cancel_enrollment(E.ENROLLED, after, deadline)
    assert training.can_cancel_enrollment(E.WAITLISTED, after, deadline)
    for status in set(E) - {E.ENROLLED, E.WAITLISTED}:
        assert not training.can_cancel_enrollment(status, before, deadline)
