"""Which user a session belongs to: the session holds the user's rotating token, never the user's id.

The same statement counts the user's unread notifications, which every page's bell shows: one statement fewer per
page. On a request that may write (any method but `portal.database.SAFE_METHODS`, the requests that take the write
lock) the count is not kept, so the bell counts afresh after the request's writes.
"""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import bindparam, select

from portal.accounts.models import User
from portal.database import SAFE_METHODS
from portal.extensions import db
from portal.notifications.services import unread_memo_key, unread_query
from portal.request_memo import remember

# Built once: every request of a logged-in user runs it.
_BY_SESSION_TOKEN = select(User, unread_query(User.id).correlate(User).scalar_subquery()).where(
    User.session_token == bindparam("token")
)


def load_user_by_session_token(token: str) -> User | None:
    """After logout, a password change or deactivation the token matches nobody, so a copied cookie stops working."""
    found = db.session.execute(_BY_SESSION_TOKEN, {"token": token}).one_or_none()
    if found is None:
        return None
    user, unread = found
    if not user.is_active:
        return None
    if has_request_context() and request.method in SAFE_METHODS:
        remember(unread_memo_key(user.id), unread)
    return user
