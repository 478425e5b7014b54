"""After a session: attendance marked by managers and admins, certificates numbered, verified and listed with
the ones about to expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, case, func, select

from portal.access import require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.dates import company_today
from portal.dealers.models import Dealer
from portal.dealers.services import visible_dealers
from portal.extensions import db
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.training import rules
from portal.training.catalogue import DEALER_ROLES, STAFF_ROLES
from portal.training.models import (
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


def expiring_certificates(dealer_id: int, today: date, limit: int = 50) -> list[Enrollment]:
    """The dealer's certificates expiring soon, the nearest first (at most `limit`: the start page shows five)."""
    return list(
        db.session.execute(
            select(Enrollment)
            .where(
                Enrollment.dealer_id == dealer_id,
                Enrollment.status == EnrollmentStatus.COMPLETED,
                Enrollment.certificate_expires_on.is_not(None),
                Enrollment.certificate_expires_on >= today,
                Enrollment.certificate_expires_on <= today + timedelta(days=rules.EXPIRING_SOON_DAYS),
            )
            .order_by(Enrollment.certificate_expires_on)
            .limit(limit)
        ).scalars()
    )


def rebooking(expiring: list[Enrollment], now: datetime) -> dict[int, CourseSession | None]:
    """For each expiring certificate (by enrollment id): the next session of its course that still takes enrolments,
    or None when the person is already booked on a later session (nothing to do) or none is open. Two queries for
    all of them, so the dealer's start page stays flat however many certificates expire."""
    if not expiring:
        return {}
    courses = {enrollment.session.course_id for enrollment in expiring}
    booked = {
        (course_id, person_key)
        for course_id, person_key in db.session.execute(
            select(CourseSession.course_id, Enrollment.person_key)
            .join(CourseSession, CourseSession.id == Enrollment.session_id)
            .where(
                CourseSession.course_id.in_(courses),
                CourseSession.starts_at > now,
                Enrollment.dealer_id == expiring[0].dealer_id,
                Enrollment.status.in_((EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)),
            )
        )
    }
    upcoming: dict[int, CourseSession] = {}
    for session in db.session.execute(
        select(CourseSession)
        .where(
            CourseSession.course_id.in_(courses),
            CourseSession.status == rules.SessionStatus.SCHEDULED,
            CourseSession.enrol_deadline > now,
        )
        .order_by(CourseSession.starts_at)
        .limit(200)
    ).scalars():
        upcoming.setdefault(session.course_id, session)
    found: dict[int, CourseSession | None] = {}
    for enrollment in expiring:
        course_id = enrollment.session.course_id
        if (course_id, enrollment.person_key) not in booked:
            found[enrollment.id] = upcoming.get(course_id)
    return found


def completion_by_dealer(user: User, today: date):
    """Per visible dealer: people trained (a valid certificate), certificates expiring soon, seats booked ahead."""
    valid = and_(
        Enrollment.status == EnrollmentStatus.COMPLETED,
        (Enrollment.certificate_expires_on.is_(None)) | (Enrollment.certificate_expires_on >= today),
    )
    soon = and_(
        Enrollment.status == EnrollmentStatus.COMPLETED,
        Enrollment.certificate_expires_on >= today,
        Enrollment.certificate_expires_on <= today + timedelta(days=rules.EXPIRING_SOON_DAYS),
    )
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
