"""Writing audit events. Callers flush or commit with the change itself, so an event never outlives a rollback."""

from __future__ import annotations

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
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details or {},
        ip_address=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
