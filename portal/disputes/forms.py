"""Forms of the referee side: violations, disputes and the mediator's actions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.disputes.rules import DisputeCategory, ViolationKind
from portal.forms_common import enum_choices, optional_int
from portal.money import MoneyField
from portal.request_locale import lazy_gettext as _l


class ViolationForm(FlaskForm):
    kind = SelectField(_l("What happened"), choices=enum_choices(ViolationKind), validators=[DataRequired()])
    period = SelectField(_l("Period"), choices=[], validators=[DataRequired()])
    description = TextAreaField(_l("Description the dealer reads"), validators=[DataRequired(), Length(max=4000)])
    penalty = MoneyField(_l("Penalty (0 for a warning)"), validators=[InputRequired(), Length(max=30)])


class AppealForm(FlaskForm):
    reason = TextAreaField(_l("Why the decision is wrong"), validators=[DataRequired(), Length(max=4000)])


class DisputeForm(FlaskForm):
    category = SelectField(
        _l("What it is about"),
        choices=[choice for choice in enum_choices(DisputeCategory) if choice.value != "violation_appeal"],
        validators=[DataRequired()],
    )
    respondent = StringField(
        _l("The other dealer's code (if another dealer is involved)"), validators=[Optional(), Length(max=16)]
    )
    claim_id = SelectField(_l("The claim it concerns"), choices=[], coerce=optional_int)
    statement_id = SelectField(_l("The statement it concerns"), choices=[], coerce=optional_int)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("What happened"), validators=[DataRequired(), Length(max=8000)])


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=8000)])
    internal = BooleanField(_l("Internal note (only mediators see it)"))


class AssignForm(FlaskForm):
    mediator = SelectField(_l("Mediator"), choices=[], coerce=optional_int, validators=[DataRequired()])


class RequestInfoForm(FlaskForm):
    party = SelectField(_l("Ask"), choices=[], coerce=optional_int, validators=[DataRequired()])
    message = TextAreaField(_l("What you need"), validators=[DataRequired(), Length(max=4000)])
    days = IntegerField(_l("Days to answer"), default=5, validators=[InputRequired(), NumberRange(1, 60)])


class ResolveForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=[], validators=[DataRequired()])
    party = SelectField(_l("The party it applies to (warning, penalty, adjustment)"), choices=[], coerce=optional_int)
    amount = MoneyField(
        _l("Amount (penalty, or adjustment: negative takes back)"),
        validators=[Optional(), Length(max=30)],
        allow_negative=True,
    )
    summary = TextAreaField(_l("Summary both parties read"), validators=[DataRequired(), Length(max=4000)])
    # "yes" once the mediator has seen what the outcome does (the confirm step); without it nothing is applied.
    confirmed = HiddenField()


class DismissForm(FlaskForm):
    reason = TextAreaField(_l("Reason both parties read"), validators=[DataRequired(), Length(max=4000)])


class WithdrawDisputeForm(FlaskForm):
    reason = TextAreaField(_l("Why (optional)"), validators=[Optional(), Length(max=2000)])
