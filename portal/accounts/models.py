"""Portal users. Dealer users belong to one dealer; channel staff (managers, mediators, admins) to none."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.access import AccessRole
from portal.extensions import Model
from portal.page_cache import CHANNEL, RowWrite, WriteScope, by_user, dealer_keys, register_write_scope, user_generation
from portal.request_locale import lazy_gettext as _l
from portal.types import UTCDateTime, register_labels, str_enum, utcnow

if TYPE_CHECKING:
    from portal.dealers.models import Dealer


class UserRole(enum.StrEnum):
    DEALER = "dealer"
    MANAGER = "manager"
    MEDIATOR = "mediator"
    ADMIN = "admin"
    INSPECTOR = "inspector"  # field staff: records sightings of coded goods and prices in shops


class DealerRole(enum.StrEnum):
    OWNER = "owner"
    STAFF = "staff"


register_labels(
    {
        UserRole.DEALER: _l("Dealer user"),
        UserRole.MANAGER: _l("Channel manager"),
        UserRole.MEDIATOR: _l("Mediator"),
        UserRole.ADMIN: _l("Administrator"),
        UserRole.INSPECTOR: _l("Inspector"),
    }
)
register_labels(
    {
        DealerRole.OWNER: _l("Owner"),
        DealerRole.STAFF: _l("Staff"),
    }
)
register_labels(
    {
        AccessRole.DEALER_OWNER: _l("Dealer owner"),
        AccessRole.DEALER_STAFF: _l("Dealer staff"),
        AccessRole.MANAGER: _l("Channel manager"),
        AccessRole.SENIOR_MANAGER: _l("Senior channel manager"),
        AccessRole.MEDIATOR: _l("Mediator"),
        AccessRole.ADMIN: _l("Administrator"),
        AccessRole.INSPECTOR: _l("Inspector"),
    }
)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    dealer_role: Mapped[DealerRole | None] = mapped_column(str_enum(DealerRole))
    is_senior: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # An integration client's own identity (as Zulip's bots are users): it acts in the audit trail under the
    # client's name, can never sign in (inactive, no password) and is listed with the clients, not the people.
    is_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Flask-Login's alternative token: the session cookie holds this, not the id, so rotating it ends every session.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Two-factor sign-in (staff only): the authenticator's shared secret once confirmed, a secret being set up (kept
    # apart so the old authenticator works until the new one is confirmed), and the last 30-second step accepted, so
    # a code seen over someone's shoulder cannot be used again.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    two_factor_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who turned the account off, in which role, when and why: an administrator's deactivation outranks a dealer
    # owner's, so an owner may undo only a deactivation by an owner (accounts.services.may_reactivate).
    deactivated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_users_deactivated_by_id_users")
    )
    deactivated_by_role: Mapped[UserRole | None] = mapped_column(str_enum(UserRole))
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivation_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # When the owner was last told that someone is guessing the password: once an hour at most.
    login_warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    dealer: Mapped[Dealer | None] = relationship(foreign_keys=[dealer_id], lazy="joined")

    # Flask-Login protocol
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active and (self.dealer is None or self.dealer.can_log_in)

    def get_id(self) -> str:
        return self.session_token

    def rotate_session_token(self) -> None:
        self.session_token = new_session_token()

    @property
    def is_staff(self) -> bool:
        return self.role is not UserRole.DEALER

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None

    @property
    def deactivated_by_administrator(self) -> bool:
        """Turned off by channel staff (an administrator), not by an owner of the dealer."""
        return (
            not self.active and self.deactivated_by_role is not None and self.deactivated_by_role is not UserRole.DEALER
        )

    @property
    def must_set_up_two_factor(self) -> bool:
        return self.two_factor_required and self.is_staff and not self.has_two_factor

    @property
    def access_role(self) -> AccessRole:
        if self.role is UserRole.DEALER:
            return AccessRole.DEALER_OWNER if self.dealer_role is DealerRole.OWNER else AccessRole.DEALER_STAFF
        if self.role is UserRole.MANAGER:
            return AccessRole.SENIOR_MANAGER if self.is_senior else AccessRole.MANAGER
        if self.role is UserRole.MEDIATOR:
            return AccessRole.MEDIATOR
        if self.role is UserRole.INSPECTOR:
            return AccessRole.INSPECTOR
        return AccessRole.ADMIN

    def audit_subject(self) -> tuple[str, int, str]:
        return "user", self.id, self.email


class RecoveryCode(Model):
    """One-time codes for when the authenticator is lost; only a hash is kept, and a used code stays as a record."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# What only the person themselves sees change: their sign-in, password, second factor and language. A change to
# anything else of someone outside a dealer (their name on every portfolio, their role) is channel-wide.
PRIVATE_USER_COLUMNS = frozenset(
    {
        "last_login_at",
        "login_warning_at",
        "password_hash",
        "password_changed_at",
        "must_change_password",
        "session_token",
        "totp_secret",
        "totp_pending_secret",
        "totp_enabled_at",
        "totp_last_step",
        "locale",
        "timezone",
    }
)


def _user_write_scope(write: RowWrite) -> list[str]:
    """A dealer's person belongs to their dealer's pages; anyone else's public change reaches every page."""
    keys = [user_generation(write.row.id)]
    if write.changed <= PRIVATE_USER_COLUMNS:
        return keys
    dealers = write.values("dealer_id")
    return keys + (dealer_keys(dealers, ()) if dealers else [CHANNEL])


register_write_scope(User, WriteScope("user", _user_write_scope))
register_write_scope(RecoveryCode, by_user("user_id"))
