"""Application factory: configuration, extensions, blueprints, request hooks, error pages and commands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from config import CONFIGS, DEV_SECRET_KEY, PROJECT_ROOT


def create_app(config_name: str | None = None, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal. `config_name` is development, test or production (default: PORTAL_CONFIG or development)."""
    import os

    name = config_name or os.environ.get("PORTAL_CONFIG", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"unknown configuration {name!r}; use one of {', '.join(CONFIGS)}")
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.config.from_mapping(CONFIGS[name].as_mapping())
    if overrides:
        app.config.from_mapping(overrides)
    _refuse_unsafe_production_config(app)
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind that many proxies: the client's address (login limits, audit) and HTTPS (HSTS) come from them.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=app.config["PROXY_COUNT"], x_proto=app.config["PROXY_COUNT"]
        )

    from portal import database, errors, formatting, i18n, page_cache, security
    from portal.core import models  # noqa: F401 - registers data_generation (the page cache's), which no area imports
    from portal.extensions import csrf, db, htmx, limiter, migrate

    database.init_app(app)
    page_cache.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    # Access before CSRF: an expired session gets "log in again" (HX-Redirect for htmx), not "form expired".
    security.init_app(app)
    csrf.init_app(app)
    database.register_write_intent(app)
    htmx.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    formatting.init_app(app)
    errors.init_app(app)

    from portal.core import navigation

    navigation.init_app(app)

    from portal.accounts.views import bp as accounts_bp
    from portal.audit.views import bp as audit_bp
    from portal.claims.views import bp as claims_bp
    from portal.core.views import bp as core_bp
    from portal.dealers.views import bp as dealers_bp
    from portal.disputes.views import bp as disputes_bp
    from portal.evidence.views import bp as evidence_bp
    from portal.notifications.views import bp as notifications_bp
    from portal.rebates.views import bp as rebates_bp
    from portal.training.views import bp as training_bp

    for blueprint in (
        core_bp,
        accounts_bp,
        dealers_bp,
        rebates_bp,
        training_bp,
        claims_bp,
        disputes_bp,
        audit_bp,
        notifications_bp,
        evidence_bp,
    ):
        app.register_blueprint(blueprint)

    from portal.claims import services as claim_services
    from portal.dealers import documents
    from portal.disputes import services as dispute_services

    documents.register()  # the owners of evidence files and their permission hooks
    claim_services.register_evidence_owner()
    dispute_services.register_evidence_owners()
    dispute_services.register_penalties()

    from portal import cli, jobs

    jobs.init_app(app)
    cli.init_app(app)
    return app


def _refuse_unsafe_production_config(app: Flask) -> None:
    if app.config["ENV_NAME"] != "production":
        return
    secret = app.config.get("SECRET_KEY") or ""
    if secret == DEV_SECRET_KEY or len(secret) < 32:
        raise RuntimeError(
            "Refusing to start in production without a real SECRET_KEY: set the SECRET_KEY environment variable "
            "to a random value of at least 32 characters (python -c 'import secrets; print(secrets.token_hex(32))')."
        )
