"""Two-factor sign-in for channel staff: an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

Staff decide on money and on disputes between dealers, so a stolen password alone must not be enough. A code is
accepted once: the last 30-second step used is kept, and a recovery code is marked used, each by a conditional
UPDATE whose row count says who won when two requests race with the same code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
import qrcode
import qrcode.image.svg
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update

from portal.accounts.models import RecoveryCode, User
from portal.audit.services import audit_change
from portal.extensions import db
from portal.service_errors import InvalidInput
from portal.types import utcnow

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper
TOTP_DIGITS = 6
STEP_SECONDS = 30
ACCEPTED_DRIFT_STEPS = 1  # a phone's clock a little off, or a code typed as it changes


class NotStaff(Exception):
    """Two-factor sign-in is offered to channel staff; dealer accounts never reach these services through a view."""


@dataclass(frozen=True)
class SecondFactorResult:
    accepted: bool
    used_recovery_code: bool = False
    recovery_codes_left: int = 0


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise NotStaff


def normalise_code(code: str) -> str:
    """People type codes with spaces or dashes, as the app and the printed list group them."""
    return "".join(character for character in code.lower() if character.isalnum())


def hash_recovery_code(code: str) -> str:
    # The codes are random (50 bits), so a fast hash is as good as a slow one; the secret key keeps a stolen table
    # of hashes from being tried offline against the code space.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, normalise_code(code).encode(), hashlib.sha256).hexdigest()


def _current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The step whose code this is, within the accepted drift; None if no step in the window matches."""
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=STEP_SECONDS)
    current = _current_step(now)
    for step in range(current - ACCEPTED_DRIFT_STEPS, current + ACCEPTED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=current_app.config["TWO_FACTOR_ISSUER"])


def qr_code_data_uri(uri: str) -> str:
    """The setup QR code as an SVG data URI: an <img> the content security policy allows, drawn without Pillow."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def grouped_secret(secret: str) -> str:
    """The key for typing into an app by hand, in groups of four."""
    return " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))


def recovery_codes_left(user: User) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


def begin_setup(user: User) -> str:
    """A new secret to confirm. While it waits, an authenticator already set up keeps working (moving phones)."""
    _require_staff(user)
    user.totp_pending_secret = pyotp.random_base32()
    audit_change("two_factor.setup_started", actor=user, subject=user)
    db.session.flush()
    return user.totp_pending_secret


def confirm_setup(user: User, code: str) -> list[str]:
    """Turn the waiting secret on once the app shows a matching code; returns a fresh set of recovery codes."""
    _require_staff(user)
    pending = user.totp_pending_secret
    if pending is None:
        raise InvalidInput("code", _("Start the setup again: there is no authenticator waiting to be confirmed."))
    step = _matching_step(pending, normalise_code(code))
    if step is None:
        audit_change("two_factor.setup_code_refused", actor=user, subject=user)
        raise InvalidInput("code", _("That code does not match. Enter the 6 digits your app shows now."))
    was_on = user.has_two_factor
    # Only the request that still finds this secret waiting turns it on: a double submit does not make two sets.
    changed = db.session.execute(
        update(User)
        .where(User.id == user.id, User.totp_pending_secret == pending)
        .values(
            totp_secret=pending,
            totp_pending_secret=None,
            totp_enabled_at=utcnow(),
            totp_last_step=step,
        )
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed != 1:
        raise InvalidInput("code", _("Start the setup again: there is no authenticator waiting to be confirmed."))
    codes = _replace_recovery_codes(user)
    audit_change("two_factor.enabled", actor=user, subject=user, replaced_authenticator=was_on)
    _tell_user(user)
    db.session.flush()
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(code)) for code in codes)
    db.session.flush()
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _check_password(user: User, password: str, refused_action: str) -> None:
    from werkzeug.security import check_password_hash

    if not check_password_hash(user.password_hash, password):
        audit_change(refused_action, actor=user, subject=user)
        raise InvalidInput("password", _("This is not your current password."))


def new_recovery_codes(user: User, password: str) -> list[str]:
    """A new set replaces every old code, used or not: for a printed list that was lost or is running out."""
    _require_staff(user)
    if not user.has_two_factor:
        raise InvalidInput("password", _("Turn on two-factor sign-in first."))
    _check_password(user, password, "two_factor.recovery_codes_refused")
    codes = _replace_recovery_codes(user)
    audit_change("two_factor.recovery_codes_replaced", actor=user, subject=user)
    _tell_user(user)
    db.session.flush()
    return codes


def turn_off(user: User, password: str) -> None:
    _require_staff(user)
    if user.two_factor_required:
        raise InvalidInput(
            "password", _("Your administrator requires two-factor sign-in for your account, so it stays on.")
        )
    if not user.has_two_factor:
        raise InvalidInput("password", _("Two-factor sign-in is already off."))
    _check_password(user, password, "two_factor.disable_refused")
    _clear(user)
    audit_change("two_factor.disabled", actor=user, subject=user)
    _tell_user(user)
    db.session.flush()


def reset_for_user(actor: User | None, user: User) -> None:
    """An administrator's help for a lost phone and lost codes: the user sets it up again at the next login if
    it is required. Every session of the user ends, in case the phone was stolen with a logged-in browser.
    No actor: the server's command line, for the administrator who locked themself out."""
    from portal.access import AccessRole, require_role

    if actor is not None:
        require_role(actor, AccessRole.ADMIN)
    if not user.has_two_factor and user.totp_pending_secret is None:
        raise InvalidInput("user", _("%(name)s has no authenticator set up.", name=user.name))
    _clear(user)
    user.rotate_session_token()
    audit_change("two_factor.reset", actor=actor, subject=user)
    _tell_user(user)
    db.session.flush()


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def _tell_user(user: User) -> None:
    from portal.notifications.services import notify

    notify([user], "account_changed", {}, link="/account/two-factor")


def check_second_factor(user: User, code: str) -> SecondFactorResult:
    """At login, after the password: a code from the app (each step once) or an unused recovery code (once)."""
    typed = normalise_code(code)
    accepted = False
    used_recovery_code = False
    if user.has_two_factor and (step := _matching_step(user.totp_secret or "", typed)) is not None:
        # A step at or before the last one accepted is a replay, including by a request racing this one.
        accepted = (
            db.session.execute(
                update(User)
                .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
    elif user.has_two_factor and len(typed) == 10:
        accepted = (
            db.session.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.user_id == user.id,
                    RecoveryCode.code_hash == hash_recovery_code(typed),
                    RecoveryCode.used_at.is_(None),
                )
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        used_recovery_code = accepted
    if not accepted:
        audit_change("login.second_factor_refused", actor=user, subject=user)
        db.session.flush()
        return SecondFactorResult(False)
    user.last_login_at = utcnow()
    left = 0
    if used_recovery_code:  # counted only then: a code from the app needs no count
        left = recovery_codes_left(user)
        audit_change("login.recovery_code_used", actor=user, subject=user, recovery_codes_left=left)
        _tell_user(user)
    audit_change("login.succeeded", actor=user, subject=user, second_factor=True)
    db.session.flush()
    return SecondFactorResult(True, used_recovery_code, left)
