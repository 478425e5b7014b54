"""The training catalogue: courses and their prerequisites (kept by admins), and the sessions people look for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, delete, select

from portal.access import AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.database import contains_pattern, locked_for_update
from portal.extensions import db
from portal.request_locale import gettext as _
from portal.service_errors import InvalidInput, NotFound
from portal.training.models import (
    Course,
    CourseCategory,
    CoursePrerequisite,
    CourseSession,
    SessionStatus,
)
from portal.types import utcnow

DEALER_ROLES = (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)


STAFF_ROLES = (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


@dataclass(frozen=True)
class CourseInput:
    code: str
    title: str
    category: CourseCategory
    description: str
    validity_months: int
    prerequisite_ids: tuple[int, ...]
    active: bool = True


def all_courses() -> list[Course]:
    return list(db.session.execute(select(Course).order_by(Course.code)).scalars())


def get_course(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound()
    return course


def _requires(course_id: int, target_id: int, seen: set[int] | None = None) -> bool:
    """Whether course `course_id` needs `target_id`, directly or through its own prerequisites."""
    seen = seen or set()
    needed = db.session.execute(
        select(CoursePrerequisite.required_course_id).where(CoursePrerequisite.course_id == course_id)
    ).scalars()
    for required in needed:
        if required == target_id:
            return True
        if required not in seen:
            seen.add(required)
            if _requires(required, target_id, seen):
                return True
    return False


def save_course(actor: User, wanted: CourseInput, course: Course | None = None) -> Course:
    require_role(actor, AccessRole.ADMIN)
    code = wanted.code.strip().upper()
    if not code or not wanted.title.strip():
        raise InvalidInput("code", _("Give the course a code and a title."))
    clash = select(Course.id).where(Course.code == code)
    if course is not None:
        clash = clash.where(Course.id != course.id)
    if db.session.execute(clash).first():
        raise InvalidInput("code", _("A course with this code already exists."))
    if not 0 <= wanted.validity_months <= 120:
        raise InvalidInput("validity_months", _("Between 0 (never expires) and 120 months."))
    required = [get_course(course_id) for course_id in sorted(set(wanted.prerequisite_ids))]
    if course is not None and any(other.id == course.id or _requires(other.id, course.id) for other in required):
        raise InvalidInput("prerequisite_ids", _("A course cannot require itself, directly or through another."))
    before = _course_snapshot(course) if course else None
    if course is None:
        course = Course(code=code)
        db.session.add(course)
    course.code, course.title, course.category = code, wanted.title.strip(), wanted.category
    course.description, course.validity_months, course.active = (
        wanted.description.strip(),
        wanted.validity_months,
        wanted.active,
    )
    db.session.flush()
    db.session.execute(delete(CoursePrerequisite).where(CoursePrerequisite.course_id == course.id))
    for other in required:
        db.session.add(CoursePrerequisite(course_id=course.id, required_course_id=other.id))
    db.session.flush()
    db.session.expire(course, ["prerequisites"])
    audit_change("course.saved", actor=actor, subject=course, before=before, after=_course_snapshot(course))
    return course


def _course_snapshot(course: Course) -> dict[str, object]:
    return {
        "code": course.code,
        "title": course.title,
        "category": course.category.value,
        "validity_months": course.validity_months,
        "active": course.active,
        "prerequisites": [other.code for other in course.prerequisites],
    }


def get_session(session_id: int) -> CourseSession:
    session = db.session.get(CourseSession, session_id)
    if session is None:
        raise NotFound()
    return session


def lock_session(session_id: int) -> CourseSession:
    """The session row, locked for this transaction on PostgreSQL (SQLite: the request's write lock already)."""
    query = select(CourseSession).where(CourseSession.id == session_id).execution_options(populate_existing=True)
    session = db.session.execute(locked_for_update(query, CourseSession)).scalar_one_or_none()
    if session is None:
        raise NotFound()
    return session


@dataclass(frozen=True)
class CatalogueFilter:
    category: CourseCategory | None = None
    from_day: date | None = None
    text: str = ""


def catalogue_query(wanted: CatalogueFilter, now: datetime | None = None) -> Select[CourseSession]:
    """Scheduled sessions still to start, soonest first."""
    now = now or utcnow()
    query = (
        select(CourseSession)
        .join(Course, Course.id == CourseSession.course_id)
        .where(CourseSession.status == SessionStatus.SCHEDULED, CourseSession.starts_at > now, Course.active)
    )
    if wanted.category is not None:
        query = query.where(Course.category == wanted.category)
    if wanted.from_day is not None:
        query = query.where(
            CourseSession.starts_at >= datetime.combine(wanted.from_day, datetime.min.time(), now.tzinfo)
        )
    if wanted.text.strip():
        pattern = contains_pattern(wanted.text)
        query = query.where((Course.title.ilike(pattern)) | (Course.code.ilike(pattern)))
    return query.order_by(CourseSession.starts_at, CourseSession.id)


def staff_sessions_query(upcoming: bool, now: datetime | None = None) -> Select[CourseSession]:
    now = now or utcnow()
    query = select(CourseSession)
    if upcoming:
        return query.where(CourseSession.ends_at >= now).order_by(CourseSession.starts_at, CourseSession.id)
    return query.where(CourseSession.ends_at < now).order_by(CourseSession.starts_at.desc(), CourseSession.id)
