"""Changes to how an account signs in or is reached (password, email address, second factor, an administrator's
reset or temporary password) need proof of identity, not only a session; afterwards every other session ends and
the person is told by email, whatever their email settings."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.notifications.kinds import KINDS
from portal.notifications.models import NotificationPreference, OutboxEmail
from tests.factories import PASSWORD, PENDING_TOTP_SECRET, RECOVERY_CODES, Channel, stored_user
from tests.helpers import fingerprint, log_in, logged_in_client

SECURE = "secure-manager@example.test"
NEW_PASSWORD = "a much longer new password"


def _outbox(app: Flask) -> list[OutboxEmail]:
    with app.app_context():
        emails = list(db.session.execute(select(OutboxEmail).order_by(OutboxEmail.id)).scalars())
        for email in emails:
            db.session.expunge(email)
        return emails


def _no_emails_wanted(app: Flask, email: str) -> None:
    """The person switched every optional email off: security notices still come."""

    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        db.session.add_all(NotificationPreference(user_id=user.id, kind=kind, email=False) for kind in KINDS)
        db.session.commit()


# What a copied session cookie tries, with everything but the proof: none of it may change anything.
WITHOUT_PROOF: list[tuple[str, str, dict[str, Any]]] = [
    (SECURE, "/account/two-factor/setup", {}),
    (SECURE, "/account/two-factor/setup", {"password": PASSWORD}),  # a factor is on: the password is not enough
    (SECURE, "/account/two-factor/confirm", {"code": "PENDING", "password": PASSWORD}),
    (SECURE, "/account/two-factor/recovery-codes", {"password": PASSWORD}),
    (SECURE, "/account/two-factor/disable", {"password": PASSWORD}),
    (SECURE, "/account/two-factor/disable", {"password": PASSWORD, "code": "123456"}),
    (
        SECURE,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    ),
    (SECURE, "/account/email", {"new_email": "thief@example.test", "password": PASSWORD}),
    ("manager@example.test", "/account/two-factor/setup", {}),
    ("manager@example.test", "/account/two-factor/setup", {"password": "guessed"}),
    ("manager@example.test", "/account/email", {"new_email": "thief@example.test", "password": "guessed"}),
    (
        "manager@example.test",
        "/account/password",
        {"current_password": "guessed", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    ),
]


@pytest.mark.parametrize(("email", "path", "form"), WITHOUT_PROOF)
def test_a_session_alone_changes_nothing_about_how_an_account_signs_in(
    app: Flask, channel: Channel, email: str, path: str, form: dict[str, Any]
) -> None:
    thief = logged_in_client(app, email)
    if form.get("code") == "PENDING":
        form = {**form, "code": pyotp.TOTP(PENDING_TOTP_SECRET).now()}
    before = fingerprint(app)
    outbox = len(_outbox(app))
    response = thief.post(path, data=form)
    assert response.status_code == 422, response.status_code
    html = response.get_data(as_text=True)
    said = (
        "This is not your current password.",
        "Enter your current password.",
        "That code is not right",
        "Enter the code your authenticator app shows",
    )
    assert any(message in html for message in said)
    assert "secret-key" not in html  # no new key to copy either
    after = fingerprint(app)
    assert after[2:] == before[2:]  # nothing but the audit rows of the refusal (the first two counts) changed
    assert len(_outbox(app)) == outbox  # and nobody was sent a link
    if form:  # a form with a password in it reached the check, which audits the refusal
        with app.app_context():
            refused = select(AuditEvent).where(AuditEvent.action == "security.proof_refused")
            assert db.session.execute(refused.limit(1)).scalar_one_or_none() is not None


def test_moving_phones_needs_a_code_of_the_old_app_and_then_ends_every_other_session(
    app: Flask, channel: Channel
) -> None:
    _no_emails_wanted(app, SECURE)
    here, elsewhere = logged_in_client(app, SECURE), logged_in_client(app, SECURE)
    started = here.post("/account/two-factor/setup", data={"password": PASSWORD, "code": RECOVERY_CODES[0]})
    assert started.status_code == 200
    key = re.search(r'<code class="secret-key">([A-Z2-7 ]+)</code>', started.get_data(as_text=True))
    assert key
    new_secret = key.group(1).replace(" ", "")
    assert elsewhere.get("/account").status_code == 200  # starting changes nothing yet
    confirmed = here.post(
        "/account/two-factor/confirm",
        data={"code": pyotp.TOTP(new_secret).now(), "password": PASSWORD, "current_code": RECOVERY_CODES[1]},
    )
    assert confirmed.status_code == 200
    assert stored_user(app, SECURE).totp_secret == new_secret
    assert elsewhere.get("/account").status_code == 302 and here.get("/account").status_code == 200
    told = [email for email in _outbox(app) if email.to_address == SECURE]
    assert [email.subject for email in told] == ["Changes to how you sign in"] * 3  # two recovery codes, the move
    assert "Two-factor sign-in was moved to a new authenticator app." in told[-1].text_body


def test_a_password_change_with_a_second_factor_needs_a_code(app: Flask, channel: Channel) -> None:
    client = logged_in_client(app, SECURE)
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    refused = client.post("/account/password", data=form)
    assert refused.status_code == 422 and 'id="password-code-error"' in refused.get_data(as_text=True)
    assert client.post("/account/password", data={**form, "code": RECOVERY_CODES[0]}).status_code == 303
    told = [email for email in _outbox(app) if email.to_address == SECURE]
    assert "Your password was changed. If this was not you, tell your administrator at once." in told[-1].text_body


def test_changing_ones_email_address_goes_through_a_link_to_the_new_one(app: Flask, channel: Channel) -> None:
    staff_email = channel.emails["dealer_staff"]
    client, other = logged_in_client(app, staff_email), logged_in_client(app, staff_email)
    taken = client.post("/account/email", data={"new_email": channel.emails["manager"], "password": PASSWORD})
    assert taken.status_code == 422 and "Someone already uses this email address" in taken.get_data(as_text=True)
    asked = client.post("/account/email", data={"new_email": "Staff.New@Example.TEST", "password": PASSWORD})
    assert asked.status_code == 303
    assert stored_user(app, staff_email).email == staff_email  # nothing changes until the link is used
    sent = _outbox(app)
    link_email = next(email for email in sent if email.to_address == "staff.new@example.test")
    assert next(email for email in sent if email.to_address == staff_email).subject.startswith("A change of your email")
    link = re.search(r"http://127\.0\.0\.1:5000(/account/email/confirm/\S+)", link_email.text_body)
    assert link
    page = app.test_client().get(link.group(1))  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "staff.new@example.test" in page.get_data(as_text=True)
    assert stored_user(app, staff_email).email == staff_email
    confirmed = app.test_client().post(link.group(1))
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/login"
    assert stored_user(app, "staff.new@example.test").email == "staff.new@example.test"
    assert client.get("/account").status_code == 302 and other.get("/account").status_code == 302
    assert app.test_client().post(link.group(1)).status_code == 400  # once
    old_told = [email for email in _outbox(app) if email.to_address == staff_email]
    assert "The email address of your account was changed." in old_told[-1].text_body
    log_in(app.test_client(), "staff.new@example.test")


def test_an_administrator_proves_it_before_changing_someones_email_or_password(app: Flask, channel: Channel) -> None:
    admin = logged_in_client(app, channel.emails["admin"])
    victim = logged_in_client(app, channel.emails["dealer_staff"])
    form = {
        "email": "hijacked@example.test",
        "name": "Staff One",
        "role": "dealer",
        "dealer_code": channel.own_dealer,
        "dealer_role": "staff",
        "locale": "",
        "timezone": "Asia/Shanghai",
        "active": "y",
    }
    edit = f"/admin/users/{channel.people.staff}/edit"
    refused = admin.post(edit, data=form)
    assert refused.status_code == 422 and "Enter your own password" in refused.get_data(as_text=True)
    assert admin.post(edit, data={**form, "admin_password": "guessed"}).status_code == 422
    assert (
        admin.post(
            edit,
            data={
                **form,
                "email": channel.emails["dealer_staff"],
                "temporary_password": NEW_PASSWORD,
                "admin_password": "guessed",
            },
        ).status_code
        == 422
    )
    assert stored_user(app, channel.emails["dealer_staff"]).email == channel.emails["dealer_staff"]
    assert victim.get("/account").status_code == 200
    assert admin.post(edit, data={**form, "admin_password": PASSWORD}).status_code == 303
    assert victim.get("/account").status_code == 302  # logged out everywhere
    told = [email for email in _outbox(app) if email.to_address == channel.emails["dealer_staff"]]
    assert "The email address of your account was changed." in told[-1].text_body  # at the old address
    renaming = admin.post(edit, data={**form, "name": "Staff Renamed"})  # nothing sensitive: no proof needed
    assert renaming.status_code == 303
