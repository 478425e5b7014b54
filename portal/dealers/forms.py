"""Forms of the directory: dealers, status changes, portfolios, territories, periods, staff and trainees."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from portal.accounts.forms import PasswordLength
from portal.dealers.models import DealerStatus, DealerTier
from portal.forms_common import CURRENCIES, EmailAddress, enum_choices, optional_int
from portal.request_locale import lazy_gettext as _l

CODE_PATTERN = Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Use letters, digits, - and _ only."))


class DealerForm(FlaskForm):
    code = StringField(_l("Dealer code"), validators=[DataRequired(_l("Enter a code.")), Length(max=16), CODE_PATTERN])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the dealer's name.")), Length(max=200)])
    territory_id = SelectField(
        _l("Territory"), coerce=optional_int, validators=[InputRequired(_l("Choose a territory."))]
    )
    tier = SelectField(_l("Tier"), choices=[], validate_choice=True)
    status = SelectField(_l("Starting status"), choices=[])
    manager_id = SelectField(_l("Channel manager"), coerce=optional_int, validators=[Optional()])
    currency = SelectField(_l("Currency"), choices=[SelectChoice(code, code) for code in CURRENCIES])
    payee_name = StringField(_l("Payee name"), validators=[Length(max=200)])
    payee_bank = StringField(_l("Bank"), validators=[Length(max=200)])
    payee_account = StringField(_l("Bank account number"), validators=[Length(max=64)])

    def __init__(self, *args: object, territories: list, managers: list, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.territory_id.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(territory.id, territory.name) for territory in territories
        ]
        self.manager_id.choices = [SelectChoice("", _l("None yet"))] + [
            SelectChoice(manager.id, manager.name) for manager in managers
        ]
        self.tier.choices = enum_choices(DealerTier)
        self.status.choices = [
            choice
            for choice in enum_choices(DealerStatus)
            if choice.value in (DealerStatus.ONBOARDING.value, DealerStatus.ACTIVE.value)
        ]


class DealerStatusForm(FlaskForm):
    expected = HiddenField()
    status = SelectField(_l("New status"), choices=[])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Say why the status changes.")), Length(max=1000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = enum_choices(DealerStatus)


class TierChangeForm(FlaskForm):
    """A tier from a day on: the view offers the next period's start and the starts of open periods that began."""

    tier = SelectField(_l("New tier"), choices=[])
    effective_from = SelectField(_l("From"), choices=[])
    # Not `reason`: the dealer's page also has the status form, and field ids must be unique on a page.
    why = TextAreaField(
        _l("Why"), validators=[DataRequired(_l("Say why the tier changes; the dealer is told.")), Length(max=1000)]
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.tier.choices = enum_choices(DealerTier)


class ReopenForm(FlaskForm):
    reason = TextAreaField(
        _l("Why it reopens"),
        validators=[DataRequired(_l("Say why the period reopens; the dealers are told.")), Length(max=1000)],
    )


class ReassignForm(FlaskForm):
    manager_id = SelectField(_l("Channel manager"), coerce=optional_int, validators=[InputRequired()])

    def __init__(self, *args: object, managers: list, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.manager_id.choices = [SelectChoice(manager.id, manager.name) for manager in managers]


class PortfolioMoveForm(FlaskForm):
    from_manager_id = SelectField(_l("Move every dealer of"), coerce=optional_int, validators=[InputRequired()])
    to_manager_id = SelectField(_l("To"), coerce=optional_int, validators=[InputRequired()])

    def __init__(self, *args: object, managers: list, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        choices = [SelectChoice(manager.id, manager.name) for manager in managers]
        self.from_manager_id.choices = list(choices)
        self.to_manager_id.choices = list(choices)


class TerritoryForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter a code.")), Length(max=16), CODE_PATTERN])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=120)])


class PeriodForm(FlaskForm):
    year = IntegerField(
        _l("Year"),
        validators=[
            InputRequired(_l("Enter a year.")),
            NumberRange(min=2000, max=2100, message=_l("Enter a year between 2000 and 2100.")),
        ],
    )
    quarter = SelectField(_l("Quarter"), choices=[SelectChoice(q, f"Q{q}") for q in range(1, 5)], coerce=optional_int)


class StaffForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the person's name.")), Length(max=200)])
    email = StringField(
        _l("Email"),
        validators=[
            DataRequired(_l("Enter the person's email address.")),
            Length(max=254),
            EmailAddress(),
        ],
    )
    temporary_password = PasswordField(_l("Temporary password (optional)"), validators=[Optional(), PasswordLength()])


class TraineeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the person's name.")), Length(max=200)])
    job_title = StringField(_l("Job title"), validators=[Length(max=120)])
    email = StringField(
        _l("Email (optional)"),
        validators=[Optional(), Length(max=254), EmailAddress()],
    )
    phone = StringField(_l("Phone (optional)"), validators=[Length(max=40)])
