"""What people hear about violations and disputes: the notification kinds this area sends."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "violation_proposed",
        _l("A violation waits for your confirmation"),
        _l("A violation by %(dealer)s was recorded (%(kind)s) and waits for a second person to confirm it."),
        True,
    ),
    Kind(
        "violation_confirmed",
        _l("A violation is confirmed against your dealer"),
        _l(
            "A violation was confirmed against your dealer: %(kind)s, penalty %(amount)s. You may appeal until "
            "%(until)s."
        ),
        True,
    ),
    Kind(
        "dispute_raised",
        _l("A dispute is raised"),
        _l("%(dealer)s raised a dispute: %(title)s (%(category)s)."),
        True,
    ),
    Kind(
        "dispute_against_you",
        _l("A dispute names your dealer"),
        _l("%(dealer)s raised a dispute naming your dealer: %(title)s (%(category)s)."),
        True,
    ),
    Kind(
        "dispute_message",
        _l("A message in a dispute"),
        _l("%(name)s wrote in the dispute %(title)s."),
        True,
    ),
    Kind(
        "dispute_assigned",
        _l("A dispute is handed to you"),
        _l("The dispute %(title)s is now yours to mediate."),
        True,
    ),
    Kind(
        "dispute_info_requested",
        _l("The mediator asks you for information"),
        _l("The mediator of %(title)s asks: %(note)s (answer by %(until)s)"),
        True,
    ),
    Kind(
        "dispute_resolved",
        _l("A dispute is settled"),
        _l("The dispute %(title)s is %(status)s: %(note)s"),
        True,
    ),
    Kind(
        "dispute_withdrawn",
        _l("A dispute is withdrawn"),
        _l("The dispute %(title)s was withdrawn by the dealer who raised it."),
        True,
    ),
)
