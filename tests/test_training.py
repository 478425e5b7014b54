"""Training: the catalogue, enrolment with a fair waitlist, attendance, certificates and transcripts."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.accounts.models import User
from portal.dealers.models import Dealer, Trainee
from portal.demo import seed_demo
from portal.extensions import db
from portal.notifications.models import Notification
from portal.service_errors import IllegalTransition, InvalidInput
from portal.training import attendance as training_attendance
from portal.training import rules, services
from portal.training.models import CourseSession, Enrollment, EnrollmentStatus
from portal.types import utcnow
from tests.factories import Channel, TrainingRecords, World, examples, make_course, make_session, make_trainee, today
from tests.helpers import log_in

# Dates decide here (windows, deadlines, quarters): also run at a quarter's first and last minute and on 29 February.
pytestmark = pytest.mark.calendar


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def user(email: str) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def session_row(session_id: int) -> CourseSession:
    db.session.expire_all()
    return db.session.get(CourseSession, session_id)


def statuses(session_id: int) -> list[tuple[str, str, int | None]]:
    rows = db.session.execute(
        select(Enrollment).where(Enrollment.session_id == session_id).order_by(Enrollment.id)
    ).scalars()
    return [(row.person_name, row.status.value, row.waitlist_ticket) for row in rows]


# --- rules ----------------------------------------------------------------------------------------------------------


def test_certificate_dates_and_numbers() -> None:
    assert rules.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert rules.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert rules.add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)
    assert rules.certificate_expiry(date(2026, 5, 1), 0) is None
    assert rules.expires_soon(date(2026, 12, 1), date(2026, 11, 28))
    assert not rules.expires_soon(date(2027, 6, 1), date(2026, 11, 28))
    numbers = {rules.new_certificate_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(re.fullmatch(r"CERT-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", n) for n in numbers)


def test_only_legal_moves_exist() -> None:
    assert rules.can_move(EnrollmentStatus.WAITLISTED, EnrollmentStatus.ENROLLED)
    assert not rules.can_move(EnrollmentStatus.WAITLISTED, EnrollmentStatus.ATTENDED)
    assert not rules.can_move(EnrollmentStatus.ENROLLED, EnrollmentStatus.COMPLETED)
    assert not rules.can_move(EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED)


# --- enrolment ------------------------------------------------------------------------------------------------------


def test_a_full_session_puts_people_on_the_waitlist_and_a_cancellation_moves_the_first_in(
    app: Flask, channel: Channel, training_records: TrainingRecords
) -> None:
    with app.app_context():
        owner = user(channel.emails["dealer_owner"])
        dealer = db.session.get(Dealer, owner.dealer_id)
        first, second = make_trainee(dealer, "First Waiting"), make_trainee(dealer, "Second Waiting")
        session = db.session.get(CourseSession, training_records.upcoming_session)
        assert session.seats_left == 0  # the owner and the foreign owner hold both seats
        waiting = services.enrol(owner, session, f"t{first.id}")
        services.enrol(owner, session, f"t{second.id}")
        db.session.commit()
        assert waiting.status is EnrollmentStatus.WAITLISTED
        assert services.waitlist_positions(session.id) == {waiting.id: 1, waiting.id + 1: 2}
        own = db.session.get(Enrollment, training_records.own_enrollment)
        promoted = services.cancel_enrollment(owner, own)
        db.session.commit()
        assert promoted is not None and promoted.person_name == "First Waiting"
        row = session_row(session.id)
        assert row.seats_taken == 2 and row.seats_left == 0
        assert [status for _name, status, _ticket in statuses(session.id)] == [
            "cancelled",
            "enrolled",
            "enrolled",
            "waitlisted",
        ]
        told = db.session.execute(select(Notification).where(Notification.kind == "training_seat_freed")).scalar_one()
        assert told.user_id == owner.id and told.params["name"] == "First Waiting"  # the trainee's enroller is told


def test_a_seat_given_up_with_nobody_waiting_is_free_again(
    app: Flask, channel: Channel, training_records: TrainingRecords
) -> None:
    with app.app_context():
        owner = user(channel.emails["dealer_owner"])
        services.cancel_enrollment(owner, db.session.get(Enrollment, training_records.own_enrollment))
        db.session.commit()
        assert session_row(training_records.upcoming_session).seats_left == 1
        again = services.enrol(owner, session_row(training_records.upcoming_session), f"u{owner.id}")
        db.session.commit()
        assert again.id == training_records.own_enrollment and again.status is EnrollmentStatus.ENROLLED


def test_refusals_say_what_to_do(app: Flask, channel: Channel, training_records: TrainingRecords) -> None:
    with app.app_context():
        owner = user(channel.emails["dealer_owner"])
        base = make_course("BASE-1")
        advanced = make_course("ADV-1", prerequisites=[base])
        session = make_session(advanced, capacity=5)
        with pytest.raises(InvalidInput, match=r"must first complete BASE-1 Course BASE-1"):
            services.enrol(owner, session, f"u{owner.id}")
        with pytest.raises(InvalidInput, match="already Enrolled"):
            services.enrol(owner, session_row(training_records.upcoming_session), f"u{owner.id}")
        with pytest.raises(InvalidInput, match="Choose someone of your dealer"):
            services.enrol(owner, session, f"u{channel.people.foreign_owner}")
        closed = make_session(base, starts_in=timedelta(hours=12), capacity=5)  # enrolment closed a day before
        with pytest.raises(IllegalTransition, match="Enrolment for this session closed"):
            services.enrol(owner, closed, f"u{owner.id}")
        late = make_session(base, starts_in=timedelta(days=1, hours=12), capacity=5)
        enrollment = services.enrol(owner, late, f"u{owner.id}")
        with pytest.raises(IllegalTransition, match="Cancelling closed on"):
            services.cancel_enrollment(owner, enrollment)


def test_prerequisites_once_completed_let_people_in(
    app: Flask, channel: Channel, training_records: TrainingRecords
) -> None:
    with app.app_context():
        owner = user(channel.emails["dealer_owner"])
        trainee = db.session.get(Trainee, channel.people.own_trainee)  # completed SAFE-1 in the channel
        course = make_course("SAFE-2", prerequisites=[session_row(training_records.began_session).course])
        enrollment = services.enrol(owner, make_session(course, capacity=3), f"t{trainee.id}")
        assert enrollment.status is EnrollmentStatus.ENROLLED


def test_more_seats_go_to_the_people_waiting(app: Flask, channel: Channel, training_records: TrainingRecords) -> None:
    with app.app_context():
        owner = user(channel.emails["dealer_owner"])
        admin = user(channel.emails["admin"])
        session = session_row(training_records.upcoming_session)
        waiting = services.enrol(owner, session, f"t{channel.people.own_trainee}")
        assert waiting.status is EnrollmentStatus.WAITLISTED
        wanted = services.SessionInput(
            session.starts_at, session.ends_at, "Room 2", "", 3, session.enrol_deadline, session.cancel_deadline
        )
        services.save_session(admin, session.course, wanted, session)
        db.session.commit()
        assert db.session.get(Enrollment, waiting.id).status is EnrollmentStatus.ENROLLED
        assert session_row(session.id).seats_taken == 3
        fewer = services.SessionInput(
            session.starts_at, session.ends_at, "Room 2", "", 2, session.enrol_deadline, session.cancel_deadline
        )
        with pytest.raises(InvalidInput, match="3 people already hold a seat"):
            services.save_session(admin, session.course, fewer, session_row(session.id))


def test_cancelling_a_session_tells_everyone(
    app: Flask, channel: Channel, training_records: TrainingRecords, login
) -> None:  # type: ignore[no-untyped-def]
    client = login("admin")
    url = f"/admin/training/sessions/{training_records.upcoming_session}/cancel"
    assert client.post(url, data={"reason": "The trainer is ill."}).status_code == 303
    with app.app_context():
        assert {status for _n, status, _t in statuses(training_records.upcoming_session)} == {"cancelled"}
        told = db.session.execute(
            select(Notification.user_id).where(Notification.kind == "training_session_cancelled")
        ).scalars()
        assert set(told) == {channel.people.owner, channel.people.foreign_owner}


# --- pages ----------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("training_records")
def test_catalogue_filters_and_shows_seats_left(app: Flask, channel: Channel, login) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        make_session(make_course("MKT-9", category="marketing"), capacity=7)
        db.session.commit()
    client = login("dealer_staff")
    page = text_of(client.get("/training/").get_data(as_text=True))
    assert "SAFE-1 Course SAFE-1" in page and "Full: waitlist" in page and "7 / 7" in page
    marketing = client.get("/training/?category=marketing", headers={"HX-Request": "true"})
    fragment = marketing.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="training-sessions"') and 'hx-trigger="every 20s"' in fragment
    assert "MKT-9" in fragment and "SAFE-1" not in fragment
    assert marketing.headers["Vary"].startswith("HX-Request")
    later = text_of(client.get(f"/training/?from={(today() + timedelta(days=400)).isoformat()}").get_data(True))
    assert "No sessions match." in later


def test_enrol_through_the_page_and_join_the_waitlist(
    app: Flask, channel: Channel, training_records: TrainingRecords, login
) -> None:  # type: ignore[no-untyped-def]
    client = login("dealer_owner")
    url = f"/training/sessions/{training_records.upcoming_session}"
    page = client.get(url).get_data(as_text=True)
    assert "Join the waitlist" in page and f'value="t{channel.people.own_trainee}"' in page
    assert "owner3" not in page and "Owner Three" not in page  # the other dealer's enrolment is not shown
    response = client.post(url + "/enrol", data={"person": f"t{channel.people.own_trainee}"})
    assert response.status_code == 303
    page = text_of(client.get(url).get_data(as_text=True))
    assert "Own Trainee : Waitlisted number 1 in line" in page
    refused = client.post(url + "/enrol", data={"person": f"t{channel.people.own_trainee}"})
    assert refused.status_code == 422 and "Own Trainee is already Waitlisted here." in text_of(refused.get_data(True))


def test_calendar_file(app: Flask, channel: Channel, training_records: TrainingRecords, login) -> None:  # type: ignore[no-untyped-def]
    client = login("dealer_staff")
    response = client.get(f"/training/enrollments/{training_records.own_enrollment}.ics")
    assert response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "SUMMARY:SAFE-1 Course SAFE-1\r\n" in body and "DTSTART:" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_attendance_completion_certificate_and_verification(
    app: Flask, channel: Channel, training_records: TrainingRecords, login
) -> None:  # type: ignore[no-untyped-def]
    client = login("manager")
    roster = f"/console/training/sessions/{training_records.began_session}"
    page = text_of(client.get(roster).get_data(as_text=True))
    assert "Staff One" in page and "Own Trainee" in page and "Owner Three" not in page  # not their portfolio
    url = f"/console/training/enrollments/{training_records.attending_enrollment}/attendance"
    assert client.post(url, data={"outcome": "completed"}).status_code == 409  # attendance first
    assert client.post(url, data={"outcome": "attended"}).status_code == 303
    assert client.post(url, data={"outcome": "completed"}).status_code == 303
    with app.app_context():
        done = db.session.get(Enrollment, training_records.attending_enrollment)
        number = done.certificate_number
        assert done.status is EnrollmentStatus.COMPLETED and number.startswith("CERT-")
        assert done.certificate_expires_on == rules.add_months(done.completed_on, 12)
    staff = app.test_client()
    log_in(staff, channel.emails["dealer_staff"])
    certificate = text_of(staff.get(f"/training/certificates/{number}").get_data(as_text=True))
    assert "Certificate of completion Staff One of Eastern Star Trading completed SAFE-1" in certificate
    public = text_of(app.test_client().get(f"/verify?number={number.lower()}").get_data(as_text=True))
    assert "Genuine and valid until" in public and "Staff One" not in public and "Eastern" not in public
    unknown = text_of(app.test_client().get("/verify?number=CERT-XXXX-XXXX-XXXX").get_data(as_text=True))
    assert "No certificate has this number." in unknown
    with app.app_context():
        assert training_attendance.verify_certificate(number, today=today() + timedelta(days=800)).valid is False


@pytest.mark.usefixtures("training_records")
def test_transcript_shows_expiry_and_what_expires_soon(app: Flask, channel: Channel, login) -> None:  # type: ignore[no-untyped-def]
    client = login("dealer_owner")
    page = text_of(client.get("/dealer/training").get_data(as_text=True))
    assert "Certificates expiring within 60 days Own Trainee : Course SAFE-1" in page
    assert "CERT-OWNA-OWNB-OWNC" in page and "expires soon" in page
    assert "CERT-FORA" not in page


@pytest.mark.usefixtures("training_records")
def test_managers_see_completion_per_dealer_of_their_portfolio(app: Flask, channel: Channel, login) -> None:  # type: ignore[no-untyped-def]
    client = login("manager")
    page = text_of(client.get("/console/training").get_data(as_text=True))
    assert "D001 Eastern Star Trading 1 1 1 2" in page  # trained, valid, expiring, booked (owner; staff attending)
    assert "Western Wind" not in page


def test_no_double_enrolment_even_when_the_row_check_is_passed(
    app: Flask, channel: Channel, training_records: TrainingRecords
) -> None:
    """The unique (session, person) constraint is the backstop behind the check under the session's lock."""
    with app.app_context():
        owner = user(channel.emails["dealer_owner"])
        session = session_row(training_records.upcoming_session)
        db.session.add(
            Enrollment(
                session_id=session.id,
                dealer_id=owner.dealer_id,
                user_id=owner.id,
                person_key=f"u{owner.id}",
                status=EnrollmentStatus.WAITLISTED,
            )
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(Enrollment)).scalar_one() == 5


def test_demo_has_a_nearly_full_and_a_full_session(app: Flask) -> None:

    with app.app_context():
        seed_demo()
        sessions = list(db.session.execute(select(CourseSession).where(CourseSession.starts_at > utcnow())).scalars())
        assert len({session.course.code for session in sessions}) >= 8
        assert {session.course.category.value for session in sessions} == {
            "technical",
            "marketing",
            "management",
            "compliance",
        }
        assert any(session.seats_left == 1 for session in sessions)
        full = [session for session in sessions if session.seats_left == 0]
        assert full and services.waitlist_positions(full[0].id)
        for session in sessions:
            enrolled = db.session.execute(
                select(func.count()).where(
                    Enrollment.session_id == session.id, Enrollment.status == EnrollmentStatus.ENROLLED
                )
            ).scalar_one()
            assert enrolled == session.seats_taken


@pytest.fixture
def staff_client(app: Flask, world: World):  # type: ignore[no-untyped-def]
    """Logged in once, before the examples (a log-in per example would spend the test on password hashing)."""
    client = app.test_client()
    log_in(client, world.emails["dealer_staff"])
    return client


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(["category", "from", "q", "page", "when", "dealers_page", "number"]),
        st.one_of(st.text(max_size=40), st.sampled_from(["technical", "2026-02-30", "9" * 30, "-1", "%", "_"])),
    )
)
def test_training_query_strings_never_break_the_pages(staff_client, params: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    assert staff_client.get("/training/", query_string=params).status_code in {200, 400}
    assert staff_client.get("/dealer/training", query_string=params).status_code in {200, 400}
    assert staff_client.get("/verify", query_string=params).status_code in {200, 400}
