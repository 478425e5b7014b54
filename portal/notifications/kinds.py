"""The kinds of event people are told about: what the notification says and whether email is on by default.

Texts are lazy and use named parameters, so each reader sees them in their own language.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from portal.notifications.params import render


@dataclass(frozen=True)
class Kind:
    name: str
    label: object  # shown on the preferences page
    text: object  # the notification, with %(name)s parameters
    email_by_default: bool
    # False for what a person must hear of by email whatever they chose (a change to their account's security):
    # such kinds are not on the preferences page.
    optional: bool = True


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "dealer_status_changed",
            _l("Your dealer's status changes"),
            _l("The status of %(dealer)s changed from %(old)s to %(new)s: %(reason)s"),
            True,
        ),
        Kind(
            "portfolio_changed",
            _l("A dealer joins your portfolio"),
            _l("%(dealer)s is now in your portfolio."),
            True,
        ),
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
        Kind(
            "colleague_added",
            _l("A colleague is added to your dealer"),
            _l("%(name)s now has a login for %(dealer)s."),
            False,
        ),
        Kind(
            "rebate_statement_final",
            _l("A rebate statement becomes final"),
            _l("Your rebate statement for %(period)s is final."),
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
            "training_enrolled",
            _l("A colleague enrols you in training"),
            _l("You are %(status)s for %(course)s on %(when)s."),
            True,
        ),
        Kind(
            "training_seat_freed",
            _l("A seat frees for someone on a waitlist"),
            _l("A seat freed: %(name)s moved from the waitlist into %(course)s on %(when)s."),
            True,
        ),
        Kind(
            "training_session_cancelled",
            _l("A training session is cancelled"),
            _l("The session of %(course)s on %(when)s is cancelled: %(reason)s"),
            True,
        ),
        Kind(
            "training_certificate",
            _l("A certificate is issued"),
            _l("%(name)s completed %(course)s; the certificate is ready."),
            True,
        ),
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
}


def render_text(kind: str, params: dict[str, object]) -> str:
    """The notification's sentence in the current language; unknown kinds (removed later) fall back to nothing.
    Parameters are typed (portal.notifications.params): strings are shown as they were typed, never parsed."""
    known = KINDS.get(kind)
    if known is None:
        return ""
    template = str(known.text)
    try:
        return template % {key: render(value) for key, value in params.items()}
    except (KeyError, ValueError, TypeError):
        return template


def optional_kinds() -> dict[str, Kind]:
    """The kinds a person chooses email for on the preferences page."""
    return {name: kind for name, kind in KINDS.items() if kind.optional}
