"""What people hear about rebate statements, payments and sales imports: the notification kinds this area sends."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "rebate_statement_final",
        _l("A rebate statement becomes final"),
        _l("Your rebate statement for %(period)s is final."),
        True,
    ),
    Kind(
        "target_change_asked",
        _l("A target change waits for approval"),
        _l("The target of %(dealer)s for %(period)s should become %(amount)s: it waits for your decision."),
        True,
    ),
    Kind(
        "target_changed",
        _l("Your target changes"),
        _l("Your target for %(period)s changed from %(old)s to %(new)s: %(reason)s"),
        True,
    ),
    Kind(
        "target_change_decided",
        _l("A target change you asked for is decided"),
        _l("The target change of %(dealer)s for %(period)s (%(old)s to %(new)s) is %(decision)s: %(reason)s"),
        True,
    ),
    Kind(
        "rebate_period_reopened",
        _l("A closed period is reopened"),
        _l("%(period)s is open again and your statement is being recomputed: %(reason)s"),
        True,
    ),
    Kind(
        "rebate_paid",
        _l("A rebate is paid"),
        _l("Your rebate for %(period)s was paid: %(amount)s, reference %(reference)s."),
        True,
    ),
    Kind(
        "sales_import_finished",
        _l("A sales import you started finishes"),
        _l("Sales file %(file)s is imported: %(imported)s lines added, %(skipped)s already there."),
        False,
    ),
    Kind(
        "sales_import_voided",
        _l("Sales of yours are taken back"),
        _l("The sales of file %(file)s were voided, your statement recomputed: %(reason)s"),
        True,
    ),
)
