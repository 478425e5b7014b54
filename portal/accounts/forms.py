"""Account forms. Labels and messages are lazy so they follow the request's language."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, ValidationError

from portal.i18n import LANGUAGE_NAMES


class LoginForm(FlaskForm):
    email = StringField(
        _l("Email"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class PasswordLength:
    """Minimum length read from configuration at validation time, so deployments can raise it."""

    def __call__(self, form: Any, field: Any) -> None:
        minimum = current_app.config["PASSWORD_MIN_LENGTH"]
        value = field.data or ""
        if len(value) < minimum:
            raise ValidationError(_l("Use at least %(minimum)s characters.", minimum=minimum))
        if len(value) > 128:
            raise ValidationError(_l("Use at most 128 characters."))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(_l("Enter your current password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[InputRequired(_l("Choose a new password.")), PasswordLength()],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        _l("Repeat the new password"),
        validators=[
            InputRequired(_l("Repeat the new password.")),
            EqualTo("new_password", _l("The two new passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class LanguageForm(FlaskForm):
    locale = SelectField(
        _l("Language"),
        choices=[
            SelectChoice(code, name, render_kw={"lang": "zh-Hans" if code == "zh_Hans" else "en"})
            for code, name in LANGUAGE_NAMES.items()
        ],
        validate_choice=True,
    )
    next = HiddenField()
