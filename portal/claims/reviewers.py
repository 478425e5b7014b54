"""Who reviews claims and pre-approvals: the roles, and the people a second approval goes to."""

from __future__ import annotations

from sqlalchemy import select

from portal.access import AccessRole
from portal.accounts.models import User, UserRole
from portal.extensions import db


def second_approvers() -> list[User]:
    return list(
        db.session.execute(
            select(User).where(User.role == UserRole.MANAGER, User.is_senior, User.active).order_by(User.id)
        ).scalars()
    )


REVIEWERS = (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


SECOND_APPROVERS = (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


def admins() -> list[User]:
    """Who sets budgets: a reviewer short of budget asks them."""
    return list(
        db.session.execute(select(User).where(User.role == UserRole.ADMIN, User.active).order_by(User.id)).scalars()
    )
