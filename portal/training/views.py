"""Training pages: the catalogue and enrolment for dealers, rosters and attendance in the console, courses and
sessions for admins, certificates and the public check of a certificate number."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_timezone
from flask_login import current_user
from wtforms import SelectChoice

from portal.access import CHANNEL_MANAGERS, DEALER_USERS, AccessRole, allow, public
from portal.dates import company_today
from portal.extensions import db, limiter
from portal.page_cache import cached_page
from portal.request_locale import gettext as _
from portal.training import attendance as training_attendance
from portal.training import catalogue as training_catalogue
from portal.training import services
from portal.training.forms import AttendanceForm, CancelSessionForm, CourseForm, EnrolForm, SessionForm
from portal.training.models import SEATS_TOPIC, CourseCategory, EnrollmentStatus
from portal.training.rules import expires_soon
from portal.types import label
from portal.web import RowPage, finish_action, page_number, render_page_or_fragment

bp = Blueprint("training", __name__)
CONSOLE = (CHANNEL_MANAGERS, AccessRole.ADMIN)


@bp.app_template_filter("ics_text")
def ics_text(value: str) -> str:
    """Text in an iCalendar property: backslash, semicolon, comma and line breaks escaped (RFC 5545 3.3.11)."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _folded(line: str) -> str:
    """An iCalendar content line folded at 75 octets, never inside a UTF-8 character, ended by CRLF."""
    pieces: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not pieces else 74  # continuation lines start with a space
        if len((current + char).encode()) > limit:
            pieces.append(current)
            current = ""
        current += char
    pieces.append(current)
    return "\r\n ".join(pieces) + "\r\n"


# --- Catalogue and enrolment -------------------------------------------------------------------------------------


def _catalogue_filter() -> training_catalogue.CatalogueFilter:
    category = request.args.get("category", "")
    try:
        from_day = date.fromisoformat(request.args.get("from", "")[:10]) if request.args.get("from") else None
    except ValueError:
        from_day = None
    return training_catalogue.CatalogueFilter(
        category=CourseCategory(category) if category in CourseCategory._value2member_map_ else None,
        from_day=from_day,
        text=request.args.get("q", "")[:100],
    )


@bp.route("/training/")
@allow(DEALER_USERS)
@cached_page(topics=[SEATS_TOPIC])
def catalogue() -> ResponseReturnValue:
    wanted = _catalogue_filter()
    sessions = training_catalogue.catalogue_page(wanted)
    return render_page_or_fragment(
        "training/catalogue.html",
        "training/_sessions.html",
        sessions=sessions,
        wanted=wanted,
        categories=list(CourseCategory),
    )


@bp.route("/training/sessions/<int:session_id>")
@allow(DEALER_USERS, *CONSOLE)
def session_page(session_id: int) -> ResponseReturnValue:
    return _render_session(training_catalogue.get_session(session_id))


def _person_choices() -> list[SelectChoice]:
    return [SelectChoice(person.key, person.name) for person in services.enrollable_people(current_user)]


def _render_session(session: Any, form: EnrolForm | None = None, status: int = 200) -> ResponseReturnValue:
    is_dealer = current_user.access_role in DEALER_USERS
    enrollments = services.dealer_enrollments_in(current_user, session) if is_dealer else []
    if is_dealer and form is None:
        form = EnrolForm(formdata=None)
    if form is not None:
        form.person.choices = [
            SelectChoice(person.key, person.name) for person in services.enrollable_people(current_user)
        ]
    return render_page_or_fragment(
        "training/session.html",
        "training/_seats.html",
        status,
        session=session,
        form=form,
        enrollments=enrollments,
        positions=services.waitlist_positions(session.id) if enrollments else {},
        can_enrol=services.can_enrol_now(session),
        now=datetime.now(UTC),
        is_dealer=is_dealer,
    )


@bp.route("/training/sessions/<int:session_id>/enrol", methods=["POST"])
@allow(DEALER_USERS)
def enrol(session_id: int) -> ResponseReturnValue:
    session = training_catalogue.get_session(session_id)
    form = EnrolForm()
    form.person.choices = _person_choices()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.enrol(current_user, session, form.person.data),
            lambda enrollment: (
                _("%(name)s is enrolled.", name=enrollment.person_name)
                if enrollment.status is EnrollmentStatus.ENROLLED
                else _(
                    "The session is full: %(name)s is on the waitlist and moves in automatically when a seat frees.",
                    name=enrollment.person_name,
                ),
                url_for("training.session_page", session_id=session.id),
            ),
        )
        if finished:
            return finished
    return _render_session(training_catalogue.get_session(session_id), form, 422)


@bp.route("/training/enrollments/<int:enrollment_id>/cancel", methods=["POST"])
@allow(DEALER_USERS)
def cancel(enrollment_id: int) -> ResponseReturnValue:
    enrollment = services.get_dealer_enrollment(current_user, enrollment_id)
    name, session_id = enrollment.person_name, enrollment.session_id
    return finish_action(
        None,
        lambda: services.cancel_enrollment(current_user, enrollment),
        lambda _promoted: (
            _("%(name)s is no longer enrolled.", name=name),
            url_for("training.session_page", session_id=session_id),
        ),
    )


@bp.route("/training/enrollments/<int:enrollment_id>.ics")
@allow(DEALER_USERS)
def calendar_file(enrollment_id: int) -> ResponseReturnValue:
    enrollment = services.get_dealer_enrollment(current_user, enrollment_id)
    if enrollment.status is not EnrollmentStatus.ENROLLED:
        abort(404)
    session = enrollment.session
    body = render_template(
        "training/session.ics",
        session=session,
        enrollment=enrollment,
        stamp=datetime.now(UTC),
        url=url_for("training.session_page", session_id=session.id, _external=True),
    )
    response = Response("".join(_folded(line) for line in body.splitlines()), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="training-{session.id}.ics"'
    return response


@bp.route("/dealer/training")
@allow(DEALER_USERS)
def dealer_training() -> ResponseReturnValue:
    today = company_today()
    enrollments = db.paginate(
        services.dealer_training_query(current_user.dealer_id), page=page_number(), per_page=30, error_out=False
    )
    return render_template(
        "training/dealer_training.html",
        enrollments=enrollments,
        expiring=training_attendance.expiring_certificates(current_user.dealer_id, today),
        today=today,
        expires_soon=expires_soon,
    )


@bp.route("/training/certificates/<number>")
@allow(DEALER_USERS, *CONSOLE)
def certificate(number: str) -> ResponseReturnValue:
    enrollment = training_attendance.get_certificate(current_user, number[:40])
    return render_template("training/certificate.html", enrollment=enrollment, today=company_today())


@bp.route("/verify")
@public
@limiter.limit("30 per minute")
def verify() -> ResponseReturnValue:
    number = request.args.get("number", "")[:40]
    result = training_attendance.verify_certificate(number) if number.strip() else None
    return render_template("training/verify.html", number=number, result=result)


# --- Console: sessions, rosters, attendance, completion per dealer ------------------------------------------------


@bp.route("/console/training")
@allow(*CONSOLE)
def console_training() -> ResponseReturnValue:
    upcoming = request.args.get("when", "upcoming") != "past"
    sessions = db.paginate(
        training_catalogue.staff_sessions_query(upcoming), page=page_number(), per_page=20, error_out=False
    )
    dealers = RowPage(
        training_attendance.completion_by_dealer(current_user, company_today()),
        page_number("dealers_page"),
        current_app.config["PAGE_SIZE"],
    )
    return render_template("training/console.html", sessions=sessions, upcoming=upcoming, dealers=dealers)


@bp.route("/console/training/sessions/<int:session_id>")
@allow(*CONSOLE)
def roster(session_id: int) -> ResponseReturnValue:
    session = training_catalogue.get_session(session_id)
    return _render_roster(session)


def _render_roster(session: Any, status: int = 200) -> ResponseReturnValue:
    people = db.paginate(
        training_attendance.roster_query(current_user, session), page=page_number(), per_page=50, error_out=False
    )
    return (
        render_template(
            "training/roster.html",
            session=session,
            people=people,
            positions=services.waitlist_positions(session.id),
            started=datetime.now(UTC) >= session.starts_at,
            form=AttendanceForm(formdata=None),
            cancel_form=CancelSessionForm(formdata=None),
        ),
        status,
    )


@bp.route("/console/training/enrollments/<int:enrollment_id>/attendance", methods=["POST"])
@allow(*CONSOLE)
def attendance(enrollment_id: int) -> ResponseReturnValue:
    enrollment = training_attendance.get_roster_enrollment(current_user, enrollment_id)
    form = AttendanceForm()
    if not form.validate_on_submit():
        abort(422, description=_("Choose attended, no-show or completed."))
    outcome = EnrollmentStatus(form.outcome.data)
    return finish_action(
        None,
        lambda: training_attendance.record_attendance(current_user, enrollment, outcome),
        lambda _result: (
            _("%(name)s: %(status)s.", name=enrollment.person_name, status=outcome_label(outcome)),
            url_for("training.roster", session_id=enrollment.session_id),
        ),
    )


def outcome_label(outcome: EnrollmentStatus) -> str:
    return label(outcome)


# --- Admin: courses and sessions ----------------------------------------------------------------------------------


@bp.route("/admin/courses")
@allow(AccessRole.ADMIN)
def courses() -> ResponseReturnValue:
    return render_template("training/courses.html", courses=training_catalogue.all_courses())


def _course_form(course: Any = None) -> CourseForm:
    form = CourseForm(obj=course) if request.method == "GET" and course is not None else CourseForm()
    form.prerequisite_ids.choices = [
        SelectChoice(other.id, f"{other.code} {other.title}")
        for other in training_catalogue.all_courses()
        if course is None or other.id != course.id
    ]
    if request.method == "GET" and course is not None:
        form.prerequisite_ids.data = [other.id for other in course.prerequisites]
        form.category.data = course.category.value
    return form


def _save_course_view(course: Any = None) -> ResponseReturnValue:
    form = _course_form(course)
    if form.validate_on_submit():
        wanted = training_catalogue.CourseInput(
            code=form.code.data or "",
            title=form.title.data or "",
            category=CourseCategory(form.category.data),
            description=form.description.data or "",
            validity_months=form.validity_months.data or 0,
            prerequisite_ids=tuple(form.prerequisite_ids.data or ()),
            active=bool(form.active.data),
        )
        finished = finish_action(
            form,
            lambda: training_catalogue.save_course(current_user, wanted, course),
            lambda saved: (_("Course %(code)s is saved.", code=saved.code), url_for("training.courses")),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("training/course_form.html", form=form, course=course), status


@bp.route("/admin/courses/new", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def new_course() -> ResponseReturnValue:
    return _save_course_view()


@bp.route("/admin/courses/<int:course_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_course(course_id: int) -> ResponseReturnValue:
    return _save_course_view(training_catalogue.get_course(course_id))


def _utc(value: datetime | None) -> datetime:
    """A time typed in the admin's zone, as aware UTC."""
    assert value is not None
    return value.replace(tzinfo=get_timezone()).astimezone(UTC)


def _local(value: datetime) -> datetime:
    return value.astimezone(get_timezone()).replace(tzinfo=None)


def _save_session_view(course: Any, session: Any = None) -> ResponseReturnValue:
    form = SessionForm()
    if request.method == "GET" and session is not None:
        for name in ("starts_at", "ends_at", "enrol_deadline", "cancel_deadline"):
            getattr(form, name).data = _local(getattr(session, name))
        form.place.data, form.online_link.data, form.capacity.data = (
            session.place,
            session.online_link,
            session.capacity,
        )
    if form.validate_on_submit():
        wanted = services.SessionInput(
            starts_at=_utc(form.starts_at.data),
            ends_at=_utc(form.ends_at.data),
            place=form.place.data or "",
            online_link=form.online_link.data or "",
            capacity=form.capacity.data or 0,
            enrol_deadline=_utc(form.enrol_deadline.data),
            cancel_deadline=_utc(form.cancel_deadline.data),
        )
        finished = finish_action(
            form,
            lambda: services.save_session(current_user, course, wanted, session),
            lambda saved: (_("The session is saved."), url_for("training.roster", session_id=saved.id)),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("training/session_form.html", form=form, course=course, session=session), status


@bp.route("/admin/courses/<int:course_id>/sessions/new", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def new_session(course_id: int) -> ResponseReturnValue:
    return _save_session_view(training_catalogue.get_course(course_id))


@bp.route("/admin/training/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_session(session_id: int) -> ResponseReturnValue:
    session = training_catalogue.get_session(session_id)
    return _save_session_view(session.course, session)


@bp.route("/admin/training/sessions/<int:session_id>/cancel", methods=["POST"])
@allow(AccessRole.ADMIN)
def cancel_session(session_id: int) -> ResponseReturnValue:
    session = training_catalogue.get_session(session_id)
    form = CancelSessionForm()
    if not form.validate_on_submit():
        return _render_roster(session, 422)
    return finish_action(
        None,
        lambda: services.cancel_session(current_user, session, form.reason.data or ""),
        lambda told: (
            _("The session is cancelled; %(count)s people were told.", count=told),
            url_for("training.roster", session_id=session.id),
        ),
    )
