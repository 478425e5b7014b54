"""Browsing the audit trail."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_timezone
from flask_login import current_user

from portal.access import AccessRole, allow
from portal.audit.browse import AuditFilter, visible_events
from portal.audit.forms import SUBJECT_LABELS, AuditFilterForm
from portal.extensions import db
from portal.web import page_number

bp = Blueprint("audit", __name__)


@bp.route("/audit/")
@allow(AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)
def trail() -> ResponseReturnValue:
    form = AuditFilterForm(request.args)
    valid = form.validate()
    wanted = AuditFilter(
        actor=form.actor.data or "",
        action=form.action.data or "",
        subject_type=form.subject_type.data or "",
        subject=form.subject.data or "",
        date_from=form.date_from.data if valid else None,
        date_to=form.date_to.data if valid else None,
    )
    events = db.paginate(
        visible_events(current_user, wanted, str(get_timezone())),
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"] * 2,
        error_out=False,
    )
    query_args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template(
        "audit/trail.html", form=form, events=events, subject_labels=SUBJECT_LABELS, query_args=query_args
    )
