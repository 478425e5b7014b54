"""Navigation per role, derived from the routes' own access declarations so it never offers a page that refuses."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.access import declared_access
from portal.types import label

NAVIGATION = (
    ("dealers.dealer_home", _l("Overview")),
    ("rebates.dealer_statements", _l("Statements")),
    ("claims.dealer_claims", _l("Claims")),
    ("training.catalogue", _l("Training")),
    ("disputes.dealer_violations", _l("Disputes")),
    ("dealers.dealer_people_page", _l("People")),
    ("dealers.documents_page", _l("Documents")),
    ("dealers.portfolio", _l("Dealers")),
    ("claims.queue", _l("Claims")),
    ("disputes.console_violations", _l("Violations")),
    ("rebates.performance", _l("Performance")),
    ("rebates.targets", _l("Targets")),
    ("rebates.sales_imports", _l("Sales imports")),
    ("training.console_training", _l("Training")),
    ("dealers.portfolios", _l("Portfolios")),
    ("disputes.mediation_home", _l("Mediation")),
    ("core.admin_home", _l("Administration")),
    ("audit.trail", _l("Audit trail")),
    ("accounts.account", _l("My account")),
)


def navigation_for_current_user() -> list[tuple[str, object, bool]]:
    if not current_user.is_authenticated:
        return []
    role = current_user.access_role
    items = []
    for endpoint, text in NAVIGATION:
        roles = declared_access(endpoint)
        if roles is None or role in roles:
            items.append((endpoint, text, request.endpoint == endpoint))
    return items


def init_app(app: Flask) -> None:
    app.add_template_filter(label, "label")

    @app.context_processor
    def _navigation() -> dict[str, object]:
        return {"navigation": navigation_for_current_user, "unread_notification_count": _unread_count}


def _unread_count() -> int:
    from portal.notifications.services import unread_count

    return unread_count(current_user) if current_user.is_authenticated else 0
