"""Application factory: configuration, extensions, blueprints, request hooks, error pages and commands."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import CONFIGS, DEV_SECRET_KEY, PROJECT_ROOT
from portal import (
    cli,
    database,
    errors,
    formatting,
    i18n,
    inbox,
    jobs,
    navigation,
    page_cache,
    request_memo,
    security,
    web,
)
from portal.accounts import plugin as accounts_plugin
from portal.api import plugin as api_plugin
from portal.audit import plugin as audit_plugin
from portal.campaigns import plugin as campaigns_plugin
from portal.claims import plugin as claims_plugin
from portal.core import plugin as core_plugin
from portal.dealers import plugin as dealers_plugin
from portal.disputes import plugin as disputes_plugin
from portal.evidence import plugin as evidence_plugin
from portal.extensions import csrf, db, htmx, limiter, migrate
from portal.news import plugin as news_plugin
from portal.notifications import plugin as notifications_plugin
from portal.plans import plugin as plans_plugin
from portal.rebates import plugin as rebates_plugin
from portal.referee import plugin as referee_plugin
from portal.training import plugin as training_plugin

# The areas (imported as name_plugin: `portal.claims` must stay the package), each plugging in its pages, tasks,
# notices, menu entries, evidence owners and penalty sources. Their order is the order of the blueprints and of the
# kinds on the email-preferences page.
AREAS = (
    core_plugin,
    accounts_plugin,
    dealers_plugin,
    rebates_plugin,
    training_plugin,
    claims_plugin,
    news_plugin,
    disputes_plugin,
    referee_plugin,
    campaigns_plugin,
    plans_plugin,
    audit_plugin,
    notifications_plugin,
    evidence_plugin,
    api_plugin,
)


def create_app(config_name: str | None = None, overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal. `config_name` is development, test or production (default: PORTAL_CONFIG or development)."""
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
        # Behind that many proxies: the client's address (login limits, audit) and HTTPS (HSTS) come from them.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=app.config["PROXY_COUNT"], x_proto=app.config["PROXY_COUNT"]
        )

    database.init_app(app)
    request_memo.init_app(app)
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
    navigation.init_app(app)
    web.init_app(app)
    inbox.init_app(app)

    for area in AREAS:
        area.init_app(app)
    jobs.init_app(app)  # after the areas: it builds the queue from the tasks they declared
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
