"""Reading the audit trail: filters, and who may see which events.

Admins see every event. Senior managers see the events about dealers, trainees and the accounts of dealer users
and managers (their scope: every dealer), not those about administrators' and mediators' own accounts or failed
logins to unknown addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import aliased, joinedload

from portal.access import AccessRole
from portal.accounts.models import User, UserRole
from portal.audit.models import AuditEvent
from portal.database import contains_pattern

SUBJECT_TYPES = ("user", "dealer", "trainee", "territory", "period")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject: str = ""
    date_from: date | None = None
    date_to: date | None = None


def visible_events(viewer: User, wanted: AuditFilter, zone: str) -> Select[AuditEvent]:
    query = select(AuditEvent).options(joinedload(AuditEvent.actor))
    if viewer.access_role is AccessRole.SENIOR_MANAGER:
        subject_user = aliased(User)
        query = query.outerjoin(
            subject_user, and_(AuditEvent.subject_type == "user", subject_user.id == AuditEvent.subject_id)
        ).where(
            or_(
                AuditEvent.subject_type.in_(("dealer", "trainee")),
                and_(AuditEvent.subject_type == "user", subject_user.role.in_((UserRole.DEALER, UserRole.MANAGER))),
            )
        )
    elif viewer.access_role is not AccessRole.ADMIN:
        return query.where(false())
    if wanted.actor.strip():
        actor = aliased(User)
        query = query.join(actor, actor.id == AuditEvent.actor_id).where(
            or_(actor.email.ilike(contains_pattern(wanted.actor)), actor.name.ilike(contains_pattern(wanted.actor)))
        )
    if wanted.action.strip():
        query = query.where(AuditEvent.action.ilike(contains_pattern(wanted.action)))
    if wanted.subject_type in SUBJECT_TYPES:
        query = query.where(AuditEvent.subject_type == wanted.subject_type)
    if wanted.subject.strip():
        query = query.where(AuditEvent.subject_label.ilike(contains_pattern(wanted.subject)))
    tz = ZoneInfo(zone)
    if wanted.date_from is not None:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(wanted.date_from, time(), tz))
    if wanted.date_to is not None:
        end = datetime.combine(wanted.date_to + timedelta(days=1), time(), tz)
        query = query.where(AuditEvent.occurred_at < end)
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
