"""How the evidence area plugs into the portal: its file routes and the nightly clean-up of orphaned files."""

from __future__ import annotations

from flask import Flask

from portal.evidence import tasks  # noqa: F401 - the task registers itself
from portal.evidence.views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
