"""The request's language, time zone and translations, read in one step.

Flask-Babel answers `get_locale()` and `get_translations()` through several context proxies and a cache lookup
keyed by the locale's name: some 7 µs a call. A list page calls them for every cell (a translated column label, a
date, an amount), so a queue of fifty rows spent a third of its render there. Flask-Babel keeps what it chose on
the application context (`g._flask_babel`); this module reads that directly and keeps the translations next to
it, checked by the locale's identity, so `force_locale` (a notice rendered in its recipient's language) switches
them as it switches the locale. Outside any context it falls back to Flask-Babel, which answers the defaults.
"""

from __future__ import annotations

from datetime import tzinfo
from types import SimpleNamespace

from babel import Locale
from babel.support import NullTranslations, Translations
from flask.globals import _cv_app
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel.speaklater import LazyString


def _babel_state() -> SimpleNamespace | None:
    """Flask-Babel's per-context record, or None when no context is pushed or nothing was chosen yet."""
    context = _cv_app.get(None)
    if context is None:
        return None
    state = context.g.__dict__.get("_flask_babel")
    return state if isinstance(state, SimpleNamespace) else None


def current_locale() -> Locale:
    """The locale of this request (or of the `force_locale` block around the call)."""
    state = _babel_state()
    locale = state.__dict__.get("babel_locale") if state is not None else None
    if locale is None:
        locale = get_locale()  # chooses, and records the choice on the context
    return locale if locale is not None else Locale.parse("en")


def in_language(language: str, english: str, chinese: str) -> str:
    """A name kept in both languages (an activity type, a product, a campaign) in `language`, a locale's code, or
    in the other language when that one was left empty: the one rule for every such name."""
    first, second = (chinese, english) if language.startswith("zh") else (english, chinese)
    return first or second


def in_reader_language(english: str, chinese: str) -> str:
    """`in_language` for the reader of this request."""
    return in_language(current_locale().language, english, chinese)


def current_timezone() -> tzinfo:
    state = _babel_state()
    zone = state.__dict__.get("babel_tzinfo") if state is not None else None
    if zone is None:
        zone = get_timezone()
    return zone


def current_translations() -> Translations | NullTranslations:
    """The catalogue of the current locale, looked up once per locale per context."""
    state = _babel_state()
    if state is not None:
        locale = state.__dict__.get("babel_locale")
        kept = state.__dict__.get("portal_translations")
        if locale is not None and kept is not None and kept[0] is locale:
            return kept[1]
    translations = get_translations()
    state = _babel_state()
    if state is not None and state.__dict__.get("babel_locale") is not None:
        state.portal_translations = (state.babel_locale, translations)
    return translations


# Flask-Babel's functions, answering the same (the message formatted only when values are given), read in one step.
# Areas import these, not Flask-Babel's: a start page translates a hundred inbox lines and labels.
def gettext(message: str, **variables: object) -> str:
    translated = current_translations().ugettext(message)
    return translated % variables if variables else translated


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    variables.setdefault("num", num)
    return current_translations().ungettext(singular, plural, num) % variables


def pgettext(context: str, message: str, **variables: object) -> str:
    translated = current_translations().upgettext(context, message)
    return translated % variables if variables else translated


def npgettext(context: str, singular: str, plural: str, num: int, **variables: object) -> str:
    variables.setdefault("num", num)
    return current_translations().unpgettext(context, singular, plural, num) % variables


def lazy_gettext(message: str, **variables: object) -> LazyString:
    """Translated when shown, in the reader's language: for texts defined once, at import (form labels)."""
    return LazyString(gettext, message, **variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables: object) -> LazyString:
    return LazyString(ngettext, singular, plural, num, **variables)
