"""Background jobs with huey: mail delivery, imports, deadlines, sealing the audit trail. Never in a request thread.

Each area declares its own tasks in its `tasks.py` with `@task` (run on request, after the commit that asked for it)
or `@periodic_task` (on a schedule); this module only keeps the declarations and builds one huey instance per app
from them, so it imports no area. Storage: a SQLite file by default (the consumer runs beside `make run`), Redis
when HUEY_REDIS_URL is set. Run consumers with `flask jobs worker` (production: one or more under a supervisor).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab, signals
from sqlalchemy import String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.extensions import Model, db
from portal.page_cache import register_write_scope, unseen
from portal.types import UTCDateTime, utcnow

HUEY_EXTENSION = "portal_huey"
JOBS_PENDING = "portal_jobs_pending"

Function = TypeVar("Function", bound=Callable[..., Any])


class JobFailure(Model):
    """A background job that raised; admins see these on the failed-jobs page."""

    __tablename__ = "job_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_name: Mapped[str] = mapped_column(String(120))
    task_id: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    retries_left: Mapped[int] = mapped_column(default=0)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


@dataclass(frozen=True)
class TaskDeclaration:
    """What an area asks of the queue: a name, the function, and either retries (on request) or a schedule."""

    name: str
    function: Callable[..., Any]
    schedule: crontab | None = None
    retries: int = 0
    retry_delay: int = 0


_DECLARED: dict[str, TaskDeclaration] = {}


def task(name: str, *, retries: int = 0, retry_delay: int = 0) -> Callable[[Function], Function]:
    """Declare a task run on request (`run_after_commit(name, ...)`), inside an app context."""

    def declare(function: Function) -> Function:
        _DECLARED[name] = TaskDeclaration(name, function, retries=retries, retry_delay=retry_delay)
        return function

    return declare


def periodic_task(name: str, schedule: crontab) -> Callable[[Function], Function]:
    """Declare a task the consumer runs on a schedule, inside an app context."""

    def declare(function: Function) -> Function:
        _DECLARED[name] = TaskDeclaration(name, function, schedule=schedule)
        return function

    return declare


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
    """One huey for this app with every declared task; called by the factory after the areas have plugged in."""
    huey = make_huey(app)
    app.extensions[HUEY_EXTENSION] = huey
    on_request: dict[str, Any] = {}
    for declaration in _DECLARED.values():
        run = _in_app(app, declaration.function)
        if declaration.schedule is None:
            on_request[declaration.name] = huey.task(
                retries=declaration.retries, retry_delay=declaration.retry_delay, name=declaration.name
            )(run)
        else:
            huey.periodic_task(declaration.schedule, name=declaration.name)(run)

    @huey.signal(signals.SIGNAL_ERROR)
    def record_failure(signal: str, task: Any, exc: BaseException | None = None) -> None:
        with app.app_context():
            detail = "".join(traceback.format_exception(exc)) if exc is not None else signal
            db.session.add(
                JobFailure(task_name=task.name, task_id=str(task.id), error=detail[-8000:], retries_left=task.retries)
            )
            db.session.commit()

    app.extensions[HUEY_EXTENSION + ".tasks"] = on_request
    _listen_for_commits()


def _in_app(app: Flask, function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task inside an application context of the app that registered it."""

    def run(*args: Any, **kwargs: Any) -> Any:
        with app.app_context():
            return function(*args, **kwargs)

    run.__name__ = function.__name__
    return run


def enqueue(app: Flask, name: str, *args: Any) -> Any:
    """Put a declared task on this app's queue now (tests, commands); code in a transaction uses run_after_commit."""
    return app.extensions[HUEY_EXTENSION + ".tasks"][name](*args)


def huey_of(app: Flask) -> Huey:
    return app.extensions[HUEY_EXTENSION]


@dataclass(frozen=True)
class _Pending:
    name: str
    args: tuple[Any, ...]
    best_effort: bool


def run_after_commit(name: str, *args: Any, best_effort: bool = False) -> None:
    """Queue a task once the caller's transaction commits, so the worker sees the rows it needs (never on rollback).
    Asked twice in one transaction, it is queued once. `best_effort`: an unreachable queue is only logged (mail
    delivery, which a periodic task also runs); otherwise it raises to the caller of commit."""
    pending: list[_Pending] = db.session.info.setdefault(JOBS_PENDING, [])
    wanted = _Pending(name, args, best_effort)
    if wanted not in pending:
        pending.append(wanted)


def forget_after_commit(*names: str) -> None:
    """Drop the named tasks this transaction asked for: a command about to run them in its own process."""
    pending: list[_Pending] = db.session.info.get(JOBS_PENDING, [])
    pending[:] = [item for item in pending if item.name not in names]


_listening = False


def _listen_for_commits() -> None:
    global _listening
    if _listening:
        return
    _listening = True

    @event.listens_for(Session, "after_commit")
    def _queue_pending(session: Session) -> None:
        for item in session.info.pop(JOBS_PENDING, []):
            try:
                current_app.extensions[HUEY_EXTENSION + ".tasks"][item.name](*item.args)
            except Exception:
                if not item.best_effort:
                    raise
                # The rows are committed; the work is only delayed until the periodic task.
                current_app.logger.warning("could not enqueue %s", item.name, exc_info=True)

    @event.listens_for(Session, "after_rollback")
    def _forget_jobs(session: Session) -> None:
        session.info.pop(JOBS_PENDING, None)


register_write_scope(JobFailure, unseen("failed jobs are listed only on the administrators' jobs page, never cached"))
