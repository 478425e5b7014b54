"""The codes of a second factor: an authenticator app's 6 digits (TOTP, RFC 6238) and one-time recovery codes.

Shared by the login's code step and by the proof of identity that security-sensitive changes ask for. Each app
code is accepted once (the last 30-second step used is kept) and each recovery code once (it is marked used), each
by a conditional UPDATE whose row count says who won when two requests race with the same code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import pyotp
from flask import current_app
from sqlalchemy import func, or_, select, update

from portal.accounts.models import RecoveryCode, User
from portal.database import rows_changed
from portal.extensions import db
from portal.page_cache import writes_for
from portal.types import utcnow

TOTP_DIGITS = 6
STEP_SECONDS = 30
ACCEPTED_DRIFT_STEPS = 1  # a phone's clock a little off, or a code typed as it changes
RECOVERY_CODE_LENGTH = 10


@dataclass(frozen=True)
class CodeUse:
    accepted: bool
    recovery_code: bool = False  # the code was a recovery code (now used up)


def normalise_code(code: str) -> str:
    """People type codes with spaces or dashes, as the app and the printed list group them."""
    return "".join(character for character in code.lower() if character.isalnum())


def hash_recovery_code(code: str) -> str:
    # The codes are random (50 bits), so a fast hash is as good as a slow one; the secret key keeps a stolen table
    # of hashes from being tried offline against the code space.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, normalise_code(code).encode(), hashlib.sha256).hexdigest()


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The step whose code this is, within the accepted drift; None if no step in the window matches."""
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=STEP_SECONDS)
    current = current_step(now)
    for step in range(current - ACCEPTED_DRIFT_STEPS, current + ACCEPTED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def use_code(user: User, code: str) -> CodeUse:
    """Accept a code of the user's app (each step once) or an unused recovery code (once); nothing is flushed but
    the conditional UPDATE that decides."""
    typed = normalise_code(code)
    if not user.has_two_factor:
        return CodeUse(False)
    if (step := matching_step(user.totp_secret or "", typed)) is not None:
        # A step at or before the last one accepted is a replay, including by a request racing this one.
        with writes_for(users=[user.id]):
            accepted = (
                rows_changed(
                    db.session.execute(
                        update(User)
                        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                        .values(totp_last_step=step)
                        .execution_options(synchronize_session=False)
                    )
                )
                == 1
            )
        return CodeUse(accepted)
    if len(typed) == RECOVERY_CODE_LENGTH:
        with writes_for(users=[user.id]):
            accepted = (
                rows_changed(
                    db.session.execute(
                        update(RecoveryCode)
                        .where(
                            RecoveryCode.user_id == user.id,
                            RecoveryCode.code_hash == hash_recovery_code(typed),
                            RecoveryCode.used_at.is_(None),
                        )
                        .values(used_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
                )
                == 1
            )
        return CodeUse(accepted, recovery_code=accepted)
    return CodeUse(False)


def recovery_codes_left(user: User) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).scalar_one()
