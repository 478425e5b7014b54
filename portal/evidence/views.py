"""Serving evidence: only to people the owner's rules allow, with headers that keep a hostile file harmless."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, abort, flash, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.access import EVERYONE, allow
from portal.evidence import services
from portal.evidence.forms import UploadForm
from portal.evidence.validation import RejectedFile
from portal.extensions import db
from portal.request_locale import gettext as _
from portal.web import redirect_to

bp = Blueprint("evidence", __name__)

DOWNLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
# A preview is always an image (a PDF's page is drawn on the server): shown by <img>, never framed, never run.
PREVIEW_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"


def _protected(response: Response, policy: str) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _download(evidence_id: int) -> Response:
    """The original file, only ever as an attachment: the browser saves it, and nothing in it runs in the portal."""
    evidence = services.get_viewable(current_user, evidence_id)
    response = send_file(
        io.BytesIO(services.read_bytes(evidence)),
        mimetype=evidence.content_type,
        as_attachment=True,
        download_name=evidence.original_name,
        max_age=0,
    )
    return _protected(response, DOWNLOAD_POLICY)


def _preview(evidence_id: int, page: int) -> Response:
    """An image for the portal's pages: the stored (re-encoded) image itself, or one page of a PDF drawn as PNG."""
    evidence = services.get_viewable(current_user, evidence_id)
    if evidence.is_image:
        if page != 1:
            abort(404)
        image, mimetype, name = services.read_bytes(evidence), evidence.content_type, evidence.original_name
    else:
        drawn = services.pdf_page_image(evidence, page)
        if drawn is None:
            abort(404)
        image, mimetype = drawn, "image/png"
        name = f"{evidence.original_name.removesuffix('.pdf')} ({page}).png"
    response = send_file(io.BytesIO(image), mimetype=mimetype, download_name=name, max_age=0)
    return _protected(response, PREVIEW_POLICY)


def upload_then(owner_type: str, owner_id: int, done_url: str, render: Any) -> ResponseReturnValue:
    """An upload form posted to an owner's page: checked like every file in the portal, committed, then back to
    the page; a refused file re-renders the page (render(upload=..., upload_error=..., status=422))."""

    form = UploadForm()
    if not form.validate_on_submit():
        return render(upload=form, status=422)
    upload = form.file.data
    try:
        evidence = services.add_evidence(current_user, owner_type, owner_id, upload.stream, upload.filename)
    except RejectedFile as refusal:
        db.session.rollback()
        return render(upload=form, upload_error=refusal.message, status=422)
    db.session.commit()
    flash(_("%(name)s was added.", name=evidence.original_name), "success")
    return redirect_to(done_url)


@bp.route("/evidence/<int:evidence_id>/preview")
@allow(EVERYONE)
def preview(evidence_id: int) -> Response:
    return _preview(evidence_id, min(max(request.args.get("page", 1, type=int) or 1, 1), 10**6))


@bp.route("/evidence/<int:evidence_id>/download")
@allow(EVERYONE)
def download(evidence_id: int) -> Response:
    return _download(evidence_id)


@bp.route("/evidence/<int:evidence_id>")
@allow(EVERYONE)
def view(evidence_id: int) -> ResponseReturnValue:
    """A portal page around the preview: the only place a file is framed."""
    return render_template("evidence/view.html", evidence=services.get_viewable(current_user, evidence_id))
