"""What the claims area puts in the "today" inbox: the dealer's claims waiting for its answer, drafts not sent and
the budget left with the quarter's last claim day; the reviewer's claims waiting (oldest first, flagged counted);
the admin's approved claims to pay."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select

from portal.access import DEALER_USERS, AccessRole
from portal.accounts.models import User
from portal.claims.budgets import budget_of
from portal.claims.models import Claim
from portal.claims.queries import backlog_counts, backlog_of
from portal.claims.reviewers import REVIEWERS
from portal.claims.rules import ClaimStatus, claim_deadline
from portal.dealers.services import current_period
from portal.formatting import local_date, money
from portal.inbox import CountsQuery, InboxLine, InboxReader, register_inbox_counts
from portal.request_locale import gettext as _
from portal.request_locale import ngettext
from portal.web import link


def dealer_counts(reader: InboxReader) -> CountsQuery:
    return select(
        func.coalesce(func.sum(case((Claim.status == ClaimStatus.NEEDS_INFO, 1), else_=0)), 0).label("answers"),
        func.coalesce(func.sum(case((Claim.status == ClaimStatus.DRAFT, 1), else_=0)), 0).label("drafts"),
    ).where(Claim.dealer_id == reader.dealer_id)


def dealer_lines(user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    answers, drafts = int(counts["answers"]), int(counts["drafts"])
    yield InboxLine(
        ngettext(
            "%(num)s claim waits for your answer to the manager's question",
            "%(num)s claims wait for your answer to the manager's questions",
            answers,
        ),
        link("claims.dealer_claims", status=ClaimStatus.NEEDS_INFO.value),
        answers,
        urgent=True,
    )
    yield InboxLine(
        ngettext("%(num)s draft claim is not submitted yet", "%(num)s draft claims are not submitted yet", drafts),
        link("claims.dealer_claims", status=ClaimStatus.DRAFT.value),
        drafts,
    )
    period = current_period()
    if period is not None and user.dealer is not None:
        budget = budget_of(user.dealer, period)
        if budget.allocation > 0:
            last_day = claim_deadline(period.ends_on, current_app.config["CLAIM_WINDOW_DAYS"])
            yield InboxLine(
                _(
                    "%(left)s of the promotion budget is left for %(period)s",
                    left=money(budget.left, user.dealer.currency),
                    period=period.code,
                ),
                link("claims.quick_claim"),
                detail=_("Claims for it until %(day)s", day=local_date(last_day)),
            )


def reviewer_lines(user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    waiting = backlog_of(counts)
    details = []
    if waiting.oldest_submitted_at is not None:
        days = max(0, (datetime.now(UTC) - waiting.oldest_submitted_at).days)
        details.append(ngettext("the oldest has waited %(num)s day", "the oldest has waited %(num)s days", days))
    if waiting.flagged:
        details.append(ngettext("%(num)s flagged", "%(num)s flagged", waiting.flagged))
    yield InboxLine(
        ngettext("%(num)s claim waits for your decision", "%(num)s claims wait for your decision", waiting.submitted),
        link("claims.queue"),
        waiting.submitted,
        urgent=bool(waiting.flagged),
        detail=" · ".join(details),
    )
    yield InboxLine(
        ngettext(
            "%(num)s claim waits for a second approval",
            "%(num)s claims wait for a second approval",
            waiting.awaiting_second,
        ),
        link("claims.queue", status=ClaimStatus.AWAITING_SECOND_APPROVAL.value),
        waiting.awaiting_second,
    )


def payment_counts(_reader: InboxReader) -> CountsQuery:
    return select(func.count().label("to_pay")).where(
        Claim.status.in_((ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED))
    )


def payment_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    to_pay = int(counts["to_pay"])
    yield InboxLine(
        ngettext("%(num)s approved claim waits to be paid", "%(num)s approved claims wait to be paid", to_pay),
        link("claims.payments"),
        to_pay,
    )


def register() -> None:
    register_inbox_counts(DEALER_USERS, dealer_counts, dealer_lines, 20)
    register_inbox_counts(REVIEWERS, backlog_counts, reviewer_lines, 20)
    register_inbox_counts((AccessRole.ADMIN,), payment_counts, payment_lines, 60)
