"""The plans' lines in the "today" inbox: actions past their day and actions due this week (both sides see them),
and plans waiting for this side's acceptance. One query each."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for

from portal.accounts.models import User
from portal.inbox import InboxLine, register_inbox_source
from portal.plans import services
from portal.request_locale import ngettext


def action_lines(user: User) -> Iterable[InboxLine]:
    due = services.actions_due(user)
    where = url_for("plans.plan_page", plan_id=due.only_plan) if due.only_plan else url_for("plans.plan_list")
    yield InboxLine(
        ngettext("%(num)s plan action is overdue", "%(num)s plan actions are overdue", due.overdue),
        where,
        due.overdue,
        urgent=True,
    )
    yield InboxLine(
        ngettext("%(num)s plan action is due this week", "%(num)s plan actions are due this week", due.this_week),
        where,
        due.this_week,
    )


def acceptance_lines(user: User) -> Iterable[InboxLine]:
    count = services.awaiting_acceptance(user)
    yield InboxLine(
        ngettext(
            "%(num)s business plan waits for your acceptance",
            "%(num)s business plans wait for your acceptance",
            count,
        ),
        url_for("plans.plan_list"),
        count,
    )


def register() -> None:
    register_inbox_source(services.READERS, action_lines, 56)
    register_inbox_source(services.PLANNERS, acceptance_lines, 57)
