"""Forms of the partner side. Amounts and percentages are text parsed with Decimal by the services, never floats."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.dealers.models import DealerTier
from portal.forms_common import enum_choices
from portal.money import MoneyField
from portal.rebates.models import Method
from portal.rebates.services import MAX_TIERS
from portal.request_locale import lazy_gettext as _l


class VoidImportForm(FlaskForm):
    reason = TextAreaField(
        _l("Why void this import (the dealers are told)"), validators=[DataRequired(), Length(max=1000)]
    )


class TargetDecisionForm(FlaskForm):
    note = StringField(_l("Why (when rejecting)"), validators=[Optional(), Length(max=1000)])


class TierRow(FlaskForm):
    class Meta:
        csrf = False  # part of ProgramForm, which carries the token

    threshold = StringField(_l("Attainment from (%)"), validators=[Optional(), Length(max=12)])
    rate = StringField(_l("Rebate rate (%)"), validators=[Optional(), Length(max=12)])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ProgramForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    method = SelectField(_l("Method"), choices=enum_choices(Method), validators=[DataRequired()])
    eligible = MultiCheckboxField(_l("Dealer tiers it applies to"), choices=enum_choices(DealerTier))
    tiers = FieldList(FormField(TierRow), min_entries=MAX_TIERS, max_entries=MAX_TIERS)


class PayForm(FlaskForm):
    reference = StringField(_l("Payment reference"), validators=[DataRequired(), Length(max=120)])


class AdjustmentForm(FlaskForm):
    amount = MoneyField(
        _l("Amount (negative to deduct)"),
        validators=[DataRequired(), Length(max=30)],
        allow_negative=True,
        message=_l("Enter an amount such as -500 or 1,250.00."),
    )
    note = TextAreaField(_l("Reason the dealer sees"), validators=[DataRequired(), Length(max=1000)])
    corrects = SelectField(_l("Corrects period"), choices=[])
