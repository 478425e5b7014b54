"""The news pages: what a dealer's people read (the news, an announcement, the policy library) and the console's
(the list, the draft form, publishing and withdrawing, who has acknowledged). Thin: parse, call one service,
commit, redirect or render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.access import AccessRole, allow
from portal.dealers.audiences import AudienceKind
from portal.evidence import services as evidence_services
from portal.evidence.forms import UploadForm
from portal.evidence.views import upload_then
from portal.news import attachments, services
from portal.news.forms import AnnouncementForm
from portal.news.models import Announcement
from portal.request_locale import gettext as _
from portal.service_errors import NotFound
from portal.web import finish_action

bp = Blueprint("news", __name__, url_prefix="/news")


# --- Dealers ----------------------------------------------------------------------------------------------------------


@bp.route("/")
@allow(*services.READERS)
def news_list() -> ResponseReturnValue:
    shown = services.readable(current_user)
    return render_template(
        "news/list.html", announcements=shown, acknowledged=services.acknowledgement_states(current_user, shown)
    )


@bp.route("/<int:announcement_id>")
@allow(*services.READERS)
def item(announcement_id: int) -> ResponseReturnValue:
    found = services.get_readable(current_user, announcement_id)
    return render_template(
        "news/item.html",
        announcement=found,
        documents=evidence_services.evidence_of(attachments.OWNER_TYPE, found.id),
        uploaders={},
        acknowledgement=services.acknowledgement_states(current_user, [found]).get(found.id),
        can_acknowledge=current_user.access_role is AccessRole.DEALER_OWNER,
    )


@bp.route("/<int:announcement_id>/acknowledge", methods=["POST"])
@allow(*services.READERS)
def acknowledge(announcement_id: int) -> ResponseReturnValue:
    found = services.get_readable(current_user, announcement_id)
    return finish_action(
        None,
        lambda: services.acknowledge(current_user, found),
        lambda _done: (
            _("Acknowledged for your dealer."),
            url_for("news.item", announcement_id=announcement_id),
        ),
    )


@bp.route("/policies")
@allow(*services.READERS)
def policies() -> ResponseReturnValue:
    return render_template("news/policies.html", library=services.policies_in_force(current_user))


# --- The console ------------------------------------------------------------------------------------------------------


@bp.route("/manage/")
@allow(*services.WRITERS)
def manage() -> ResponseReturnValue:
    return render_template("news/manage.html", announcements=services.managed(current_user))


def _render_form(form: AnnouncementForm, announcement: Announcement | None, status: int = 200) -> ResponseReturnValue:
    return render_template("news/form.html", form=form, announcement=announcement), status


@bp.route("/manage/new", methods=["GET", "POST"])
@allow(*services.WRITERS)
def new_announcement() -> ResponseReturnValue:
    form = AnnouncementForm()
    if request.method == "GET":
        return _render_form(form, None)
    if form.validate_on_submit():
        done = finish_action(
            form,
            lambda: services.save_draft(current_user, None, form.values()),
            lambda saved: (
                _("Saved as a draft: read it over, then publish it."),
                url_for("news.managed_item", announcement_id=saved.id),
            ),
        )
        if done is not None:
            return done
    return _render_form(form, None, 422)


def _filled(announcement: Announcement) -> AnnouncementForm:
    form = AnnouncementForm(formdata=None, obj=announcement)
    form.kind.data = announcement.kind.value
    form.audience_kind.data = announcement.audience_kind.value
    form.tiers.data = list(announcement.audience) if announcement.audience_kind is AudienceKind.TIERS else []
    codes = (
        announcement.audience if announcement.audience_kind in (AudienceKind.TERRITORIES, AudienceKind.DEALERS) else []
    )
    form.audience_codes.data = "\n".join(codes)
    return form


@bp.route("/manage/<int:announcement_id>/edit", methods=["GET", "POST"])
@allow(*services.WRITERS)
def edit_announcement(announcement_id: int) -> ResponseReturnValue:
    found = services.get_managed(current_user, announcement_id)
    if not services.can_manage(current_user, found):
        raise NotFound()  # another manager's, published: read here, changed by its writer only
    if request.method == "GET":
        return _render_form(_filled(found), found)
    form = AnnouncementForm()
    if form.validate_on_submit():
        done = finish_action(
            form,
            lambda: services.save_draft(current_user, found, form.values()),
            lambda saved: (_("The draft is saved."), url_for("news.managed_item", announcement_id=saved.id)),
        )
        if done is not None:
            return done
    return _render_form(form, found, 422)


def _render_managed(found: Announcement, **extra: Any) -> ResponseReturnValue:
    total, done, waiting = services.report(found) if found.must_acknowledge else (0, 0, [])
    return render_template(
        "news/managed_item.html",
        announcement=found,
        can_manage=services.can_manage(current_user, found),
        addressed=total,
        acknowledged_count=done,
        waiting=waiting,
        documents=evidence_services.evidence_of(attachments.OWNER_TYPE, found.id),
        uploaders={},
        can_attach=attachments.can_add(current_user, found.id),
        removable=lambda document: attachments.can_remove(current_user, document),
        remove_url=lambda document: url_for(
            "news.remove_attachment", announcement_id=found.id, evidence_id=document.id
        ),
        upload=extra.pop("upload", None) or UploadForm(formdata=None),
        upload_error=extra.pop("upload_error", ""),
    ), extra.pop("status", 200)


@bp.route("/manage/<int:announcement_id>")
@allow(*services.WRITERS)
def managed_item(announcement_id: int) -> ResponseReturnValue:
    return _render_managed(services.get_managed(current_user, announcement_id))


@bp.route("/manage/<int:announcement_id>/attachments", methods=["POST"])
@allow(*services.WRITERS)
def add_attachment(announcement_id: int) -> ResponseReturnValue:
    found = services.get_managed(current_user, announcement_id)
    return upload_then(
        attachments.OWNER_TYPE,
        found.id,
        url_for("news.managed_item", announcement_id=found.id),
        lambda **extra: _render_managed(found, **extra),
    )


@bp.route("/manage/<int:announcement_id>/attachments/<int:evidence_id>/remove", methods=["POST"])
@allow(*services.WRITERS)
def remove_attachment(announcement_id: int, evidence_id: int) -> ResponseReturnValue:
    found = services.get_managed(current_user, announcement_id)
    evidence = evidence_services.get_viewable(current_user, evidence_id)
    if evidence.owner_type != attachments.OWNER_TYPE or evidence.owner_id != found.id:
        raise NotFound()
    return finish_action(
        None,
        lambda: evidence_services.remove_evidence(current_user, evidence),
        lambda _done: (
            _("%(name)s was removed.", name=evidence.original_name),
            url_for("news.managed_item", announcement_id=found.id),
        ),
    )


def _decision(announcement_id: int, action: Any, message: str) -> ResponseReturnValue:
    found = services.get_managed(current_user, announcement_id)
    return finish_action(
        None,
        lambda: action(current_user, found),
        lambda _done: (message, url_for("news.managed_item", announcement_id=announcement_id)),
    )


@bp.route("/manage/<int:announcement_id>/publish", methods=["POST"])
@allow(*services.WRITERS)
def publish(announcement_id: int) -> ResponseReturnValue:
    return _decision(announcement_id, services.publish, _("Published: the dealers addressed read it from now."))


@bp.route("/manage/<int:announcement_id>/withdraw", methods=["POST"])
@allow(*services.WRITERS)
def withdraw(announcement_id: int) -> ResponseReturnValue:
    return _decision(announcement_id, services.withdraw, _("Withdrawn: dealers no longer read it."))
