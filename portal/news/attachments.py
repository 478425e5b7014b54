"""An announcement's attachments (a price sheet, the signed policy as a PDF) through the evidence store: checked,
fingerprinted and kept like every file in the portal. Who sees them is who may read or manage the announcement;
they are added and removed while it is a draft, by whoever may change it, since a published announcement is what
dealers read and is never edited."""

from __future__ import annotations

from portal.accounts.models import User
from portal.evidence.models import Evidence
from portal.evidence.services import OwnerRules, register_owner
from portal.extensions import db
from portal.news import services
from portal.news.models import Announcement
from portal.news.rules import is_draft
from portal.service_errors import NotFound

OWNER_TYPE = "announcement"


def can_view(user: User, announcement_id: int) -> bool:
    try:
        if user.access_role in services.WRITERS:
            services.get_managed(user, announcement_id)
        elif user.access_role in services.READERS:
            services.get_readable(user, announcement_id)
        else:
            return False
    except NotFound:
        return False
    return True


def can_add(user: User, announcement_id: int) -> bool:
    found = db.session.get(Announcement, announcement_id)
    return (
        found is not None
        and user.access_role in services.WRITERS
        and services.can_manage(user, found)
        and is_draft(found.status)
    )


def can_remove(user: User, evidence: Evidence) -> bool:
    return can_add(user, evidence.owner_id)


def register() -> None:
    register_owner(OWNER_TYPE, OwnerRules(can_view=can_view, can_add=can_add, can_remove=can_remove))
