"""The plans' lines in the "today" inbox: actions past their day and actions due this week (both sides see them),
and plans waiting for this side's acceptance. Counts, asked with the other areas' in the inbox's one statement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Date, bindparam

from portal.accounts.models import User
from portal.dates import company_today
from portal.inbox import TODAY, CountsQuery, InboxLine, InboxReader, register_inbox_counts
from portal.plans import services
from portal.request_locale import ngettext
from portal.web import link


def action_counts(reader: InboxReader) -> CountsQuery | None:
    """`actions_due_counts` for the inbox: the week's end is the request's value."""
    return services.actions_due_counts(reader, TODAY, bindparam("plans_week_end", type_=Date))


def week_end(_user: User) -> Mapping[str, Any]:
    return {"plans_week_end": company_today() + services.WEEK}


def action_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    due = services.actions_due_of(counts)
    where = link("plans.plan_page", plan_id=due.only_plan) if due.only_plan else link("plans.plan_list")
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


def acceptance_lines(_user: User, counts: Mapping[str, Any]) -> Iterable[InboxLine]:
    waiting = int(counts["waiting"])
    yield InboxLine(
        ngettext(
            "%(num)s business plan waits for your acceptance",
            "%(num)s business plans wait for your acceptance",
            waiting,
        ),
        link("plans.plan_list"),
        waiting,
    )


def register() -> None:
    register_inbox_counts(services.READERS, action_counts, action_lines, 56, week_end)
    register_inbox_counts(services.PLANNERS, services.awaiting_acceptance_counts, acceptance_lines, 57)
