"""The referee's forms: price lists, their prices and the catalogue from files, a territory's regions, and the
decision on a suspicion."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from portal.money import MoneyField


class PriceListForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    effective_from = DateField(_l("Takes effect on"), validators=[InputRequired()])


class RegionsForm(FlaskForm):
    regions = TextAreaField(
        _l("Regions (codes or full names, one per line or separated by commas)"), validators=[Length(max=20_000)]
    )


class DismissSuspicionForm(FlaskForm):
    reason = TextAreaField(_l("Why this is not a breach"), validators=[DataRequired(), Length(max=2000)])


class SuspicionViolationForm(FlaskForm):
    description = TextAreaField(_l("What the dealer reads, besides the evidence"), validators=[Length(max=2000)])
    penalty = MoneyField(_l("Penalty (0 for a warning)"), validators=[InputRequired(), Length(max=30)])
    change_reason = TextAreaField(
        _l("Why the penalty differs from the schedule (only then)"), validators=[Length(max=2000)]
    )
