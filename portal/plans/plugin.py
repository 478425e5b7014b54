"""How business plans plug into the portal: their pages, the inbox lines, notices, menu entries and the guards
their pages ask."""

from __future__ import annotations

from datetime import date

from flask import Flask

from portal.navigation import register_navigation
from portal.plans import inbox, notices, rules  # noqa: F401 - the notice kinds register themselves
from portal.plans.rules import Side
from portal.plans.views import bp
from portal.request_locale import lazy_gettext as _l
from portal.types import label


def side_label(side: str) -> str:
    """A side's label from a version's snapshot, where it is kept as its value."""
    return label(Side(side))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    inbox.register()
    register_navigation("plans.plan_list", _l("Plans"), 29)
    app.add_template_filter(side_label, "plan_side")
    app.add_template_filter(date.fromisoformat, "iso_day")
    for name, guard in (
        ("plan_is_open", rules.is_open),
        ("plan_is_agreed", rules.is_agreed),
        ("plan_is_reviewed", rules.is_reviewed),
    ):
        app.add_template_global(guard, name)
