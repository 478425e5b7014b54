"""What the claims area puts in the "today" inbox: the dealer's claims waiting for its answer, drafts not sent and
the budget left with the quarter's last claim day; the reviewer's claims waiting (oldest first, flagged counted);
the admin's approved claims to pay."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from flask import current_app, url_for
from sqlalchemy import case, func, select

from portal.access import DEALER_USERS, AccessRole
from portal.accounts.models import User
from portal.claims.budgets import budget_of
from portal.claims.models import Claim
from portal.claims.queries import backlog
from portal.claims.reviewers import REVIEWERS
from portal.claims.rules import ClaimStatus, claim_deadline
from portal.dealers.services import current_period
from portal.extensions import db
from portal.formatting import local_date, money
from portal.inbox import InboxLine, register_inbox_source
from portal.request_locale import gettext as _
from portal.request_locale import ngettext


def dealer_lines(user: User) -> Iterable[InboxLine]:
    answers, drafts = db.session.execute(
        select(
            func.coalesce(func.sum(case((Claim.status == ClaimStatus.NEEDS_INFO, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Claim.status == ClaimStatus.DRAFT, 1), else_=0)), 0),
        ).where(Claim.dealer_id == user.dealer_id)
    ).one()
    yield InboxLine(
        ngettext(
            "%(num)s claim waits for your answer to the manager's question",
            "%(num)s claims wait for your answer to the manager's questions",
            int(answers),
        ),
        url_for("claims.dealer_claims", status=ClaimStatus.NEEDS_INFO.value),
        int(answers),
        urgent=True,
    )
    yield InboxLine(
        ngettext("%(num)s draft claim is not submitted yet", "%(num)s draft claims are not submitted yet", int(drafts)),
        url_for("claims.dealer_claims", status=ClaimStatus.DRAFT.value),
        int(drafts),
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
                url_for("claims.quick_claim"),
                detail=_("Claims for it until %(day)s", day=local_date(last_day)),
            )


def reviewer_lines(user: User) -> Iterable[InboxLine]:
    waiting = backlog(user)
    details = []
    if waiting.oldest_submitted_at is not None:
        days = max(0, (datetime.now(UTC) - waiting.oldest_submitted_at).days)
        details.append(ngettext("the oldest has waited %(num)s day", "the oldest has waited %(num)s days", days))
    if waiting.flagged:
        details.append(ngettext("%(num)s flagged", "%(num)s flagged", waiting.flagged))
    yield InboxLine(
        ngettext("%(num)s claim waits for your decision", "%(num)s claims wait for your decision", waiting.submitted),
        url_for("claims.queue"),
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
        url_for("claims.queue", status=ClaimStatus.AWAITING_SECOND_APPROVAL.value),
        waiting.awaiting_second,
    )


def payment_lines(user: User) -> Iterable[InboxLine]:
    to_pay = db.session.execute(
        select(func.count())
        .select_from(Claim)
        .where(Claim.status.in_((ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)))
    ).scalar_one()
    yield InboxLine(
        ngettext("%(num)s approved claim waits to be paid", "%(num)s approved claims wait to be paid", to_pay),
        url_for("claims.payments"),
        to_pay,
    )


def register() -> None:
    register_inbox_source(DEALER_USERS, dealer_lines, 20)
    register_inbox_source(REVIEWERS, reviewer_lines, 20)
    register_inbox_source((AccessRole.ADMIN,), payment_lines, 60)
