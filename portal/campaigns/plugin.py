"""How campaigns plug into the portal: their pages, the dealer's home section, the inbox lines, notices and menu
entries."""

from __future__ import annotations

from flask import Flask

from portal.campaigns import inbox, notices, rules, tasks  # noqa: F401 - the kinds and tasks register themselves
from portal.campaigns.views import bp, dealer_home_section
from portal.dealers.sections import register_home_section
from portal.navigation import register_navigation
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_home_section(dealer_home_section)
    inbox.register()
    register_navigation("campaigns.dealer_campaigns", _l("Campaigns"), 27)
    register_navigation("campaigns.campaign_list", _l("Campaigns"), 112)
    for name, guard in (
        ("campaign_is_draft", rules.is_draft),
        ("campaign_is_launched", rules.is_launched),
        ("campaign_awaits_settlement", rules.awaits_settlement),
        ("campaign_is_settled", rules.is_settled),
        ("campaign_can_cancel", rules.can_cancel),
    ):
        app.add_template_global(guard, name)
