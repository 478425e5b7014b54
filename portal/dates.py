"""The company's calendar: what day it is for the business, and which quarter a day belongs to.

A claim window, a period's close or an appeal deadline is counted in the company's time zone (COMPANY_TIMEZONE,
Asia/Shanghai by default), not the server's: at 01:00 in Shanghai a server on UTC still says yesterday. Code that
means "the company's today" asks `company_today()`, never `date.today()`.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def company_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["COMPANY_TIMEZONE"])


def company_today(now: datetime | None = None) -> date:
    """The company's date at `now` (an aware moment; default: this instant)."""
    zone = company_zone()
    return (now.astimezone(zone) if now else datetime.now(zone)).date()


def quarter_of(day: date) -> tuple[str, date, date]:
    """The quarter containing `day`: its code (2026-Q4), first and last day."""
    quarter = (day.month - 1) // 3
    start = date(day.year, quarter * 3 + 1, 1)
    end = date(day.year + 1, 1, 1) if quarter == 3 else date(day.year, quarter * 3 + 4, 1)
    return f"{day.year}-Q{quarter + 1}", start, date.fromordinal(end.toordinal() - 1)
