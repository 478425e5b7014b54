"""The referee's forms: price lists, their prices and the catalogue from files, a territory's regions, and the
decision on a suspicion."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.money import MoneyField
from portal.request_locale import lazy_gettext as _l


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


class SightingForm(FlaskForm):
    """The field check, built for a phone: the code (scanned or typed), photos, where, the shop, the price seen."""

    code = StringField(_l("Code on the product or case"), validators=[DataRequired(), Length(max=64)])
    photos = MultipleFileField(
        _l("Photos of the product and the shop"),
        render_kw={"accept": "image/*", "multiple": True},
    )
    region = StringField(_l("Region (code or full name)"), validators=[DataRequired(), Length(max=60)])
    shop = StringField(_l("Shop"), validators=[Length(max=200)])
    price_seen = MoneyField(_l("Price seen (one unit)"), validators=[Optional(), Length(max=30)])
    seen_on = DateField(_l("Seen on"), validators=[InputRequired()])
