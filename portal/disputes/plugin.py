"""How the disputes area plugs into the portal: its pages, the files of violations and disputes, the penalties
rebates deduct, the deadline task, menu entries and notices."""

from __future__ import annotations

from flask import Flask

from portal.dealers.closing import register_close_check
from portal.dealers.sections import register_console_section
from portal.dealers.services import register_money_holder
from portal.disputes import inbox as disputes_inbox
from portal.disputes import notices, rules, services, tasks  # noqa: F401 - the kinds and tasks register themselves
from portal.disputes import violations as dispute_violations
from portal.disputes.views import bp, dealer_console_section
from portal.navigation import register_navigation
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    disputes_inbox.register()
    services.register_evidence_owners()
    dispute_violations.register_penalties()
    register_money_holder(dispute_violations.holds_money)  # a penalty fixes the dealer's currency
    register_close_check(dispute_violations.close_facts)  # the close preview: violations still waiting
    register_console_section(dealer_console_section)
    register_navigation("disputes.dealer_violations", _l("Disputes"), 50)
    register_navigation("disputes.console_violations", _l("Violations"), 100)
    register_navigation("disputes.mediation_home", _l("Mediation"), 160)
    for guard in (
        rules.awaits_confirmation,
        rules.awaits_party,
        rules.can_ask_a_party,
        rules.can_resolve,
        rules.is_settled,
    ):  # templates ask the area's rules, never compare statuses
        app.add_template_global(guard)
