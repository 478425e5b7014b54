"""Small helpers that views share: full page or htmx fragment, and redirects that work for both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, flash, redirect, render_template, request
from flask.globals import _cv_request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Integer, Select, bindparam, func, select

from portal.database import read
from portal.extensions import db, htmx
from portal.service_errors import IllegalTransition, InvalidInput

T = TypeVar("T")


# The link types a page passes to url_for: ids, page numbers, queue names, period labels. Two equal values of one of
# these types always give the same text in a URL, so a link built once can be given again.
_PLAIN_VALUES = (int, str, bool)
_KEPT_URLS_LIMIT = 4096


class KeptUrls:
    """Links built once per process, for the templates' `url_for`.

    A list page links every row and its navigation, some fifty links a page, and Werkzeug builds each from its rule
    (about 15 µs: a twentieth of a claim queue's work). A link inside a request, with no anchor, scheme, method or
    `_external`, depends only on the endpoint, its values and the request's script root: that is the key, the
    values with their types (`True` and `1` give different links). Anything else (another value type, a relative
    endpoint, a call outside a request, an endpoint with url_defaults) goes to Flask's own `url_for` every time.
    Bounded: past the limit the kept links are dropped and built again."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.urls: dict[tuple[Any, ...], str] = {}

    def url_for(self, endpoint: str, /, **values: Any) -> str:
        request_context = _cv_request.get(None)
        adapter = request_context.url_adapter if request_context is not None else None
        if (
            adapter is None
            or endpoint[:1] == "."
            or any(name[:1] == "_" or type(value) not in _PLAIN_VALUES for name, value in values.items())
            or any(self.app.url_default_functions.values())
        ):
            return self.app.url_for(endpoint, **values)
        key = (adapter.script_name, endpoint, *((n, type(v), v) for n, v in values.items()))
        url = self.urls.get(key)
        if url is None:
            url = self.app.url_for(endpoint, **values)
            if len(self.urls) >= _KEPT_URLS_LIMIT:
                self.urls.clear()
            self.urls[key] = url
        return url


_KEPT_URLS = "portal_kept_urls"


def init_app(app: Flask) -> None:
    kept = app.extensions[_KEPT_URLS] = KeptUrls(app)
    app.jinja_env.globals["url_for"] = kept.url_for


def link(endpoint: str, /, **values: Any) -> str:
    """`url_for` through the application's kept links (KeptUrls): for code that builds a link per line or per row,
    as the "today" inbox does."""
    kept: KeptUrls = current_app.extensions[_KEPT_URLS]
    return kept.url_for(endpoint, **values)


def wants_fragment() -> bool:
    """An htmx request that swaps part of a page; a history restore needs the whole page."""
    return bool(htmx) and not htmx.history_restore_request


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """The whole page or the htmx fragment. That the answer depends on HX-Request (Vary) is said once, for every
    HTML answer, by the security headers (portal.security), not by each view."""
    return render_template(fragment if wants_fragment() else page, **context), status


def page_number(argument: str = "page") -> int:
    """The ?page= asked for, from 1 to a bound that keeps OFFSET inside a 64-bit integer."""

    return min(max(request.args.get(argument, 1, type=int) or 1, 1), 10**6)


def page_of(query: Any, total: int | None = None) -> Any:
    """The asked-for page of a list query, PAGE_SIZE rows. A list whose size the page already counted (its tabs, its
    header) passes it as `total`, and is not counted a second time."""
    found = db.paginate(
        query, page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False, count=total is None
    )
    if total is not None:
        found.total = total
    return found


# The limit and offset of a list statement built once (page_of_statement): parameters, so the statement stays the same.
PAGE_LIMIT = bindparam("page_limit", type_=Integer)
PAGE_OFFSET = bindparam("page_offset", type_=Integer)


class StatementPage(Pagination):
    """A page of a list whose statement is built once and kept, its limit and offset being PAGE_LIMIT and
    PAGE_OFFSET: the same page as `page_of` gives (Flask-SQLAlchemy's pagination, which the pager macro reads),
    without building a new statement on every request."""

    def _query_items(self) -> list[Any]:
        values = {**self._query_args["values"], "page_limit": self.per_page, "page_offset": self._query_offset}
        return list(db.session.execute(self._query_args["statement"], values).unique().scalars())

    def _query_count(self) -> int:
        return int(read(self._query_args["count_statement"], self._query_args["values"]).scalar_one())


def page_of_statement(
    statement: Select[Any], values: dict[str, Any], *, total: int | None = None, count: Select[Any] | None = None
) -> StatementPage:
    """The asked-for page of a kept list statement with the request's `values`. A page that has counted its list
    already (its tabs, its header) gives `total`; otherwise `count`, the list's kept count statement, is asked."""
    if total is None and count is None:
        raise ValueError("page_of_statement needs the list's total or its count statement")
    found = StatementPage(
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        max_per_page=None,
        error_out=False,
        count=total is None,
        statement=statement,
        count_statement=count,
        values=values,
    )
    if total is not None:
        found.total = total
    return found


def posted_ids(name: str, limit: int = 500) -> list[int]:
    """The ids a form posted under `name` (ticked rows), at most `limit`: plain ASCII digits that fit an id column.
    str.isdigit() alone lets superscripts and other digits through that int() then refuses."""

    values = request.form.getlist(name)
    return [int(value) for value in values if value.isascii() and value.isdigit() and len(value) < 10][:limit]


def redirect_to(url: str) -> Response:
    """Redirect a plain request with 303; tell htmx to load the page instead of swapping a redirect's body."""
    if wants_fragment():
        response = Response(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)  # type: ignore[return-value]


def refuse_nul_bytes() -> None:
    """Before every request: NUL cannot be stored in PostgreSQL text, so it is bad input, refused with a 400."""

    for values in (request.args, request.form):
        for value in values.values():
            if "\x00" in value:
                abort(400)


def is_safe_next(target: str | None) -> bool:
    """Only paths on this site: no scheme, no host, no protocol-relative or backslash tricks, no control characters."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ord(char) < 32 or ord(char) == 127 or char == "\\" for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def show_service_error(form: Any, field: str, message: str) -> None:
    """Put a service's refusal next to the field it concerns (or above the form when no field matches)."""
    target = getattr(form, field, None)
    if target is not None and hasattr(target, "errors"):
        target.errors = [*list(target.errors), message]
    else:
        form.form_errors.append(message)


@overload
def finish_action(form: None, action: Callable[[], T], done: Callable[[T], tuple[str, str]]) -> Response: ...


@overload
def finish_action(form: Any, action: Callable[[], T], done: Callable[[T], tuple[str, str]]) -> Response | None: ...


def finish_action(form: Any, action: Callable[[], T], done: Callable[[T], tuple[str, str]]) -> Response | None:
    """Run one service call for a view and end the transaction the same way everywhere.

    Success: commit, flash the message and redirect. A field refusal (InvalidInput): roll back and show it next to
    the field, returning None so the view re-renders its form with 422. A refused transition: roll back, 409.
    """

    try:
        result = action()
    except InvalidInput as error:
        db.session.rollback()
        if form is None:
            abort(422, description=error.message)
        show_service_error(form, error.field, error.message)
        return None
    except IllegalTransition as error:
        db.session.rollback()
        abort(409, description=error.message)
    db.session.commit()
    message, url = done(result)
    flash(message, "success")
    return redirect_to(url)


class RowPage:
    """A page of multi-entity rows (Flask-SQLAlchemy's paginate keeps only the first entity), for the pager macro."""

    def __init__(self, query: Any, page: int, per_page: int) -> None:

        self.page, self.per_page = page, per_page
        self.total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
        self.pages = max((self.total + per_page - 1) // per_page, 1)
        self.items = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).unique().all()
        self.has_prev, self.prev_num = page > 1, page - 1
        self.has_next, self.next_num = page < self.pages, page + 1
