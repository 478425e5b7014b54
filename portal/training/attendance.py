"""After a session: attendance marked by managers and admins, certificates numbered, verified and listed with
the ones about to expire."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, select
from sqlalchemy.orm import aliased

from portal.access import require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.dates import company_today
from portal.dealers.models import Dealer, Trainee
from portal.dealers.services import visible_dealers
from portal.extensions import db
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.training import rules
from portal.training.catalogue import DEALER_ROLES, STAFF_ROLES
from portal.training.models import (
    Course,
    CourseSession,
    Enrollment,
    EnrollmentStatus,
)
from portal.training.services import move_enrollment, people_to_tell
from portal.types import utcnow


def roster_query(user: User, session: CourseSession) -> Select[Enrollment]:
    """The session's people a manager may see: their portfolio's (admins and senior managers: everyone)."""
    dealers = visible_dealers(user).with_only_columns(Dealer.id)
    return (
        select(Enrollment)
        .where(Enrollment.session_id == session.id, Enrollment.dealer_id.in_(dealers))
        .order_by(Enrollment.status, Enrollment.waitlist_ticket, Enrollment.id)
    )


def get_roster_enrollment(user: User, enrollment_id: int) -> Enrollment:
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound()
    visible = db.session.execute(
        visible_dealers(user).with_only_columns(Dealer.id).where(Dealer.id == enrollment.dealer_id)
    ).first()
    if visible is None:
        raise NotFound()
    return enrollment


def record_attendance(
    actor: User, enrollment: Enrollment, outcome: EnrollmentStatus, now: datetime | None = None
) -> Enrollment:
    """Attended or no-show once the session has begun; completion after attendance issues the certificate."""
    require_role(actor, *STAFF_ROLES)
    now = now or utcnow()
    session = enrollment.session
    if outcome not in (EnrollmentStatus.ATTENDED, EnrollmentStatus.NO_SHOW, EnrollmentStatus.COMPLETED):
        raise InvalidInput("outcome", _("Choose attended, no-show or completed."))
    if now < session.starts_at:
        raise IllegalTransition(_("Attendance is recorded once the session has begun."))
    current = enrollment.status
    values: dict[str, object] = {}
    if outcome is EnrollmentStatus.COMPLETED:
        completed_on = company_today(now)
        values = {
            "completed_on": completed_on,
            "certificate_expires_on": rules.certificate_expiry(completed_on, session.course.validity_months),
            "certificate_number": _unused_certificate_number(),
        }
    move_enrollment(enrollment, current, outcome, **values)
    audit_change(
        "enrollment.attendance",
        actor=actor,
        subject=enrollment,
        before={"status": current.value},
        after={"status": outcome.value, "certificate": values.get("certificate_number")},
    )
    if outcome is EnrollmentStatus.COMPLETED:
        notify(
            people_to_tell([enrollment]),
            "training_certificate",
            {"name": enrollment.person_name, "course": session.course.title},
            link=link("training.certificate", number=enrollment.certificate_number or ""),
        )
    return enrollment


def _unused_certificate_number() -> str:
    while True:
        number = rules.new_certificate_number()
        if not db.session.execute(select(Enrollment.id).where(Enrollment.certificate_number == number)).first():
            return number


@dataclass(frozen=True)
class Verification:
    genuine: bool
    valid: bool
    expires_on: date | None


def verify_certificate(number: str, today: date | None = None) -> Verification:
    """Anyone may check a number: genuine or not, valid or expired. Nothing about the holder is revealed."""
    cleaned = number.strip().upper()
    found = db.session.execute(
        select(Enrollment.certificate_expires_on).where(
            Enrollment.certificate_number == cleaned, Enrollment.status == EnrollmentStatus.COMPLETED
        )
    ).first()
    if found is None:
        return Verification(False, False, None)
    expires_on = found[0]
    today = today or company_today()
    return Verification(True, expires_on is None or expires_on >= today, expires_on)


def get_certificate(user: User, number: str) -> Enrollment:
    """The printable certificate: for the holder's dealer, its managers and admins; others get 404."""
    enrollment = db.session.execute(
        select(Enrollment).where(
            Enrollment.certificate_number == number, Enrollment.status == EnrollmentStatus.COMPLETED
        )
    ).scalar_one_or_none()
    if enrollment is None:
        raise NotFound()
    if user.access_role in DEALER_ROLES:
        if enrollment.dealer_id != user.dealer_id:
            raise NotFound()
        return enrollment
    return get_roster_enrollment(user, enrollment.id)


EXPIRING_SOON = timedelta(days=rules.EXPIRING_SOON_DAYS)


def expiring_soon(today: Any, until: Any, certificate: Any = Enrollment) -> ColumnElement[bool]:
    """A certificate (a completed enrolment, or an alias of one) expiring between today and `until`, days or
    parameters: the dealer's to renew."""
    return and_(
        certificate.status == EnrollmentStatus.COMPLETED,
        certificate.certificate_expires_on >= today,
        certificate.certificate_expires_on <= until,
    )


_EXPIRING = aliased(Enrollment)  # the expiring certificate, beside the enrolments that book its holder again
_LATER_SESSION = aliased(CourseSession)


def expiring_certificates(dealer_id: int, today: date, limit: int = 50) -> list[Enrollment]:
    """The dealer's certificates expiring soon, the nearest first (at most `limit`: the start page shows five)."""
    return list(
        db.session.execute(
            select(Enrollment)
            .where(
                Enrollment.dealer_id == dealer_id,
                expiring_soon(today, today + EXPIRING_SOON),
            )
            .order_by(Enrollment.certificate_expires_on)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class Renewal:
    """A certificate about to expire whose holder is not booked on a later session of its course yet, with the next
    session that still takes enrolments (None when none is open): the start page's one-tap booking."""

    person_key: str
    person_name: str
    course_code: str
    course_title: str
    expires_on: date
    next_session_id: int | None
    next_session_starts_at: datetime | None


RENEWALS_SHOWN = 5  # the start page's lines of certificates to renew, the nearest expiry first


_NEXT_SESSION = aliased(CourseSession)


@functools.cache
def _renewals_statement() -> Select[*tuple[Any, ...]]:
    """The statement of `renewals_due`, built once (the start page runs it on every visit; building it cost more
    than running it)."""
    booked_again = (
        select(Enrollment.id)
        .join(_LATER_SESSION, _LATER_SESSION.id == Enrollment.session_id)
        .where(
            _LATER_SESSION.course_id == CourseSession.course_id,
            _LATER_SESSION.starts_at > bindparam("now"),
            Enrollment.dealer_id == _EXPIRING.dealer_id,
            Enrollment.person_key == _EXPIRING.person_key,
            Enrollment.status.in_((EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)),
        )
        .exists()
    )
    next_open = (
        select(_NEXT_SESSION.id)
        .where(
            _NEXT_SESSION.course_id == CourseSession.course_id,
            _NEXT_SESSION.status == rules.SessionStatus.SCHEDULED,
            _NEXT_SESSION.enrol_deadline > bindparam("now"),
        )
        .order_by(_NEXT_SESSION.starts_at, _NEXT_SESSION.id)
        .limit(1)
        .correlate(CourseSession)
    )
    return (
        select(
            _EXPIRING.person_key,
            func.coalesce(User.name, Trainee.name, ""),
            Course.code,
            Course.title,
            _EXPIRING.certificate_expires_on,
            next_open.scalar_subquery(),
            next_open.with_only_columns(_NEXT_SESSION.starts_at).scalar_subquery(),
        )
        .join(CourseSession, CourseSession.id == _EXPIRING.session_id)
        .join(Course, Course.id == CourseSession.course_id)
        .outerjoin(User, User.id == _EXPIRING.user_id)
        .outerjoin(Trainee, Trainee.id == _EXPIRING.trainee_id)
        .where(
            _EXPIRING.dealer_id == bindparam("dealer_id"),
            expiring_soon(bindparam("today"), bindparam("until"), _EXPIRING),
            ~booked_again,
        )
        .order_by(_EXPIRING.certificate_expires_on, _EXPIRING.id)
        .limit(RENEWALS_SHOWN)
    )


def renewals_due(dealer_id: int, today: date, now: datetime) -> list[Renewal]:
    """The dealer's certificates to renew, the nearest expiry first (at most RENEWALS_SHOWN), in one query whatever
    the number: those already booked again are left out by the database, and each comes with the next session of its
    course still taking enrolments. Only the columns shown are read."""
    found = db.session.execute(
        _renewals_statement(), {"dealer_id": dealer_id, "today": today, "until": today + EXPIRING_SOON, "now": now}
    )
    return [
        Renewal(person_key, person_name, code, title, expires_on, session_id, starts_at)
        for person_key, person_name, code, title, expires_on, session_id, starts_at in found
        if expires_on is not None  # always: the query asks for a day
    ]


def completion_by_dealer(user: User, today: date):
    """Per visible dealer: people trained (a valid certificate), certificates expiring soon, seats booked ahead."""
    valid = and_(
        Enrollment.status == EnrollmentStatus.COMPLETED,
        (Enrollment.certificate_expires_on.is_(None)) | (Enrollment.certificate_expires_on >= today),
    )
    soon = expiring_soon(today, today + EXPIRING_SOON)
    counts = (
        select(
            Enrollment.dealer_id,
            func.count(func.distinct(case((valid, Enrollment.person_key)))).label("trained"),
            func.count(case((valid, 1))).label("certificates"),
            func.count(case((soon, 1))).label("expiring"),
            func.count(case((Enrollment.status.in_(rules.ACTIVE), 1))).label("booked"),
        )
        .group_by(Enrollment.dealer_id)
        .subquery()
    )
    return (
        visible_dealers(user)
        .outerjoin(counts, counts.c.dealer_id == Dealer.id)
        .add_columns(
            func.coalesce(counts.c.trained, 0),
            func.coalesce(counts.c.certificates, 0),
            func.coalesce(counts.c.expiring, 0),
            func.coalesce(counts.c.booked, 0),
        )
        .order_by(Dealer.code)
    )
