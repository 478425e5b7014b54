"""Writing audit events. They are added to the caller's transaction, so an event never outlives a rollback."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask import has_request_context, request

from portal.audit.models import AuditEvent
from portal.extensions import db


def record_event(
    action: str,
    *,
    actor_id: int | None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    subject_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=subject_label[:200],
        details=details or {},
        ip_address=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event


def subject_of(thing: Any) -> tuple[str, int, str]:
    """The type name, id and readable label an audit event records for a model object: each audited model names
    itself with `audit_subject()`, so this floor knows none of them."""
    try:
        return thing.audit_subject()
    except AttributeError:
        raise TypeError(f"no audit subject for {type(thing).__name__}") from None


def snapshot(thing: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """JSON-safe values of the named attributes, for the before and after of an audit event."""
    values: dict[str, Any] = {}
    for field in fields:
        value = getattr(thing, field)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, date | datetime):
            value = value.isoformat()
        values[field] = value
    return values


def audit_change(
    action: str,
    *,
    actor: Any,
    subject: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **extra: Any,
) -> AuditEvent:
    """One audit event for a change: who, what, and only the fields that differ before and after."""
    subject_type, subject_id, label = subject_of(subject)
    details: dict[str, Any] = dict(extra)
    if before is not None and after is not None:
        changed = [key for key in after if before.get(key) != after.get(key)]
        details["before"] = {key: before.get(key) for key in changed}
        details["after"] = {key: after[key] for key in changed}
    elif after is not None:
        details["after"] = after
    return record_event(
        action,
        actor_id=getattr(actor, "id", None),
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=label,
        details=details,
    )
