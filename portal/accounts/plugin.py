"""How the accounts area plugs into the portal: its pages, the session's user, the menu entry and its notices."""

from __future__ import annotations

from flask import Flask

from portal.accounts import notices  # noqa: F401 - the kinds register themselves
from portal.accounts.sessions import load_user_by_session_token
from portal.accounts.views import bp
from portal.extensions import login_manager
from portal.navigation import register_navigation
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    login_manager.user_loader(load_user_by_session_token)
    register_navigation("accounts.account", _l("My account"), 190)
