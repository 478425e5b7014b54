"""Proof of identity before a security-sensitive change of an account, and what follows every such change.

A logged-in browser does not prove that the account's owner is at it: a session cookie can be copied, a laptop left
unlocked. So every change to how an account signs in or is reached (its password, its email address, its second
factor, an administrator's reset or temporary password) asks again for the password of the person making it and,
once their second factor is on, for a current code from the app or a recovery code. `prove` is the one place that
checks; routes and services never compare a password themselves. After the change, `security_changed` ends every
other session of the account and tells its owner in the portal and by email, whatever their email settings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.security import check_password_hash

from portal.accounts.codes import use_code
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.database import locked_for_update
from portal.extensions import db
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify, queue_notification_email
from portal.request_locale import gettext as _
from portal.request_locale import lazy_gettext as _l
from portal.service_errors import InvalidInput
from portal.types import register_labels


class SecurityChange(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 - the name of a change, not a password
    TEMPORARY_PASSWORD = "temporary_password"  # noqa: S105
    EMAIL = "email"
    TWO_FACTOR_ON = "two_factor_on"
    TWO_FACTOR_MOVED = "two_factor_moved"
    RECOVERY_CODES = "recovery_codes"
    TWO_FACTOR_OFF = "two_factor_off"
    TWO_FACTOR_RESET = "two_factor_reset"
    RECOVERY_CODE_USED = "recovery_code_used"  # told, though nothing changed: the printed list may be in other hands


register_labels(
    {
        SecurityChange.PASSWORD: _l("Your password was changed."),
        SecurityChange.TEMPORARY_PASSWORD: _l("An administrator set a temporary password for your account."),
        SecurityChange.EMAIL: _l("The email address of your account was changed."),
        SecurityChange.TWO_FACTOR_ON: _l("Two-factor sign-in was turned on for your account."),
        SecurityChange.TWO_FACTOR_MOVED: _l("Two-factor sign-in was moved to a new authenticator app."),
        SecurityChange.RECOVERY_CODES: _l("New recovery codes were made for your account; the old ones stop working."),
        SecurityChange.TWO_FACTOR_OFF: _l("Two-factor sign-in was turned off for your account."),
        SecurityChange.TWO_FACTOR_RESET: _l("An administrator reset the two-factor sign-in of your account."),
        SecurityChange.RECOVERY_CODE_USED: _l("A recovery code was used to log in to your account."),
    }
)


@dataclass(frozen=True)
class Proof:
    """What the person typed to prove it is them: their password, and a code when their second factor is on."""

    password: str
    code: str = ""


class ProofRefused(InvalidInput):
    """The password or the code is wrong; `field` says which, so the form puts the message next to it."""

    def __init__(self, field: str, message: str, user: User, action: str) -> None:
        super().__init__(field, message)
        self.user_id, self.action = user.id, action


def record_refusal(refusal: ProofRefused) -> None:
    """After the caller rolled the refused change back (nothing of it is kept, not even a code it used up), the
    refusal itself is audited on its own."""
    user = db.session.get(User, refusal.user_id)
    if user is not None:
        audit_change("security.proof_refused", actor=user, subject=user, change=refusal.action, wrong=refusal.field)


def needs_code(user: User) -> bool:
    return user.has_two_factor


def prove(user: User, proof: Proof, action: str) -> None:
    """Accept the proof or raise ProofRefused, which the caller audits with record_refusal after rolling back. A
    code given here is used up like one given at login (unless the change is refused and rolled back).

    The account's row is locked first (PostgreSQL; SQLite's writers are one at a time already): two changes of one
    account's security at once are made one after the other, never interleaved into a deadlock."""
    db.session.execute(locked_for_update(select(User.id).where(User.id == user.id)))
    if not check_password_hash(user.password_hash, proof.password):
        raise ProofRefused("password", _("This is not your current password."), user, action)
    if needs_code(user):
        if not proof.code.strip():
            raise ProofRefused(
                "code", _("Enter the code your authenticator app shows, or one of your recovery codes."), user, action
            )
        used = use_code(user, proof.code)
        if not used.accepted:
            raise ProofRefused(
                "code", _("That code is not right, or it was already used. Try the newest code."), user, action
            )
        if used.recovery_code:
            audit_change("security.recovery_code_used", actor=user, subject=user, change=action)
            tell_owner(user, SecurityChange.RECOVERY_CODE_USED)
    db.session.flush()


def security_changed(user: User, change: SecurityChange, *, actor: User | None = None, old_email: str = "") -> None:
    """After any security-sensitive change: every session of the account ends (a browser of the person who made the
    change logs in again under the new token), the change is audited, and the account's owner is told in the
    portal and by email, also at the old address when the address itself changed."""
    user.rotate_session_token()
    audit_change(f"security.{change.value}", actor=actor or user, subject=user)
    tell_owner(user, change, old_email=old_email)


def tell_owner(user: User, change: SecurityChange, *, old_email: str = "") -> None:
    """The account's owner hears of it in the portal and by email, whatever their email settings."""
    told = {"change": params.choice(change)}
    notify([user], "security_notice", told, link=link("accounts.account"))
    if old_email and old_email != user.email:
        queue_notification_email(user, "security_notice", told, link("accounts.account"), to=old_email)
    db.session.flush()
