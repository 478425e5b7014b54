"""What each side hears of a plan: the other side accepted and waits for you, both agreed, the review is there; and
the dealer of a visit shared with them."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "business_plan_to_accept",
        _l("A business plan waits for your acceptance"),
        _l("The business plan of %(dealer)s for %(period)s (version %(version)s) waits for your acceptance."),
        True,
    ),
    Kind(
        "business_plan_agreed",
        _l("A business plan is agreed"),
        _l("Both sides accepted the business plan of %(dealer)s for %(period)s (version %(version)s)."),
        False,
    ),
    Kind(
        "business_plan_reviewed",
        _l("Your business plan is reviewed"),
        _l("The business plan of %(dealer)s for %(period)s is reviewed; add your comments."),
        True,
    ),
    Kind(
        "visit_shared",
        _l("Notes of a visit shared with you"),
        _l("Your manager shared the notes of the visit of %(day)s."),
        False,
    ),
)
