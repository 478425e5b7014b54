"""Security headers, session cookies and the login manager's wiring."""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from portal import page_cache
from portal.access import declared_access, enforce_route_access
from portal.extensions import htmx, login_manager
from portal.page_cache import SESSION_LOGIN_KEY
from portal.request_locale import lazy_gettext as _l
from portal.web import redirect_to, refuse_nul_bytes

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.unauthorized_handler(_unauthorized)

    app.before_request(refuse_nul_bytes)
    app.before_request(end_stale_session)
    # After the stale-session check, before the access checks: a stored page needs no user row and no transaction.
    app.before_request(page_cache.serve_unchanged_page)
    app.before_request(enforce_route_access)
    app.before_request(hold_unfinished_account)
    app.after_request(_set_security_headers)


# What a user with a temporary password may still do: change it, read the account page, switch language, leave.
# The bell's polling too: sent elsewhere, it would reload the page under the form being filled in every 30 s.
PASSWORD_CHANGE_ENDPOINTS = frozenset(
    {
        "notifications.bell",
        "accounts.account",
        "accounts.change_password",
        "accounts.logout",
        "accounts.set_language",
        "static",
        "core.healthz",
    }
)


# Requests a page makes by itself (the bell's polling): they must not keep an idle session alive.
PASSIVE_ENDPOINTS = frozenset({"notifications.bell", "static", "core.healthz"})
LAST_ACTIVITY = "last_activity"
LOGGED_IN_AT = "logged_in_at"
# The stamp is refreshed at most this often: a page a second would otherwise re-sign and resend the cookie each time.
ACTIVITY_STAMP_SECONDS = 60


def start_session_clock() -> None:
    """At login: the moment the absolute session lifetime counts from, and the first activity."""
    now = int(time.time())
    session[LOGGED_IN_AT] = now
    session[LAST_ACTIVITY] = now


def end_stale_session() -> Response | None:
    """Log out a session idle longer than IDLE_TIMEOUT_MINUTES (counting only real activity), or older than
    SESSION_LIFETIME_HOURS whatever its activity: a stolen cookie stops working within a working day.

    Judged by the session alone, without loading the user: a stored page may then be served without the user too.
    A login session without its start time (from before the lifetime existed) is ended too.
    """
    if SESSION_LOGIN_KEY not in session:
        return None
    now = time.time()
    last = session.get(LAST_ACTIVITY)
    started = session.get(LOGGED_IN_AT)
    lifetime = current_app.config["SESSION_LIFETIME_HOURS"]
    too_old = not isinstance(started, int | float) or not 0 <= now - started <= lifetime * 3600
    idle = isinstance(last, int | float) and now - last > current_app.config["IDLE_TIMEOUT_MINUTES"] * 60
    if too_old or idle:
        logout_user()
        session.clear()
        if request.endpoint in PASSIVE_ENDPOINTS or declared_access_or_none(request.endpoint) is not None:
            if too_old:
                flash(_l("Your session ended after %(hours)s hours. Please log in again.", hours=lifetime), "info")
            else:
                flash(_l("You were logged out after a while without activity. Please log in again."), "info")
            return _unauthorized()
        return None
    if request.endpoint not in PASSIVE_ENDPOINTS and not (
        isinstance(last, int | float) and 0 <= now - last < ACTIVITY_STAMP_SECONDS
    ):
        session[LAST_ACTIVITY] = int(now)
    return None


def declared_access_or_none(endpoint: str | None) -> object:

    if endpoint is None:
        return None
    try:
        return declared_access(endpoint)
    except LookupError:
        return None


# What a user whose administrator requires two-factor sign-in may do before setting it up.
TWO_FACTOR_SETUP_ENDPOINTS = PASSWORD_CHANGE_ENDPOINTS | {
    "accounts.two_factor_page",
    "accounts.begin_two_factor",
    "accounts.confirm_two_factor",
}

# Accounts held on one page until something is done: (the user's flag, what they may still use, why, where).
ACCOUNT_HOLDS = (
    (
        "must_change_password",
        PASSWORD_CHANGE_ENDPOINTS,
        _l("Choose your own password to continue: the one you were given is temporary."),
        "accounts.account",
    ),
    (
        "must_set_up_two_factor",
        TWO_FACTOR_SETUP_ENDPOINTS,
        _l("Your administrator requires two-factor sign-in. Set it up to continue."),
        "accounts.two_factor_page",
    ),
)


def hold_unfinished_account() -> Response | None:
    if not current_user.is_authenticated:
        return None
    for flag, allowed, reason, page in ACCOUNT_HOLDS:
        if getattr(current_user, flag) and request.endpoint not in allowed:
            flash(reason, "warning")
            return redirect_to(url_for(page))
    return None


def _unauthorized() -> Response:
    login_url = url_for("accounts.login", next=request.full_path.rstrip("?"))
    if htmx:
        # A fragment request from an expired session: send the whole page to the login form, not into a fragment.
        response = Response(status=401)
        response.headers["HX-Redirect"] = login_url
        return response
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(login_url)  # type: ignore[return-value]


def _set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure and current_app.config["HSTS_MAX_AGE"]:
        # Browsers that once reached the portal over HTTPS never try plain HTTP again (no downgrade, no cookie leak).
        headers.setdefault("Strict-Transport-Security", f"max-age={current_app.config['HSTS_MAX_AGE']}")
    if response.mimetype == "text/html":
        # The same URL answers with a full page or a fragment depending on HX-Request.
        response.vary.add("HX-Request")
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
    return response
