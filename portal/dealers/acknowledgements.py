"""Things a dealer must read and say it has read: a price list before it is enforced, a policy change before it
applies. One mechanism for every area (the referee's price lists, the news' must-acknowledge announcements): the
dealer's owner acknowledges once for the dealer, the people who published see who has and who has not, and the
owners who have not are reminded on a schedule the area chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError

from portal.access import AccessRole
from portal.accounts.models import User
from portal.dealers.models import Acknowledgement, AcknowledgementReminder, Dealer, DealerStatus
from portal.extensions import db
from portal.service_errors import Forbidden, NotFound

MUST_READ = (DealerStatus.ACTIVE, DealerStatus.ONBOARDING)  # the dealers asked to acknowledge (and reminded)


def acknowledge(actor: User, dealer: Dealer, subject_type: str, subject_id: int) -> tuple[Acknowledgement, bool]:
    """The dealer's owner acknowledges for the dealer; a second press changes nothing. Returns the acknowledgement
    and whether it is new (the caller audits a new one)."""
    if actor.access_role is not AccessRole.DEALER_OWNER:
        raise Forbidden()
    if actor.dealer_id != dealer.id:
        raise NotFound()
    found = acknowledgement_of(subject_type, subject_id, dealer.id)
    if found is not None:
        return found, False
    made = Acknowledgement(
        subject_type=subject_type, subject_id=subject_id, dealer_id=dealer.id, acknowledged_by_id=actor.id
    )
    try:
        with db.session.begin_nested():  # two owners of one dealer pressing at once: the unique key keeps one
            db.session.add(made)
    except IntegrityError:
        found = acknowledgement_of(subject_type, subject_id, dealer.id)
        if found is None:
            raise
        return found, False
    return made, True


def acknowledgement_of(subject_type: str, subject_id: int, dealer_id: int) -> Acknowledgement | None:
    return db.session.execute(
        select(Acknowledgement).where(
            Acknowledgement.subject_type == subject_type,
            Acknowledgement.subject_id == subject_id,
            Acknowledgement.dealer_id == dealer_id,
        )
    ).scalar_one_or_none()


def acknowledgements_of(subject_type: str, subject_ids: Sequence[int], dealer_id: int) -> dict[int, Acknowledgement]:
    """The dealer's acknowledgements of these subjects, by subject id (one query)."""
    if not subject_ids:
        return {}
    return {
        found.subject_id: found
        for found in db.session.execute(
            select(Acknowledgement).where(
                Acknowledgement.subject_type == subject_type,
                Acknowledgement.subject_id.in_(sorted(set(subject_ids))),
                Acknowledgement.dealer_id == dealer_id,
            )
        ).scalars()
    }


def acknowledged_dealers(subject_type: str, subject_id: int) -> Select[int]:
    """The ids of the dealers that acknowledged the subject, as a subquery."""
    return select(Acknowledgement.dealer_id).where(
        Acknowledgement.subject_type == subject_type, Acknowledgement.subject_id == subject_id
    )


def dealer_acknowledgements(subject_type: str, dealer_id: int, limit: int = 20) -> list[Acknowledgement]:
    """The dealer's acknowledgements of one kind of subject, newest first."""
    return list(
        db.session.execute(
            select(Acknowledgement)
            .where(Acknowledgement.subject_type == subject_type, Acknowledgement.dealer_id == dealer_id)
            .order_by(Acknowledgement.acknowledged_at.desc(), Acknowledgement.id.desc())
            .limit(limit)
        ).scalars()
    )


def report(subject_type: str, subject_id: int, asked: Select[Dealer]) -> tuple[int, list[Dealer]]:
    """Of the dealers asked (the viewer's, the audience's), how many active ones acknowledged, and the first 100
    that have not."""
    done_ids = acknowledged_dealers(subject_type, subject_id)
    active = asked.where(Dealer.status.in_(MUST_READ))
    done = db.session.execute(
        select(func.count()).select_from(active.where(Dealer.id.in_(done_ids)).order_by(None).subquery())
    ).scalar_one()
    waiting = list(
        db.session.execute(active.where(Dealer.id.not_in(done_ids)).order_by(Dealer.code).limit(100)).unique().scalars()
    )
    return int(done), waiting


def due_reminders(
    subject_type: str, subject_id: int, asked: ColumnElement[bool], now: datetime, every: timedelta
) -> list[int]:
    """The active dealers asked (`asked`, a condition on Dealer) that have not acknowledged and were not reminded
    within `every`; their reminders are recorded as sent now (the caller notifies their owners)."""
    waiting = db.session.execute(
        select(Dealer.id, AcknowledgementReminder)
        .outerjoin(
            AcknowledgementReminder,
            (AcknowledgementReminder.dealer_id == Dealer.id)
            & (AcknowledgementReminder.subject_type == subject_type)
            & (AcknowledgementReminder.subject_id == subject_id),
        )
        .where(
            asked,
            Dealer.status.in_(MUST_READ),
            Dealer.id.not_in(acknowledged_dealers(subject_type, subject_id)),
        )
    ).all()
    due = []
    for dealer_id, reminder in waiting:
        if reminder is None:
            db.session.add(
                AcknowledgementReminder(
                    subject_type=subject_type, subject_id=subject_id, dealer_id=dealer_id, reminded_at=now
                )
            )
        elif reminder.reminded_at <= now - every:
            reminder.reminded_at = now
        else:
            continue
        due.append(dealer_id)
    db.session.flush()
    return due
