"""Background jobs: the delivery task runs in an app context, a failing job is recorded for the admins' page."""

from __future__ import annotations

import pytest
from flask import Flask
from huey import RedisHuey, SqliteHuey
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.jobs import JobFailure, enqueue, huey_of, make_huey
from tests.factories import Channel
from tests.helpers import log_in


def _run_pending(app: Flask) -> None:
    huey = huey_of(app)
    while (task := huey.dequeue()) is not None:
        huey.execute(task)


def test_the_delivery_task_runs_the_outbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    monkeypatch.setattr("portal.notifications.mail.deliver_outbox", lambda: calls.append(True) or {"sent": 0})
    huey = huey_of(app)
    huey.flush()
    enqueue(app, "deliver_outbox")
    _run_pending(app)
    assert calls == [True]


def test_a_failing_job_is_recorded_and_shown_to_admins(
    app: Flask, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("SMTP settings are wrong")

    monkeypatch.setattr("portal.notifications.mail.deliver_outbox", broken)
    huey = huey_of(app)
    huey.flush()
    enqueue(app, "deliver_outbox")
    _run_pending(app)  # the first run fails and schedules a retry
    with app.app_context():
        failure = db.session.execute(select(JobFailure)).scalar_one()
        assert failure.task_name == "deliver_outbox" and failure.retries_left == 3
        assert "RuntimeError: SMTP settings are wrong" in failure.error
    huey.flush()
    client = app.test_client()
    log_in(client, channel.emails["admin"])
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "deliver_outbox" in page and "RuntimeError: SMTP settings are wrong" in page


def test_storage_follows_the_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]

    sqlite_app = create_app("development", {"HUEY_SQLITE_PATH": str(tmp_path / "huey.db")})
    assert isinstance(make_huey(sqlite_app), SqliteHuey)
    redis_app = create_app("development", {"HUEY_REDIS_URL": "redis://127.0.0.1:6379/15"})
    assert isinstance(make_huey(redis_app), RedisHuey)
