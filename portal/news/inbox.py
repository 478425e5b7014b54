"""The news' line in the "today" inbox: announcements the dealer must acknowledge and has not (the owner
acknowledges; staff see it too, so they can tell the owner)."""

from __future__ import annotations

from collections.abc import Iterable

from portal.accounts.models import User
from portal.inbox import InboxLine, register_inbox_source
from portal.news import services
from portal.request_locale import ngettext
from portal.web import link


def reader_lines(user: User) -> Iterable[InboxLine]:
    waiting = services.to_acknowledge(user)
    yield InboxLine(
        ngettext(
            "%(num)s announcement to read and acknowledge",
            "%(num)s announcements to read and acknowledge",
            len(waiting),
        ),
        link("news.item", announcement_id=waiting[0].id) if len(waiting) == 1 else link("news.news_list"),
        len(waiting),
        urgent=True,
    )


def register() -> None:
    register_inbox_source(services.READERS, reader_lines, 54)
