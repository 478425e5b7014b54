"""What people hear about a dealer's status, portfolio and people: the notification kinds this area sends."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "dealer_status_changed",
        _l("Your dealer's status changes"),
        _l("The status of %(dealer)s changed from %(old)s to %(new)s: %(reason)s"),
        True,
    ),
    Kind(
        "dealer_tier_changed",
        _l("Your dealer's tier changes"),
        _l("%(dealer)s moves from %(old)s to %(new)s from %(day)s: %(reason)s"),
        True,
    ),
    Kind(
        "period_close_requested",
        _l("A period's close waits for your confirmation"),
        _l("%(name)s asked to close %(period)s; a second person confirms it."),
        True,
    ),
    Kind(
        "portfolio_changed",
        _l("A dealer joins your portfolio"),
        _l("%(dealer)s is now in your portfolio."),
        True,
    ),
    Kind(
        "colleague_added",
        _l("A colleague is added to your dealer"),
        _l("%(name)s now has a login for %(dealer)s."),
        False,
    ),
)
