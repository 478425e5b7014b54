"""The dealer's own home, and the channel console's portfolio and dealer pages."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from portal.access import CHANNEL_MANAGERS, DEALER_USERS, AccessRole, allow
from portal.dealers import services
from portal.extensions import db

bp = Blueprint("dealers", __name__)


@bp.route("/dealer/")
@allow(DEALER_USERS)
def dealer_home() -> object:
    dealer = current_user.dealer
    if dealer is None:  # a dealer user always has a dealer; a broken row must not show someone else's data
        abort(404)
    return render_template(
        "dealers/dealer_home.html",
        dealer=dealer,
        manager=dealer.manager,
        people=services.dealer_people(dealer),
        period=services.current_period(),
        today=services.company_today(),
    )


@bp.route("/console/")
@allow(CHANNEL_MANAGERS, AccessRole.ADMIN)
def portfolio() -> object:
    search_text = request.args.get("q", "")[:100]
    page = request.args.get("page", 1, type=int) or 1
    dealers = db.paginate(
        services.search_portfolio(current_user, search_text),
        page=max(page, 1),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "dealers/portfolio.html",
        heading=_("My portfolio") if current_user.access_role is AccessRole.MANAGER else _("All dealers"),
        dealers=dealers,
        search_text=search_text,
        period=services.current_period(),
    )


@bp.route("/console/dealers/<code>")
@allow(CHANNEL_MANAGERS, AccessRole.ADMIN)
def dealer_detail(code: str) -> object:
    dealer = services.get_visible_dealer(current_user, code)
    return render_template("dealers/dealer_detail.html", dealer=dealer, people=services.dealer_people(dealer))
