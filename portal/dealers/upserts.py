"""A dealer as another system keeps it (the ERP's dealer master), put by its code: created when new, else its
profile, status and tier brought to what was sent, each through the service the admin's pages use (so each change
has its own rules, event, audit row and notice), and nothing recorded when nothing differs: sending the same
record twice changes nothing the second time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select

from portal.accounts.models import User, UserRole
from portal.dealers.models import Dealer, DealerTier, Territory
from portal.dealers.rules import DealerStatus
from portal.dealers.services import (
    DealerProfile,
    change_dealer_status,
    create_dealer,
    reassign_dealer,
    set_dealer_contacts,
    update_dealer,
)
from portal.dealers.tiers import TierChange, change_tier, tiers_on
from portal.extensions import db
from portal.request_locale import gettext as _
from portal.service_errors import InvalidInput


@dataclass(frozen=True)
class DealerRecord:
    """What the other system sends: codes and names, not the portal's ids."""

    name: str
    territory_code: str
    status: DealerStatus
    status_reason: str = ""
    currency: str = "CNY"
    tier: DealerTier = DealerTier.BRONZE  # the tier a new dealer joins with
    tier_change: TierChange | None = None  # an existing dealer's tier from a day on
    manager_email: str | None = None  # None: left as it is
    payee_name: str = ""
    payee_bank: str = ""
    payee_account: str = ""
    contacts: list[dict[str, str]] | None = None  # None: left as they are


@dataclass(frozen=True)
class UpsertResult:
    dealer: Dealer
    created: bool
    changes: list[str]


def _territory_id(code: str) -> int:
    found = db.session.execute(select(Territory.id).where(Territory.code == code.strip().upper())).scalar_one_or_none()
    if found is None:
        raise InvalidInput("territory", _("No territory has the code %(code)s.", code=code))
    return found


def _manager_id(email: str) -> int | None:
    if not email.strip():
        return None
    found = db.session.execute(
        select(User.id).where(User.email == email.strip().lower(), User.role == UserRole.MANAGER, User.active)
    ).scalar_one_or_none()
    if found is None:
        raise InvalidInput("manager_email", _("No active channel manager has this email address."))
    return found


def upsert_dealer(actor: User, code: str, record: DealerRecord, today: date | None = None) -> UpsertResult:
    """Create the dealer or bring it to `record`; returns what changed ("created", "profile", "contacts",
    "manager", "status", "tier")."""
    code = code.strip().upper()
    profile = DealerProfile(
        name=record.name.strip(),
        territory_id=_territory_id(record.territory_code),
        tier=record.tier,
        currency=record.currency.strip().upper(),
        payee_name=record.payee_name.strip(),
        payee_bank=record.payee_bank.strip(),
        payee_account=record.payee_account.strip(),
    )
    if not profile.name:
        raise InvalidInput("name", _("Give the dealer's name."))
    dealer = db.session.execute(select(Dealer).where(Dealer.code == code)).scalar_one_or_none()
    if dealer is None:
        manager_id = _manager_id(record.manager_email) if record.manager_email else None
        dealer = create_dealer(actor, code=code, profile=profile, status=record.status, manager_id=manager_id)
        if record.contacts:
            set_dealer_contacts(actor, dealer, record.contacts)
        return UpsertResult(dealer, True, ["created"])
    changes: list[str] = []
    fields = ("name", "territory_id", "currency", "payee_name", "payee_bank", "payee_account")
    if any(getattr(dealer, field) != getattr(profile, field) for field in fields):
        update_dealer(actor, dealer, replace(profile, tier=dealer.tier))
        changes.append("profile")
    if record.contacts is not None and set_dealer_contacts(actor, dealer, record.contacts):
        changes.append("contacts")
    if record.manager_email is not None:
        manager_id = _manager_id(record.manager_email)
        if manager_id is not None and manager_id != dealer.manager_id:
            reassign_dealer(actor, dealer, manager_id)
            changes.append("manager")
    if record.status is not dealer.status:
        change_dealer_status(
            actor, dealer, expected=dealer.status, target=record.status, reason=record.status_reason or ""
        )
        changes.append("status")
    if record.tier_change is not None:
        wanted = record.tier_change
        if tiers_on([dealer.id], wanted.effective_from)[dealer.id] is not wanted.tier:
            change_tier(actor, dealer, wanted)
            changes.append("tier")
    db.session.flush()
    return UpsertResult(dealer, False, changes)
