"""How news plugs into the portal: its pages, the inbox line, notices, tasks and menu entries."""

from __future__ import annotations

from flask import Flask

from portal.navigation import register_navigation
from portal.news import attachments, inbox, notices, rules, tasks  # noqa: F401 - the kinds and tasks register themselves
from portal.news.rules import render_markdown
from portal.news.views import bp
from portal.request_locale import lazy_gettext as _l


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    inbox.register()
    attachments.register()
    register_navigation("news.news_list", _l("News"), 26)
    register_navigation("news.policies", _l("Policies"), 28)
    register_navigation("news.manage", _l("News"), 113)
    app.add_template_filter(render_markdown, "markdown")
    for name, guard in (
        ("announcement_is_draft", rules.is_draft),
        ("announcement_is_published", rules.is_published),
        ("announcement_can_withdraw", rules.can_withdraw),
    ):
        app.add_template_global(guard, name)
