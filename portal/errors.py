"""Friendly error pages in the user's language; htmx requests get a fragment they can show in place."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db
from portal.request_locale import lazy_gettext as _l
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from portal.web import wants_fragment

ERROR_TEXTS = {
    400: (
        _l("Something was wrong with that request"),
        _l("Please go back, check what you entered and try again."),
    ),
    401: (_l("Please log in"), _l("Your session has ended. Log in again to continue.")),
    403: (_l("You do not have access to this page"), _l("Your role does not include this page.")),
    404: (_l("Page not found"), _l("The page does not exist, or you do not have access to it.")),
    405: (_l("That action is not possible here"), _l("Please use the buttons and links on the page.")),
    409: (
        _l("That change is no longer possible"),
        _l("Someone else changed this first, or it is in a state that does not allow this. Reload and check."),
    ),
    413: (
        _l("The upload is too large"),
        _l("The files you sent are larger than the portal accepts. Send smaller files, or fewer at a time."),
    ),
    422: (_l("Please correct the form"), _l("Some of the information you entered needs attention.")),
    429: (
        _l("Too many attempts"),
        _l("For your security, please wait a few minutes before trying again."),
    ),
    500: (
        _l("Something went wrong on our side"),
        _l("Nothing was saved. Please try again in a moment; if it keeps happening, tell your channel manager."),
    ),
}
CSRF_TEXT = (
    _l("This form has expired"),
    _l("For your security, forms expire. Reload the page and send it again."),
)


def render_error(status: int, title: object | None = None, message: object | None = None) -> tuple[str, int]:
    default_title, default_message = ERROR_TEXTS.get(status, ERROR_TEXTS[500 if status >= 500 else 400])
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    body = render_template(template, status=status, title=title or default_title, message=message or default_message)
    return body, status


# Doors other than the pages answer their own errors: the API its problem documents. Keyed by the path prefix, so
# even a URL or method no route knows (routing's 404 and 405, before any blueprint) is answered in the door's way.
_DOORS: dict[str, Callable[[HTTPException], ResponseReturnValue]] = {}


def register_error_door(prefix: str, render: Callable[[HTTPException], ResponseReturnValue]) -> None:
    _DOORS[prefix] = render


def _door_of(path: str) -> Callable[[HTTPException], ResponseReturnValue] | None:
    return next((render for prefix, render in _DOORS.items() if path.startswith(prefix)), None)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(_error: CSRFError) -> tuple[str, int]:
        return render_error(400, *CSRF_TEXT)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        if error.code is None or error.code < 400:
            return error
        if (door := _door_of(request.path)) is not None:
            return door(error)
        return render_error(error.code, message=_explicit_description(error))

    @app.errorhandler(NotFound)
    def _not_found(_error: NotFound) -> tuple[str, int]:
        return render_error(404)

    @app.errorhandler(Forbidden)
    def _forbidden(_error: Forbidden) -> tuple[str, int]:
        return render_error(403)

    @app.errorhandler(IllegalTransition)
    def _illegal(error: IllegalTransition) -> tuple[str, int]:
        db.session.rollback()
        return render_error(409, message=error.message)

    @app.errorhandler(InvalidInput)
    def _invalid(error: InvalidInput) -> tuple[str, int]:
        db.session.rollback()
        return render_error(422, message=error.message)

    @app.errorhandler(InternalServerError)
    def _server_error(_error: InternalServerError) -> tuple[str, int]:
        db.session.rollback()
        return render_error(500)


def _explicit_description(error: HTTPException) -> str | None:
    """A description given by our own code (abort(409, description=...)), not Werkzeug's English default."""
    if error.code == 429:  # Flask-Limiter puts the limit itself ("8 per 10 minutes") there, in English
        return None
    default = type(error).description
    return error.description if error.description and error.description != default else None
