"""The email preferences form: one checkbox per kind of event."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField

from portal.notifications.kinds import optional_kinds


def preferences_form(current: dict[str, bool], formdata: Any = None) -> FlaskForm:
    """A form class built from the kinds registry, so a new kind gets its checkbox without touching the form."""

    class PreferencesForm(FlaskForm):
        pass

    for name, kind in optional_kinds().items():
        setattr(PreferencesForm, name, BooleanField(kind.label, default=current.get(name, kind.email_by_default)))
    return PreferencesForm(formdata=formdata) if formdata is not None else PreferencesForm()
