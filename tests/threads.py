"""Threads released together by a barrier, for the race tests: real commits, one moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

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
