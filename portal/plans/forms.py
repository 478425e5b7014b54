"""The plan's small forms (a goal, an action, accepting, the review and the dealer's answer) and the visit form.
Each change of a plan is its own small form, so a phone shows one short form at a time."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from portal.forms_common import enum_choices, optional_int
from portal.money import MoneyField
from portal.plans.rules import GoalKind, Side
from portal.request_locale import lazy_gettext as _l

LARGEST_COUNT = 100_000


class StartPlanForm(FlaskForm):
    dealer_code = StringField(_l("Dealer code"), validators=[Length(max=32)])
    period = SelectField(_l("Quarter"), choices=[], validate_choice=True)

    def dealer(self) -> str:
        return (self.dealer_code.data or "").strip().upper()


class GoalForm(FlaskForm):
    kind = SelectField(_l("Goal"), choices=enum_choices(GoalKind), default=GoalKind.SALES.value)
    count = IntegerField(
        _l("How many (outlets, people)"), validators=[Optional(), NumberRange(min=1, max=LARGEST_COUNT)]
    )
    budget = MoneyField(_l("Budget planned (promotion)"), validators=[Optional(), Length(max=30)])
    course_id = SelectField(_l("Course (people certified)"), choices=[], coerce=optional_int, validate_choice=False)
    activity_type_id = SelectField(
        _l("Activity type (promotion; empty: any)"), choices=[], coerce=optional_int, validate_choice=False
    )
    note = StringField(_l("Note"), validators=[Length(max=300)])

    def validate_count(self, field: Any) -> None:
        if self.kind.data in (GoalKind.NEW_OUTLETS.value, GoalKind.CERTIFIED.value) and not field.data:
            raise ValidationError(_l("Say how many."))

    def validate_budget(self, field: Any) -> None:
        if self.kind.data == GoalKind.PROMOTION.value and not (field.data or "").strip():
            raise ValidationError(_l("Say how much the promotion is to cost."))

    def values(self) -> dict[str, Any]:
        kind = GoalKind(self.kind.data)
        wanted: int | None = None
        if kind is GoalKind.PROMOTION:
            wanted = self.budget.minor
        elif kind is not GoalKind.SALES:
            wanted = self.count.data
        return {
            "kind": kind,
            "wanted": wanted,
            "course_id": self.course_id.data,
            "activity_type_id": self.activity_type_id.data,
            "note": (self.note.data or "").strip(),
        }


class ActionForm(FlaskForm):
    what = StringField(_l("What"), validators=[DataRequired(), Length(max=300)])
    side = SelectField(_l("Whose"), choices=enum_choices(Side), default=Side.DEALER.value)
    who = StringField(_l("Who (a name)"), validators=[Length(max=120)])
    due_on = DateField(_l("Due"), validators=[InputRequired()])

    def values(self) -> dict[str, Any]:
        return {
            "what": (self.what.data or "").strip(),
            "side": Side(self.side.data),
            "who": (self.who.data or "").strip(),
            "due_on": self.due_on.data,
        }


class AcceptForm(FlaskForm):
    revision = HiddenField(validators=[InputRequired()])

    def read_revision(self) -> int | None:
        text = self.revision.data or ""
        return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


class ReviewForm(FlaskForm):
    notes = TextAreaField(_l("The manager's notes"), validators=[DataRequired(), Length(max=10_000)])


class CommentForm(FlaskForm):
    comments = TextAreaField(_l("The dealer's comments"), validators=[DataRequired(), Length(max=10_000)])


class VisitForm(FlaskForm):
    dealer_code = StringField(_l("Dealer code"), validators=[DataRequired(), Length(max=32)])
    visited_on = DateField(_l("Day of the visit"), validators=[InputRequired()])
    attendees = StringField(_l("Who was there"), validators=[Length(max=300)])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=10_000)])
    follow_ups = TextAreaField(_l("Follow-ups"), validators=[Length(max=5_000)])
    shared = BooleanField(_l("Shared with the dealer (otherwise only the manufacturer's people read it)"))

    def dealer(self) -> str:
        return (self.dealer_code.data or "").strip().upper()

    def values(self) -> dict[str, Any]:
        return {
            "visited_on": self.visited_on.data,
            "attendees": (self.attendees.data or "").strip(),
            "notes": self.notes.data or "",
            "follow_ups": self.follow_ups.data or "",
            "shared": bool(self.shared.data),
        }
