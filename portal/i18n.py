"""Language and time-zone choice: the account's choice, then the visitor's, then the browser's languages."""

from __future__ import annotations

from babel.dates import get_timezone_name
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import babel

LANGUAGE_NAMES = {"en": "English", "zh_Hans": "中文"}
HTML_LANG = {"en": "en", "zh_Hans": "zh-Hans"}


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.context_processor
    def _language_context() -> dict[str, object]:

        locale = get_locale()
        code = str(locale) if locale else "en"
        return {
            "current_locale": code,
            "html_lang": HTML_LANG.get(code, "en"),
            "language_names": LANGUAGE_NAMES,
            "current_timezone": time_zone_name(),
        }


def supported_locales() -> tuple[str, ...]:
    return tuple(current_app.config["SUPPORTED_LOCALES"])


def locale_from_header(values: list[str]) -> str | None:
    """Map browser language tags to ours; Werkzeug alone would send zh-CN to English."""
    for value in values:
        tag = value.strip().lower().replace("_", "-")
        if tag == "zh" or tag.startswith("zh-"):
            return "zh_Hans"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return None


def select_locale() -> str:
    if not has_request_context():  # a background job: callers choose with force_locale, else the default
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    if current_user and current_user.is_authenticated and current_user.locale in supported_locales():
        return str(current_user.locale)
    chosen = session.get("locale")
    if chosen in supported_locales():
        return str(chosen)
    ranked = [value for value, _quality in request.accept_languages] if request else []
    return locale_from_header(ranked) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    if not has_request_context():
        return str(current_app.config["COMPANY_TIMEZONE"])
    if current_user and current_user.is_authenticated and current_user.timezone:
        return str(current_user.timezone)
    return str(current_app.config["COMPANY_TIMEZONE"])


# Zones by the name people use for them; any other by the locale's own name for it (Babel's CLDR data).
SPOKEN_ZONE_NAMES = {"Asia/Shanghai": _l("Beijing time"), "Asia/Hong_Kong": _l("Hong Kong time")}


def time_zone_name() -> str:
    zone = get_timezone()
    key = str(zone)
    if key in SPOKEN_ZONE_NAMES:
        return str(SPOKEN_ZONE_NAMES[key])
    return f"{get_timezone_name(zone, locale=get_locale())} ({key})"
