"""Reads kept for one request (portal.request_memo): asked again, answered from memory; after any write of the
session (a flush) or a rollback, and in the next request, read afresh; outside a request, never kept."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from portal.extensions import db
from portal.request_memo import remembered
from tests.factories import make_territory


def counting() -> tuple[list[int], Callable[[], int]]:
    asked: list[int] = []

    def compute() -> int:
        asked.append(1)
        return len(asked)

    return asked, compute


def test_a_read_is_kept_for_the_request_until_the_session_writes(app: Flask) -> None:
    asked, compute = counting()
    with app.test_request_context("/"):
        assert remembered("budget", compute) == 1
        assert remembered("budget", compute) == 1 and len(asked) == 1
        assert remembered("another key", compute) == 2
        make_territory()  # adds and flushes a row: what was read before may be stale
        assert remembered("budget", compute) == 3
        assert remembered("budget", compute) == 3
        db.session.rollback()
        assert remembered("budget", compute) == 4
    with app.test_request_context("/"):
        assert remembered("budget", compute) == 5  # a new request reads afresh
    with app.app_context():
        assert remembered("budget", compute) == 6
        assert remembered("budget", compute) == 7  # a job or the shell: never kept
