"""Log in, log out, own account and language switch. Thin: validate, call one service, commit, redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal.access import EVERYONE, allow, public
from portal.accounts import services
from portal.accounts.forms import LanguageForm, LoginForm, PasswordChangeForm
from portal.core.homes import home_url
from portal.extensions import db, limiter
from portal.web import is_safe_next, redirect_to, render_page_or_fragment

bp = Blueprint("accounts", __name__)


def _login_account_key() -> str:
    return "account:" + services.normalise_email(request.form.get("email", ""))[:254]


def _login_failed(response: object) -> bool:
    """Only failed attempts count towards the limits, so a user who logs in and out is never locked out."""
    return getattr(response, "status_code", 500) not in (204, 303)


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_login_failed,
    scope="login-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_login_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
    scope="login-account",
)
def login() -> object:
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
            locale = session.get("locale")
            session.clear()  # a fresh session for the logged-in user
            login_user(result.user)
            if locale and not result.user.locale:
                session["locale"] = locale
            target = form.next.data if is_safe_next(form.next.data) else home_url(result.user)
            return redirect_to(target)
        if result.outcome is services.LoginOutcome.ACCOUNT_DISABLED:
            error = _("This account cannot log in. Please contact your channel manager or administrator.")
        else:
            error = _("The email or password is not correct.")
    elif request.method == "POST":
        status = 422
    return render_template("accounts/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@allow(EVERYONE)
def logout() -> object:
    services.log_out(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "success")
    return redirect_to(url_for("accounts.login"))


@bp.route("/account")
@allow(EVERYONE)
def account() -> object:
    return render_template(
        "accounts/account.html",
        password_form=PasswordChangeForm(formdata=None),
        language_form=LanguageForm(formdata=None, locale=current_user.locale or "en"),
    )


@bp.route("/account/password", methods=["POST"])
@allow(EVERYONE)
def change_password() -> object:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current_password.data or "", form.new_password.data or "")
        except services.WrongPassword:
            db.session.commit()  # keep the audit row of the refused attempt
            form.current_password.errors = [_("This is not your current password.")]
        else:
            db.session.commit()
            login_user(user)  # this browser keeps its session under the new token; every other one ends
            flash(_("Your password has been changed. Other sessions have been logged out."), "success")
            return redirect_to(url_for("accounts.account"))
    return render_page_or_fragment(
        "accounts/account.html",
        "accounts/_password_form.html",
        status=422,
        password_form=form,
        language_form=LanguageForm(formdata=None, locale=current_user.locale or "en"),
    )


@bp.route("/language", methods=["POST"])
@public
def set_language() -> object:
    form = LanguageForm()
    target = form.next.data if is_safe_next(form.next.data) else url_for("core.index")
    if form.validate_on_submit():
        locale = str(form.locale.data)
        session["locale"] = locale
        if current_user.is_authenticated:
            services.set_language(current_user._get_current_object(), locale)
            db.session.commit()
    return redirect_to(target)
