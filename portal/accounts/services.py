"""Account rules: authentication, sessions that really end, password changes, language preference."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from sqlalchemy import Select, distinct, func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.access import AccessRole, require_role
from portal.accounts.models import DealerRole, User, UserRole
from portal.accounts.proof import Proof, SecurityChange, prove, security_changed
from portal.accounts.tokens import make_email_change_token, make_token
from portal.audit.models import AuditEvent
from portal.audit.services import audit_change, record_event, snapshot
from portal.database import contains_pattern, rows_changed
from portal.extensions import db
from portal.notifications.links import link
from portal.notifications.services import absolute_url, notify, queue_email, recipient_locale
from portal.page_cache import writes_for
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import utcnow


@cache
def _dummy_hash(method: str) -> str:
    """Checked against when the email is unknown, so both answers take the same time."""
    return generate_password_hash("not-a-real-password", method=method)


class LoginOutcome(enum.Enum):
    SUCCEEDED = "succeeded"
    BAD_CREDENTIALS = "bad_credentials"
    ACCOUNT_DISABLED = "account_disabled"
    SECOND_FACTOR_NEEDED = "second_factor_needed"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    """scrypt through Werkzeug; the cost is configurable (tests use a cheap one, production keeps the default)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(db.select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def account_id_for(email: str) -> int | None:
    return db.session.execute(select(User.id).where(User.email == normalise_email(email))).scalar_one_or_none()


def authenticate(email: str, password: str) -> LoginResult:
    """Check credentials and record the attempt. Unknown email and wrong password are indistinguishable."""
    user = find_user_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        record_event("login.failed", actor_id=None, subject_label=normalise_email(email), details={"known_user": False})
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if not check_password_hash(user.password_hash, password):
        audit_change("login.failed", actor=user, subject=user)
        _warn_if_under_attack(user)
        return LoginResult(LoginOutcome.BAD_CREDENTIALS)
    if not user.is_active:
        audit_change("login.refused", actor=user, subject=user)
        return LoginResult(LoginOutcome.ACCOUNT_DISABLED)
    if user.has_two_factor:  # the login ends in two_factor.check_second_factor
        audit_change("login.password_accepted", actor=user, subject=user)
        db.session.flush()
        return LoginResult(LoginOutcome.SECOND_FACTOR_NEEDED, user)
    user.last_login_at = utcnow()
    audit_change("login.succeeded", actor=user, subject=user)
    db.session.flush()
    return LoginResult(LoginOutcome.SUCCEEDED, user)


def _warn_if_under_attack(user: User) -> None:
    """Many wrong passwords for one account within an hour: its owner is told by email (once an hour at most, the
    conditional UPDATE deciding when two failures race), with how many and from how many addresses. Nothing of it
    shows in the login's answer, so it tells a guesser nothing."""
    db.session.flush()
    since = utcnow() - timedelta(hours=1)
    failures, places = db.session.execute(
        select(func.count(), func.count(distinct(AuditEvent.ip_address))).where(
            AuditEvent.subject_type == "user",
            AuditEvent.subject_id == user.id,
            AuditEvent.action == "login.failed",
            AuditEvent.occurred_at >= since,
        )
    ).one()
    if failures < current_app.config["LOGIN_WARNING_AFTER"]:
        return
    with writes_for(users=[user.id]):
        first_this_hour = rows_changed(
            db.session.execute(
                update(User)
                .where(User.id == user.id, or_(User.login_warning_at.is_(None), User.login_warning_at < since))
                .values(login_warning_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        )
    if first_this_hour == 1:
        audit_change("login.attack_warned", actor=None, subject=user, failures=failures, places=places)
        notify([user], "login_attempts", {"count": failures, "places": max(places, 1)}, link=link("accounts.account"))


def log_out(user: User) -> None:
    """Rotate the session token so that a copy of the old cookie no longer logs anyone in."""
    user.rotate_session_token()
    audit_change("logout", actor=user, subject=user)
    db.session.flush()


def change_password(user: User, proof: Proof, new_password: str) -> None:
    """The current password (and a code, with a second factor on) proves it is the user; every other session ends."""
    prove(user, proof, "password.change")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    audit_change("password.changed", actor=user, subject=user)
    security_changed(user, SecurityChange.PASSWORD)


# --- Changing one's email address: proved, then confirmed from the new address ---------------------------------


def request_email_change(user: User, new_email: str, proof: Proof) -> str:
    """After the proof, a link to confirm goes to the new address (which must be the person's: it becomes the
    account's login and where its password links go); the old address is told that a change was asked for.
    Nothing changes until the link is used. Returns the normalised new address."""
    prove(user, proof, "email.change")
    wanted = normalise_email(new_email)
    if wanted == user.email:
        raise InvalidInput("new_email", _("That is already your email address."))
    if find_user_by_email(wanted) is not None:
        raise InvalidInput("new_email", _("Someone already uses this email address in the portal."))
    _queue_email_change_link(user, wanted)
    audit_change("email.change_requested", actor=user, subject=user, after={"email": wanted})
    db.session.flush()
    return wanted


def _queue_email_change_link(user: User, new_email: str) -> None:

    link = absolute_url(url_for("accounts.confirm_email_change", token=make_email_change_token(user, new_email)))
    with force_locale(recipient_locale(user)):
        values = {"user": user, "link": link, "new_email": new_email}
        queue_email(
            user,
            subject=_("Confirm your new email address"),
            to=new_email,
            text_body=render_template("email/email_change.txt", **values),
            html_body=render_template("email/email_change.html", **values),
        )
        queue_email(
            user,
            subject=_("A change of your email address was asked for"),
            text_body=render_template("email/email_change_requested.txt", **values),
            html_body=render_template("email/email_change_requested.html", **values),
        )


def confirm_email_change(user: User, new_email: str) -> None:
    """The link from the new address was opened and confirmed: the address changes, every session ends, and both
    the old and the new address are told."""
    if find_user_by_email(new_email) is not None:
        raise InvalidInput("email", _("Someone already uses this email address in the portal."))
    old_email = user.email
    user.email = new_email
    audit_change("email.changed", actor=user, subject=user, before={"email": old_email}, after={"email": new_email})
    security_changed(user, SecurityChange.EMAIL, old_email=old_email)


def deactivate_user(user: User, *, actor: User, reason: str = "") -> None:
    """Deactivated users cannot log in and their open sessions end at their next request. Who did it, in which
    role and why is kept with the account."""
    if not user.active:
        return
    user.active = False
    _record_deactivation(user, actor, reason)
    audit_change(
        "user.deactivated",
        actor=actor,
        subject=user,
        before={"active": True},
        after={"active": False},
        reason=reason.strip()[:300],
    )
    db.session.flush()


def _record_deactivation(user: User, actor: User, reason: str) -> None:
    user.rotate_session_token()
    user.deactivated_by_id, user.deactivated_by_role = actor.id, actor.role
    user.deactivated_at, user.deactivation_reason = utcnow(), reason.strip()[:300]


def _clear_deactivation(user: User) -> None:
    user.deactivated_by_id = user.deactivated_by_role = user.deactivated_at = None
    user.deactivation_reason = ""


def may_reactivate(actor: User, user: User) -> bool:
    """An administrator's decision outranks a dealer owner's: an owner may undo only an owner's deactivation."""
    if actor.access_role is AccessRole.ADMIN:
        return True
    return not user.deactivated_by_administrator


def reactivate_user(user: User, *, actor: User) -> None:
    if user.active:
        return
    if not may_reactivate(actor, user):
        raise IllegalTransition(
            _("An administrator deactivated %(name)s, so only an administrator can reactivate them.", name=user.name)
        )
    user.active = True
    _clear_deactivation(user)
    audit_change("user.reactivated", actor=actor, subject=user, before={"active": False}, after={"active": True})
    db.session.flush()


def set_language(user: User, locale: str) -> None:
    if user.locale == locale:
        return
    before = user.locale
    user.locale = locale
    audit_change("user.language_changed", actor=user, subject=user, before={"locale": before}, after={"locale": locale})
    db.session.flush()


# --- Administration of users -----------------------------------------------------------------------------------

USER_FIELDS = (
    "email",
    "name",
    "role",
    "dealer_id",
    "dealer_role",
    "is_senior",
    "locale",
    "timezone",
    "active",
    "two_factor_required",
)


@dataclass(frozen=True)
class UserDetails:
    email: str
    name: str
    role: UserRole
    dealer_code: str
    dealer_role: DealerRole | None
    is_senior: bool
    locale: str | None
    timezone: str
    active: bool
    two_factor_required: bool = False


# Dealers stand on accounts: what the user administration needs of them is plugged in by the dealers area.
DealerLookup = Callable[[str], int | None]
UserChangeCheck = Callable[[User, UserRole, bool], None]
_dealer_lookups: list[DealerLookup] = []
_USER_CHANGE_CHECKS: list[UserChangeCheck] = []


def register_dealer_lookup(lookup: DealerLookup) -> None:
    """How a dealer code typed on the user form becomes the dealer's id (None: no such dealer)."""
    _dealer_lookups[:] = [lookup]


def register_user_change_check(check: UserChangeCheck) -> None:
    """A rule of a higher area about changing someone's role or deactivating them (a channel manager who still has
    dealers stays a manager): called with the user, the new role and whether they stay active; raises InvalidInput."""
    if check not in _USER_CHANGE_CHECKS:
        _USER_CHANGE_CHECKS.append(check)


def _dealer_id(code: str) -> int | None:
    return _dealer_lookups[0](code) if _dealer_lookups and code else None


def _validated(details: UserDetails, *, existing: User | None) -> dict[str, object]:
    email = normalise_email(details.email)
    other = find_user_by_email(email)
    if other is not None and other is not existing:
        raise InvalidInput("email", _("Someone already uses this email address in the portal."))
    values: dict[str, object] = {
        "email": email,
        "name": details.name.strip(),
        "role": details.role,
        "locale": details.locale or None,
        "timezone": details.timezone,
        "active": details.active,
        "is_senior": details.is_senior and details.role is UserRole.MANAGER,
        # Offered to staff, who decide on money and disputes; a dealer account keeps the flag off.
        "two_factor_required": details.two_factor_required and details.role is not UserRole.DEALER,
        "dealer_id": None,
        "dealer_role": None,
    }
    if details.role is UserRole.DEALER:
        code = details.dealer_code.strip().upper()
        dealer_id = _dealer_id(code)
        if not code or dealer_id is None:
            raise InvalidInput("dealer_code", _("A dealer user belongs to a dealer: enter an existing dealer code."))
        values["dealer_id"] = dealer_id
        values["dealer_role"] = details.dealer_role or DealerRole.STAFF
    return values


def create_user(actor: User, details: UserDetails, temporary_password: str) -> User:
    """Admins create accounts with a temporary password to change at first login, or invite them by email."""
    require_role(actor, AccessRole.ADMIN)
    user = User(
        **_validated(details, existing=None),
        password_hash=hash_password(temporary_password) if temporary_password else unusable_password_hash(),
        must_change_password=bool(temporary_password),
    )
    db.session.add(user)
    db.session.flush()
    audit_change("user.created", actor=actor, subject=user, after=snapshot(user, USER_FIELDS))
    if not temporary_password:
        invite(user, inviter=actor)
    db.session.flush()
    return user


def update_user(
    actor: User,
    user: User,
    details: UserDetails,
    temporary_password: str = "",
    deactivation_reason: str = "",
    proof: Proof | None = None,
) -> None:
    """An administrator's edit. Changing someone's email address or setting a temporary password changes how the
    account is reached or signed in to, so it asks for the administrator's own proof of identity, ends the account's
    sessions and tells its owner (at the old address too)."""
    require_role(actor, AccessRole.ADMIN)
    values = _validated(details, existing=user)
    if user.id == actor.id and (not values["active"] or values["role"] is not UserRole.ADMIN):
        raise InvalidInput("active", _("You cannot deactivate your own account or remove your own admin role."))
    for check in _USER_CHANGE_CHECKS:
        check(user, UserRole(str(values["role"])), bool(values["active"]))
    old_email = user.email
    sensitive = values["email"] != old_email or bool(temporary_password)
    if sensitive:
        if proof is None or not proof.password:
            raise InvalidInput(
                "password", _("Enter your own password to change this person's email address or password.")
            )
        prove(actor, proof, "user.update")
    before = snapshot(user, USER_FIELDS)
    for field, value in values.items():
        setattr(user, field, value)
    if before["active"] and not user.active:
        _record_deactivation(user, actor, deactivation_reason)
    elif not before["active"] and user.active:
        _clear_deactivation(user)
    extra: dict[str, object] = {}
    if temporary_password:
        user.password_hash = hash_password(temporary_password)
        user.must_change_password = True
        extra["temporary_password_set"] = True
    audit_change("user.updated", actor=actor, subject=user, before=before, after=snapshot(user, USER_FIELDS), **extra)
    if user.email != old_email:
        security_changed(user, SecurityChange.EMAIL, actor=actor, old_email=old_email)
    if temporary_password:
        security_changed(user, SecurityChange.TEMPORARY_PASSWORD, actor=actor)
    db.session.flush()


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.is_service:  # an integration client's identity is managed with the client
        raise NotFound()
    return user


def search_users(text: str, role: UserRole | None) -> Select[User]:
    query = select(User).where(User.is_service.is_(False)).order_by(User.name, User.id)
    text = text.strip()
    if text:
        pattern = contains_pattern(text)
        query = query.where(or_(User.name.ilike(pattern), User.email.ilike(pattern)))
    if role is not None:
        query = query.where(User.role == role)
    return query


# --- Forgotten passwords and invitations ---------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Queue a reset link if the address belongs to an active user; the caller answers the same either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        record_event("password.reset_requested", actor_id=None, subject_label=normalise_email(email)[:200])
        return
    _queue_link_email(user, "reset", "email/password_reset")
    audit_change("password.reset_requested", actor=None, subject=user)
    db.session.flush()


def invite(user: User, *, inviter: User) -> None:
    """Email a set-your-password link; the account has no usable password until then."""
    _queue_link_email(user, "invitation", "email/invitation", inviter=inviter)
    audit_change("user.invited", actor=inviter, subject=user)
    db.session.flush()


def _queue_link_email(user: User, purpose: str, template: str, **context: object) -> None:

    endpoint = "accounts.reset_password" if purpose == "reset" else "accounts.accept_invitation"
    link = absolute_url(url_for(endpoint, token=make_token(user, purpose)))
    with force_locale(recipient_locale(user)):
        subject = _("Set a new password") if purpose == "reset" else _("You are invited to the Dealer Partner Portal")
        values = {"user": user, "link": link, **context}
        queue_email(
            user,
            subject=subject,
            text_body=render_template(f"{template}.txt", **values),
            html_body=render_template(f"{template}.html", **values),
        )


def set_password_from_link(user: User, new_password: str, purpose: str) -> None:
    """Set the password a link allows; rotating the session token makes the link unusable afterwards."""
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    user.rotate_session_token()
    audit_change("password.reset" if purpose == "reset" else "invitation.accepted", actor=user, subject=user)
    db.session.flush()


def unusable_password_hash() -> str:
    """For invited users until they choose a password: a hash of a random secret nobody knows."""

    return hash_password(secrets.token_urlsafe(32))
