"""The outbox against a real SMTP server on loopback (aiosmtpd): right person, right language, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from portal.accounts.models import User
from portal.extensions import db
from portal.notifications.links import link
from portal.notifications.mail import _claim_next, deliver_outbox
from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.notifications.services import notify
from portal.types import utcnow
from tests.factories import Channel
from tests.helpers import SmtpServer, free_port


@pytest.fixture
def smtp(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    monkeypatch.setitem(app.config, "MAIL_SMTP_PORT", server.port)
    monkeypatch.setitem(app.config, "MAIL_SMTP_TIMEOUT_SECONDS", 5)
    server.start()
    yield server
    server.stop()


def _notify(app: Flask, emails: list[str], *, locale: str | None = None) -> None:
    with app.app_context():
        users = list(db.session.execute(select(User).where(User.email.in_(emails)).order_by(User.id)).scalars())
        for user in users:
            user.locale = locale
        notify(
            users, "portfolio_changed", {"dealer": "Eastern Star Trading"}, link("dealers.dealer_detail", code="D001")
        )
        db.session.commit()


def _statuses(app: Flask) -> list[tuple[str, str, int]]:
    with app.app_context():
        rows = db.session.execute(
            select(OutboxEmail.to_address, OutboxEmail.status, OutboxEmail.attempts).order_by(OutboxEmail.id)
        ).all()
        return [(to, status.value, attempts) for to, status, attempts in rows]


def test_the_right_person_gets_the_right_message_in_their_language(
    app: Flask, channel: Channel, smtp: SmtpServer
) -> None:
    _notify(app, [channel.emails["manager"]], locale="zh_Hans")
    _notify(app, [channel.emails["other_manager"]], locale="en")
    with app.app_context():
        assert deliver_outbox() == {"sent": 2, "deferred": 0}
        ids = db.session.execute(select(OutboxEmail.message_id).order_by(OutboxEmail.id)).scalars().all()
    chinese, english = smtp.inbox.messages
    assert chinese["X-Envelope-To"] == channel.emails["manager"] and chinese["Subject"] == "有经销商转入您的名下"
    assert "Eastern Star Trading 已转入您的名下。" in chinese.get_body(("plain",)).get_content()
    assert "http://127.0.0.1:5000/console/dealers/D001" in chinese.get_body(("html",)).get_content()
    assert english["To"] == channel.emails["other_manager"] and english["Subject"] == "A dealer joins your portfolio"
    assert "Eastern Star Trading is now in your portfolio." in english.get_body(("plain",)).get_content()
    assert [chinese["Message-ID"], english["Message-ID"]] == ids
    assert [status for _to, status, _n in _statuses(app)] == ["sent", "sent"]


def test_mail_waits_while_the_server_is_down_and_arrives_when_it_is_back(
    app: Flask, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = SmtpServer(free_port())
    monkeypatch.setitem(app.config, "MAIL_SMTP_PORT", server.port)
    _notify(app, [channel.emails["manager"], channel.emails["other_manager"]])
    with app.app_context():
        assert deliver_outbox() == {"sent": 0, "deferred": 1}  # connection refused: stop the round, keep the rest
    assert _statuses(app) == [
        (channel.emails["manager"], "pending", 1),
        (channel.emails["other_manager"], "pending", 0),
    ]
    server.start()
    try:
        with app.app_context():
            assert deliver_outbox() == {"sent": 1, "deferred": 0}  # the first waits for its back-off
            assert deliver_outbox(now=utcnow() + timedelta(minutes=2)) == {"sent": 1, "deferred": 0}
    finally:
        server.stop()
    assert sorted(message["To"] for message in server.inbox.messages) == sorted(
        [channel.emails["manager"], channel.emails["other_manager"]]
    )


def test_a_worker_killed_after_claiming_loses_nothing_and_repeats_nothing(
    app: Flask, channel: Channel, smtp: SmtpServer
) -> None:
    _notify(app, [channel.emails["manager"], channel.emails["other_manager"]])
    with app.app_context():
        now = utcnow()
        assert _claim_next(now) is not None  # claimed, then the worker died before sending
        assert deliver_outbox(now=now) == {"sent": 1, "deferred": 0}  # the other one; the claim is still leased
        later = now + timedelta(seconds=app.config["MAIL_CLAIM_LEASE_SECONDS"] + 1)
        assert deliver_outbox(now=later) == {"sent": 1, "deferred": 0}
        assert deliver_outbox(now=later + timedelta(hours=1)) == {"sent": 0, "deferred": 0}
    assert len(smtp.inbox.messages) == 2
    assert len({message["Message-ID"] for message in smtp.inbox.messages}) == 2


class Killed(BaseException):
    """Stands for the process being killed: not an Exception, so nothing on the way catches it."""


def test_the_one_window_that_can_repeat_repeats_with_the_same_message_id(
    app: Flask, channel: Channel, smtp: SmtpServer
) -> None:
    _notify(app, [channel.emails["manager"]])

    def die(_email: OutboxEmail) -> None:
        raise Killed

    with app.app_context():
        now = utcnow()
        with pytest.raises(Killed):
            deliver_outbox(now=now, after_send=die)  # accepted by SMTP, killed before "sent" was committed
        db.session.rollback()
        later = now + timedelta(seconds=app.config["MAIL_CLAIM_LEASE_SECONDS"] + 1)
        assert deliver_outbox(now=later) == {"sent": 1, "deferred": 0}
    first, second = smtp.inbox.messages
    assert first["Message-ID"] == second["Message-ID"]  # the recipient's mail system can tell it is a repeat


def test_a_message_is_given_up_after_the_last_attempt(
    app: Flask, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_SMTP_PORT", free_port())  # nobody listens
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    _notify(app, [channel.emails["manager"]])
    with app.app_context():
        moment = utcnow()
        for _ in range(3):
            deliver_outbox(now=moment)
            moment += timedelta(hours=7)
    assert _statuses(app) == [(channel.emails["manager"], "failed", 3)]
    with app.app_context():
        error = db.session.execute(select(OutboxEmail.last_error)).scalar_one()
    assert "ConnectionRefusedError" in error


def test_send_mail_command_delivers(app: Flask, channel: Channel, smtp: SmtpServer) -> None:
    _notify(app, [channel.emails["manager"]])
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0 and "sent 1, deferred 0" in result.output
    assert len(smtp.inbox.messages) == 1
    assert OutboxStatus.SENT.value == _statuses(app)[0][1]
