"""Threads released together by a barrier, for the race tests: real commits, one moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from portal.accounts.models import User
from portal.database import begin_write
from portal.extensions import db
from portal.service_errors import IllegalTransition, InvalidInput
from tests.factories import PASSWORD

Worker = Callable[[Callable[[], Any]], Any]


def run_together(workers: list[Worker]) -> list[Any]:
    """Each worker gets the barrier's `wait`: it prepares (logs in, reads), waits, then acts; returns the results.

    A worker that fails breaks the barrier so the others stop waiting; every error fails the test.
    """
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = workers[index](barrier.wait)
        except BaseException as error:  # reported below with the results
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def acting_as(app: Any, email: str, model: type, row_id: int, action: Callable[[Any, Any], Any]) -> Worker:
    """A worker that loads the user and the row, waits at the barrier, takes the write lock, acts and commits:
    "done", or "refused" when the service says no (a refused transition or input)."""

    def work(wait: Callable[[], Any]) -> str:

        with app.app_context():
            wait()
            begin_write()
            try:
                actor = db.session.execute(select(User).where(User.email == email)).scalar_one()
                action(actor, db.session.get(model, row_id))
                db.session.commit()
                return "done"
            except (IllegalTransition, InvalidInput):
                db.session.rollback()
                return "refused"
            finally:
                db.session.remove()

    return work


def race_posts(app, requests):  # type: ignore[no-untyped-def]
    """Log each client in, then release all their POSTs at once; returns the statuses in request order."""

    def poster(email: str, url: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
        def work(wait):  # type: ignore[no-untyped-def]
            client = app.test_client()
            assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
            client.get("/account")
            wait()
            return client.post(url, data=form).status_code

        return work

    return run_together([poster(*request) for request in requests])
