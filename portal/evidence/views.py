"""Serving evidence: only to people the owner's rules allow, with headers that keep a hostile file harmless."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, render_template, send_file
from flask_login import current_user

from portal.access import EVERYONE, allow
from portal.evidence import services

bp = Blueprint("evidence", __name__)

DOWNLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
# Previews may be framed by the portal's own pages and nothing else. Chromium's PDF viewer does not run inside a
# sandboxed document, so PDFs (already checked to carry no scripts) get no sandbox; images do.
PREVIEW_POLICIES = {
    "application/pdf": "default-src 'none'; frame-ancestors 'self'",
    "image": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'",
}


def _file_response(evidence_id: int, *, inline: bool) -> Response:
    evidence = services.get_viewable(current_user, evidence_id)
    response = send_file(
        io.BytesIO(services.read_bytes(evidence)),
        mimetype=evidence.content_type,
        as_attachment=not inline,
        download_name=evidence.original_name,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if inline:
        kind = "application/pdf" if evidence.content_type == "application/pdf" else "image"
        response.headers["Content-Security-Policy"] = PREVIEW_POLICIES[kind]
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
        response.headers["X-Frame-Options"] = "DENY"
    return response


def upload_then(owner_type: str, owner_id: int, done_url: str, render: Any) -> object:
    """An upload form posted to an owner's page: checked like every file in the portal, committed, then back to
    the page; a refused file re-renders the page (render(upload=..., upload_error=..., status=422))."""
    from flask import flash
    from flask_babel import gettext as _

    from portal.evidence.forms import UploadForm
    from portal.evidence.validation import RejectedFile
    from portal.extensions import db
    from portal.web import redirect_to

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
    return _file_response(evidence_id, inline=True)


@bp.route("/evidence/<int:evidence_id>/download")
@allow(EVERYONE)
def download(evidence_id: int) -> Response:
    return _file_response(evidence_id, inline=False)


@bp.route("/evidence/<int:evidence_id>")
@allow(EVERYONE)
def view(evidence_id: int) -> object:
    """A portal page around the preview: the only place a file is framed."""
    return render_template("evidence/view.html", evidence=services.get_viewable(current_user, evidence_id))
