"""Forgotten passwords and invitations: no way to tell whether an address exists; links expire and work once."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.notifications.models import OutboxEmail
from tests.factories import Channel
from tests.helpers import log_in

NEW = "a fresh password for me"


def _emails(app: Flask) -> list[OutboxEmail]:
    with app.app_context():
        rows = db.session.execute(select(OutboxEmail).order_by(OutboxEmail.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def _link(email: OutboxEmail) -> str:
    match = re.search(r"http://127\.0\.0\.1:5000(/\S+)", email.text_body)
    assert match, email.text_body
    return match.group(1)


def test_forgot_password_answers_alike_and_mails_only_real_accounts(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    known = client.post("/password/forgot", data={"email": channel.emails["dealer_staff"]})
    unknown = client.post("/password/forgot", data={"email": "nobody@example.test"})
    inactive = client.post("/password/forgot", data={"email": "former@example.test"})
    assert known.status_code == unknown.status_code == inactive.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/login"
    messages = [client.get("/login").get_data(as_text=True) for _ in range(1)]
    assert "If that address belongs to an account" in messages[0]
    emails = _emails(app)
    assert [email.to_address for email in emails] == [channel.emails["dealer_staff"]]
    assert emails[0].subject == "Set a new password"


def test_a_reset_link_sets_the_password_once(app: Flask, client: FlaskClient, channel: Channel) -> None:
    client.post("/password/forgot", data={"email": channel.emails["dealer_staff"]})
    link = _link(_emails(app)[0])
    form = client.get(link)
    assert form.status_code == 200 and "Choose a new password for staff@example.test." in form.get_data(as_text=True)
    mismatch = client.post(link, data={"new_password": NEW, "confirm_password": "other"})
    assert mismatch.status_code == 422
    assert client.post(link, data={"new_password": NEW, "confirm_password": NEW}).status_code == 303
    log_in(app.test_client(), channel.emails["dealer_staff"], NEW)
    again = client.get(link)
    assert again.status_code == 400 and "This link no longer works" in again.get_data(as_text=True)
    assert (
        client.post(
            link, data={"new_password": "another one entirely", "confirm_password": "another one entirely"}
        ).status_code
        == 400
    )


def test_an_expired_or_forged_link_does_nothing(
    app: Flask, client: FlaskClient, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.post("/password/forgot", data={"email": channel.emails["dealer_staff"]})
    link = _link(_emails(app)[0])
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE_SECONDS", -1)
    assert client.get(link).status_code == 400
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE_SECONDS", 3600)
    assert client.get(link[:-3] + "abc").status_code == 400
    assert client.get(link.replace("/password/reset/", "/invitation/")).status_code == 400  # other purpose


def test_an_admin_invites_a_user_by_email_in_their_language(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["admin"])
    response = client.post(
        "/admin/users/new",
        data={
            "email": "invited@example.test",
            "name": "Invited Person",
            "role": "mediator",
            "dealer_code": "",
            "dealer_role": "staff",
            "locale": "zh_Hans",
            "timezone": "Asia/Shanghai",
            "active": "y",
            "temporary_password": "",
        },
    )
    assert response.status_code == 303
    (invitation,) = _emails(app)
    assert invitation.to_address == "invited@example.test" and invitation.subject == "邀请您使用经销商合作伙伴门户"
    assert "Admin 邀请您使用经销商合作伙伴门户" in invitation.text_body
    stranger = app.test_client()
    assert stranger.post("/login", data={"email": "invited@example.test", "password": ""}).status_code == 422
    link = _link(invitation)
    page = stranger.get(link).get_data(as_text=True)
    assert "Welcome, Invited Person." in page or "欢迎，Invited Person。" in page
    assert stranger.post(link, data={"new_password": NEW, "confirm_password": NEW}).status_code == 303
    log_in(stranger, "invited@example.test", NEW)
    assert stranger.get("/mediation/").status_code == 200
    assert app.test_client().get(link).status_code == 400


def test_an_owner_invites_a_colleague(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_owner"])
    response = client.post(
        "/dealer/people/staff", data={"staff-name": "Invited Colleague", "staff-email": "colleague@example.test"}
    )
    assert response.status_code == 303
    assert "We emailed Invited Colleague an invitation" in client.get("/dealer/people").get_data(as_text=True)
    (invitation,) = _emails(app)
    assert invitation.to_address == "colleague@example.test"
    assert "Owner One invited you to the Dealer Partner Portal." in invitation.text_body
