"""How the integration API plugs into the portal: its blueprint under /api/v1, and the admin's page of clients."""

from __future__ import annotations

from flask import Flask

from portal.api import admin, tasks, views

TASKS = tasks  # the delivery tasks register themselves on import


def init_app(app: Flask) -> None:
    views.init_app(app)
    app.register_blueprint(admin.bp)
