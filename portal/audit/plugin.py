"""How the audit area plugs into the portal: its page, the sealing task and the menu entry."""

from __future__ import annotations

from flask import Flask

from portal.audit import tasks  # noqa: F401 - the task registers itself
from portal.audit.views import bp
from portal.navigation import register_navigation
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_navigation("audit.trail", _l("Audit trail"), 180)
