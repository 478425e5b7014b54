"""What people hear about claims and pre-approvals moving through review: the notification kinds this area sends."""

from __future__ import annotations

from portal.notifications.kinds import Kind, register_kinds
from portal.request_locale import lazy_gettext as _l

register_kinds(
    Kind(
        "claim_submitted",
        _l("A dealer submits a claim to you"),
        _l("%(dealer)s submitted the claim %(claim)s for %(amount)s."),
        True,
    ),
    Kind(
        "claim_second_approval",
        _l("A claim waits for a second approval"),
        _l("The claim %(claim)s of %(dealer)s waits for a second approval of %(amount)s."),
        True,
    ),
    Kind(
        "claim_budget_asked",
        _l("A reviewer asks for a bigger promotion budget"),
        _l(
            "%(name)s asks to raise the %(period)s budget of %(dealer)s by %(amount)s for the claim %(claim)s. %(note)s"
        ),
        True,
    ),
    Kind(
        "claim_sent_back",
        _l("A claim is sent back to you"),
        _l("The claim %(claim)s of %(dealer)s was sent back to you: %(note)s"),
        True,
    ),
    Kind(
        "claim_approved",
        _l("Your claim is approved"),
        _l("Your claim %(claim)s is approved: %(amount)s."),
        True,
    ),
    Kind(
        "claim_partially_approved",
        _l("Your claim is approved in part"),
        _l("Your claim %(claim)s is approved for %(amount)s: %(note)s"),
        True,
    ),
    Kind(
        "claim_rejected",
        _l("Your claim is rejected"),
        _l("Your claim %(claim)s is rejected: %(note)s"),
        True,
    ),
    Kind(
        "claim_needs_info",
        _l("Information is requested about your claim"),
        _l("Your channel manager asks about the claim %(claim)s: %(note)s"),
        True,
    ),
    Kind(
        "claim_paid",
        _l("Your claim is paid"),
        _l("Your claim %(claim)s was paid: %(amount)s, reference %(reference)s."),
        True,
    ),
    Kind(
        "claim_withdrawn",
        _l("A dealer withdraws a claim"),
        _l("%(dealer)s withdrew the claim %(claim)s."),
        False,
    ),
    Kind(
        "claim_comment",
        _l("A comment on a claim"),
        _l("%(name)s commented on the claim %(claim)s."),
        True,
    ),
    Kind(
        "pre_approval_requested",
        _l("A dealer asks for pre-approval"),
        _l("%(dealer)s asks for pre-approval of %(title)s, estimated at %(amount)s."),
        True,
    ),
    Kind(
        "pre_approval_approved",
        _l("A pre-approval request is approved"),
        _l("Your pre-approval request %(title)s is approved. You can claim it once the activity is over."),
        True,
    ),
    Kind(
        "pre_approval_rejected",
        _l("A pre-approval request is rejected"),
        _l("Your pre-approval request %(title)s is rejected: %(note)s"),
        True,
    ),
)
