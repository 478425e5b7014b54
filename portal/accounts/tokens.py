"""Signed links for password reset and invitations: they expire, and they work once.

The link carries the user's id and a fingerprint of their current session token. Setting a password rotates that
token, so the same link then matches nobody.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal.accounts.models import User
from portal.extensions import db

PURPOSES = {"reset": "PASSWORD_RESET_MAX_AGE_SECONDS", "invitation": "INVITATION_MAX_AGE_SECONDS"}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal-{purpose}")


def make_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"user": user.id, "fingerprint": user.session_token[:16]})


def user_for_token(token: str, purpose: str) -> User | None:
    """The user a valid, unexpired, unused link belongs to; None for anything else."""
    try:
        payload = _serializer(purpose).loads(token, max_age=current_app.config[PURPOSES[purpose]])
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), int):
        return None
    user = db.session.get(User, payload["user"])
    if user is None or not user.is_active or user.session_token[:16] != payload.get("fingerprint"):
        return None
    return user
