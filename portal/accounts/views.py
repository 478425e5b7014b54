"""Log in, log out, own account and language switch. Thin: validate, call one service, commit, redirect."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, flash, g, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from wtforms import Field

from portal.access import CHANNEL_STAFF, EVERYONE, AccessRole, allow, public
from portal.accounts import devices, services, two_factor
from portal.accounts.forms import (
    AdminProofForm,
    ConfirmForm,
    EmailChangeForm,
    ForgotPasswordForm,
    LanguageForm,
    LoginForm,
    NewPasswordForm,
    PasswordChangeForm,
    RecoveryCodesForm,
    SecondFactorForm,
    TwoFactorConfirmForm,
    TwoFactorOffForm,
    TwoFactorStartForm,
    UserForm,
    UserSearchForm,
)
from portal.accounts.models import DealerRole, User, UserRole
from portal.accounts.proof import Proof, ProofRefused, record_refusal
from portal.accounts.sessions import load_user_by_session_token
from portal.accounts.tokens import email_change_for_token, user_for_token
from portal.extensions import db, limiter
from portal.navigation import home_url
from portal.request_locale import gettext as _
from portal.security import start_session_clock
from portal.service_errors import InvalidInput
from portal.web import finish_action, is_safe_next, page_number, redirect_to, render_page_or_fragment

bp = Blueprint("accounts", __name__)
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])
T = TypeVar("T")


def _login_account_key() -> str:
    return "account:" + services.normalise_email(request.form.get("email", ""))[:254]


def _login_device() -> str | None:
    """The known device of the account being logged in to, if this browser is one (devices.py); looked up once
    per request, for the three limits that ask."""
    if "login_device" not in g:
        email = services.normalise_email(request.form.get("email", ""))
        g.login_device = devices.known_device(services.account_id_for(email) if email else None)
    return g.login_device


def _login_client_key() -> str:
    """One account from one client: its known device if this is one, else this address."""
    device = _login_device()
    return _login_account_key() + ("|device:" + device if device else "|address:" + (request.remote_addr or ""))


def _login_failed(response: object) -> bool:
    """Only failed attempts count towards the limits, so a user who logs in and out is never locked out; and an
    attempt a limit turned away (429) checked no password, so hammering a blocked client fills no other bucket."""
    return getattr(response, "status_code", 500) not in (204, 303, 429)


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_login_failed,
    exempt_when=lambda: _login_device() is not None,
    scope="login-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_CLIENT"],
    key_func=_login_client_key,
    methods=["POST"],
    deduct_when=_login_failed,
    scope="login-account-client",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_login_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
    exempt_when=lambda: _login_device() is not None,
    scope="login-account",
)
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect_to(home_url(current_user))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    status = 200
    if form.validate_on_submit():
        result = services.authenticate(form.email.data or "", form.password.data or "")
        db.session.commit()
        if result.user is not None:
            target = form.next.data if is_safe_next(form.next.data) else ""
            if result.outcome is services.LoginOutcome.SECOND_FACTOR_NEEDED:
                _fresh_session(result.user)
                session[PENDING_LOGIN] = {"token": result.user.session_token, "at": int(time.time()), "next": target}
                return redirect_to(url_for("accounts.login_second_factor"))
            return _logged_in(result.user, target)
        if result.outcome is services.LoginOutcome.ACCOUNT_DISABLED:
            error = _("This account cannot log in. Please contact your channel manager or administrator.")
        else:
            error = _("The email or password is not correct.")
    elif request.method == "POST":
        status = 422
    return render_template("accounts/login.html", form=form, error=error), status


PENDING_LOGIN = "pending_login"


def _fresh_session(user: User) -> None:
    """A new session at each step of a login (no fixation); the language chosen before it is kept."""
    locale = session.get("locale")
    session.clear()
    if locale and not user.locale:
        session["locale"] = locale


def _logged_in(user: User, target: str) -> ResponseReturnValue:
    _fresh_session(user)
    login_user(user)
    start_session_clock()
    response = redirect_to(target or home_url(user))
    devices.remember_device(response, user.id)
    return response


def _pending_user() -> User | None:
    """The user whose password was just accepted in this session, while the code may still follow it."""
    pending = session.get(PENDING_LOGIN)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if not 0 <= time.time() - pending["at"] <= current_app.config["TWO_FACTOR_PENDING_MINUTES"] * 60:
        return None
    # The token, not the id: a logout elsewhere, a password change or an admin's reset voids the pending login.
    user = load_user_by_session_token(str(pending.get("token", "")))
    return user if isinstance(user, User) and user.has_two_factor else None


def _second_factor_key() -> str:
    pending = session.get(PENDING_LOGIN)
    token = pending.get("token", "") if isinstance(pending, dict) else ""
    return "second-factor:" + str(token)[:64]


@bp.route("/login/two-factor", methods=["GET", "POST"])
@public
@limiter.limit(
    lambda: current_app.config["TWO_FACTOR_LIMIT_PER_ACCOUNT"],
    key_func=_second_factor_key,
    methods=["POST"],
    deduct_when=_login_failed,
    scope="second-factor",
)
def login_second_factor() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect_to(home_url(current_user))
    user = _pending_user()
    if user is None:
        if session.pop(PENDING_LOGIN, None) is not None:
            flash(_("Log in again: the time to enter your code has run out."), "info")
        return redirect_to(url_for("accounts.login"))
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        result = two_factor.check_second_factor(user, form.code.data or "")
        db.session.commit()
        if result.accepted:
            response = _logged_in(user, str(session.get(PENDING_LOGIN, {}).get("next", "")))
            if result.used_recovery_code:
                flash(
                    _(
                        "You used a recovery code; %(count)s are left. Each works once: make new ones on your "
                        "two-factor page if you are running out.",
                        count=result.recovery_codes_left,
                    ),
                    "warning",
                )
            return response
        form.code.errors = [_("That code is not right, or it was already used. Try the newest code from the app.")]
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("accounts/login_two_factor.html", form=form), status


@bp.route("/logout", methods=["POST"])
@allow(EVERYONE)
def logout() -> ResponseReturnValue:
    services.log_out(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "success")
    return redirect_to(url_for("accounts.login"))


def _proof_limit() -> Any:
    """Wrong passwords and codes given as proof of identity, per account: a copied session cannot be used to guess
    the password (or the code) through these forms."""
    return limiter.shared_limit(
        lambda: current_app.config["PROOF_LIMIT_PER_ACCOUNT"],
        scope="identity-proof",
        key_func=lambda: f"proof:{current_user.get_id() if current_user.is_authenticated else request.remote_addr}",
        methods=["POST"],
        deduct_when=lambda response: response.status_code == 422,
    )


def _account_page(status: int = 200, **forms: object) -> ResponseReturnValue:
    context = {
        "password_form": PasswordChangeForm(formdata=None),
        "email_form": EmailChangeForm(formdata=None),
        "language_form": LanguageForm(formdata=None, locale=current_user.locale or "en"),
        **forms,
    }
    return render_page_or_fragment("accounts/account.html", "accounts/_password_form.html", status=status, **context)


@bp.route("/account")
@allow(EVERYONE)
def account() -> ResponseReturnValue:
    return _account_page()


def _still_logged_in(user: User) -> None:
    """After a security change every session of the account ended; the browser that made it stays logged in."""
    login_user(user)


@bp.route("/account/password", methods=["POST"])
@allow(EVERYONE)
@_proof_limit()
def change_password() -> ResponseReturnValue:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        proof = Proof(form.current_password.data or "", form.code.data or "")
        done, _nothing = _audited_attempt(
            form.new_password,
            lambda: services.change_password(user, proof, form.new_password.data or ""),
            password=form.current_password,
            code=form.code,
        )
        if done:
            _still_logged_in(user)
            flash(_("Your password has been changed. Other sessions have been logged out."), "success")
            return redirect_to(url_for("accounts.account"))
    return _account_page(422, password_form=form)


@bp.route("/account/email", methods=["POST"])
@allow(EVERYONE)
@_proof_limit()
def request_email_change() -> ResponseReturnValue:
    form = EmailChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        proof = Proof(form.password.data or "", form.code.data or "")
        done, wanted = _audited_attempt(
            form.new_email,
            lambda: services.request_email_change(user, form.new_email.data or "", proof),
            password=form.password,
            code=form.code,
        )
        if done:
            flash(
                _("We sent a link to %(email)s. Your address changes when you open it (within a day).", email=wanted),
                "info",
            )
            return redirect_to(url_for("accounts.account"))
    return render_template(
        "accounts/account.html",
        password_form=PasswordChangeForm(formdata=None),
        email_form=form,
        language_form=LanguageForm(formdata=None, locale=current_user.locale or "en"),
    ), 422


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
@public
def confirm_email_change(token: str) -> ResponseReturnValue:
    """The link sent to the new address: a page with one button, since opening a link must change nothing (mail
    scanners open links too); the change is made by the button's POST."""

    found = email_change_for_token(token)
    if found is None:
        return render_template("accounts/link_invalid.html", purpose="email_change"), 400
    user, new_email = found
    form = ConfirmForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.confirm_email_change(user, new_email),
            lambda _nothing: (
                _("Your email address is now %(email)s. Log in with it.", email=new_email),
                url_for("accounts.login"),
            ),
        )
        if finished:
            if current_user.is_authenticated:
                logout_user()
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/confirm_email.html", form=form, new_email=new_email), status


@bp.route("/language", methods=["POST"])
@public
def set_language() -> ResponseReturnValue:
    form = LanguageForm()
    target = form.next.data if is_safe_next(form.next.data) else url_for("core.index")
    if form.validate_on_submit():
        locale = str(form.locale.data)
        session["locale"] = locale
        if current_user.is_authenticated:
            services.set_language(current_user._get_current_object(), locale)
            db.session.commit()
    return redirect_to(target)


# --- Two-factor sign-in (staff) --------------------------------------------------------------------------------


def _two_factor_page(status: int = 200, setup: dict[str, str] | None = None, **forms: object) -> ResponseReturnValue:
    """The page; the QR code and key of a new secret only in the answer to the (proved) request that made it."""
    user = current_user._get_current_object()
    context = {
        "setup": setup,
        "setup_waiting": user.totp_pending_secret is not None,
        "codes_left": two_factor.recovery_codes_left(user) if user.has_two_factor else 0,
        "start_form": TwoFactorStartForm(formdata=None),
        "confirm_form": TwoFactorConfirmForm(formdata=None),
        "codes_form": RecoveryCodesForm(formdata=None),
        "off_form": TwoFactorOffForm(formdata=None),
        **forms,
    }
    return render_template("accounts/two_factor.html", **context), status, {"Cache-Control": "no-store"}


@bp.route("/account/two-factor")
@allow(CHANNEL_STAFF)
def two_factor_page() -> ResponseReturnValue:
    return _two_factor_page()


@bp.route("/account/two-factor/setup", methods=["POST"])
@allow(CHANNEL_STAFF)
@_proof_limit()
def begin_two_factor() -> ResponseReturnValue:
    form = TwoFactorStartForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        proof = Proof(form.password.data or "", form.code.data or "")
        done, secret = _audited_attempt(
            form.password, lambda: two_factor.begin_setup(user, proof), password=form.password, code=form.code
        )
        if done and secret:
            setup = {
                "qr_code": two_factor.qr_code_data_uri(two_factor.provisioning_uri(user, secret)),
                "key": two_factor.grouped_secret(secret),
            }
            return _two_factor_page(200, setup=setup)
    return _two_factor_page(422, start_form=form)


def _audited_attempt(field: Field, attempt: Callable[[], T], *, password: Field, code: Field) -> tuple[bool, T | None]:
    """One service call that may ask for proof of identity. A refusal keeps nothing of the attempt (a code it used
    is not used up), but a refused proof is audited on its own; its message goes next to the password or the code
    field that was wrong, any other refusal's next to `field`."""
    try:
        result = attempt()
    except ProofRefused as refusal:
        db.session.rollback()
        record_refusal(refusal)
        db.session.commit()
        (code if refusal.field == "code" else password).errors = [refusal.message]
        return False, None
    except InvalidInput as error:
        db.session.rollback()
        field.errors = [error.message]
        return False, None
    db.session.commit()
    return True, result


def _recovery_codes_page(codes: list[str]) -> ResponseReturnValue:
    response = render_template("accounts/recovery_codes.html", codes=codes)
    return response, 200, {"Cache-Control": "no-store"}


@bp.route("/account/two-factor/confirm", methods=["POST"])
@allow(CHANNEL_STAFF)
@_proof_limit()
def confirm_two_factor() -> ResponseReturnValue:
    form = TwoFactorConfirmForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        proof = Proof(form.password.data or "", form.current_code.data or "")
        done, codes = _audited_attempt(
            form.code,
            lambda: two_factor.confirm_setup(user, form.code.data or "", proof),
            password=form.password,
            code=form.current_code,
        )
        if done and codes:
            _still_logged_in(user)
            return _recovery_codes_page(codes)
    return _two_factor_page(422, confirm_form=form)


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@allow(CHANNEL_STAFF)
@_proof_limit()
def replace_recovery_codes() -> ResponseReturnValue:
    form = RecoveryCodesForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        proof = Proof(form.password.data or "", form.code.data or "")
        done, codes = _audited_attempt(
            form.password, lambda: two_factor.new_recovery_codes(user, proof), password=form.password, code=form.code
        )
        if done and codes:
            _still_logged_in(user)
            return _recovery_codes_page(codes)
    return _two_factor_page(422, codes_form=form)


@bp.route("/account/two-factor/disable", methods=["POST"])
@allow(CHANNEL_STAFF)
@_proof_limit()
def disable_two_factor() -> ResponseReturnValue:
    form = TwoFactorOffForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        proof = Proof(form.password.data or "", form.code.data or "")
        done, _nothing = _audited_attempt(
            form.password, lambda: two_factor.turn_off(user, proof), password=form.password, code=form.code
        )
        if done:
            _still_logged_in(user)
            flash(_("Two-factor sign-in is off. Your password alone now logs you in."), "success")
            return redirect_to(url_for("accounts.two_factor_page"))
    return _two_factor_page(422, off_form=form)


# --- Administration of users -----------------------------------------------------------------------------------


def _user_details(form: UserForm) -> services.UserDetails:
    return services.UserDetails(
        email=form.email.data or "",
        name=form.name.data or "",
        role=UserRole(form.role.data),
        dealer_code=form.dealer_code.data or "",
        dealer_role=DealerRole(form.dealer_role.data) if form.dealer_role.data else None,
        is_senior=bool(form.is_senior.data),
        locale=form.locale.data or None,
        timezone=form.timezone.data,
        active=bool(form.active.data),
        two_factor_required=bool(form.two_factor_required.data),
    )


@bp.route("/admin/users")
@allow(AccessRole.ADMIN)
def users() -> ResponseReturnValue:
    search = UserSearchForm(request.args)
    role = search.role.data if search.role.data in UserRole._value2member_map_ else None
    listing = db.paginate(
        services.search_users(search.q.data or "", UserRole(role) if role else None),
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template("accounts/users.html", search=search, users=listing)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def new_user() -> ResponseReturnValue:
    form = UserForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.create_user(current_user, _user_details(form), form.temporary_password.data or ""),
            lambda user: (
                _("%(name)s can now log in with the temporary password you set.", name=user.name)
                if form.temporary_password.data
                else _("We emailed %(name)s an invitation to choose a password.", name=user.name),
                url_for("accounts.users"),
            ),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/user_form.html", form=form, user=None), status


@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_user(user_id: int) -> ResponseReturnValue:
    user = services.get_user(user_id)
    form = UserForm(obj=user)
    if request.method == "GET":
        form.role.data = user.role.value
        form.dealer_role.data = user.dealer_role.value if user.dealer_role else DealerRole.STAFF.value
        form.dealer_code.data = user.dealer.code if user.dealer else ""
        form.locale.data = user.locale or ""
    if form.validate_on_submit():
        proof = Proof(form.admin_password.data or "", form.admin_code.data or "")
        done, _nothing = _audited_attempt(
            form.email,
            lambda: services.update_user(
                current_user,
                user,
                _user_details(form),
                temporary_password=form.temporary_password.data or "",
                deactivation_reason=form.deactivation_reason.data or "",
                proof=proof,
            ),
            password=form.admin_password,
            code=form.admin_code,
        )
        if done:
            flash(_("The account of %(name)s was saved.", name=user.name), "success")
            return redirect_to(url_for("accounts.users"))
    return _user_page(form, user, 422 if request.method == "POST" else 200)


def _user_page(
    form: UserForm, user: User, status: int = 200, reset_form: AdminProofForm | None = None
) -> ResponseReturnValue:
    deactivated_by = services.get_user(user.deactivated_by_id) if user.deactivated_by_id else None
    return render_template(
        "accounts/user_form.html",
        form=form,
        user=user,
        deactivated_by=deactivated_by,
        reset_form=reset_form or AdminProofForm(formdata=None),
    ), status


@bp.route("/admin/users/<int:user_id>/two-factor/reset", methods=["POST"])
@allow(AccessRole.ADMIN)
@_proof_limit()
def reset_two_factor(user_id: int) -> ResponseReturnValue:
    user = services.get_user(user_id)
    form = AdminProofForm()
    if form.validate_on_submit():
        proof = Proof(form.password.data or "", form.code.data or "")
        done, _nothing = _audited_attempt(
            form.password,
            lambda: two_factor.reset_for_user(current_user, user, proof),
            password=form.password,
            code=form.code,
        )
        if done:
            flash(
                _("Two-factor sign-in of %(name)s is reset; they have been logged out everywhere.", name=user.name),
                "success",
            )
            return redirect_to(url_for("accounts.edit_user", user_id=user.id))
    edit_form = UserForm(obj=user, formdata=None)
    edit_form.role.data, edit_form.locale.data = user.role.value, user.locale or ""
    edit_form.dealer_role.data = user.dealer_role.value if user.dealer_role else DealerRole.STAFF.value
    edit_form.dealer_code.data = user.dealer.code if user.dealer else ""
    return _user_page(edit_form, user, 422, reset_form=form)


# --- Forgotten passwords and invitations ---------------------------------------------------------------------


def _forgot_account_key() -> str:
    return "forgot:" + services.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["FORGOT_LIMIT_PER_ADDRESS"], methods=["POST"], scope="forgot-address")
@limiter.limit(
    lambda: current_app.config["FORGOT_LIMIT_PER_ACCOUNT"],
    key_func=_forgot_account_key,
    methods=["POST"],
    scope="forgot-account",
)
def forgot_password() -> ResponseReturnValue:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data or "")
        db.session.commit()
        flash(
            _("If that address belongs to an account, we have sent it a link to set a new password. Check your email."),
            "info",
        )
        return redirect_to(url_for("accounts.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/forgot.html", form=form), status


def _password_from_link(token: str, purpose: str) -> ResponseReturnValue:

    user = user_for_token(token, purpose)
    if user is None:
        return render_template("accounts/link_invalid.html", purpose=purpose), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        services.set_password_from_link(user, form.new_password.data or "", purpose)
        db.session.commit()
        flash(_("Your password is set. Log in with it now."), "success")
        return redirect_to(url_for("accounts.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/set_password.html", form=form, purpose=purpose, user=user), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str) -> ResponseReturnValue:
    return _password_from_link(token, "reset")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str) -> ResponseReturnValue:
    return _password_from_link(token, "invitation")
