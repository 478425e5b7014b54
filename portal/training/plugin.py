"""How the training area plugs into the portal: its pages, menu entries and notices."""

from __future__ import annotations

from flask import Flask

from portal.navigation import register_navigation
from portal.request_locale import lazy_gettext as _l
from portal.training import inbox as training_inbox
from portal.training import (
    notices,  # noqa: F401 - the kinds register themselves
    rules,
)
from portal.training.views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    training_inbox.register()
    register_navigation("training.catalogue", _l("Training"), 40, tab=True)
    register_navigation("training.console_training", _l("Training"), 140)
    for guard in (
        rules.can_cancel_enrollment,
        rules.can_edit_session,
        rules.can_mark_attendance,
        rules.can_record_attendance,
        rules.holds_seat,
        rules.is_waitlisted,
        rules.session_cancelled,
    ):  # templates ask the area's rules, never compare statuses
        app.add_template_global(guard)
