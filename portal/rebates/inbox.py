"""What rebates put in the console's "today" inbox: sales imports checked and waiting for someone to confirm them."""

from __future__ import annotations

from collections.abc import Iterable

from flask import url_for
from flask_babel import ngettext
from sqlalchemy import func

from portal.access import AccessRole
from portal.accounts.models import User
from portal.extensions import db
from portal.inbox import InboxLine, register_inbox_source
from portal.rebates.imports import visible_imports
from portal.rebates.models import SalesImport
from portal.rebates.rules import ImportStatus


def import_lines(user: User) -> Iterable[InboxLine]:
    ready = db.session.execute(
        visible_imports(user)
        .where(SalesImport.status == ImportStatus.READY)
        .with_only_columns(func.count())
        .order_by(None)
    ).scalar_one()
    yield InboxLine(
        ngettext(
            "%(num)s sales import is checked and waits to be confirmed",
            "%(num)s sales imports are checked and wait to be confirmed",
            ready,
        ),
        url_for("rebates.sales_imports"),
        ready,
    )


def register() -> None:
    register_inbox_source((AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN), import_lines, 40)
