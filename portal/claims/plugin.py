"""How the claims area plugs into the portal: its pages, the claims' evidence files, menu entries and notices."""

from __future__ import annotations

from flask import Flask

from portal.claims import budgets, notices, rules, services, tasks  # noqa: F401 - the kinds and the task register themselves
from portal.claims import inbox as claims_inbox
from portal.claims.views import bp, dealer_home_section
from portal.dealers.sections import register_home_section
from portal.dealers.services import register_money_holder
from portal.navigation import register_navigation
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    claims_inbox.register()
    services.register_evidence_owner()
    register_money_holder(budgets.holds_money)  # budgets and claims fix the dealer's currency
    register_home_section(dealer_home_section)
    register_navigation("claims.dealer_claims", _l("Claims"), 30, tab=True)
    register_navigation("claims.queue", _l("Claims"), 90)
    for guard in (
        rules.awaits_review,
        rules.awaits_second_approval,
        rules.can_comment,
        rules.can_edit,
        rules.can_withdraw,
        rules.is_approved,
        rules.needs_info,
        rules.was_rejected,
    ):  # templates ask the area's rules, never compare statuses
        app.add_template_global(guard)
