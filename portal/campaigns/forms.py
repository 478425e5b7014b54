"""The campaign form (a draft, changed until it is launched) and the decision buttons' empty forms (CSRF only)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from portal.campaigns.rules import Measure, RewardKind
from portal.dealers.audiences import AudienceKind, parse_codes
from portal.dealers.models import DealerTier
from portal.forms_common import CURRENCIES, CheckboxesField, enum_choices, split_list
from portal.money import MoneyField
from portal.request_locale import lazy_gettext as _l

MONEY_FIELDS = ("rate", "threshold_amount", "cap", "budget")


class CampaignForm(FlaskForm):
    name_en = StringField(_l("Name in English"), validators=[Length(max=120)])
    name_zh = StringField(_l("Name in Chinese"), validators=[Length(max=120)])
    description = TextAreaField(_l("What dealers read about it"), validators=[Length(max=4000)])
    audience_kind = SelectField(_l("For"), choices=enum_choices(AudienceKind), default=AudienceKind.ALL.value)
    tiers = CheckboxesField(_l("Tiers"), choices=enum_choices(DealerTier), validate_choice=True)
    audience_codes = TextAreaField(
        _l("Territory or dealer codes (one per line or separated by commas)"), validators=[Length(max=20_000)]
    )
    starts_on = DateField(_l("First day"), validators=[InputRequired()])
    ends_on = DateField(_l("Last day"), validators=[InputRequired()])
    skus = TextAreaField(_l("SKUs that count"), validators=[Length(max=20_000)])
    product_lines = TextAreaField(_l("Product lines that count"), validators=[Length(max=20_000)])
    currency = SelectField(_l("Currency"), choices=[SelectChoice(code, code) for code in CURRENCIES], default="CNY")
    measure = SelectField(_l("Counted as"), choices=enum_choices(Measure), default=Measure.UNITS.value)
    reward_kind = SelectField(_l("Reward"), choices=enum_choices(RewardKind), default=RewardKind.PER_UNIT.value)
    rate = MoneyField(_l("Reward per unit, or the lump sum"), validators=[InputRequired(), Length(max=30)])
    threshold_units = IntegerField(
        _l("Threshold in units (lump sum)"), validators=[Optional(), NumberRange(min=1, max=10**9)]
    )
    threshold_amount = MoneyField(_l("Threshold in money (lump sum)"), validators=[Optional(), Length(max=30)])
    cap = MoneyField(_l("Most one dealer earns (empty: no cap)"), validators=[Optional(), Length(max=30)])
    budget = MoneyField(_l("Overall budget"), validators=[InputRequired(), Length(max=30)])

    def set_currency(self, fallback: str = "CNY") -> None:
        """Amounts are read in the currency chosen in the form itself (known before validating)."""
        chosen = self.currency.data if self.currency.data in CURRENCIES else fallback
        for name in MONEY_FIELDS:
            getattr(self, name).currency = chosen

    def validate_name_zh(self, field: Any) -> None:
        if not (self.name_en.data or "").strip() and not (field.data or "").strip():
            raise ValidationError(_l("Give the campaign a name, in either language."))

    def validate_reward_kind(self, field: Any) -> None:
        if field.data == RewardKind.PER_UNIT.value and self.measure.data != Measure.UNITS.value:
            raise ValidationError(_l("A reward for each unit counts units sold."))

    def validate_threshold_units(self, field: Any) -> None:
        lump = self.reward_kind.data == RewardKind.THRESHOLD.value
        if lump and self.measure.data == Measure.UNITS.value and field.data is None:
            raise ValidationError(_l("A lump sum needs its threshold."))

    def validate_threshold_amount(self, field: Any) -> None:
        lump = self.reward_kind.data == RewardKind.THRESHOLD.value
        if lump and self.measure.data == Measure.AMOUNT.value and not (field.data or "").strip():
            raise ValidationError(_l("A lump sum needs its threshold."))

    def validate_ends_on(self, field: Any) -> None:
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The campaign ends before it starts."))

    def values(self) -> dict[str, Any]:
        """The service's values, once the form validated."""
        kind = AudienceKind(self.audience_kind.data)
        measure = Measure(self.measure.data)
        reward_kind = RewardKind(self.reward_kind.data)
        if kind is AudienceKind.TIERS:
            audience = sorted(self.tiers.data or [])
        elif kind is AudienceKind.ALL:
            audience = []
        else:
            audience = parse_codes(self.audience_codes.data or "")
        threshold = 0
        if reward_kind is RewardKind.THRESHOLD:
            threshold = (
                int(self.threshold_units.data or 0)
                if measure is Measure.UNITS
                else int(self.threshold_amount.minor or 0)
            )
        return {
            "name_en": (self.name_en.data or "").strip(),
            "name_zh": (self.name_zh.data or "").strip(),
            "description": (self.description.data or "").strip(),
            "audience_kind": kind,
            "audience": audience,
            "starts_on": self.starts_on.data,
            "ends_on": self.ends_on.data,
            "skus": sorted({sku.upper() for sku in split_list(self.skus.data)}),
            "product_lines": split_list(self.product_lines.data),
            "currency": self.currency.data,
            "measure": measure,
            "reward_kind": reward_kind,
            "rate": int(self.rate.minor or 0),
            "threshold": threshold,
            "cap": self.cap.minor,
            "budget": int(self.budget.minor or 0),
        }
