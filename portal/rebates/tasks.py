"""The rebates area's background work: checking and running a sales import the user started."""

from __future__ import annotations

from collections.abc import Callable

from portal.jobs import task
from portal.rebates import sales_jobs


@task("check_sales_import")
def check_sales_import(import_id: int) -> str:
    return _or_mark_failed(sales_jobs.check_sales_import, import_id)


@task("run_sales_import")
def run_sales_import(import_id: int) -> str:
    return _or_mark_failed(sales_jobs.run_sales_import, import_id)


def _or_mark_failed(step: Callable[[int], object], import_id: int) -> str:
    """An import job that crashes says so on its page (and is recorded as a job failure) instead of hanging."""
    try:
        return str(step(import_id))
    except Exception:
        sales_jobs.fail_sales_import(import_id)
        raise
