"""How the rebates area plugs into the portal: its pages, the sales-import tasks, menu entries and notices."""

from __future__ import annotations

from flask import Flask

from portal.dealers.closing import register_close_check, register_reopen_refusal, register_reopen_step
from portal.dealers.sections import register_console_section, register_home_section
from portal.dealers.services import register_money_holder, register_period_close_step
from portal.dealers.tiers import register_tier_change_hook
from portal.navigation import register_navigation
from portal.rebates import inbox as rebates_inbox
from portal.rebates import notices, rules, services, tasks  # noqa: F401 - the kinds and tasks register themselves
from portal.rebates.views import bp, dealer_console_section, dealer_home_section
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    rebates_inbox.register()
    register_period_close_step(services.finalise_period)  # a closing period's statements become final
    register_money_holder(services.holds_money)  # targets, sales and statements fix the dealer's currency
    register_tier_change_hook(services.recompute_after_tier_change)  # a backdated tier re-rates open periods
    register_close_check(services.close_facts)  # the close preview: totals, negative accounts, waiting imports
    register_reopen_refusal(services.paid_statements_refuse_reopening)
    register_reopen_step(services.reopen_statements)  # reversed on the accounts, recomputed, owners told
    register_home_section(dealer_home_section)
    register_console_section(dealer_console_section)
    register_navigation("rebates.dealer_statements", _l("Statements"), 20, tab=True)
    register_navigation("rebates.dealer_account", _l("Account"), 25)
    register_navigation("rebates.performance", _l("Performance"), 110)
    register_navigation("rebates.targets", _l("Targets"), 120)
    register_navigation("rebates.target_changes", _l("Target changes"), 125)
    register_navigation("rebates.sales_imports", _l("Sales imports"), 130)
    for guard in (
        rules.can_confirm_import,
        rules.can_edit_programs,
        rules.can_pay_period,
        rules.can_retry_import,
        rules.import_checked,
        rules.import_finished,
        rules.import_voided,
        rules.is_paid,
        rules.is_provisional,
    ):  # templates ask the area's rules, never compare statuses
        app.add_template_global(guard)
