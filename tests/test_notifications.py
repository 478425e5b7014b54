"""One notify call: in-app always, email when wanted, in the same transaction; the centre, the bell, idle time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import event, func, select

from portal.accounts.models import User
from portal.accounts.proof import SecurityChange
from portal.accounts.sessions import load_user_by_session_token
from portal.dealers.models import DealerStatus
from portal.extensions import db
from portal.jobs import huey_of
from portal.notifications.kinds import KINDS, render_text
from portal.notifications.links import link
from portal.notifications.models import Notification, NotificationPreference, OutboxEmail
from portal.notifications.params import amount, choice, day, moment
from portal.notifications.services import mark_all_read, notify, unread_count
from tests.factories import Channel
from tests.helpers import log_in


def _users(*emails: str) -> list[User]:
    return list(db.session.execute(select(User).where(User.email.in_(emails)).order_by(User.id)).scalars())


def _count(model: type) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_notify_writes_in_app_and_email_in_the_callers_transaction(app: Flask, channel: Channel) -> None:
    with app.app_context():
        before = _count(Notification)
        recipients = _users(channel.emails["dealer_owner"], channel.emails["manager"])
        assert (
            notify(
                recipients,
                "portfolio_changed",
                {"dealer": "Eastern Star Trading"},
                link("dealers.dealer_detail", code="D001"),
            )
            == 2
        )
        assert (_count(Notification) - before, _count(OutboxEmail)) == (2, 2)
        db.session.rollback()  # the business change failed: nothing is told, nothing is sent
        assert (_count(Notification) - before, _count(OutboxEmail)) == (0, 0)


def test_email_follows_the_users_choice_and_language(app: Flask, channel: Channel) -> None:
    with app.app_context():
        before = _count(Notification)
        owner, staff = _users(channel.emails["dealer_owner"], channel.emails["dealer_staff"])
        staff.locale = "zh_Hans"
        db.session.add(NotificationPreference(user_id=owner.id, kind="dealer_status_changed", email=False))
        params = {
            "dealer": "Eastern Star Trading",
            "old": choice(DealerStatus.ACTIVE),
            "new": choice(DealerStatus.SUSPENDED),
            "reason": "R",
        }
        notify([owner, staff], "dealer_status_changed", params, link("dealers.dealer_home"))
        emails = db.session.execute(select(OutboxEmail)).scalars().all()
        assert [email.to_address for email in emails] == [channel.emails["dealer_staff"]]
        assert emails[0].subject == "经销商状态变更"
        assert "Eastern Star Trading 的状态已从“正常”变为“已暂停”：R" in emails[0].text_body
        assert "http://127.0.0.1:5000/dealer/" in emails[0].text_body
        assert emails[0].message_id.startswith("<") and emails[0].message_id.endswith("@portal.localhost>")
        assert _count(Notification) - before == 2  # in-app is always on


def test_inactive_users_and_duplicates_are_not_notified(app: Flask, channel: Channel) -> None:
    with app.app_context():
        owner, former = _users(channel.emails["dealer_owner"], "former@example.test")
        assert notify([owner, owner, former, None], "account_changed", {}, link("accounts.account")) == 1  # type: ignore[list-item]


def test_commit_with_email_asks_the_job_queue_to_deliver(app: Flask, channel: Channel) -> None:
    huey = huey_of(app)
    huey.flush()
    with app.app_context():
        notify(_users(channel.emails["manager"]), "account_changed", {}, link("accounts.account"))
        db.session.commit()
    assert [task.name for task in huey.pending()] == ["deliver_outbox"]
    huey.flush()


def test_a_status_change_tells_the_dealers_owners_and_its_manager(app: Flask, channel: Channel) -> None:
    admin = app.test_client()
    log_in(admin, channel.emails["admin"])
    admin.post(
        f"/console/dealers/{channel.own_dealer}/status",
        data={"expected": "active", "status": "suspended", "reason": "Price war."},
    )
    with app.app_context():
        told = db.session.execute(
            select(User.email, Notification.link_endpoint, Notification.link_args, Notification.link)
            .join(Notification, Notification.user_id == User.id)
            .where(Notification.kind == "dealer_status_changed")
        ).all()
    assert sorted(told) == [
        (channel.emails["manager"], "dealers.dealer_detail", {"code": "D001"}, ""),
        (channel.emails["dealer_owner"], "dealers.dealer_home", {}, ""),
    ]


def _seed_notifications(app: Flask, email: str, count: int) -> list[int]:
    with app.app_context():
        (user,) = _users(email)
        rows = [
            Notification(
                user_id=user.id, kind="portfolio_changed", params={"dealer": f"D{n}"}, link=f"/console/dealers/D00{n}"
            )
            for n in range(count)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def _bell_count(html: str) -> int:
    match = re.search(r'data-unread="(\d+)"', html)
    return int(match.group(1)) if match else 0


def test_the_centre_lists_my_notifications_newest_first(app: Flask, client: FlaskClient, channel: Channel) -> None:
    _seed_notifications(app, channel.emails["manager"], 3)
    _seed_notifications(app, channel.emails["other_manager"], 2)
    log_in(client, channel.emails["manager"])
    html = client.get("/notifications/").get_data(as_text=True)
    assert html.index("D2 is now in your portfolio.") < html.index("D0 is now in your portfolio.")
    assert html.count("is now in your portfolio.") == 3
    assert _bell_count(html) == 4  # and the channel's own welcome notification


def test_opening_is_a_post_that_marks_read_and_goes_to_the_object(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    first, *_ = _seed_notifications(app, channel.emails["manager"], 2)
    log_in(client, channel.emails["manager"])
    assert _bell_count(client.get("/notifications/bell").get_data(as_text=True)) == 3
    response = client.post(f"/notifications/{first}/open")
    assert response.status_code == 303 and response.headers["Location"] == "/console/dealers/D000"
    assert _bell_count(client.get("/notifications/bell").get_data(as_text=True)) == 2
    assert client.post("/notifications/read-all").status_code == 303
    assert _bell_count(client.get("/notifications/bell").get_data(as_text=True)) == 0


def test_a_notification_never_sends_anyone_off_site(app: Flask, client: FlaskClient, channel: Channel) -> None:
    with app.app_context():
        (user,) = _users(channel.emails["manager"])
        row = Notification(user_id=user.id, kind="account_changed", params={}, link="https://evil.example/")
        db.session.add(row)
        db.session.commit()
        row_id = row.id
    log_in(client, channel.emails["manager"])
    assert client.post(f"/notifications/{row_id}/open").headers["Location"] == "/notifications/"


def test_a_link_is_built_from_its_endpoint_when_opened(app: Flask, client: FlaskClient, channel: Channel) -> None:
    """Stored as an endpoint and its arguments, so a route that moves takes its old notifications along; an endpoint
    that no longer exists leads to the notification centre, not to an error."""
    with app.app_context():
        (user,) = _users(channel.emails["manager"])
        moved = Notification(
            user_id=user.id,
            kind="claim_comment",
            params={},
            link_endpoint="claims.review_page",
            link_args={"claim_id": 41},
        )
        gone = Notification(
            user_id=user.id,
            kind="claim_comment",
            params={},
            link_endpoint="claims.retired_page",
            link_args={"claim_id": 41},
        )
        db.session.add_all([moved, gone])
        db.session.commit()
        moved_id, gone_id = moved.id, gone.id
    log_in(client, channel.emails["manager"])
    assert client.post(f"/notifications/{moved_id}/open").headers["Location"] == "/console/claims/41"
    assert client.post(f"/notifications/{gone_id}/open").headers["Location"] == "/notifications/"


def test_a_page_brings_the_bells_count_with_the_signed_in_user(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    """Every page's bell, and the bell every open tab polls: its count comes with the user's load (one statement
    fewer per page; the poll is that one statement), and is right."""
    _seed_notifications(app, channel.emails["manager"], 3)
    log_in(client, channel.emails["manager"])
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        html = client.get("/notifications/bell").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert _bell_count(html) == 4  # and the channel's own welcome notification
    reads = [statement for statement in statements if statement.startswith("SELECT")]
    assert len(reads) == 1 and "FROM notifications" in reads[0] and "FROM users" in reads[0], statements


def test_a_writing_request_counts_the_bell_after_its_writes(app: Flask, channel: Channel) -> None:
    """On a request that may write, the count is not taken from the user's load: one UPDATE marking every
    notification read (which no flush announces) and then the bell shows none."""
    _seed_notifications(app, channel.emails["manager"], 3)
    with app.app_context():
        token = db.session.execute(
            select(User.session_token).where(User.email == channel.emails["manager"])
        ).scalar_one()
    with app.test_request_context("/notifications/read-all", method="POST"):
        user = load_user_by_session_token(token)
        assert user is not None
        assert mark_all_read(user) == 4
        assert unread_count(user) == 0


def test_someone_elses_notification_is_404(app: Flask, client: FlaskClient, channel: Channel) -> None:
    (theirs,) = _seed_notifications(app, channel.emails["other_manager"], 1)
    log_in(client, channel.emails["manager"])
    assert client.post(f"/notifications/{theirs}/open").status_code == 404
    assert client.post(f"/notifications/{theirs}/read").status_code == 404
    with app.app_context():
        assert db.session.get(Notification, theirs).read_at is None  # type: ignore[union-attr]


def test_email_preferences_are_saved_per_kind(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_owner"])
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert re.search(r'<input checked id="dealer_status_changed"', page)
    assert re.search(r'<input id="colleague_added"', page)  # off by default
    client.post("/notifications/preferences", data={"portfolio_changed": "y", "colleague_added": "y"})
    with app.app_context():
        chosen = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.email)).all())
    assert chosen == {
        "dealer_status_changed": False,
        "dealer_tier_changed": False,
        "period_close_requested": False,
        "rebate_period_reopened": False,
        "target_change_asked": False,
        "target_changed": False,
        "target_change_decided": False,
        "portfolio_changed": True,
        "account_changed": False,
        "colleague_added": True,
        "rebate_statement_final": False,
        "rebate_paid": False,
        "sales_import_finished": False,
        "sales_import_voided": False,
        "training_enrolled": False,
        "training_seat_freed": False,
        "training_session_cancelled": False,
        "training_certificate": False,
        **{
            kind: False
            for kind in KINDS
            if kind.startswith(
                (
                    "claim_",
                    "pre_approval_",
                    "violation_",
                    "dispute_",
                    "price_list_",
                    "campaign_",
                    "announcement_",
                    "business_plan_",
                    "visit_",
                )
            )
        },
    }
    assert len(chosen) == len(KINDS) - 2  # the security notices are not a choice
    assert 'id="security_notice"' not in page and 'id="login_attempts"' not in page


def test_a_security_notice_is_emailed_whatever_the_person_chose(app: Flask, channel: Channel) -> None:

    with app.app_context():
        (owner,) = _users(channel.emails["dealer_owner"])
        db.session.add_all(NotificationPreference(user_id=owner.id, kind=kind, email=False) for kind in KINDS)
        notify([owner], "security_notice", {"change": choice(SecurityChange.EMAIL)}, link("accounts.account"))
        notify([owner], "colleague_added", {"name": "X", "dealer": "Y"}, link("dealers.dealer_people_page"))
        emails = db.session.execute(select(OutboxEmail)).scalars().all()
        assert [email.subject for email in emails] == ["Changes to how you sign in"]
        assert "The email address of your account was changed. If this was not you" in emails[0].text_body


def test_polling_the_bell_does_not_keep_an_idle_session_alive(
    app: Flask, client: FlaskClient, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("portal.security.time.time", lambda: clock[0])
    log_in(client, channel.emails["manager"])
    assert client.get("/console/").status_code == 200
    for _ in range(5):  # fifty minutes of polling only
        clock[0] += 600
        assert client.get("/notifications/bell").status_code == 200
    clock[0] += 1200  # an hour and ten minutes since the last real activity
    response = client.get("/notifications/bell", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")
    assert client.get("/console/").status_code == 302


def test_real_activity_keeps_the_session(
    app: Flask, client: FlaskClient, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("portal.security.time.time", lambda: clock[0])
    log_in(client, channel.emails["manager"])
    for _ in range(10):
        clock[0] += 50 * 60
        assert client.get("/console/").status_code == 200


def test_typed_parameters_render_in_the_readers_language(app: Flask) -> None:
    params = {
        "dealer": "D",
        "kind": choice(DealerStatus.SUSPENDED),
        "amount": amount(123456, "CNY"),
        "until": day(date(2027, 2, 28)),
        "title": moment(datetime(2027, 1, 1, 1, 30, tzinfo=UTC)),
    }
    with app.test_request_context():
        with force_locale("en"):
            assert render_text("violation_confirmed", params) == (
                "A violation was confirmed against your dealer: Suspended, penalty CN¥1,234.56. You may appeal until "
                "Feb 28, 2027."
            )
        with force_locale("zh_Hans"):
            assert "¥1,234.56" in render_text("violation_confirmed", params)
            assert "2027年2月28日" in render_text("violation_confirmed", params)


@pytest.mark.parametrize(
    "title", ["money:100000000:CNY", "status:suspended", "dispute_status:resolved", "enrollment:enrolled", "%(x)s"]
)
def test_text_people_typed_is_never_read_as_an_amount_or_a_status(app: Flask, title: str) -> None:
    """A claim titled like one of the old prefixed values is shown exactly as typed, in the bell and the email."""
    with app.test_request_context():
        text = render_text("claim_withdrawn", {"dealer": "Eastern Star Trading", "claim": title})
    assert text == f"Eastern Star Trading withdrew the claim {title}."


def test_an_unreadable_typed_parameter_shows_nothing_rather_than_its_raw_form(app: Flask) -> None:
    broken = [
        {"type": "label", "enum": "NoSuchEnum", "value": "x"},
        {"type": "money", "amount": "12", "currency": 1},
        {"type": "date", "value": "not a date"},
        {"type": "unknown"},
        {},
    ]
    with app.test_request_context():
        for value in broken:
            assert render_text("portfolio_changed", {"dealer": value}) == " is now in your portfolio."
