"""Browser journeys in Debian's Chromium through Playwright, against the portal served from a thread.

The live server has its own SQLite file with the demo data and real commits; it never shares the unit tests'
rolled-back transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import Browser
from werkzeug.serving import make_server

from portal.demo import seed_demo
from portal.extensions import db
from tests.helpers import build_app, dispose_app

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            # When Chromium drops a request half-way (a favicon, a preview it no longer needs), Werkzeug's
            # development server leaves that static file for the garbage collector; the warning lands on whichever
            # test runs then. It is the test server's, not the portal's, so it does not fail a journey.
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))


@pytest.fixture(autouse=True)
def close_every_page(browser: Browser) -> Iterator[None]:
    """A journey that fails half-way must not leave its page open: an open page keeps polling the live server
    (the bell, seats left), and that server shares the `db` object the next, non-browser tests swap their
    rolled-back session into, so a stray poll would land inside another test's transaction."""
    yield
    for context in list(browser.contexts):
        context.close()


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {"executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="package")  # served only while the browser journeys run, then shut down
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The served application, for tests that read what it wrote (the outbox, as a mail server would)."""
    database = tmp_path_factory.mktemp("browser") / "portal.db"
    app = build_app(f"sqlite:///{database}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
    yield app
    dispose_app(app)


@pytest.fixture(scope="package")
def live_server(live_app: Flask) -> Iterator[str]:
    app = live_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
