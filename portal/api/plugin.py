"""How the integration API plugs into the portal: its blueprint, under /api/v1."""

from __future__ import annotations

from flask import Flask

from portal.api import views


def init_app(app: Flask) -> None:
    views.init_app(app)
