"""Two-factor sign-in for channel staff: an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

Staff decide on money and on disputes between dealers, so a stolen password alone must not be enough. The codes
themselves are checked in portal.accounts.codes. Every change here (setting up, moving to a new phone, new recovery
codes, turning off, an administrator's reset) asks for proof of identity first (portal.accounts.proof) and ends
every other session of the account afterwards; a logged-in browser alone changes nothing.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

import pyotp
import qrcode
import qrcode.image.svg
from flask import current_app
from sqlalchemy import delete, update

from portal.access import AccessRole, require_role
from portal.accounts.codes import hash_recovery_code, matching_step, normalise_code, recovery_codes_left, use_code
from portal.accounts.models import RecoveryCode, User
from portal.accounts.proof import Proof, SecurityChange, prove, security_changed, tell_owner
from portal.audit.services import audit_change
from portal.database import rows_changed
from portal.extensions import db
from portal.page_cache import writes_for
from portal.request_locale import gettext as _
from portal.service_errors import InvalidInput
from portal.types import utcnow

RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper


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


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=current_app.config["TWO_FACTOR_ISSUER"])


def qr_code_data_uri(uri: str) -> str:
    """The setup QR code as an SVG data URI: an <img> the content security policy allows, drawn without Pillow."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def grouped_secret(secret: str) -> str:
    """The key for typing into an app by hand, in groups of four."""
    return " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))


def begin_setup(user: User, proof: Proof) -> str:
    """A new secret to confirm, after the password (and, when a factor is on, a current code). While it waits, the
    authenticator already set up keeps working (moving phones). The secret is shown once, in the answer to this
    request: the page does not show it again, so a copied session cannot read it off later."""
    _require_staff(user)
    prove(user, proof, "two_factor.setup")
    user.totp_pending_secret = pyotp.random_base32()
    audit_change("two_factor.setup_started", actor=user, subject=user)
    db.session.flush()
    return user.totp_pending_secret


def confirm_setup(user: User, code: str, proof: Proof) -> list[str]:
    """Turn the waiting secret on once the new app shows a matching code and the person proves it is them (the
    password, and a code of the current app when moving phones); returns a fresh set of recovery codes."""
    _require_staff(user)
    pending = user.totp_pending_secret
    if pending is None:
        raise InvalidInput("code", _("Start the setup again: there is no authenticator waiting to be confirmed."))
    prove(user, proof, "two_factor.confirm")
    step = matching_step(pending, normalise_code(code))
    if step is None:
        audit_change("two_factor.setup_code_refused", actor=user, subject=user)
        raise InvalidInput("code", _("That code does not match. Enter the 6 digits your app shows now."))
    was_on = user.has_two_factor
    # Only the request that still finds this secret waiting turns it on: a double submit does not make two sets.
    with writes_for(users=[user.id]):
        changed = rows_changed(
            db.session.execute(
                update(User)
                .where(User.id == user.id, User.totp_pending_secret == pending)
                .values(
                    totp_secret=pending,
                    totp_pending_secret=None,
                    totp_enabled_at=utcnow(),
                    totp_last_step=step,
                )
                .execution_options(synchronize_session="fetch")
            )
        )
    if changed != 1:
        raise InvalidInput("code", _("Start the setup again: there is no authenticator waiting to be confirmed."))
    codes = _replace_recovery_codes(user)
    audit_change("two_factor.enabled", actor=user, subject=user, replaced_authenticator=was_on)
    security_changed(user, SecurityChange.TWO_FACTOR_MOVED if was_on else SecurityChange.TWO_FACTOR_ON)
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(code)) for code in codes)
    db.session.flush()
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def new_recovery_codes(user: User, proof: Proof) -> list[str]:
    """A new set replaces every old code, used or not: for a printed list that was lost or is running out."""
    _require_staff(user)
    if not user.has_two_factor:
        raise InvalidInput("password", _("Turn on two-factor sign-in first."))
    prove(user, proof, "two_factor.recovery_codes")
    codes = _replace_recovery_codes(user)
    audit_change("two_factor.recovery_codes_replaced", actor=user, subject=user)
    security_changed(user, SecurityChange.RECOVERY_CODES)
    return codes


def turn_off(user: User, proof: Proof) -> None:
    _require_staff(user)
    if user.two_factor_required:
        raise InvalidInput(
            "password", _("Your administrator requires two-factor sign-in for your account, so it stays on.")
        )
    if not user.has_two_factor:
        raise InvalidInput("password", _("Two-factor sign-in is already off."))
    prove(user, proof, "two_factor.disable")
    _clear(user)
    audit_change("two_factor.disabled", actor=user, subject=user)
    security_changed(user, SecurityChange.TWO_FACTOR_OFF)


def reset_for_user(actor: User | None, user: User, proof: Proof | None = None) -> None:
    """An administrator's help for a lost phone and lost codes: the user sets it up again at the next login if
    it is required. Every session of the user ends, in case the phone was stolen with a logged-in browser. The
    administrator proves it is them first. No actor: the server's command line, for the administrator who locked
    themself out (whoever runs it already holds the server)."""
    if actor is not None:
        require_role(actor, AccessRole.ADMIN)
        if proof is None:
            raise InvalidInput("password", _("Enter your password."))
    if not user.has_two_factor and user.totp_pending_secret is None:
        raise InvalidInput("user", _("%(name)s has no authenticator set up.", name=user.name))
    if actor is not None and proof is not None:
        prove(actor, proof, "two_factor.reset")
    _clear(user)
    audit_change("two_factor.reset", actor=actor, subject=user)
    security_changed(user, SecurityChange.TWO_FACTOR_RESET, actor=actor)


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def check_second_factor(user: User, code: str) -> SecondFactorResult:
    """At login, after the password: a code from the app (each step once) or an unused recovery code (once)."""
    used = use_code(user, code)
    if not used.accepted:
        audit_change("login.second_factor_refused", actor=user, subject=user)
        db.session.flush()
        return SecondFactorResult(False)
    user.last_login_at = utcnow()
    left = 0
    if used.recovery_code:  # counted only then: a code from the app needs no count
        left = recovery_codes_left(user)
        audit_change("login.recovery_code_used", actor=user, subject=user, recovery_codes_left=left)
        tell_owner(user, SecurityChange.RECOVERY_CODE_USED)
    audit_change("login.succeeded", actor=user, subject=user, second_factor=True)
    db.session.flush()
    return SecondFactorResult(True, used.recovery_code, left)
