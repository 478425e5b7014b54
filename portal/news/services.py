"""Publishing news and policies to dealers, reading them, and acknowledging those that must be.

Who writes: admins and senior managers to any audience; a manager to the dealers of their own portfolio (an
audience naming others is refused, and a manager's announcement never reaches a dealer outside the portfolio,
whatever its audience says). Who reads: the people of the dealers in the audience, while it is published and not
expired. A must-acknowledge announcement is acknowledged by the dealer's owner through the shared mechanism
(`dealers.acknowledgements`), the same as a price list; the owners who have not are reminded.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.orm import lazyload

from portal.access import AccessRole
from portal.accounts.models import User
from portal.audit.services import record_event
from portal.dates import company_today
from portal.dealers import acknowledgements
from portal.dealers.audiences import AudienceKind, includes, members_condition, unknown_codes
from portal.dealers.models import Acknowledgement, Dealer
from portal.dealers.services import owners_of_dealers
from portal.extensions import db
from portal.jobs import run_after_commit
from portal.news.models import ACKNOWLEDGED, Announcement
from portal.news.rules import AnnouncementKind, AnnouncementStatus, can_move, is_current
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.request_locale import gettext as _
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from portal.types import label, utcnow
from portal.workflow import move_checked

WRITERS = (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER, AccessRole.MANAGER)
EVERY_AUDIENCE = (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)
READERS = (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
TELL_READERS = "tell_announcement_readers"  # the task (tasks.py) that notifies the dealers' people
REMIND_AFTER = timedelta(days=3)  # a must-acknowledge announcement this old and not acknowledged: owners reminded
REMIND_EVERY = timedelta(days=7)
SHOWN = 200  # the newest current announcements a dealer's page considers
EDITABLE_FIELDS = (
    "kind",
    "title_en",
    "title_zh",
    "body_en",
    "body_zh",
    "audience_kind",
    "audience",
    "pinned",
    "must_acknowledge",
    "expires_on",
    "policy_key",
)


# --- Who reads and who writes -----------------------------------------------------------------------------------------


def readers_condition(announcement: Announcement) -> ColumnElement[bool]:
    """The SQL condition on Dealer for the dealers the announcement is addressed to."""
    condition = members_condition(announcement.audience_kind, announcement.audience)
    if announcement.manager_id is not None:
        condition = condition & (Dealer.manager_id == announcement.manager_id)
    return condition


def addressed_to(announcement: Announcement, dealer: Dealer) -> bool:
    """`readers_condition` for one loaded dealer."""
    if announcement.manager_id is not None and dealer.manager_id != announcement.manager_id:
        return False
    return includes(announcement.audience_kind, announcement.audience, dealer)


def can_manage(user: User, announcement: Announcement) -> bool:
    """Admins and senior managers change and publish any; a manager their own."""
    if user.access_role in EVERY_AUDIENCE:
        return True
    return user.access_role is AccessRole.MANAGER and announcement.manager_id == user.id


def _require_writer(actor: User, announcement: Announcement | None = None) -> None:
    if actor.access_role not in WRITERS:
        raise Forbidden()
    if announcement is not None and not can_manage(actor, announcement):
        raise NotFound()


def managed(user: User) -> list[Announcement]:
    """The console's list: every announcement for admins and senior managers; a manager's own and every published
    one (read only). Newest first."""
    query = select(Announcement).order_by(Announcement.created_at.desc(), Announcement.id.desc()).limit(SHOWN)
    if user.access_role is AccessRole.MANAGER:
        query = query.where(
            (Announcement.manager_id == user.id) | (Announcement.status == AnnouncementStatus.PUBLISHED)
        )
    return list(db.session.execute(query).scalars())


def get_managed(user: User, announcement_id: int) -> Announcement:
    found = db.session.get(Announcement, announcement_id)
    if found is None:
        raise NotFound()
    if user.access_role is AccessRole.MANAGER and not (
        found.manager_id == user.id or found.status is AnnouncementStatus.PUBLISHED
    ):
        raise NotFound()
    return found


def current_on(day: date | ColumnElement[date]) -> ColumnElement[bool]:
    """An announcement published and not expired on the day: what dealers read and are reminded of."""
    return (Announcement.status == AnnouncementStatus.PUBLISHED) & (
        (Announcement.expires_on.is_(None)) | (Announcement.expires_on >= day)
    )


def readable(user: User, today: date | None = None) -> list[Announcement]:
    """What a dealer's people read now: pinned first, then the newest."""
    dealer = user.dealer
    if dealer is None:
        return []
    day = today or company_today()
    published = db.session.execute(
        select(Announcement)
        .where(
            current_on(day),
        )
        .order_by(Announcement.pinned.desc(), Announcement.published_at.desc(), Announcement.id.desc())
        .limit(SHOWN)
    ).scalars()
    return [found for found in published if addressed_to(found, dealer)]


def get_readable(user: User, announcement_id: int) -> Announcement:
    """An announcement the dealer's people may open: addressed to their dealer and published (a policy replaced
    by a newer version, or expired, stays readable from the library's history)."""
    found = db.session.get(Announcement, announcement_id)
    if (
        found is None
        or user.dealer is None
        or found.status is not AnnouncementStatus.PUBLISHED
        or not addressed_to(found, user.dealer)
    ):
        raise NotFound()
    return found


def policies_in_force(user: User) -> list[tuple[Announcement, list[Announcement]]]:
    """The library: each policy's version in force (the latest published, not expired) with its earlier
    versions, newest first."""
    dealer = user.dealer
    if dealer is None:
        return []
    today = company_today()
    versions = [
        found
        for found in db.session.execute(
            select(Announcement)
            .where(Announcement.kind == AnnouncementKind.POLICY, Announcement.status == AnnouncementStatus.PUBLISHED)
            .order_by(Announcement.policy_key, Announcement.version.desc())
        ).scalars()
        if addressed_to(found, dealer)
    ]
    library = []
    for found in versions:
        if found.replaced_by_id is None and is_current(found.status, found.expires_on, today):
            earlier = [other for other in versions if other.policy_key == found.policy_key and other.id != found.id]
            library.append((found, earlier))
    return sorted(library, key=lambda entry: entry[0].texts.title_in("en").lower())


def acknowledgement_states(user: User, announcements: list[Announcement]) -> dict[int, Acknowledgement]:
    """The dealer's acknowledgements of these announcements (one query)."""
    if user.dealer_id is None:
        return {}
    return acknowledgements.acknowledgements_of(
        ACKNOWLEDGED, [found.id for found in announcements if found.must_acknowledge], user.dealer_id
    )


@functools.cache
def _to_acknowledge_statement() -> Select[Announcement]:
    """Built once: the start page asks it on every visit."""
    acknowledged = (
        select(Acknowledgement.id)
        .where(
            Acknowledgement.subject_type == ACKNOWLEDGED,
            Acknowledgement.subject_id == Announcement.id,
            Acknowledgement.dealer_id == bindparam("dealer_id"),
        )
        .exists()
    )
    return (
        select(Announcement)
        .where(
            current_on(bindparam("today")),
            Announcement.must_acknowledge.is_(True),
            ~acknowledged,
        )
        .order_by(Announcement.published_at.desc(), Announcement.id.desc())
        .options(lazyload("*"))  # not its author (a user and the user's dealer, joined): the reminder never shows them
    )


def to_acknowledge(user: User) -> list[Announcement]:
    """The current must-acknowledge announcements the user's dealer has not acknowledged yet, newest first, in one
    query (the start page asks it: the acknowledged ones and the others are left in the database)."""
    dealer = user.dealer
    if dealer is None:
        return []
    waiting = db.session.execute(
        _to_acknowledge_statement(), {"dealer_id": dealer.id, "today": company_today()}
    ).scalars()
    return [found for found in waiting if addressed_to(found, dealer)]


def report(announcement: Announcement) -> tuple[int, int, list[Dealer]]:
    """(Active dealers addressed, how many acknowledged, the first 100 that have not)."""
    asked = select(Dealer).where(readers_condition(announcement))
    done, waiting = acknowledgements.report(ACKNOWLEDGED, announcement.id, asked)
    total = db.session.execute(
        select(func.count()).where(readers_condition(announcement), Dealer.status.in_(acknowledgements.MUST_READ))
    ).scalar_one()
    return int(total), done, waiting


# --- Changing ---------------------------------------------------------------------------------------------------------


def _check_values(actor: User, values: dict[str, Any]) -> None:
    kind, codes = values["audience_kind"], values["audience"]
    if kind is not AudienceKind.ALL and not codes:
        raise InvalidInput("audience_codes", _("Name at least one tier, territory or dealer, or address every dealer."))
    unknown = unknown_codes(kind, codes)
    if unknown:
        raise InvalidInput("audience_codes", _("These codes name nothing: %(codes)s", codes=", ".join(unknown)))
    if actor.access_role is AccessRole.MANAGER and kind is AudienceKind.DEALERS:
        foreign = sorted(
            set(codes)
            - set(
                db.session.execute(
                    select(Dealer.code).where(Dealer.code.in_(codes), Dealer.manager_id == actor.id)
                ).scalars()
            )
        )
        if foreign:
            raise InvalidInput(
                "audience_codes", _("These dealers are not in your portfolio: %(codes)s", codes=", ".join(foreign))
            )
    if values["kind"] is AnnouncementKind.POLICY and not values["policy_key"]:
        raise InvalidInput("policy_key", _("A policy needs its key: the name its versions share."))


def save_draft(actor: User, announcement: Announcement | None, values: dict[str, Any]) -> Announcement:
    """Create a draft, or change one (a published announcement is what dealers read: withdrawn, never edited)."""
    _require_writer(actor, announcement)
    if announcement is not None and announcement.status is not AnnouncementStatus.DRAFT:
        raise IllegalTransition(_("Only a draft can be changed; withdraw it and write a new one."))
    _check_values(actor, values)
    created = announcement is None
    if announcement is None:
        announcement = Announcement(
            created_by_id=actor.id, manager_id=actor.id if actor.access_role is AccessRole.MANAGER else None
        )
        db.session.add(announcement)
    for field in EDITABLE_FIELDS:
        setattr(announcement, field, values[field])
    if announcement.kind is not AnnouncementKind.POLICY:
        announcement.policy_key = None
    db.session.flush()
    record_event(
        "announcement.created" if created else "announcement.changed",
        actor_id=actor.id,
        subject_type="announcement",
        subject_id=announcement.id,
        subject_label=announcement.title_en or announcement.title_zh,
    )
    return announcement


def _move(actor: User, announcement: Announcement, target: AnnouncementStatus, action: str, **values: Any) -> None:
    current = announcement.status
    move_checked(
        announcement,
        current,
        target,
        legal=can_move(current, target),
        illegal=_("An announcement that is %(now)s cannot become %(next)s.", now=label(current), next=label(target)),
        raced=_("Someone else changed this announcement at the same time; look at it again."),
        **values,
    )
    record_event(
        action,
        actor_id=actor.id,
        subject_type="announcement",
        subject_id=announcement.id,
        subject_label=announcement.title_en or announcement.title_zh,
        details={"from": current.value, "to": target.value},
    )


def publish(actor: User, announcement: Announcement) -> None:
    """Dealers read it from now; a policy's new version takes the next number and replaces the one in force."""
    _require_writer(actor, announcement)
    if not (announcement.title_en or announcement.title_zh):
        raise IllegalTransition(_("Give it a title before publishing."))
    values: dict[str, Any] = {"published_by_id": actor.id, "published_at": utcnow()}
    if announcement.kind is AnnouncementKind.POLICY:
        latest = db.session.execute(
            select(func.max(Announcement.version)).where(Announcement.policy_key == announcement.policy_key)
        ).scalar_one()
        values["version"] = int(latest or 0) + 1
    _move(actor, announcement, AnnouncementStatus.PUBLISHED, "announcement.published", **values)
    if announcement.kind is AnnouncementKind.POLICY:
        db.session.execute(
            update(Announcement)
            .where(
                Announcement.policy_key == announcement.policy_key,
                Announcement.id != announcement.id,
                Announcement.status == AnnouncementStatus.PUBLISHED,
                Announcement.replaced_by_id.is_(None),
            )
            .values(replaced_by_id=announcement.id)
            .execution_options(synchronize_session=False)
        )
    run_after_commit(TELL_READERS, announcement.id)  # thousands of readers: told by the worker


def withdraw(actor: User, announcement: Announcement) -> None:
    _require_writer(actor, announcement)
    _move(actor, announcement, AnnouncementStatus.WITHDRAWN, "announcement.withdrawn")


def acknowledge(actor: User, announcement: Announcement) -> Acknowledgement:
    """The dealer's owner has read it (the shared acknowledgement); a second press changes nothing."""
    dealer = actor.dealer
    if dealer is None or not announcement.must_acknowledge:
        raise NotFound()
    if not is_current(announcement.status, announcement.expires_on, company_today()):
        raise IllegalTransition(_("This announcement is no longer current."))
    made, new = acknowledgements.acknowledge(actor, dealer, ACKNOWLEDGED, announcement.id)
    if new:
        record_event(
            "announcement.acknowledged",
            actor_id=actor.id,
            subject_type="announcement",
            subject_id=announcement.id,
            subject_label=announcement.title_en or announcement.title_zh,
            details={"dealer": dealer.code},
        )
    return made


# --- Telling and reminding --------------------------------------------------------------------------------------------


def tell_readers(announcement_id: int) -> int:
    """Everyone with a login at the dealers addressed hears of a published announcement (email as each chose).
    Returns how many were told."""
    found = db.session.get(Announcement, announcement_id)
    if found is None or found.status is not AnnouncementStatus.PUBLISHED:
        return 0
    readers = db.session.execute(
        select(User).join(Dealer, Dealer.id == User.dealer_id).where(readers_condition(found), User.active.is_(True))
    ).scalars()
    kind = "announcement_to_acknowledge" if found.must_acknowledge else "announcement_published"
    return notify(
        readers, kind, {"title": found.title_en or found.title_zh}, link("news.item", announcement_id=found.id)
    )


def remind_unacknowledged(now: datetime | None = None) -> int:
    """Owners whose dealer has not acknowledged a current must-acknowledge announcement, three days after it was
    published and then weekly; returns how many dealers were reminded."""
    now = now or utcnow()
    today = company_today()
    reminded = 0
    waiting = db.session.execute(
        select(Announcement).where(
            current_on(today),
            Announcement.must_acknowledge.is_(True),
            Announcement.published_at <= now - REMIND_AFTER,
        )
    ).scalars()
    for found in list(waiting):
        due = acknowledgements.due_reminders(ACKNOWLEDGED, found.id, readers_condition(found), now, REMIND_EVERY)
        if not due:
            continue
        notify(
            owners_of_dealers(due),
            "announcement_reminder",
            {"title": found.title_en or found.title_zh},
            link("news.item", announcement_id=found.id),
        )
        reminded += len(due)
    return reminded
