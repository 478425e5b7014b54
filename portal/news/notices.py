"""What dealers hear of news: an announcement published for them, one to acknowledge, a reminder to."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind("announcement_published", _l("News from the manufacturer"), _l("News: %(title)s"), False),
    Kind(
        "announcement_to_acknowledge",
        _l("A policy to read and acknowledge"),
        _l("Read and acknowledge: %(title)s"),
        True,
    ),
    Kind(
        "announcement_reminder",
        _l("An announcement still waits for your acknowledgement"),
        _l("%(title)s still waits for your acknowledgement."),
        True,
    ),
)
