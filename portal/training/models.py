"""Courses, their sessions, and the enrolment of dealer people (users with a login, or trainees without one).

Seats are counted on the session row (`seats_taken`), changed only by conditional UPDATEs under the session's lock,
so the count and the enrolments never disagree; waitlist tickets are handed out from the same row.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.page_cache import CHANNEL_WIDE, by_dealer, register_write_scope
from portal.request_locale import lazy_gettext as _l
from portal.training.rules import EnrollmentStatus, SessionStatus
from portal.types import UTCDateTime, register_labels, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer, Trainee


class CourseCategory(enum.StrEnum):
    TECHNICAL = "technical"
    MARKETING = "marketing"
    MANAGEMENT = "management"
    COMPLIANCE = "compliance"


register_labels(
    {
        CourseCategory.TECHNICAL: _l("Technical"),
        CourseCategory.MARKETING: _l("Marketing"),
        CourseCategory.MANAGEMENT: _l("Management"),
        CourseCategory.COMPLIANCE: _l("Compliance"),
    }
)


class Course(Model):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[CourseCategory] = mapped_column(str_enum(CourseCategory), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    validity_months: Mapped[int] = mapped_column(Integer, default=0)  # 0: the certificate does not expire
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    prerequisites: Mapped[list[Course]] = relationship(
        secondary="course_prerequisites",
        primaryjoin="Course.id == CoursePrerequisite.course_id",
        secondaryjoin="Course.id == CoursePrerequisite.required_course_id",
        order_by="Course.code",
        lazy="selectin",
        join_depth=1,  # self-referential: eager-load one level (a course's own prerequisites), not the whole tree
    )

    def audit_subject(self) -> tuple[str, int, str]:
        return "course", self.id, self.code


class CoursePrerequisite(Model):
    __tablename__ = "course_prerequisites"
    __table_args__ = (UniqueConstraint("course_id", "required_course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    required_course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))


class CourseSession(Model):
    __tablename__ = "course_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(String(200), default="")
    online_link: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int] = mapped_column(Integer)
    enrol_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    cancel_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[SessionStatus] = mapped_column(str_enum(SessionStatus), default=SessionStatus.SCHEDULED)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    last_ticket: Mapped[int] = mapped_column(Integer, default=0)  # the waitlist's ticket counter
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    course: Mapped[Course] = relationship(lazy="joined")

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.seats_taken, 0)

    def audit_subject(self) -> tuple[str, int, str]:
        return "course_session", self.id, f"{self.course.code} {self.starts_at:%Y-%m-%d}"


class Enrollment(Model):
    """One person in one session. A cancelled row is reused if the person enrols again, so the unique person key
    (`u<user id>` or `t<trainee id>`) per session stops double enrolment on both databases."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("session_id", "person_key", name="uq_enrollments_session_person"),
        UniqueConstraint("session_id", "waitlist_ticket", name="uq_enrollments_session_ticket"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id"), index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    trainee_id: Mapped[int | None] = mapped_column(ForeignKey("trainees.id"), index=True)
    person_key: Mapped[str] = mapped_column(String(24))
    status: Mapped[EnrollmentStatus] = mapped_column(str_enum(EnrollmentStatus), index=True)
    waitlist_ticket: Mapped[int | None] = mapped_column(Integer)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    certificate_number: Mapped[str | None] = mapped_column(String(24), unique=True)
    completed_on: Mapped[date | None] = mapped_column(Date)
    certificate_expires_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    session: Mapped[CourseSession] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id], lazy="joined")
    trainee: Mapped[Trainee | None] = relationship(lazy="joined")
    dealer: Mapped[Dealer] = relationship(lazy="joined")

    @property
    def person_name(self) -> str:
        if self.user is not None:
            return self.user.name
        return self.trainee.name if self.trainee is not None else ""

    def audit_subject(self) -> tuple[str, int, str]:
        return "enrollment", self.id, f"{self.person_name} {self.session.course.code}"


for _shared in (Course, CoursePrerequisite, CourseSession):
    register_write_scope(_shared, CHANNEL_WIDE)
SEATS_TOPIC = "training-seats"
# An enrolment takes a seat every dealer's catalogue counts: its dealer's pages and the seats topic.
register_write_scope(Enrollment, by_dealer("dealer_id", topics=[SEATS_TOPIC]))
