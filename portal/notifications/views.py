"""The notification centre: the bell, the list, opening and marking read, email preferences."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.access import EVERYONE, AccessRole, allow
from portal.extensions import db
from portal.notifications import services
from portal.notifications.forms import preferences_form
from portal.notifications.kinds import optional_kinds, render_text
from portal.request_locale import gettext as _
from portal.web import is_safe_next, page_number, redirect_to

bp = Blueprint("notifications", __name__)


@bp.route("/notifications/")
@allow(EVERYONE)
def centre() -> ResponseReturnValue:
    page = db.paginate(
        services.notifications_of(current_user),
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "notifications/centre.html",
        notifications=page,
        render_text=render_text,
        unread=services.unread_count(current_user),
    )


@bp.route("/notifications/bell")
@allow(EVERYONE)
def bell() -> ResponseReturnValue:
    """Polled by htmx; does not count as activity for the idle timeout (see portal/security.py)."""
    return render_template("notifications/_bell.html", unread_notifications=services.unread_count(current_user))


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@allow(EVERYONE)
def open_notification(notification_id: int) -> ResponseReturnValue:
    notification = services.get_own_notification(current_user, notification_id) or abort(404)
    services.mark_read(current_user, notification)
    db.session.commit()
    url = notification.target_url()
    target = url if is_safe_next(url) else url_for("notifications.centre")
    return redirect_to(target)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@allow(EVERYONE)
def mark_read(notification_id: int) -> ResponseReturnValue:
    notification = services.get_own_notification(current_user, notification_id) or abort(404)
    services.mark_read(current_user, notification)
    db.session.commit()
    return redirect_to(url_for("notifications.centre"))


@bp.route("/notifications/read-all", methods=["POST"])
@allow(EVERYONE)
def mark_all_read() -> ResponseReturnValue:
    count = services.mark_all_read(current_user)
    db.session.commit()
    flash(_("%(count)s notifications marked as read.", count=count), "success")
    return redirect_to(url_for("notifications.centre"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@allow(EVERYONE)
def preferences() -> ResponseReturnValue:
    current = services.email_preferences(current_user)
    form = preferences_form(current)
    if form.validate_on_submit():
        services.set_email_preferences(current_user, {name: bool(form[name].data) for name in optional_kinds()})
        db.session.commit()
        flash(_("Your email choices were saved."), "success")
        return redirect_to(url_for("notifications.preferences"))
    status = 422 if request.method == "POST" else 200
    return render_template("notifications/preferences.html", form=form, kinds=optional_kinds()), status


@bp.route("/admin/jobs")
@allow(AccessRole.ADMIN)
def jobs() -> ResponseReturnValue:
    failures = db.paginate(services.job_failures(), page=page_number(), per_page=20, error_out=False)
    return render_template(
        "notifications/jobs.html",
        failures=failures,
        outbox=services.outbox_counts(),
        failed_emails=services.failed_emails(),
    )


@bp.route("/admin/jobs/retry-emails", methods=["POST"])
@allow(AccessRole.ADMIN)
def retry_emails() -> ResponseReturnValue:
    count = services.retry_failed_emails(current_user)
    db.session.commit()
    flash(_("%(count)s emails will be tried again.", count=count), "success")
    return redirect_to(url_for("notifications.jobs"))
