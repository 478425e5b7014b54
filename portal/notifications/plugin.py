"""How the notifications area plugs into the portal: its pages, the delivery tasks and the unread count every
page header shows."""

from __future__ import annotations

from flask import Flask
from flask_login import current_user

from portal.notifications import tasks  # noqa: F401 - the tasks register themselves
from portal.notifications.services import unread_count
from portal.notifications.views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _unread() -> dict[str, object]:
        return {"unread_notification_count": _unread_count}


def _unread_count() -> int:
    return unread_count(current_user) if current_user.is_authenticated else 0
