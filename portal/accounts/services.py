"""Account rules: authentication, sessions that really end, password changes, language preference."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from portal.accounts.models import User
from portal.audit.services import record_event
from portal.extensions import db
from portal.types import utcnow


@cache
def _dummy_hash(method: str) -> str:
    """Checked against when the email is unknown, so both answers take the same time."""
    return generate_password_hash("not-a-real-password", method=method)


class LoginOutcome(enum.Enum):
    SUCCEEDED = "succeeded"
    BAD_CREDENTIALS = "bad_credentials"
    ACCOUNT_DISABLED = "account_disabled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None


class WrongPassword(Exception):
    """The current password given for a password change is not the user's."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    """scrypt through Werkzeug; the cost is configurable (tests use a cheap one, production keeps the default)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(db.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def authenticate(email: str, password: str) -> LoginResult:
    """Check credentials and record the attempt. Unknown email and wrong password are indistinguishable."""
    user = find_user_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        record_event("login.failed", actor_id=None, details={"email": normalise_email(email)[:254]})
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if not check_password_hash(user.password_hash, password):
        record_event("login.failed", actor_id=user.id, subject_type="user", subject_id=user.id)
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if not user.is_active:
        record_event("login.refused", actor_id=user.id, subject_type="user", subject_id=user.id)
        return LoginResult(LoginOutcome.ACCOUNT_DISABLED)
    user.last_login_at = utcnow()
    record_event("login.succeeded", actor_id=user.id, subject_type="user", subject_id=user.id)
    db.session.flush()
    return LoginResult(LoginOutcome.SUCCEEDED, user)


def log_out(user: User) -> None:
    """Rotate the session token so that a copy of the old cookie no longer logs anyone in."""
    user.rotate_session_token()
    record_event("logout", actor_id=user.id, subject_type="user", subject_id=user.id)
    db.session.flush()


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not check_password_hash(user.password_hash, current_password):
        record_event("password.change_refused", actor_id=user.id, subject_type="user", subject_id=user.id)
        raise WrongPassword
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    user.rotate_session_token()
    record_event("password.changed", actor_id=user.id, subject_type="user", subject_id=user.id)
    db.session.flush()


def deactivate_user(user: User, *, actor: User) -> None:
    """Deactivated users cannot log in and their open sessions end at their next request."""
    if not user.active:
        return
    user.active = False
    user.rotate_session_token()
    record_event(
        "user.deactivated",
        actor_id=actor.id,
        subject_type="user",
        subject_id=user.id,
        details={"before": {"active": True}, "after": {"active": False}},
    )
    db.session.flush()


def set_language(user: User, locale: str) -> None:
    if user.locale == locale:
        return
    before = user.locale
    user.locale = locale
    record_event(
        "user.language_changed",
        actor_id=user.id,
        subject_type="user",
        subject_id=user.id,
        details={"before": {"locale": before}, "after": {"locale": locale}},
    )
    db.session.flush()
