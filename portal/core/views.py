"""Entry point, health check and the administrator's overview."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from portal.access import AccessRole, allow, public
from portal.accounts.models import User, UserRole
from portal.dealers import services as dealer_services
from portal.dealers.models import DealerStatus, Period
from portal.extensions import db
from portal.navigation import home_url

bp = Blueprint("core", __name__)


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("accounts.login"))


@bp.route("/ping")
@public
def ping() -> ResponseReturnValue:
    """Liveness without the database: the process answers. Also the benchmark's baseline route."""
    return Response("ok", mimetype="text/plain")


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    """For load balancers: 200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        response = jsonify(status="unavailable", database="unreachable")
        response.status_code = 503
    else:
        response = jsonify(status="ok", database="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/")
@allow(AccessRole.ADMIN)
def admin_home() -> ResponseReturnValue:
    users_by_role = dict(
        db.session.execute(select(User.role, func.count()).where(User.active).group_by(User.role)).all()
    )
    periods = db.session.execute(select(Period).order_by(Period.starts_on.desc()).limit(9)).scalars().all()
    return render_template(
        "core/admin_home.html",
        dealers_by_status=dealer_services.dealer_counts_by_status(),
        users_by_role={role.value: count for role, count in users_by_role.items()},
        periods=periods,
        current=dealer_services.current_period(),
        dealer_statuses=list(DealerStatus),
        user_roles=list(UserRole),
    )
