"""Language and time-zone choice: the account's choice, then the visitor's, then the browser's languages."""

from __future__ import annotations

from babel.dates import get_timezone_name
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from jinja2.nodes import EvalContext
from jinja2.utils import pass_eval_context
from markupsafe import Markup

from portal.extensions import babel
from portal.request_locale import current_translations
from portal.request_locale import lazy_gettext as _l

LANGUAGE_NAMES = {"en": "English", "zh_Hans": "中文"}
HTML_LANG = {"en": "en", "zh_Hans": "zh-Hans"}


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # Templates translate through the one-step lookup (portal.request_locale): a list page translates every cell.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: current_translations().ugettext(message),
        ngettext=lambda singular, plural, count: current_translations().ungettext(singular, plural, count),
        pgettext=lambda context, message: current_translations().upgettext(context, message),
        npgettext=lambda context, singular, plural, count: current_translations().unpgettext(
            context, singular, plural, count
        ),
        newstyle=True,
    )
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext, ngettext=template_ngettext)

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


# What Jinja's "new style" gettext does (escape-aware, the message always a format string), in one call instead
# of three nested context calls: `_` is called for every column label of every row.
@pass_eval_context
def template_gettext(eval_context: EvalContext, message: str, /, **variables: object) -> str:
    translated = current_translations().ugettext(message)
    if not variables and "%" not in translated:  # what formatting with nothing would give, without its cost
        return Markup(translated) if eval_context.autoescape else translated  # noqa: S704 - our catalogue
    if eval_context.autoescape:
        return Markup(translated) % variables  # noqa: S704 - our catalogue; the values are escaped
    return translated % variables


@pass_eval_context
def template_ngettext(eval_context: EvalContext, singular: str, plural: str, count: int, /, **variables: object) -> str:
    variables.setdefault("num", count)
    translated = current_translations().ungettext(singular, plural, count)
    if eval_context.autoescape:
        return Markup(translated) % variables  # noqa: S704 - our catalogue; the values are escaped
    return translated % variables


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
