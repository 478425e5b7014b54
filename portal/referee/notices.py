"""What people hear from the referee: a new price list to acknowledge, a suspicion decided."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "price_list_published",
        _l("A new price list to acknowledge"),
        _l("The price list %(name)s takes effect on %(day)s. Read it and acknowledge it."),
        True,
    ),
    Kind(
        "price_list_reminder",
        _l("A price list still waits for your acknowledgement"),
        _l("The price list %(name)s (in force from %(day)s) still waits for your acknowledgement."),
        True,
    ),
)
