"""How the core area plugs into the portal: the administration home and the health check."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from portal.core import inbox as core_inbox
from portal.core.views import bp
from portal.navigation import register_navigation


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    core_inbox.register()
    register_navigation("core.admin_home", _l("Administration"), 170)
