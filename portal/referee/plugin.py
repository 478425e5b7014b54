"""How the referee plugs into the portal: its pages, the detection that follows each sales import, menu entries
and notices."""

from __future__ import annotations

from flask import Flask, url_for

from portal.disputes.violations import register_source_link
from portal.navigation import register_navigation
from portal.rebates.sales_jobs import register_import_hook, register_void_hook
from portal.referee import codes, inbox, notices, queries, rules, suspicions, tasks  # noqa: F401 - the kinds and tasks register themselves
from portal.referee.views import bp
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_import_hook(tasks.queue_detection)  # detection follows each sales import
    register_void_hook(suspicions.withdraw_voided_lines)  # a voided import's lines are evidence no more
    codes.register_evidence_owner()
    inbox.register()
    register_source_link("suspicion", lambda ident: url_for("referee.suspicion", suspicion_id=int(ident)))
    register_navigation("referee.field_check", _l("Field check"), 107)
    register_navigation("referee.suspicion_queue", _l("Suspicions"), 105)
    register_navigation("referee.price_lists", _l("Price lists"), 106)
    register_navigation("referee.dealer_prices", _l("Prices and rules"), 55)
    app.add_template_filter(queries.product_name, "product_name")
    app.add_template_global(suspicions.record_months)
    for guard in (rules.is_undecided, rules.is_editable):
        app.add_template_global(guard)
