"""The training catalogue: courses and their prerequisites (kept by admins), and the sessions people look for."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, String, bindparam, delete, func, select
from sqlalchemy.orm import lazyload

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
from portal.web import PAGE_LIMIT, PAGE_OFFSET, StatementPage, page_of_statement

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


@functools.lru_cache(maxsize=8)
def _catalogue_of_shape(by_category: bool, by_day: bool, by_text: bool) -> tuple[Select[CourseSession], Select[Any]]:
    """Scheduled sessions still to start, soonest first: a page of them and their count, built once per shape (which
    filters are set), the moment and the filters' values being parameters. Every dealer's catalogue asks it."""
    query = (
        select(CourseSession)
        .join(Course, Course.id == CourseSession.course_id)
        .where(
            CourseSession.status == SessionStatus.SCHEDULED,
            CourseSession.starts_at > bindparam("catalogue_now", type_=CourseSession.starts_at.type),
            Course.active,
        )
    )
    if by_category:
        query = query.where(Course.category == bindparam("catalogue_category", type_=Course.category.type))
    if by_day:
        query = query.where(CourseSession.starts_at >= bindparam("catalogue_from", type_=CourseSession.starts_at.type))
    if by_text:
        pattern = bindparam("catalogue_text", type_=String())
        query = query.where(Course.title.ilike(pattern) | Course.code.ilike(pattern))
    page = query.order_by(CourseSession.starts_at, CourseSession.id).limit(PAGE_LIMIT).offset(PAGE_OFFSET)
    return page, select(func.count()).select_from(query.options(lazyload("*")).subquery())


def catalogue_page(wanted: CatalogueFilter, now: datetime | None = None) -> StatementPage:
    """The asked-for page of the catalogue as the dealer filtered it."""
    now = now or utcnow()
    text = wanted.text.strip()
    page, count = _catalogue_of_shape(wanted.category is not None, wanted.from_day is not None, bool(text))
    values: dict[str, Any] = {"catalogue_now": now}
    if wanted.category is not None:
        values["catalogue_category"] = wanted.category
    if wanted.from_day is not None:
        values["catalogue_from"] = datetime.combine(wanted.from_day, datetime.min.time(), now.tzinfo)
    if text:
        values["catalogue_text"] = contains_pattern(text)
    return page_of_statement(page, values, count=count)


def staff_sessions_query(upcoming: bool, now: datetime | None = None) -> Select[CourseSession]:
    now = now or utcnow()
    query = select(CourseSession)
    if upcoming:
        return query.where(CourseSession.ends_at >= now).order_by(CourseSession.starts_at, CourseSession.id)
    return query.where(CourseSession.ends_at < now).order_by(CourseSession.starts_at.desc(), CourseSession.id)
