"""Account forms. Labels and messages are lazy so they follow the request's language."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, ValidationError

from portal.accounts.models import DealerRole, UserRole
from portal.forms_common import COMMON_TIMEZONES, EmailAddress, enum_choices
from portal.i18n import LANGUAGE_NAMES
from portal.request_locale import lazy_gettext as _l

CODE_FIELD_ATTRIBUTES = {
    "autocomplete": "one-time-code",
    "autocapitalize": "none",
    "spellcheck": "false",
    "autocorrect": "off",
}


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


class NewPasswordForm(FlaskForm):
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


class PasswordChangeForm(NewPasswordForm):
    """The same new-password fields, behind the current password (and a code, with a second factor on)."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(_l("Enter your current password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[Optional(), Length(max=32)],
        render_kw=CODE_FIELD_ATTRIBUTES,
        id="password-code",
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


class UserForm(FlaskForm):
    """An administrator's form for any account; a dealer user names its dealer by code."""

    email = StringField(
        _l("Email"),
        validators=[
            DataRequired(_l("Enter an email address.")),
            Length(max=254),
            EmailAddress(),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the person's name.")), Length(max=200)])
    role = SelectField(_l("Role"), choices=[])
    dealer_code = StringField(_l("Dealer code (dealer users only)"), validators=[Length(max=16)])
    dealer_role = SelectField(_l("Dealer role"), choices=[])
    is_senior = BooleanField(_l("Senior manager (head of channel)"))
    locale = SelectField(_l("Language"), choices=[])
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(zone, zone) for zone in COMMON_TIMEZONES])
    active = BooleanField(_l("Active"), default=True)
    deactivation_reason = StringField(
        _l("Why the account is deactivated (when you turn Active off)"), validators=[Optional(), Length(max=300)]
    )
    two_factor_required = BooleanField(_l("Require two-factor sign-in (staff only)"))
    temporary_password = PasswordField(_l("Temporary password"), validators=[Optional(), PasswordLength()])
    # Asked only when the email address changes or a temporary password is set (accounts.services.update_user).
    admin_password = PasswordField(
        _l("Your own password (to change the email address or set a password)"),
        validators=[Optional(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    admin_code = StringField(
        _l("Your own code from your authenticator app, or a recovery code"),
        validators=[Optional(), Length(max=32)],
        render_kw=CODE_FIELD_ATTRIBUTES,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = enum_choices(UserRole)
        self.dealer_role.choices = enum_choices(DealerRole)
        self.locale.choices = [SelectChoice("", _l("As the browser asks"))] + [
            SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()
        ]


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Name or email"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=[], validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = enum_choices(UserRole, blank=_l("All roles"))


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        _l("Email"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "none"},
    )


class SecondFactorForm(FlaskForm):
    """A code from the authenticator app, or a recovery code: one field, the service tells them apart."""

    code = StringField(
        _l("Verification code"),
        validators=[DataRequired(_l("Enter the code from your authenticator app.")), Length(max=32)],
        render_kw=CODE_FIELD_ATTRIBUTES,
    )


def _password_check(element_id: str, label: object = None) -> PasswordField:
    """Asked again before a change to how the account signs in or is reached: a borrowed, unlocked browser is not
    enough. Several forms of one page ask it, so each has its own element id."""
    return PasswordField(
        label or _l("Your current password"),
        validators=[InputRequired(_l("Enter your current password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
        id=element_id,
    )


def _code_check(element_id: str, label: object = None) -> StringField:
    """With a second factor on, a current code of the app or a recovery code goes with the password (the service
    asks for it; without a second factor the field is not shown)."""
    return StringField(
        label or _l("Code from your authenticator app, or a recovery code"),
        validators=[Optional(), Length(max=32)],
        render_kw=CODE_FIELD_ATTRIBUTES,
        id=element_id,
    )


class TwoFactorStartForm(FlaskForm):
    """Setting up, or moving to a new phone, starts with proof of identity."""

    password = _password_check("setup-password")
    code = _code_check("setup-code", _l("Code from your current app, or a recovery code"))


class TwoFactorConfirmForm(FlaskForm):
    code = StringField(
        _l("Code from the new app"),
        validators=[DataRequired(_l("Enter the 6 digits your app shows.")), Length(max=32)],
        render_kw={**CODE_FIELD_ATTRIBUTES, "inputmode": "numeric"},
    )
    password = _password_check("confirm-password")
    current_code = _code_check("confirm-current-code", _l("Code from your current app, or a recovery code"))


class RecoveryCodesForm(FlaskForm):
    password = _password_check("codes-password")
    code = _code_check("codes-code")


class TwoFactorOffForm(FlaskForm):
    password = _password_check("off-password")
    code = _code_check("off-code")


class EmailChangeForm(FlaskForm):
    new_email = StringField(
        _l("New email address"),
        validators=[DataRequired(_l("Enter the new address.")), Length(max=254), EmailAddress()],
        render_kw={"autocomplete": "email", "inputmode": "email", "autocapitalize": "none"},
    )
    password = _password_check("email-password")
    code = _code_check("email-code")


class AdminProofForm(FlaskForm):
    """An administrator's own password (and code) before resetting someone's second factor."""

    password = _password_check("reset-password", _l("Your own password"))
    code = _code_check("reset-code", _l("Your own code from your authenticator app, or a recovery code"))


class ConfirmForm(FlaskForm):
    """A button that confirms what a link proposed (the link itself changes nothing)."""
