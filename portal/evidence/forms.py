"""The upload form. The size and type checks that matter happen in validation.py, by content."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from portal.request_locale import lazy_gettext as _l


class UploadForm(FlaskForm):
    file = FileField(
        _l("File (PDF, JPEG or PNG, at most 10 MB)"),
        validators=[FileRequired(_l("Choose a file to upload."))],
        render_kw={"accept": "application/pdf,image/jpeg,image/png"},
    )
