"""What the disputes area puts in the "today" inbox: a dealer's answers owed to a mediator and violations it may
still appeal; a manager's proposed violations to confirm; a mediator's own, overdue and unassigned disputes."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for
from sqlalchemy import func, select

from portal.access import DEALER_USERS, AccessRole
from portal.accounts.models import User
from portal.dates import company_today
from portal.disputes.models import Dispute, Violation
from portal.disputes.roles import RECORDERS
from portal.disputes.rules import ACTIVE, ViolationStatus
from portal.disputes.services import mediation_counts
from portal.disputes.violations import visible_violations
from portal.extensions import db
from portal.inbox import InboxLine, register_inbox_source
from portal.request_locale import ngettext
from portal.types import utcnow


def dealer_lines(user: User) -> Iterable[InboxLine]:
    asked = db.session.execute(
        select(func.count())
        .select_from(Dispute)
        .where(
            Dispute.status.in_(ACTIVE),
            Dispute.awaiting_dealer_id == user.dealer_id,
            Dispute.awaiting_until >= utcnow(),
        )
    ).scalar_one()
    yield InboxLine(
        ngettext(
            "%(num)s dispute waits for your answer to the mediator",
            "%(num)s disputes wait for your answer to the mediator",
            asked,
        ),
        url_for("disputes.dealer_violations"),
        asked,
        urgent=True,
    )
    appealable = db.session.execute(
        visible_violations(user)
        .where(Violation.status == ViolationStatus.CONFIRMED, Violation.appeal_until >= company_today())
        .with_only_columns(func.count())
        .order_by(None)
    ).scalar_one()
    yield InboxLine(
        ngettext(
            "%(num)s violation can still be appealed",
            "%(num)s violations can still be appealed",
            appealable,
        ),
        url_for("disputes.dealer_violations"),
        appealable,
    )


def console_lines(user: User) -> Iterable[InboxLine]:
    proposed = db.session.execute(
        visible_violations(user)
        .where(Violation.status == ViolationStatus.PROPOSED)
        .with_only_columns(func.count())
        .order_by(None)
    ).scalar_one()
    yield InboxLine(
        ngettext("%(num)s proposed violation to confirm", "%(num)s proposed violations to confirm", proposed),
        url_for("disputes.console_violations", status=ViolationStatus.PROPOSED.value),
        proposed,
    )


def mediator_lines(user: User) -> Iterable[InboxLine]:
    counts = mediation_counts(user)
    mine, overdue, unassigned = counts.mine, counts.mine_overdue, counts.unassigned
    yield InboxLine(
        ngettext("%(num)s of your disputes is overdue", "%(num)s of your disputes are overdue", int(overdue)),
        url_for("disputes.mediation_home", queue="overdue"),
        int(overdue),
        urgent=True,
    )
    yield InboxLine(
        ngettext("%(num)s dispute is assigned to you", "%(num)s disputes are assigned to you", int(mine)),
        url_for("disputes.mediation_home", queue="mine"),
        int(mine),
    )
    yield InboxLine(
        ngettext("%(num)s dispute has no mediator yet", "%(num)s disputes have no mediator yet", int(unassigned)),
        url_for("disputes.mediation_home", queue="unassigned"),
        int(unassigned),
    )


def register() -> None:
    register_inbox_source(DEALER_USERS, dealer_lines, 30)
    register_inbox_source(RECORDERS, console_lines, 30)  # those who record and confirm violations
    register_inbox_source((AccessRole.MEDIATOR,), mediator_lines, 10)
