"""Who does what with violations and disputes: the roles, and the people behind them."""

from __future__ import annotations

from sqlalchemy import select

from portal.access import AccessRole
from portal.accounts.models import User, UserRole
from portal.extensions import db

SECOND_PERSON = (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


RECORDERS = (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


MEDIATORS = (AccessRole.MEDIATOR, AccessRole.ADMIN)


def active_users(**where: object) -> list[User]:
    query = select(User).where(User.active)
    for column, value in where.items():
        query = query.where(getattr(User, column) == value)
    return list(db.session.execute(query.order_by(User.id)).scalars())


def senior_managers() -> list[User]:
    return active_users(role=UserRole.MANAGER, is_senior=True)


def mediators() -> list[User]:
    return active_users(role=UserRole.MEDIATOR)
