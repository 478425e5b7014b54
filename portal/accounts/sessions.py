"""Which user a session belongs to: the session holds the user's rotating token, never the user's id."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from portal.accounts.models import User
from portal.extensions import db

# Built once: every request of a logged-in user runs it.
_BY_SESSION_TOKEN = select(User).where(User.session_token == bindparam("token"))


def load_user_by_session_token(token: str) -> User | None:
    """After logout, a password change or deactivation the token matches nobody, so a copied cookie stops working."""
    user = db.session.execute(_BY_SESSION_TOKEN, {"token": token}).scalar_one_or_none()
    if user is None or not user.is_active:
        return None
    return user
