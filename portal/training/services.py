"""Training: the catalogue, fair and exact enrolment with a waitlist, attendance and certificates.

Every change to a session's seats happens under that session's lock: SELECT ... FOR UPDATE on PostgreSQL, and on
SQLite the write lock that every writing request takes with BEGIN IMMEDIATE. The seat itself is taken by a
conditional UPDATE (seats_taken < capacity) checked by its row count, and unique constraints on (session, person)
and (session, waitlist ticket) are the backstop. A seat freed while someone waits goes to the first in line in the
same transaction, so a free seat and a waiting person never exist together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError

from portal.access import AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.database import rows_changed
from portal.dealers.models import Trainee
from portal.dealers.rules import NewSubmission
from portal.dealers.services import refuse_new_submission
from portal.extensions import db
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.page_cache import writes_for
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.training import rules
from portal.training.catalogue import DEALER_ROLES, lock_session
from portal.training.models import (
    SEATS_TOPIC,
    Course,
    CourseSession,
    Enrollment,
    EnrollmentStatus,
    SessionStatus,
)
from portal.types import label, utcnow
from portal.workflow import move_if_still

# --- Catalogue (admins) ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInput:
    starts_at: datetime
    ends_at: datetime
    place: str
    online_link: str
    capacity: int
    enrol_deadline: datetime
    cancel_deadline: datetime


def save_session(
    actor: User, course: Course, wanted: SessionInput, session: CourseSession | None = None
) -> CourseSession:
    """Create or change a session; more seats go at once to the people waiting for them."""
    require_role(actor, AccessRole.ADMIN)
    if wanted.ends_at <= wanted.starts_at:
        raise InvalidInput("ends_at", _("The end must come after the start."))
    if wanted.enrol_deadline > wanted.starts_at:
        raise InvalidInput("enrol_deadline", _("Enrolment must close before the session starts."))
    if wanted.cancel_deadline > wanted.starts_at:
        raise InvalidInput("cancel_deadline", _("Cancelling must close before the session starts."))
    if not wanted.place.strip() and not wanted.online_link.strip():
        raise InvalidInput("place", _("Give a place, an online link, or both."))
    link = wanted.online_link.strip()
    if link and not link.startswith("https://"):
        raise InvalidInput("online_link", _("An online link starts with https://."))
    if not 1 <= wanted.capacity <= 10_000:
        raise InvalidInput("capacity", _("Between 1 and 10,000 seats."))
    if session is not None:
        session = lock_session(session.id)
        if session.status is SessionStatus.CANCELLED:
            raise IllegalTransition(_("This session was cancelled; it can no longer change."))
        if wanted.capacity < session.seats_taken:
            raise InvalidInput(
                "capacity", _("%(count)s people already hold a seat; cancel some first.", count=session.seats_taken)
            )
    else:
        session = CourseSession(course_id=course.id, seats_taken=0, last_ticket=0, status=SessionStatus.SCHEDULED)
        db.session.add(session)
    session.starts_at, session.ends_at = wanted.starts_at, wanted.ends_at
    session.place, session.online_link, session.capacity = wanted.place.strip(), link, wanted.capacity
    session.enrol_deadline, session.cancel_deadline = wanted.enrol_deadline, wanted.cancel_deadline
    db.session.flush()
    promoted = _fill_free_seats(session)
    audit_change(
        "course_session.saved",
        actor=actor,
        subject=session,
        after={"capacity": session.capacity, "starts_at": session.starts_at.isoformat(), "promoted": promoted},
    )
    return session


def cancel_session(actor: User, session: CourseSession, reason: str) -> int:
    require_role(actor, AccessRole.ADMIN)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why; everyone enrolled is told."))
    session = lock_session(session.id)
    changed = rows_changed(
        db.session.execute(
            update(CourseSession)
            .where(CourseSession.id == session.id, CourseSession.status == SessionStatus.SCHEDULED)
            .values(status=SessionStatus.CANCELLED, seats_taken=0)
            .execution_options(synchronize_session=False)
        )
    )
    if changed != 1:
        raise IllegalTransition(_("This session is already cancelled."))
    affected = list(
        db.session.execute(
            select(Enrollment).where(Enrollment.session_id == session.id, Enrollment.status.in_(rules.ACTIVE))
        ).scalars()
    )
    db.session.execute(
        update(Enrollment)
        .where(Enrollment.session_id == session.id, Enrollment.status.in_(rules.ACTIVE))
        .values(status=EnrollmentStatus.CANCELLED, waitlist_ticket=None)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    told = {"course": session.course.title, "when": _when(session), "reason": reason}
    notify(people_to_tell(affected), "training_session_cancelled", told, link=link("training.dealer_training"))
    audit_change("course_session.cancelled", actor=actor, subject=session, after={"reason": reason})
    return len(affected)


def _when(session: CourseSession) -> dict[str, object]:
    """The session's start, shown to each reader in their own time zone."""
    return params.moment(session.starts_at)


def people_to_tell(enrollments: list[Enrollment]) -> list[User]:
    """The person if they have a login, else whoever enrolled them (trainees have no login)."""
    ids = {enrollment.user_id or enrollment.enrolled_by_id for enrollment in enrollments} - {None}
    if not ids:
        return []
    return list(db.session.execute(select(User).where(User.id.in_(ids))).scalars())


# --- Enrolment (dealer users) ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    key: str  # u<id> or t<id>
    name: str
    user_id: int | None
    trainee_id: int | None


def enrollable_people(user: User) -> list[Person]:
    """The user first, then active colleagues, then active trainees of the same dealer."""
    colleagues = db.session.execute(
        select(User).where(User.dealer_id == user.dealer_id, User.active).order_by(User.name)
    ).scalars()
    trainees = db.session.execute(
        select(Trainee).where(Trainee.dealer_id == user.dealer_id, Trainee.active).order_by(Trainee.name)
    ).scalars()
    people = [Person(f"u{user.id}", user.name, user.id, None)]
    people += [Person(f"u{other.id}", other.name, other.id, None) for other in colleagues if other.id != user.id]
    people += [Person(f"t{trainee.id}", trainee.name, None, trainee.id) for trainee in trainees]
    return people


def _person(user: User, key: str) -> Person:
    for person in enrollable_people(user):
        if person.key == key:
            return person
    raise InvalidInput("person", _("Choose someone of your dealer."))


def _completed_course_ids(person: Person) -> set[int]:
    column = Enrollment.user_id if person.user_id is not None else Enrollment.trainee_id
    return set(
        db.session.execute(
            select(CourseSession.course_id)
            .join(Enrollment, Enrollment.session_id == CourseSession.id)
            .where(column == (person.user_id or person.trainee_id), Enrollment.status == EnrollmentStatus.COMPLETED)
        ).scalars()
    )


def can_enrol_now(session: CourseSession, now: datetime | None = None) -> bool:
    return session.status is SessionStatus.SCHEDULED and (now or utcnow()) <= session.enrol_deadline


def enrol(actor: User, session: CourseSession, person_key: str, now: datetime | None = None) -> Enrollment:
    """A seat if one is free, else the waitlist with the next ticket; refusals say what to do instead."""
    require_role(actor, *DEALER_ROLES)
    assert actor.dealer is not None
    refuse_new_submission(actor.dealer, NewSubmission.ENROLMENT)
    now = now or utcnow()
    person = _person(actor, person_key)
    session = lock_session(session.id)
    if session.status is not SessionStatus.SCHEDULED:
        raise IllegalTransition(_("This session was cancelled."))
    if now > session.enrol_deadline:
        raise IllegalTransition(_("Enrolment for this session closed on %(when)s.", when=_when_closed(session)))
    missing = [course for course in session.course.prerequisites if course.id not in _completed_course_ids(person)]
    if missing:
        raise InvalidInput(
            "person",
            _(
                "%(name)s must first complete %(courses)s.",
                name=person.name,
                courses=", ".join(f"{course.code} {course.title}" for course in missing),
            ),
        )
    existing = db.session.execute(
        select(Enrollment).where(Enrollment.session_id == session.id, Enrollment.person_key == person.key)
    ).scalar_one_or_none()
    if existing is not None and existing.status is not EnrollmentStatus.CANCELLED:
        raise InvalidInput(
            "person", _("%(name)s is already %(status)s here.", name=person.name, status=label(existing.status))
        )
    took_seat = _take_seat(session.id)
    ticket = None if took_seat else _next_ticket(session)
    status = EnrollmentStatus.ENROLLED if took_seat else EnrollmentStatus.WAITLISTED
    if existing is not None:  # enrols again after cancelling: the same row, through the transition table
        move_enrollment(existing, EnrollmentStatus.CANCELLED, status, waitlist_ticket=ticket, enrolled_by_id=actor.id)
        enrollment = existing
    else:
        enrollment = Enrollment(
            session_id=session.id,
            person_key=person.key,
            dealer_id=actor.dealer_id,
            user_id=person.user_id,
            trainee_id=person.trainee_id,
            status=status,
            waitlist_ticket=ticket,
            enrolled_by_id=actor.id,
        )
        db.session.add(enrollment)
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:
            raise IllegalTransition(_("%(name)s was enrolled by someone else just now.", name=person.name)) from None
    db.session.expire(session)
    audit_change("enrollment.created", actor=actor, subject=enrollment, after={"status": status.value})
    if person.user_id is not None and person.user_id != actor.id:
        notify(
            [db.session.get(User, person.user_id)],
            "training_enrolled",
            {"course": session.course.title, "when": _when(session), "status": params.choice(status, lower=True)},
            link=link("training.session_page", session_id=session.id),
        )
    return enrollment


def _when_closed(session: CourseSession) -> str:
    return session.enrol_deadline.strftime("%Y-%m-%d %H:%M UTC")


def _next_ticket(session: CourseSession) -> int:
    """The waitlist's counter, on the session row: a change to the seats topic, like a seat taken."""
    with writes_for(topics=[SEATS_TOPIC]):
        db.session.execute(
            update(CourseSession)
            .where(CourseSession.id == session.id)
            .values(last_ticket=CourseSession.last_ticket + 1)
            .execution_options(synchronize_session=False)
        )
    return int(db.session.execute(select(CourseSession.last_ticket).where(CourseSession.id == session.id)).scalar_one())


def get_dealer_enrollment(user: User, enrollment_id: int) -> Enrollment:
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.dealer_id != user.dealer_id:
        raise NotFound()
    return enrollment


def cancel_enrollment(actor: User, enrollment: Enrollment, now: datetime | None = None) -> Enrollment | None:
    """Leave a session (or its waitlist); a seat given up goes to the first in line. Returns who moved in."""
    require_role(actor, *DEALER_ROLES)
    if enrollment.dealer_id != actor.dealer_id:
        raise NotFound()
    now = now or utcnow()
    session = lock_session(enrollment.session_id)
    db.session.refresh(enrollment)
    current = enrollment.status
    if current not in rules.ACTIVE:
        raise IllegalTransition(_("This enrolment is already %(status)s.", status=label(current)))
    if current is EnrollmentStatus.ENROLLED and now > session.cancel_deadline:
        raise IllegalTransition(
            _(
                "Cancelling closed on %(when)s. Ask your channel manager.",
                when=session.cancel_deadline.strftime("%Y-%m-%d %H:%M UTC"),
            )
        )
    move_enrollment(enrollment, current, EnrollmentStatus.CANCELLED, waitlist_ticket=None)
    promoted = None
    if current is EnrollmentStatus.ENROLLED:
        promoted = _promote_first_waiting(session)
        if promoted is None:
            _give_back_seat(session.id)
    db.session.expire(session)
    audit_change(
        "enrollment.cancelled",
        actor=actor,
        subject=enrollment,
        before={"status": current.value},
        after={"status": "cancelled", "promoted": promoted.id if promoted else None},
    )
    return promoted


def move_enrollment(
    enrollment: Enrollment, current: EnrollmentStatus, target: EnrollmentStatus, **values: object
) -> None:
    """The one place an enrolment's status changes: legal by the table and still as read, or refused."""
    if not rules.can_move(current, target):
        raise IllegalTransition(
            _("An enrolment cannot go from %(current)s to %(target)s.", current=label(current), target=label(target))
        )
    if not move_if_still(Enrollment, enrollment.id, current, target, updated_at=utcnow(), **values):
        raise IllegalTransition(_("Someone else changed this enrolment first. Reload the page."))
    db.session.expire(enrollment)


def _promote_first_waiting(session: CourseSession) -> Enrollment | None:
    first = db.session.execute(
        select(Enrollment)
        .where(Enrollment.session_id == session.id, Enrollment.status == EnrollmentStatus.WAITLISTED)
        .order_by(Enrollment.waitlist_ticket)
        .limit(1)
    ).scalar_one_or_none()
    if first is None:
        return None
    move_enrollment(first, EnrollmentStatus.WAITLISTED, EnrollmentStatus.ENROLLED, waitlist_ticket=None)
    notify(
        people_to_tell([first]),
        "training_seat_freed",
        {"name": first.person_name, "course": session.course.title, "when": _when(session)},
        link=link("training.session_page", session_id=session.id),
    )
    return first


def _take_seat(session_id: int) -> bool:
    """The seat itself: one conditional UPDATE, so two people can never take the last seat both. The count is what
    every dealer's catalogue shows of other dealers' enrolments: the seats topic, not the whole channel."""
    with writes_for(topics=[SEATS_TOPIC]):
        return (
            rows_changed(
                db.session.execute(
                    update(CourseSession)
                    .where(
                        CourseSession.id == session_id,
                        CourseSession.seats_taken < CourseSession.capacity,
                        CourseSession.status == SessionStatus.SCHEDULED,
                    )
                    .values(seats_taken=CourseSession.seats_taken + 1)
                    .execution_options(synchronize_session=False)
                )
            )
            == 1
        )


def _give_back_seat(session_id: int) -> None:
    with writes_for(topics=[SEATS_TOPIC]):
        db.session.execute(
            update(CourseSession)
            .where(CourseSession.id == session_id, CourseSession.seats_taken > 0)
            .values(seats_taken=CourseSession.seats_taken - 1)
            .execution_options(synchronize_session=False)
        )


def _fill_free_seats(session: CourseSession) -> int:
    """After more seats: the first in line take them, one by one, under the session's lock."""
    promoted = 0
    while _take_seat(session.id):
        if _promote_first_waiting(session) is None:
            _give_back_seat(session.id)
            break
        promoted += 1
    db.session.expire(session)
    return promoted


def waitlist_positions(session_id: int) -> dict[int, int]:
    """Enrolment id -> place in line (1 is next), from the tickets of the people still waiting."""
    waiting = db.session.execute(
        select(Enrollment.id)
        .where(Enrollment.session_id == session_id, Enrollment.status == EnrollmentStatus.WAITLISTED)
        .order_by(Enrollment.waitlist_ticket)
    ).scalars()
    return {enrollment_id: place for place, enrollment_id in enumerate(waiting, start=1)}


# --- Attendance and certificates (managers, admins) ------------------------------------------------------------------


# --- Reading ----------------------------------------------------------------------------------------------------------


def dealer_enrollments_in(user: User, session: CourseSession) -> list[Enrollment]:
    return list(
        db.session.execute(
            select(Enrollment)
            .where(Enrollment.session_id == session.id, Enrollment.dealer_id == user.dealer_id)
            .order_by(Enrollment.id)
        ).scalars()
    )


def dealer_training_query(dealer_id: int) -> Select[Enrollment]:
    """Everything the dealer's people did or will do, newest session first: the transcript."""
    return (
        select(Enrollment)
        .join(CourseSession, CourseSession.id == Enrollment.session_id)
        .where(Enrollment.dealer_id == dealer_id, Enrollment.status != EnrollmentStatus.CANCELLED)
        .order_by(CourseSession.starts_at.desc(), Enrollment.id)
    )
