"""Training forms. Times are typed in the user's time zone and stored in UTC by the views."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms_common import enum_choices
from portal.request_locale import lazy_gettext as _l
from portal.training.models import CourseCategory

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


class CourseForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    category = SelectField(_l("Category"), choices=enum_choices(CourseCategory), validators=[DataRequired()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    validity_months = IntegerField(
        _l("Certificate valid for (months, 0: no expiry)"), validators=[InputRequired(), NumberRange(0, 120)]
    )
    prerequisite_ids = SelectMultipleField(_l("Prerequisites"), coerce=int, choices=[], validate_choice=True)
    active = BooleanField(_l("Open for enrolment"), default=True)


class SessionForm(FlaskForm):
    starts_at = DateTimeLocalField(_l("Starts"), format=DATETIME_FORMATS, validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=DATETIME_FORMATS, validators=[DataRequired()])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    online_link = StringField(_l("Online link"), validators=[Optional(), Length(max=500)])
    capacity = IntegerField(_l("Seats"), validators=[InputRequired(), NumberRange(1, 10_000)])
    enrol_deadline = DateTimeLocalField(_l("Enrolment closes"), format=DATETIME_FORMATS, validators=[DataRequired()])
    cancel_deadline = DateTimeLocalField(_l("Cancelling closes"), format=DATETIME_FORMATS, validators=[DataRequired()])


class EnrolForm(FlaskForm):
    person = SelectField(_l("Person to enrol"), choices=[], validators=[DataRequired()])


class CancelSessionForm(FlaskForm):
    reason = TextAreaField(_l("Reason everyone enrolled is told"), validators=[DataRequired(), Length(max=1000)])


class AttendanceForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=[
            SelectChoice("attended", _l("Attended")),
            SelectChoice("no_show", _l("No-show")),
            SelectChoice("completed", _l("Completed")),
        ],
        validators=[DataRequired()],
    )
