"""What people hear about a person's own account and how they sign in: the notification kinds this area sends."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "account_changed",
        _l("Changes to your account"),
        _l("Your password was changed. If this was not you, tell your administrator at once."),
        True,
    ),
    Kind(
        "security_notice",
        _l("Changes to how you sign in"),
        _l("%(change)s If this was not you, tell your administrator at once."),
        True,
        optional=False,
    ),
    Kind(
        "login_attempts",
        _l("Someone is trying to log in to your account"),
        _l(
            "%(count)s wrong passwords were tried for your account in the last hour, from %(places)s places. If it "
            "was not you, your account is safe while your password is secret: choose a longer one if in doubt."
        ),
        True,
        optional=False,
    ),
)
