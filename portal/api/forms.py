"""The admin's form for a new integration client."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.api.rules import Scope
from portal.outbox import EventKind
from portal.request_locale import lazy_gettext as _l


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    # Checked by the service (an unknown scope is named there); the page offers exactly the seven.
    scopes = SelectMultipleField(
        _l("Scopes"), choices=[SelectChoice(scope.value, scope.value) for scope in Scope], validate_choice=False
    )
    networks = TextAreaField(
        _l("Addresses it may call from (optional, one range per line)"), validators=[Optional(), Length(max=2000)]
    )


class SubscriptionForm(FlaskForm):
    url = StringField(_l("Receiver's address"), validators=[DataRequired(), Length(max=500)])
    # Checked by the service (an unknown kind is refused there); the page offers exactly the kinds published.
    kinds = SelectMultipleField(
        _l("Events to send"),
        choices=[SelectChoice(kind.value, kind.value) for kind in EventKind],
        validate_choice=False,
    )
