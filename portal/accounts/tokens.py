"""Signed links for password reset and invitations: they expire, and they work once.

The link carries the user's id and a fingerprint of their current session token. Setting a password rotates that
token, so the same link then matches nobody.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal.accounts.models import User
from portal.extensions import db

PURPOSES = {
    "reset": "PASSWORD_RESET_MAX_AGE_SECONDS",
    "invitation": "INVITATION_MAX_AGE_SECONDS",
    "email_change": "EMAIL_CHANGE_MAX_AGE_SECONDS",
}


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


def make_email_change_token(user: User, new_email: str) -> str:
    """The link to confirm a new address names it and the address it replaces: once the address has changed (or
    changed otherwise meanwhile) the link matches nothing, so it works once, and a logout does not spoil it."""
    return _serializer("email_change").dumps({"user": user.id, "from": user.email, "to": new_email})


def email_change_for_token(token: str) -> tuple[User, str] | None:
    """The user and the confirmed new address of a valid, unexpired, unused link; None for anything else."""
    try:
        payload = _serializer("email_change").loads(token, max_age=current_app.config[PURPOSES["email_change"]])
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), int) or not payload.get("to"):
        return None
    user = db.session.get(User, payload["user"])
    if user is None or not user.is_active or user.email != payload.get("from"):
        return None
    return user, str(payload["to"])
