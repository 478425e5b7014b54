"""Known devices: a browser that has logged in to an account before carries a signed cookie naming that account.

Failed logins are limited so that guessing a password is slow, but a limit on the account alone lets anyone lock
its owner out by typing wrong passwords (eight from anywhere used to block the right one for ten minutes). So the
limits are keyed by who is trying: an account's known device (this cookie) is limited on its own and never by
what strangers do, while unknown browsers are limited per address and, all together, slowed down per account
(OWASP's "device cookies" against online guessing). The cookie proves nothing by itself: the password (and the
second factor) are still asked every time; it only says which bucket of failed attempts a request falls in.
"""

from __future__ import annotations

import secrets

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

DEVICE_COOKIE = "portal_device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal-known-device")


def remember_device(response: Response, user_id: int) -> None:
    """After a successful login: this browser is a known device of the account from now on."""
    existing = known_device(user_id)
    value = _serializer().dumps({"user": user_id, "device": existing or secrets.token_hex(8)})
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=current_app.config["DEVICE_COOKIE_DAYS"] * 24 * 3600,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def known_device(user_id: int | None) -> str | None:
    """The device id of this request's cookie if it names the account `user_id`; None for any other browser."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or user_id is None:
        return None
    try:
        payload = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("user") != user_id or not isinstance(payload.get("device"), str):
        return None
    return payload["device"]
