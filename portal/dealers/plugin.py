"""How the dealers area plugs into the portal: its pages, the dealer documents' files, menu entries and notices."""

from __future__ import annotations

from flask import Flask

from portal.accounts.services import register_dealer_lookup, register_user_change_check
from portal.dealers import documents, notices, rules, services, tasks  # noqa: F401 - the kinds and tasks register themselves
from portal.dealers.views import bp
from portal.navigation import register_navigation
from portal.page_cache import register_dealers_read
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    documents.register()
    register_dealer_lookup(services.dealer_id_by_code)
    register_dealers_read(services.dealers_shown_to)
    register_user_change_check(services.refuse_if_manager_keeps_dealers)
    register_navigation("dealers.dealer_home", _l("Overview"), 10, tab=True)
    register_navigation("dealers.dealer_people_page", _l("People"), 60)
    register_navigation("dealers.documents_page", _l("Documents"), 70)
    register_navigation("dealers.portfolio", _l("Dealers"), 80)
    register_navigation("dealers.portfolios", _l("Portfolios"), 150)
    for guard in (rules.can_close_period,):  # templates ask the area's rules, never compare statuses
        app.add_template_global(guard)
