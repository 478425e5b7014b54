"""The plans' lines in the "today" inbox: actions past their day (both sides see them), and plans waiting for this
side's acceptance. One query each."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for
from flask_babel import ngettext

from portal.accounts.models import User
from portal.inbox import InboxLine, register_inbox_source
from portal.plans import services


def overdue_lines(user: User) -> Iterable[InboxLine]:
    count, only_plan = services.overdue_actions(user)
    yield InboxLine(
        ngettext("%(num)s plan action is overdue", "%(num)s plan actions are overdue", count),
        url_for("plans.plan_page", plan_id=only_plan) if only_plan else url_for("plans.plan_list"),
        count,
        urgent=True,
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
    register_inbox_source(services.READERS, overdue_lines, 56)
    register_inbox_source(services.PLANNERS, acceptance_lines, 57)
