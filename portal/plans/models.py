"""A joint business plan per dealer and period (its goals, actions and accepted versions) and the visit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import Model
from portal.page_cache import by_dealer, register_write_scope, through
from portal.plans.rules import GoalKind, PlanStatus, Side
from portal.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.dealers.models import Dealer, Period


class BusinessPlan(Model):
    """One per dealer and period. `revision` grows with every change of its goals or actions: an acceptance names
    the revision its person read, so a change made meanwhile is never accepted unseen. `version` is the number of
    the version now waiting or agreed; `agreed_version` the last one both sides accepted."""

    __tablename__ = "business_plans"
    __table_args__ = (UniqueConstraint("dealer_id", "period_id", name="uq_business_plans_dealer_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))  # led by the unique key
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.AWAITING_AGREEMENT)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    agreed_version: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The review after the period: the manager's notes, each goal met or not as measured then, the dealer's answer.
    review_notes: Mapped[str] = mapped_column(Text, default="")
    review_results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dealer_comments: Mapped[str] = mapped_column(Text, default="")
    commented_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    commented_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    period: Mapped[Period] = relationship(lazy="joined")
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id], lazy="joined")

    def audit_subject(self) -> tuple[str, int, str]:
        return "business_plan", self.id, f"{self.dealer.code} {self.period.code}"


class PlanGoal(Model):
    """What the plan aims at. `wanted`: a count (outlets, people), or an amount in minor units (a promotion's
    budget); a sales goal has none of its own: it is the period's target."""

    __tablename__ = "plan_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("business_plans.id"), index=True)
    kind: Mapped[GoalKind] = mapped_column(str_enum(GoalKind))
    wanted: Mapped[int | None] = mapped_column(BigInteger)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    activity_type_id: Mapped[int | None] = mapped_column(ForeignKey("activity_types.id"))
    note: Mapped[str] = mapped_column(String(300), default="")


class PlanAction(Model):
    """Something one side does by a day. Marking it done is progress: it makes no new version."""

    __tablename__ = "plan_actions"
    __table_args__ = (Index("ix_plan_actions_plan_due", "plan_id", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("business_plans.id"))
    what: Mapped[str] = mapped_column(String(300))
    side: Mapped[Side] = mapped_column(str_enum(Side))
    who: Mapped[str] = mapped_column(String(120), default="")
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PlanVersion(Model):
    """The goals and actions as a version held them (written at each change while the version waits), and who of
    each side accepted it."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_plan_versions_plan_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("business_plans.id"))
    number: Mapped[int] = mapped_column(Integer)
    goals: Mapped[list[Any]] = mapped_column(JSON, default=list)
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dealer_accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dealer_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    manager_accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    manager_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    dealer_accepted_by: Mapped[User | None] = relationship(foreign_keys=[dealer_accepted_by_id], lazy="joined")
    manager_accepted_by: Mapped[User | None] = relationship(foreign_keys=[manager_accepted_by_id], lazy="joined")

    @property
    def accepted_by_anyone(self) -> bool:
        return self.dealer_accepted_at is not None or self.manager_accepted_at is not None


class Visit(Model):
    """A manager's visit to a dealer: private to the manufacturer's people, or shared with the dealer's."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_dealer_day", "dealer_id", "visited_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    visited_on: Mapped[date] = mapped_column(Date)
    attendees: Mapped[str] = mapped_column(String(300), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    follow_ups: Mapped[str] = mapped_column(Text, default="")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    written_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    written_by: Mapped[User] = relationship(lazy="joined")

    def audit_subject(self) -> tuple[str, int, str]:
        return "visit", self.id, f"{self.dealer.code} {self.visited_on:%Y-%m-%d}"


register_write_scope(BusinessPlan, by_dealer("dealer_id"))
for _part in (PlanGoal, PlanAction, PlanVersion):
    register_write_scope(_part, through(BusinessPlan, "plan_id", "dealer_id"))
register_write_scope(Visit, by_dealer("dealer_id"))
