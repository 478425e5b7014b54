"""What dealers hear of campaigns: one launched for them, one settled with a reward on their account."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "campaign_launched",
        _l("A sales campaign for your dealer"),
        _l("The sales campaign %(name)s is on, until %(ends_on)s. Your progress is on your home page."),
        True,
    ),
    Kind(
        "campaign_settled",
        _l("A campaign reward on your account"),
        _l("The sales campaign %(name)s is settled; your reward is on your account."),
        True,
    ),
)
