"""A dealer owner's people: staff accounts (add, deactivate, reactivate, make owner) and trainees.

Only an active owner of the same dealer may change them. Changes lock the dealer row first (FOR UPDATE on
PostgreSQL; SQLite's writers are already serialised by BEGIN IMMEDIATE) and re-read the acting owner, so two owners
deactivating each other at the same moment cannot leave the dealer without an owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.access import AccessRole, require_role
from portal.accounts.models import DealerRole, User, UserRole
from portal.accounts.services import (
    deactivate_user,
    find_user_by_email,
    hash_password,
    invite,
    normalise_email,
    reactivate_user,
    unusable_password_hash,
)
from portal.audit.services import audit_change, snapshot
from portal.dealers.models import Dealer, Trainee
from portal.dealers.rules import can_manage_people
from portal.dealers.services import dealer_owners
from portal.extensions import db
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.request_locale import gettext as _
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound

TRAINEE_FIELDS = ("name", "job_title", "email", "phone")


@dataclass(frozen=True)
class TraineeDetails:
    name: str
    job_title: str = ""
    email: str = ""
    phone: str = ""


def can_manage_dealer_people(user: User) -> bool:
    return (
        user.access_role is AccessRole.DEALER_OWNER
        and user.dealer is not None
        and can_manage_people(user.dealer.status)
    )


def _lock_for_owner(actor: User) -> Dealer:
    """Lock the actor's dealer and confirm, with current data, that the actor is still an active owner of it."""
    require_role(actor, AccessRole.DEALER_OWNER)
    locked = db.session.execute(select(Dealer.id).where(Dealer.id == actor.dealer_id).with_for_update()).first()
    dealer = db.session.get(Dealer, actor.dealer_id) if locked else None
    db.session.refresh(actor)
    if dealer is None or not actor.active or actor.dealer_role is not DealerRole.OWNER:
        raise Forbidden()
    if not can_manage_people(dealer.status):
        raise IllegalTransition(_("This dealer's people cannot be changed in its current status."))
    return dealer


def get_colleague(actor: User, user_id: int) -> User:
    """A person with a login at the actor's own dealer; anyone else is 404."""
    person = db.session.get(User, user_id)
    if person is None or actor.dealer_id is None or person.dealer_id != actor.dealer_id:
        raise NotFound()
    return person


def get_trainee(actor: User, trainee_id: int) -> Trainee:
    trainee = db.session.get(Trainee, trainee_id)
    if trainee is None or actor.dealer_id is None or trainee.dealer_id != actor.dealer_id:
        raise NotFound()
    return trainee


def dealer_trainees(dealer: Dealer) -> list[Trainee]:
    return list(
        db.session.execute(
            select(Trainee).where(Trainee.dealer_id == dealer.id).order_by(Trainee.active.desc(), Trainee.name)
        ).scalars()
    )


def add_staff(actor: User, *, name: str, email: str, temporary_password: str) -> User:
    dealer = _lock_for_owner(actor)
    if find_user_by_email(email) is not None:
        raise InvalidInput("email", _("Someone already uses this email address in the portal."))
    person = User(
        email=normalise_email(email),
        name=name.strip(),
        role=UserRole.DEALER,
        dealer_id=dealer.id,
        dealer_role=DealerRole.STAFF,
        locale=actor.locale,
        timezone=actor.timezone,
        password_hash=hash_password(temporary_password) if temporary_password else unusable_password_hash(),
        must_change_password=bool(temporary_password),
    )
    db.session.add(person)
    db.session.flush()
    if not temporary_password:
        invite(person, inviter=actor)
    audit_change("user.created", actor=actor, subject=person, after=snapshot(person, ("email", "name", "dealer_role")))
    other_owners = [owner for owner in dealer_owners(dealer) if owner.id != actor.id]
    notify(
        other_owners,
        "colleague_added",
        {"name": person.name, "dealer": dealer.name},
        link=link("dealers.dealer_people_page"),
    )
    db.session.flush()
    return person


def deactivate_colleague(actor: User, person: User) -> None:
    _lock_for_owner(actor)
    if person.id == actor.id:
        raise IllegalTransition(_("You cannot deactivate your own account."))
    db.session.refresh(person)
    deactivate_user(person, actor=actor)


def reactivate_colleague(actor: User, person: User) -> None:
    """Only a colleague an owner deactivated: one the administrator deactivated stays off (accounts.services)."""
    _lock_for_owner(actor)
    db.session.refresh(person)
    reactivate_user(person, actor=actor)


def make_owner(actor: User, person: User) -> None:
    _lock_for_owner(actor)
    db.session.refresh(person)
    if not person.active:
        raise IllegalTransition(_("Reactivate this person before making them an owner."))
    if person.dealer_role is DealerRole.OWNER:
        return
    person.dealer_role = DealerRole.OWNER
    audit_change(
        "user.made_owner", actor=actor, subject=person, before={"dealer_role": "staff"}, after={"dealer_role": "owner"}
    )
    db.session.flush()


def add_trainee(actor: User, details: TraineeDetails) -> Trainee:
    dealer = _lock_for_owner(actor)
    trainee = Trainee(dealer_id=dealer.id, **_clean(details))
    db.session.add(trainee)
    db.session.flush()
    audit_change("trainee.created", actor=actor, subject=trainee, after=snapshot(trainee, TRAINEE_FIELDS))
    db.session.flush()
    return trainee


def update_trainee(actor: User, trainee: Trainee, details: TraineeDetails) -> None:
    _lock_for_owner(actor)
    before = snapshot(trainee, TRAINEE_FIELDS)
    for field, value in _clean(details).items():
        setattr(trainee, field, value)
    audit_change(
        "trainee.updated", actor=actor, subject=trainee, before=before, after=snapshot(trainee, TRAINEE_FIELDS)
    )
    db.session.flush()


def remove_trainee(actor: User, trainee: Trainee) -> None:
    """Trainees are kept (their training history stays) but no longer offered for enrolment."""
    _lock_for_owner(actor)
    if not trainee.active:
        return
    trainee.active = False
    audit_change("trainee.removed", actor=actor, subject=trainee, before={"active": True}, after={"active": False})
    db.session.flush()


def _clean(details: TraineeDetails) -> dict[str, str]:
    return {
        "name": details.name.strip(),
        "job_title": details.job_title.strip(),
        "email": normalise_email(details.email),
        "phone": details.phone.strip(),
    }
