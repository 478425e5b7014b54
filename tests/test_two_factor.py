"""Two-factor sign-in for staff: setting it up, logging in with a code or a recovery code, each code once, an
administrator's requirement and reset, and the race of two requests with the same code."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.accounts.codes import hash_recovery_code
from portal.accounts.models import RecoveryCode, User, UserRole
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.types import utcnow
from tests.factories import (
    PASSWORD,
    PENDING_TOTP_SECRET,
    RECOVERY_CODES,
    TOTP_SECRET,
    Channel,
    World,
    make_two_factor_user,
    make_user,
    stored_user,
)
from tests.helpers import (
    BACKENDS,
    build_app,
    count_queries,
    dispose_app,
    log_in,
    migrated_database_url,
    start_two_factor_login,
)
from tests.threads import run_together

SECURE = "secure-manager@example.test"


def _actions(app: Flask, email: str) -> list[str]:
    with app.app_context():
        user_id = db.session.execute(select(User.id).where(User.email == email)).scalar_one()
        return list(
            db.session.execute(
                select(AuditEvent.action).where(AuditEvent.subject_id == user_id).order_by(AuditEvent.id)
            ).scalars()
        )


def _unused_codes(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.execute(
            select(func.count())
            .select_from(RecoveryCode)
            .join(User, User.id == RecoveryCode.user_id)
            .where(User.email == email, RecoveryCode.used_at.is_(None))
        ).scalar_one()


def _at_code_step(app: Flask) -> FlaskClient:
    """A browser that has given the secure manager's password and is asked for the code."""
    client = app.test_client()
    start_two_factor_login(client, SECURE)
    return client


def _codes_on(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)


def _key_on(html: str) -> str:
    key = re.search(r'<code class="secret-key">([A-Z2-7 ]+)</code>', html)
    assert key, "the key for typing into the app is on the page"
    return key.group(1).replace(" ", "")


def _set_up(client: FlaskClient, app: Flask, email: str) -> tuple[str, list[str]]:
    """Through the pages, as a person would: prove it is them, read the key off the page, type the app's code."""
    started = client.post("/account/two-factor/setup", data={"password": PASSWORD})
    assert started.status_code == 200 and started.headers["Cache-Control"] == "no-store"
    secret = _key_on(started.get_data(as_text=True))
    response = client.post("/account/two-factor/confirm", data={"code": pyotp.TOTP(secret).now(), "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return secret, _codes_on(response.get_data(as_text=True))


def _current_code(app: Flask, email: str = SECURE) -> str:
    """The code the user's current app shows now, with the last step used forgotten (as if 30 seconds passed)."""
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        user.totp_last_step = None
        secret = user.totp_secret
        db.session.commit()
    assert secret
    return pyotp.TOTP(secret).now()


# --- Setting it up ------------------------------------------------------------------------------------------------


def test_a_manager_sets_up_an_authenticator_and_gets_ten_recovery_codes(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    log_in(client, channel.emails["manager"])
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Set up an authenticator app" in page and "Your password alone logs you in." in page
    refused = client.post("/account/two-factor/setup", data={"password": "not my password"})
    assert refused.status_code == 422 and "This is not your current password." in refused.get_data(as_text=True)
    assert stored_user(app, channel.emails["manager"]).totp_pending_secret is None  # no secret without the password
    started = client.post("/account/two-factor/setup", data={"password": PASSWORD})
    assert started.status_code == 200
    page = started.get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page and 'alt="QR code for your authenticator app' in page
    key = _key_on(page)
    assert stored_user(app, channel.emails["manager"]).has_two_factor is False  # not on until a code proves the app
    later = client.get("/account/two-factor").get_data(as_text=True)
    assert "secret-key" not in later and key not in later  # shown once: a copied session cannot read it later
    assert "A new app waits to be confirmed." in later

    wrong = client.post("/account/two-factor/confirm", data={"code": "000000", "password": PASSWORD})
    assert wrong.status_code == 422
    assert "That code does not match" in wrong.get_data(as_text=True)
    no_password = client.post("/account/two-factor/confirm", data={"code": pyotp.TOTP(key).now()})
    assert no_password.status_code == 422  # the app's code alone does not turn it on
    assert stored_user(app, channel.emails["manager"]).has_two_factor is False

    # The same steps again, now with the app's code: on, with ten codes shown once and only their hashes kept.
    secret, codes = _set_up(client, app, channel.emails["manager"])
    user = stored_user(app, channel.emails["manager"])
    assert user.has_two_factor and user.totp_secret == secret and user.totp_pending_secret is None
    assert len(codes) == 10 == len(set(codes))
    with app.app_context():
        stored = db.session.execute(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).scalars()
        assert not {code.replace("-", "") for code in codes} & set(stored)
    assert "two_factor.enabled" in _actions(app, channel.emails["manager"])
    status = client.get("/account/two-factor").get_data(as_text=True)
    assert "10 unused recovery codes left." in status and "Move to a new phone" in status
    assert "Manage two-factor sign-in" in client.get("/account").get_data(as_text=True)


def test_the_code_page_has_no_setup_for_a_dealer(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_owner"])
    assert "Two-factor sign-in" not in client.get("/account").get_data(as_text=True)
    assert client.post("/account/two-factor/setup").status_code == 403


def test_moving_to_a_new_phone_keeps_the_old_app_working_until_the_new_one_is_confirmed(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    log_in(client, SECURE)  # the channel's secure manager has a new secret waiting
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Your current app keeps working until the new one is confirmed." in page
    other = app.test_client()
    log_in(other, SECURE)  # still with the old app's code
    new_code = pyotp.TOTP(PENDING_TOTP_SECRET).now()
    without_old = client.post("/account/two-factor/confirm", data={"code": new_code, "password": PASSWORD})
    assert without_old.status_code == 422  # moving phones needs a code of the current app (or a recovery code)
    assert "Enter the code your authenticator app shows" in without_old.get_data(as_text=True)
    response = client.post(
        "/account/two-factor/confirm", data={"code": new_code, "password": PASSWORD, "current_code": _current_code(app)}
    )
    assert response.status_code == 200
    assert stored_user(app, SECURE).totp_secret == PENDING_TOTP_SECRET
    assert "two_factor.enabled" in _actions(app, SECURE)
    assert other.get("/account").status_code == 302  # every other session ended
    assert client.get("/account").status_code == 200  # this one goes on
    # The old recovery codes went with the old phone's setup.
    client.post("/logout")
    start_two_factor_login(client, SECURE)
    assert client.post("/login/two-factor", data={"code": RECOVERY_CODES[0]}).status_code == 422


# --- Logging in ---------------------------------------------------------------------------------------------------


def test_the_password_alone_does_not_log_in_a_user_with_an_authenticator(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    response = client.post("/login", data={"email": SECURE, "password": PASSWORD, "next": "/account"})
    assert response.status_code == 303 and response.headers["Location"] == "/login/two-factor"
    assert client.get("/account").status_code == 302  # not logged in yet
    page = client.get("/login/two-factor").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and "recovery codes" in page
    wrong = client.post("/login/two-factor", data={"code": "123456"})
    assert wrong.status_code == 422 and "That code is not right" in wrong.get_data(as_text=True)
    assert client.get("/account").status_code == 302
    right = client.post("/login/two-factor", data={"code": pyotp.TOTP(TOTP_SECRET).now()})
    assert right.status_code == 303 and right.headers["Location"] == "/account"  # where the user was going
    assert client.get("/account").status_code == 200
    actions = _actions(app, SECURE)
    assert actions[-3:] == ["login.password_accepted", "login.second_factor_refused", "login.succeeded"]
    assert stored_user(app, SECURE).last_login_at is not None


def test_a_code_is_accepted_once(app: Flask, channel: Channel) -> None:
    code = pyotp.TOTP(TOTP_SECRET).now()
    first = _at_code_step(app)
    assert first.post("/login/two-factor", data={"code": code}).status_code == 303
    second = _at_code_step(app)  # someone who saw the code over the shoulder, within the same 30 seconds
    assert second.post("/login/two-factor", data={"code": code}).status_code == 422
    assert second.get("/account").status_code == 302


def test_a_code_from_the_step_before_or_after_is_accepted_but_not_one_further(app: Flask, channel: Channel) -> None:
    totp = pyotp.TOTP(TOTP_SECRET)
    now = time.time()
    far = _at_code_step(app)
    assert far.post("/login/two-factor", data={"code": totp.at(now - 90)}).status_code == 422
    near = _at_code_step(app)
    assert near.post("/login/two-factor", data={"code": totp.at(now - 30)}).status_code == 303


def test_a_recovery_code_logs_in_once_and_says_how_many_are_left(app: Flask, channel: Channel) -> None:
    client = _at_code_step(app)
    response = client.post("/login/two-factor", data={"code": RECOVERY_CODES[0].upper().replace("-", " ")})
    assert response.status_code == 303
    assert "You used a recovery code; 1 are left." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _unused_codes(app, SECURE) == 1
    assert "login.recovery_code_used" in _actions(app, SECURE)
    again = _at_code_step(app)
    assert again.post("/login/two-factor", data={"code": RECOVERY_CODES[0]}).status_code == 422


def test_the_code_step_expires_and_is_void_after_a_logout_elsewhere(app: Flask, channel: Channel) -> None:
    slow = _at_code_step(app)
    with slow.session_transaction() as session:
        session["pending_login"] = {**session["pending_login"], "at": session["pending_login"]["at"] - 6 * 60}
    response = slow.post("/login/two-factor", data={"code": pyotp.TOTP(TOTP_SECRET).now()})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "the time to enter your code has run out" in slow.get("/login").get_data(as_text=True)

    waiting = _at_code_step(app)
    elsewhere = app.test_client()
    log_in(elsewhere, SECURE)
    elsewhere.post("/logout")  # rotates the session token the waiting login points at
    response = waiting.post("/login/two-factor", data={"code": pyotp.TOTP(TOTP_SECRET).now()})
    assert response.headers["Location"] == "/login"
    assert waiting.get("/account").status_code == 302


def test_the_code_step_without_a_password_first_goes_back_to_the_login(client: FlaskClient) -> None:
    response = client.post("/login/two-factor", data={"code": "123456"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "has run out" not in client.get("/login").get_data(as_text=True)  # nothing ran out: it never began


# --- Recovery codes and turning it off ----------------------------------------------------------------------------


def test_new_recovery_codes_replace_the_old_ones_after_the_password_and_a_code(app: Flask, channel: Channel) -> None:
    client = app.test_client()
    log_in(client, SECURE)
    refused = client.post("/account/two-factor/recovery-codes", data={"password": "not my password"})
    assert refused.status_code == 422 and "This is not your current password." in refused.get_data(as_text=True)
    no_code = client.post("/account/two-factor/recovery-codes", data={"password": PASSWORD})
    assert no_code.status_code == 422 and _unused_codes(app, SECURE) == 2
    # a recovery code proves it as well as the app's code (and is used up doing so)
    response = client.post("/account/two-factor/recovery-codes", data={"password": PASSWORD, "code": RECOVERY_CODES[0]})
    codes = _codes_on(response.get_data(as_text=True))
    assert response.status_code == 200 and len(codes) == 10
    assert _unused_codes(app, SECURE) == 10
    old = _at_code_step(app)
    assert old.post("/login/two-factor", data={"code": RECOVERY_CODES[1]}).status_code == 422
    new = _at_code_step(app)
    assert new.post("/login/two-factor", data={"code": codes[0]}).status_code == 303


def test_turning_it_off_needs_the_password_and_a_code_and_removes_the_codes(app: Flask, channel: Channel) -> None:
    client = app.test_client()
    log_in(client, SECURE)
    assert client.post("/account/two-factor/disable", data={"password": "wrong"}).status_code == 422
    assert client.post("/account/two-factor/disable", data={"password": PASSWORD, "code": "000000"}).status_code == 422
    assert stored_user(app, SECURE).has_two_factor
    response = client.post("/account/two-factor/disable", data={"password": PASSWORD, "code": _current_code(app)})
    assert response.status_code == 303
    user = stored_user(app, SECURE)
    assert not user.has_two_factor and user.totp_secret is None and _unused_codes(app, SECURE) == 0
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": SECURE, "password": PASSWORD}).headers["Location"] == "/console/"


# --- The administrator ----------------------------------------------------------------------------------------------


def _user_form(world: World, email: str, role: str = "manager", **changes: str) -> dict[str, str]:
    form = {
        "email": email,
        "name": "Someone",
        "role": role,
        "dealer_code": "",
        "dealer_role": "staff",
        "locale": "",
        "timezone": "Asia/Shanghai",
        "active": "y",
        "two_factor_required": "y",
    }
    form.update(changes)
    return form


def test_an_admin_requires_it_and_the_manager_must_set_it_up_before_anything_else(app: Flask, world: World) -> None:
    admin = app.test_client()
    log_in(admin, world.emails["admin"])
    edit = f"/admin/users/{world.people.manager}/edit"
    assert admin.post(edit, data=_user_form(world, world.emails["manager"])).status_code == 303
    assert stored_user(app, world.emails["manager"]).two_factor_required
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert "two-factor required, not set up" in listing and "two-factor on" in listing  # the manager, the secure one
    checkbox = re.search(r'<input[^>]*name="two_factor_required"[^>]*>', admin.get(edit).get_data(as_text=True))
    assert checkbox and "checked" in checkbox.group(0)

    manager = app.test_client()
    log_in(manager, world.emails["manager"])
    response = manager.get("/console/")
    assert response.status_code == 303 and response.headers["Location"] == "/account/two-factor"
    page = manager.get("/account/two-factor").get_data(as_text=True)
    assert "Your administrator requires two-factor sign-in. Set it up to continue." in page
    assert manager.get("/console/").status_code == 303  # still, until it is set up
    # The bell keeps polling on the setup page: it must not send the page elsewhere (a reload every 30 s).
    bell = manager.get("/notifications/bell", headers={"HX-Request": "true"})
    assert bell.status_code == 200 and "HX-Redirect" not in bell.headers
    secret, _codes = _set_up(manager, app, world.emails["manager"])
    assert manager.get("/console/").status_code == 200
    page = manager.get("/account/two-factor").get_data(as_text=True)
    assert "Turn off two-factor sign-in" not in page  # required: there is no way to turn it off
    refused = manager.post("/account/two-factor/disable", data={"password": PASSWORD, "code": pyotp.TOTP(secret).now()})
    assert refused.status_code == 422 and "requires two-factor sign-in" in refused.get_data(as_text=True)
    assert stored_user(app, world.emails["manager"]).totp_secret == secret


def test_a_dealer_account_cannot_be_required_to_use_it(app: Flask, world: World) -> None:
    admin = app.test_client()
    log_in(admin, world.emails["admin"])
    form = _user_form(world, world.emails["dealer_staff"], role="dealer", dealer_code=world.own_dealer)
    assert admin.post(f"/admin/users/{world.people.staff}/edit", data=form).status_code == 303
    assert stored_user(app, world.emails["dealer_staff"]).two_factor_required is False


def test_an_admin_reset_needs_the_admins_proof_ends_the_users_sessions_and_clears_it(
    app: Flask, channel: Channel
) -> None:
    victim = app.test_client()
    log_in(victim, SECURE)
    admin = app.test_client()
    log_in(admin, channel.emails["admin"])
    page = admin.get(f"/admin/users/{channel.people.two_factor_manager}/edit").get_data(as_text=True)
    assert "Reset two-factor sign-in" in page
    reset = f"/admin/users/{channel.people.two_factor_manager}/two-factor/reset"
    assert admin.post(reset).status_code == 422  # a copied administrator's session alone resets nobody
    assert admin.post(reset, data={"password": "not mine"}).status_code == 422
    assert stored_user(app, SECURE).has_two_factor
    response = admin.post(reset, data={"password": PASSWORD})
    assert response.status_code == 303
    assert victim.get("/account").status_code == 302
    user = stored_user(app, SECURE)
    assert user.totp_secret is None and user.totp_pending_secret is None and _unused_codes(app, SECURE) == 0
    assert "two_factor.reset" in _actions(app, SECURE)
    assert "has no authenticator app set up" in admin.get(response.headers["Location"]).get_data(as_text=True)
    again = admin.post(reset, data={"password": PASSWORD})
    assert again.status_code == 422


def test_a_locked_out_admin_is_reset_from_the_command_line(app: Flask, channel: Channel) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reset-two-factor", "--email", SECURE.upper()])
    assert result.exit_code == 0, result.output
    assert "is reset" in result.output
    assert stored_user(app, SECURE).totp_secret is None
    assert runner.invoke(args=["reset-two-factor", "--email", SECURE]).exit_code == 1  # nothing left to reset
    assert runner.invoke(args=["reset-two-factor", "--email", "nobody@example.test"]).exit_code == 1


# --- Pages: languages and query counts ------------------------------------------------------------------------------


def test_the_pages_speak_chinese(app: Flask, channel: Channel) -> None:
    client = _at_code_step(app)
    page = client.get("/login/two-factor", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "输入验证码" in page
    log_in(client, SECURE)
    client.post("/language", data={"locale": "zh_Hans", "next": "/account/two-factor"})
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "两步验证" in page and "恢复码" in page


def test_the_code_step_and_the_setup_page_stay_flat_with_ten_times_the_codes(app: Flask, channel: Channel) -> None:
    def statements(path: str, login: Callable[[FlaskClient], Any]) -> int:
        client = app.test_client()
        login(client)
        client.get(path)
        with count_queries(app) as executed:
            assert client.get(path).status_code == 200
        return len(executed)

    def grow(count: int) -> None:

        with app.app_context():
            user_id = db.session.execute(select(User.id).where(User.email == SECURE)).scalar_one()
            used = utcnow()
            db.session.add_all(
                RecoveryCode(user_id=user_id, code_hash=f"{count}-{number}", used_at=used) for number in range(count)
            )
            db.session.commit()

    pages = [
        ("/login/two-factor", lambda client: start_two_factor_login(client, SECURE)),
        ("/account/two-factor", lambda client: log_in(client, SECURE)),
    ]
    grow(10)
    small = [statements(path, login) for path, login in pages]
    grow(90)
    assert [statements(path, login) for path, login in pages] == small
    assert max(small) <= 6


# --- Races ----------------------------------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def race_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = build_app(
        migrated_database_url(request.param, "two_factor_races", tmp_path_factory),
        SQLITE_BUSY_TIMEOUT_MS=60000,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 5, "pool_timeout": 60},
    )
    with app.app_context():
        make_user(UserRole.ADMIN)
        make_two_factor_user()
        db.session.commit()
    yield app
    dispose_app(app)


def _code_poster(app: Flask, code: str) -> Callable[[Callable[[], Any]], int]:
    def work(wait: Callable[[], Any]) -> int:
        client = _at_code_step(app)
        wait()
        status = client.post("/login/two-factor", data={"code": code}).status_code
        return status if client.get("/account").status_code == 200 or status != 303 else -1

    return work


@pytest.mark.parametrize("which", ["app code", "recovery code"])
def test_two_logins_racing_with_the_same_code_let_one_in(race_app: Flask, which: str) -> None:
    """Checked: without the step condition (or the used_at condition) in the UPDATE, both get in."""
    code = pyotp.TOTP(TOTP_SECRET).now() if which == "app code" else RECOVERY_CODES[0]
    results = run_together([_code_poster(race_app, code) for _ in range(6)])
    assert sorted(results) == [303] + [422] * 5, results
    if which == "recovery code":
        assert _unused_codes(race_app, SECURE) == 1


def test_a_double_submitted_confirmation_makes_one_set_of_recovery_codes(race_app: Flask) -> None:
    """Two confirmations of the same new phone at once (a double click): one shows codes, and those are the ones
    that work. Checked on PostgreSQL: without the pending-secret condition in the UPDATE, both show codes. A loser
    is refused (422), or, when the winner's change of factor has already ended the account's other sessions, sent
    to log in again (302 to /login): never a second set of codes."""
    code = pyotp.TOTP(PENDING_TOTP_SECRET).now()
    clients = []
    for _ in range(4):  # one after the other: logins racing each other would meet the one-code-per-step rule
        clients.append(race_app.test_client())
        log_in(clients[-1], SECURE)
    # Each confirmation proves it is the user with a recovery code of its own (an app code is accepted once).
    with race_app.app_context():
        user = db.session.execute(select(User).where(User.email == SECURE)).scalar_one()
        spare = [f"race{number}code{number}"[:10] for number in range(4)]
        db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(value)) for value in spare)
        db.session.commit()

    def confirmer(client: FlaskClient, proof_code: str) -> Callable[[Callable[[], Any]], tuple[int, list[str], str]]:
        def confirm(wait: Callable[[], Any]) -> tuple[int, list[str], str]:
            wait()
            response = client.post(
                "/account/two-factor/confirm", data={"code": code, "password": PASSWORD, "current_code": proof_code}
            )
            return (
                response.status_code,
                _codes_on(response.get_data(as_text=True)),
                response.headers.get("Location", ""),
            )

        return confirm

    results = run_together([confirmer(client, proof) for client, proof in zip(clients, spare, strict=True)])
    assert [status for status, _codes, _to in results].count(200) == 1, results
    losers = [(status, codes, to) for status, codes, to in results if status != 200]
    assert all(status == 422 or (status == 302 and to.startswith("/login")) for status, _codes, to in losers), results
    assert all(codes == [] for _status, codes, _to in losers)
    shown = next(codes for status, codes, _to in results if status == 200)
    assert _unused_codes(race_app, SECURE) == 10 == len(shown)
    client = _at_code_step(race_app)
    assert client.post("/login/two-factor", data={"code": shown[0]}).status_code == 303
