"""Security headers, cookies, htmx behaviour, error pages, the health check and production safety."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Blueprint, Flask, abort
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from portal import create_app
from portal.access import EVERYONE, allow, public
from portal.web import KeptUrls, link
from tests.factories import PASSWORD, Channel
from tests.helpers import log_in


def test_security_headers_on_every_page(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "style-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"


def test_https_answers_ask_browsers_to_stay_on_https(app: Flask) -> None:
    """Strict-Transport-Security on HTTPS only; behind a trusted proxy, its X-Forwarded-Proto says HTTPS."""
    client = app.test_client()
    assert client.get("/login", base_url="https://portal.example").headers["Strict-Transport-Security"] == (
        "max-age=31536000"
    )
    assert "Strict-Transport-Security" not in client.get("/login").headers
    proxied = create_app("test", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "PROXY_COUNT": 1})
    response = proxied.test_client().get(
        "/ping", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    )
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    ignored = app.test_client().get("/ping", headers={"X-Forwarded-Proto": "https"})  # no proxy trusted
    assert "Strict-Transport-Security" not in ignored.headers


def test_pages_have_no_inline_script_or_style(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["admin"])
    for path in ("/login", "/admin/", "/console/", "/account", "/mediation/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "<style" not in html and ' style="' not in html, path
        assert " on" + "click=" not in html and "hx-on" not in html, path


def test_htmx_is_vendored_at_2_0_11_and_configured_for_a_strict_csp(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert "/static/vendor/htmx-2.0.11.min.js" in html
    for setting in ('"allowEval": false', '"includeIndicatorStyles": false', '"selfRequestsOnly": true'):
        assert setting in html
    assert '{"code": "422", "swap": true, "error": false}' in html
    script = Path(__file__).parents[1] / "static" / "vendor" / "htmx-2.0.11.min.js"
    assert 'version:"2.0.11"' in script.read_text()


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient, channel: Channel) -> None:
    response = client.post("/login", data={"email": channel.emails["manager"], "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_refuses_the_default_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")
    monkeypatch.setenv("SECRET_KEY", "too-short")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_cookies_are_secure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'prod.db'}"


def test_database_url_for_postgres_uses_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://portal@db.internal/portal")
    app = create_app("test")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://portal@db.internal/portal"


def test_healthz_reports_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(tmp_path: Path) -> None:
    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'no.db'}"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_expired_session_answers_htmx_with_hx_redirect(client: FlaskClient) -> None:
    response = client.get("/account", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/account"


def test_expired_session_beats_the_csrf_check_for_htmx_posts(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/account/password", data={}, headers={"HX-Request": "true", "X-CSRFToken": "stale"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/account/password"


def test_password_form_answers_htmx_with_a_422_fragment(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["manager"])
    response = client.post(
        "/account/password",
        data={"current_password": "", "new_password": "short", "confirm_password": ""},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith('<form id="password-form"')
    assert "<html" not in html
    assert "Enter your current password." in html


def test_history_restore_gets_the_whole_page(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["manager"])
    response = client.post(
        "/account/password",
        data={},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.get_data(as_text=True)


@pytest.fixture
def probe_app(tmp_path: Path) -> Flask:
    """An app with extra routes that fail on purpose, to see the error pages."""
    app = create_app(
        "test",
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'probe.db'}", "PROPAGATE_EXCEPTIONS": False},
    )
    probe = Blueprint("probe", __name__)

    @probe.route("/probe/conflict", methods=["GET"])
    @public
    def conflict() -> object:
        abort(409)

    @probe.route("/probe/boom")
    @public
    def boom() -> object:
        raise RuntimeError("boom")

    @probe.route("/probe/undeclared")
    def undeclared() -> object:
        return "should never be served"

    @probe.route("/probe/declared")
    @allow(EVERYONE)
    def declared() -> object:
        return "ok"

    app.register_blueprint(probe)
    return app


def test_conflict_is_a_fragment_for_htmx_and_a_page_otherwise(probe_app: Flask) -> None:
    client = probe_app.test_client()
    fragment = client.get("/probe/conflict", headers={"HX-Request": "true"})
    assert fragment.status_code == 409
    assert fragment.get_data(as_text=True).lstrip().startswith('<div class="error-fragment" role="alert">')
    page = client.get("/probe/conflict")
    assert page.status_code == 409
    assert "<html" in page.get_data(as_text=True)
    assert "That change is no longer possible" in page.get_data(as_text=True)


def test_server_error_page_is_friendly(probe_app: Flask) -> None:
    response = probe_app.test_client().get("/probe/boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_route_that_declares_no_roles_is_refused(probe_app: Flask) -> None:
    assert probe_app.test_client().get("/probe/undeclared").status_code == 403


def test_forbidden_page_is_friendly_and_translated(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_staff"])
    response = client.get("/admin/")
    assert response.status_code == 403
    assert "You do not have access to this page" in response.get_data(as_text=True)
    client.post("/language", data={"locale": "zh_Hans", "next": "/"})
    assert "您无权访问此页面" in client.get("/admin/").get_data(as_text=True)


def test_not_found_and_method_not_allowed_pages(client: FlaskClient) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "Page not found" in missing.get_data(as_text=True)
    wrong_method = client.get("/logout")
    assert wrong_method.status_code == 405
    assert "That action is not possible here" in wrong_method.get_data(as_text=True)


def test_too_large_request_gets_a_friendly_413(app: Flask, client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/login", data={"email": "x" * 4096, "password": "y"})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024
    assert response.status_code == 413
    assert "The upload is too large" in response.get_data(as_text=True)


def test_error_pages_are_translated(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "页面不存在" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("manager", "/console/"),  # portfolio: the table is swapped by the filter form
        ("dealer_owner", "/account"),  # the password form is swapped in place
        ("dealer_owner", "/training/"),  # the catalogue's sessions
    ],
)
def test_a_page_that_can_answer_a_fragment_says_so_both_ways(
    client: FlaskClient, channel: Channel, role: str, path: str
) -> None:
    """Both answers say Vary: HX-Request, so a cache never gives the fragment to a plain visit. It is said once, for
    every HTML answer, by the security headers; the copies some views set went."""
    log_in(client, channel.emails[role])
    page = client.get(path)
    fragment = client.get(path, headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert page.headers["Vary"].startswith("HX-Request") and fragment.headers["Vary"].startswith("HX-Request")


_LINKING_APP = create_app("test", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
_LINK_VALUES = st.one_of(st.integers(min_value=0, max_value=2**40), st.text(max_size=12), st.booleans())


@given(
    dispute_id=st.integers(min_value=0, max_value=2**40),
    query=st.dictionaries(st.sampled_from(["queue", "page", "q", "sort"]), _LINK_VALUES, max_size=3),
)
def test_a_kept_link_is_the_link_flask_builds(dispute_id: int, query: dict[str, object]) -> None:
    """The templates' url_for keeps links; whatever the values (unicode, slashes, ampersands, True beside 1), a kept
    link is the one Flask builds, the first time and every time after."""
    kept = KeptUrls(_LINKING_APP)
    with _LINKING_APP.test_request_context("/"):
        for _ in range(2):
            assert kept.url_for("disputes.dispute_page", dispute_id=dispute_id, **query) == _LINKING_APP.url_for(
                "disputes.dispute_page", dispute_id=dispute_id, **query
            )
            assert kept.url_for("disputes.mediation_home", **query) == _LINKING_APP.url_for(
                "disputes.mediation_home", **query
            )


def test_kept_links_tell_apart_equal_values_of_other_types_and_other_script_roots() -> None:
    kept = KeptUrls(_LINKING_APP)
    with _LINKING_APP.test_request_context("/"):
        assert kept.url_for("disputes.mediation_home", page=1) == "/mediation/?page=1"
        assert kept.url_for("disputes.mediation_home", page=True) == "/mediation/?page=True"
        assert kept.url_for("disputes.mediation_home", page=1) == "/mediation/?page=1"
    with _LINKING_APP.test_request_context("/", base_url="http://localhost/portal"):
        assert kept.url_for("disputes.mediation_home", page=1) == "/portal/mediation/?page=1"
        assert kept.url_for("disputes.dispute_page", dispute_id=7, _anchor="events") == "/portal/disputes/7#events"
    with _LINKING_APP.test_request_context("/"):
        assert kept.url_for("disputes.dispute_page", dispute_id=7) == "/disputes/7"


def test_code_links_through_the_applications_kept_links() -> None:
    """`link`, for code that builds a line's link (the inbox), gives Flask's link and keeps it in the application's
    KeptUrls."""
    with _LINKING_APP.test_request_context("/", base_url="http://localhost/portal"):
        assert link("disputes.dispute_page", dispute_id=3) == "/portal/disputes/3"
        assert link("disputes.dispute_page", dispute_id=3, _anchor="x") == "/portal/disputes/3#x"
        kept = _LINKING_APP.extensions["portal_kept_urls"]
        assert "/portal/disputes/3" in kept.urls.values()


def test_pages_link_through_kept_links(client: FlaskClient, channel: Channel) -> None:
    """The templates' url_for is the kept one, and the links it gives on a page are Flask's."""
    app = client.application
    assert isinstance(app.jinja_env.globals["url_for"].__self__, KeptUrls)  # type: ignore[union-attr]
    log_in(client, channel.emails["dealer_owner"])
    first, second = client.get("/dealer/").text, client.get("/dealer/").text
    with app.test_request_context("/"):
        expected = app.url_for("rebates.dealer_statements")
    assert f'href="{expected}"' in first and first.count("href=") == second.count("href=")
