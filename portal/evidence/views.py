"""Serving evidence: only to people the owner's rules allow, with headers that keep a hostile file harmless."""

from __future__ import annotations

import io

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
