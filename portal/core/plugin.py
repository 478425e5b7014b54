"""How the core area plugs into the portal: the administration home and the health check."""

from __future__ import annotations

from flask import Flask

from portal.core import inbox as core_inbox
from portal.core.views import bp
from portal.navigation import register_navigation
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    core_inbox.register()
    register_navigation("core.admin_home", _l("Administration"), 170)
