"""The mediator's home. Dispute queues are added here by the disputes work."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.access import AccessRole, allow
from portal.dealers.services import current_period

bp = Blueprint("disputes", __name__)


@bp.route("/mediation/")
@allow(AccessRole.MEDIATOR, AccessRole.ADMIN)
def mediation_home() -> object:
    return render_template("disputes/mediation_home.html", period=current_period())
