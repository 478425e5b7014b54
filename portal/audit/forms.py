"""The audit trail's filter form (a GET form: no CSRF token, nothing changes)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.request_locale import lazy_gettext as _l

SUBJECT_LABELS = {
    "user": _l("User"),
    "dealer": _l("Dealer"),
    "trainee": _l("Trainee"),
    "territory": _l("Territory"),
    "period": _l("Period"),
}


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField(_l("Who (name or email)"), validators=[Optional(), Length(max=100)])
    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    subject_type = SelectField(_l("Object type"), choices=[], validators=[Optional()])
    subject = StringField(_l("Object (code, email or name)"), validators=[Optional(), Length(max=100)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subject_type.choices = [SelectChoice("", _l("Any"))] + [
            SelectChoice(key, text) for key, text in SUBJECT_LABELS.items()
        ]
