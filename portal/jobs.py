"""Background jobs with huey: mail delivery now, imports and recomputation later. Never in a request thread.

Storage: a SQLite file by default (the consumer runs beside `make run`), Redis when HUEY_REDIS_URL is set. The
huey instance is built by create_app, so importing this module does nothing. Run consumers with
`flask jobs worker` (production: one or more of these under a process supervisor).
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab, signals
from sqlalchemy import event
from sqlalchemy.orm import Session

HUEY_EXTENSION = "portal_huey"


def make_huey(app: Flask) -> Huey:
    config = app.config
    immediate = bool(config["HUEY_IMMEDIATE"])
    if config.get("TESTING"):
        return MemoryHuey("portal", immediate=immediate)
    if config["HUEY_REDIS_URL"]:
        return RedisHuey("portal", url=config["HUEY_REDIS_URL"], immediate=immediate)
    Path(config["HUEY_SQLITE_PATH"]).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("portal", filename=config["HUEY_SQLITE_PATH"], immediate=immediate)


def init_app(app: Flask) -> None:
    huey = make_huey(app)
    app.extensions[HUEY_EXTENSION] = huey

    def in_app(function: Any) -> Any:
        """Run a task inside an application context of the app that registered it."""

        def run(*args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return function(*args, **kwargs)

        run.__name__ = function.__name__
        return run

    @huey.task(retries=3, retry_delay=30, name="deliver_outbox")
    @in_app
    def deliver_outbox_task() -> dict[str, int]:
        from portal.notifications.mail import deliver_outbox

        return deliver_outbox()

    @huey.periodic_task(crontab(minute="*"), name="deliver_outbox_every_minute")
    @in_app
    def deliver_outbox_periodically() -> dict[str, int]:
        from portal.notifications.mail import deliver_outbox

        return deliver_outbox()

    @huey.periodic_task(crontab(minute="17", hour="3"), name="cleanup_evidence_orphans")
    @in_app
    def cleanup_evidence_orphans() -> int:
        from portal.evidence.services import cleanup_orphans

        return cleanup_orphans()

    @huey.periodic_task(crontab(minute="*/10"), name="lapse_dispute_deadlines")
    @in_app
    def lapse_dispute_deadlines() -> int:
        from portal.disputes.services import lapse_party_deadlines
        from portal.extensions import db

        count = lapse_party_deadlines()
        db.session.commit()
        return count

    @huey.periodic_task(crontab(minute="*"), name="seal_audit_events")
    @in_app
    def seal_audit_events_periodically() -> int:
        from portal.audit.chain import seal_pending_events

        return seal_pending_events()

    @huey.task(name="check_sales_import")
    @in_app
    def check_sales_import_task(import_id: int) -> str:
        from portal.rebates import imports

        return _or_mark_failed(imports.check_sales_import, import_id)

    @huey.task(name="run_sales_import")
    @in_app
    def run_sales_import_task(import_id: int) -> str:
        from portal.rebates import imports

        return _or_mark_failed(imports.run_sales_import, import_id)

    @huey.signal(signals.SIGNAL_ERROR)
    def record_failure(signal: str, task: Any, exc: BaseException | None = None) -> None:
        with app.app_context():
            from portal.extensions import db
            from portal.notifications.models import JobFailure

            detail = "".join(traceback.format_exception(exc)) if exc is not None else signal
            db.session.add(
                JobFailure(task_name=task.name, task_id=str(task.id), error=detail[-8000:], retries_left=task.retries)
            )
            db.session.commit()

    app.extensions[HUEY_EXTENSION + ".deliver"] = deliver_outbox_task
    app.extensions[HUEY_EXTENSION + ".tasks"] = {
        "check_sales_import": check_sales_import_task,
        "run_sales_import": run_sales_import_task,
    }
    _listen_for_outbox_commits()


_listening = False


def _listen_for_outbox_commits() -> None:
    """After a commit that queued email, ask a worker to deliver it now rather than at the next minute."""
    global _listening
    if _listening:
        return
    _listening = True

    @event.listens_for(Session, "after_commit")
    def _kick_delivery(session: Session) -> None:
        from portal.notifications.services import OUTBOX_PENDING

        if session.info.pop(OUTBOX_PENDING, False):
            enqueue_delivery()
        for name, args in session.info.pop(JOBS_PENDING, []):
            current_app.extensions[HUEY_EXTENSION + ".tasks"][name](*args)

    @event.listens_for(Session, "after_rollback")
    def _forget_jobs(session: Session) -> None:
        session.info.pop(JOBS_PENDING, None)


JOBS_PENDING = "portal_jobs_pending"


def run_after_commit(task_name: str, *args: Any) -> None:
    """Queue a task once the caller's transaction commits, so the worker sees the rows it needs (never on rollback)."""
    from portal.extensions import db

    db.session.info.setdefault(JOBS_PENDING, []).append((task_name, args))


def enqueue_delivery() -> None:
    """Best effort: if the queue is unreachable the periodic task and `flask send-mail` still deliver."""
    try:
        current_app.extensions[HUEY_EXTENSION + ".deliver"]()
    except Exception:  # the outbox row is committed; delivery is only delayed
        current_app.logger.warning("could not enqueue mail delivery", exc_info=True)


def _or_mark_failed(step: Any, import_id: int) -> str:
    """An import job that crashes says so on its page (and is recorded as a job failure) instead of hanging."""
    from portal.rebates.imports import fail_sales_import

    try:
        return str(step(import_id))
    except Exception:
        fail_sales_import(import_id)
        raise


def huey_of(app: Flask) -> Huey:
    return app.extensions[HUEY_EXTENSION]
