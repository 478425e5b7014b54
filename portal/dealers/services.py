"""Which dealers a user may see, and the periods in the company's time zone.

Object scope is decided here and only here: views ask for a dealer through get_visible_dealer, which answers 404
for a dealer outside the user's scope, exactly as for one that does not exist.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import abort, current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from portal.access import AccessRole
from portal.accounts.models import User
from portal.dealers.models import Dealer, Period
from portal.extensions import db


def visible_dealers(user: User) -> Select[tuple[Dealer]]:
    """Admins and senior managers see every dealer, managers their portfolio, dealer users their own dealer."""
    query = select(Dealer).options(joinedload(Dealer.manager))
    role = user.access_role
    if role in (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER):
        return query
    if role is AccessRole.MANAGER:
        return query.where(Dealer.manager_id == user.id)
    if role in (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF):
        return query.where(Dealer.id == user.dealer_id)
    return query.where(False)  # mediators reach dealers only through the disputes they handle


def get_visible_dealer(user: User, code: str) -> Dealer:
    dealer = db.session.execute(visible_dealers(user).where(Dealer.code == code)).unique().scalar_one_or_none()
    if dealer is None:
        abort(404)
    return dealer


def search_portfolio(user: User, text: str) -> Select[tuple[Dealer]]:
    query = visible_dealers(user)
    text = text.strip()
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Dealer.code.ilike(pattern), Dealer.name.ilike(pattern)))
    return query.order_by(Dealer.code)


def dealer_people(dealer: Dealer) -> list[User]:
    return list(
        db.session.execute(
            select(User).where(User.dealer_id == dealer.id).order_by(User.dealer_role, User.name)
        ).scalars()
    )


def company_today(now: datetime | None = None) -> date:
    zone = ZoneInfo(current_app.config["COMPANY_TIMEZONE"])
    return (now.astimezone(zone) if now else datetime.now(zone)).date()


def current_period(today: date | None = None) -> Period | None:
    day = today or company_today()
    return db.session.execute(select(Period).where(Period.starts_on <= day, Period.ends_on >= day)).scalar_one_or_none()


def dealer_counts_by_status() -> dict[str, int]:
    rows = db.session.execute(select(Dealer.status, func.count()).group_by(Dealer.status)).all()
    return {status.value: count for status, count in rows}


def quarter_of(day: date) -> tuple[str, date, date]:
    """The quarter containing `day`: its code (2026-Q4), first and last day."""
    quarter = (day.month - 1) // 3
    start = date(day.year, quarter * 3 + 1, 1)
    end = date(day.year + 1, 1, 1) if quarter == 3 else date(day.year, quarter * 3 + 4, 1)
    return f"{day.year}-Q{quarter + 1}", start, date.fromordinal(end.toordinal() - 1)
