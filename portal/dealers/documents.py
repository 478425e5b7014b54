"""Dealer documents (business licence, contracts, tax registration): the first owner of evidence files.

Who may see them is who may see the dealer; its own people add them; an owner or the uploader removes them.
"""

from __future__ import annotations

from sqlalchemy import select

from portal.access import DEALER_USERS, AccessRole
from portal.accounts.models import User
from portal.dealers.models import Dealer
from portal.dealers.rules import can_manage_people
from portal.dealers.services import visible_dealers
from portal.evidence.models import Evidence
from portal.evidence.services import OwnerRules, register_owner
from portal.extensions import db

OWNER_TYPE = "dealer_document"


def can_view(user: User, dealer_id: int) -> bool:
    return db.session.execute(visible_dealers(user).where(Dealer.id == dealer_id)).first() is not None


def can_add(user: User, dealer_id: int) -> bool:
    if user.access_role not in DEALER_USERS or user.dealer_id != dealer_id or user.dealer is None:
        return False
    return can_manage_people(user.dealer.status)


def can_remove(user: User, evidence: Evidence) -> bool:
    if user.access_role not in DEALER_USERS or user.dealer_id != evidence.owner_id:
        return False
    return user.access_role is AccessRole.DEALER_OWNER or evidence.uploaded_by_id == user.id


def register() -> None:
    register_owner(OWNER_TYPE, OwnerRules(can_view=can_view, can_add=can_add, can_remove=can_remove))


def uploaders(documents: list[Evidence]) -> dict[int, str]:
    ids = {document.uploaded_by_id for document in documents if document.uploaded_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
