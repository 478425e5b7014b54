"""What the disputes area puts in the "today" inbox: a dealer's answers owed to a mediator and violations it may
still appeal; a manager's proposed violations to confirm; a mediator's own, overdue and unassigned disputes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select

from portal.access import DEALER_USERS, AccessRole
from portal.accounts.models import User
from portal.disputes.models import Dispute, Violation
from portal.disputes.roles import RECORDERS
from portal.disputes.rules import ACTIVE, ViolationStatus
from portal.disputes.services import mediation_counts
from portal.disputes.violations import visible_violations
from portal.inbox import NOW, TODAY, CountsQuery, InboxLine, InboxReader, register_inbox_counts, register_inbox_source
from portal.request_locale import ngettext
from portal.web import link


def dealer_counts(reader: InboxReader) -> CountsQuery:
    asked = (
        select(func.count())
        .select_from(Dispute)
        .where(
            Dispute.status.in_(ACTIVE),
            Dispute.awaiting_dealer_id == reader.dealer_id,
            Dispute.awaiting_until >= NOW,
        )
    )
    appealable = (
        visible_violations(reader)
        .where(Violation.status == ViolationStatus.CONFIRMED, Violation.appeal_until >= TODAY)
        .with_only_columns(func.count())
        .order_by(None)
    )
    return select(asked.scalar_subquery().label("asked"), appealable.scalar_subquery().label("appealable"))


def dealer_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    asked, appealable = int(counts["asked"]), int(counts["appealable"])
    yield InboxLine(
        ngettext(
            "%(num)s dispute waits for your answer to the mediator",
            "%(num)s disputes wait for your answer to the mediator",
            asked,
        ),
        link("disputes.dealer_violations"),
        asked,
        urgent=True,
    )
    yield InboxLine(
        ngettext(
            "%(num)s violation can still be appealed",
            "%(num)s violations can still be appealed",
            appealable,
        ),
        link("disputes.dealer_violations"),
        appealable,
    )


def console_counts(reader: InboxReader) -> CountsQuery:
    return (
        visible_violations(reader)
        .where(Violation.status == ViolationStatus.PROPOSED)
        .with_only_columns(func.count().label("proposed"))
        .order_by(None)
    )


def console_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    proposed = int(counts["proposed"])
    yield InboxLine(
        ngettext("%(num)s proposed violation to confirm", "%(num)s proposed violations to confirm", proposed),
        link("disputes.console_violations", status=ViolationStatus.PROPOSED.value),
        proposed,
    )


def mediator_lines(user: User) -> Iterable[InboxLine]:
    counts = mediation_counts(user)
    mine, overdue, unassigned = counts.mine, counts.mine_overdue, counts.unassigned
    yield InboxLine(
        ngettext("%(num)s of your disputes is overdue", "%(num)s of your disputes are overdue", int(overdue)),
        link("disputes.mediation_home", queue="overdue"),
        int(overdue),
        urgent=True,
    )
    yield InboxLine(
        ngettext("%(num)s dispute is assigned to you", "%(num)s disputes are assigned to you", int(mine)),
        link("disputes.mediation_home", queue="mine"),
        int(mine),
    )
    yield InboxLine(
        ngettext("%(num)s dispute has no mediator yet", "%(num)s disputes have no mediator yet", int(unassigned)),
        link("disputes.mediation_home", queue="unassigned"),
        int(unassigned),
    )


def register() -> None:
    register_inbox_counts(DEALER_USERS, dealer_counts, dealer_lines, 30)
    register_inbox_counts(RECORDERS, console_counts, console_lines, 30)  # those who record and confirm violations
    register_inbox_source((AccessRole.MEDIATOR,), mediator_lines, 10)
