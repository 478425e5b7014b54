"""Decisions that cannot slip: no decision is chosen before the reviewer presses a button, Enter in a field never
decides, and an approval waits until every flag the claim carries is ticked as looked at (a flag raised after the
page was opened included). The ticks are kept on the claim's timeline."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.claims import services
from portal.claims.models import Claim, ClaimEvent
from portal.claims.rules import ClaimStatus, Flag, unchecked_flags
from portal.extensions import db
from portal.service_errors import InvalidInput
from tests.factories import Channel, attach, draft, user
from tests.helpers import logged_in_client


@given(st.sets(st.sampled_from(Flag)), st.sets(st.sampled_from([flag.value for flag in Flag] + ["junk", ""])))
def test_the_flags_left_unticked_are_those_carried_and_not_ticked(raised: set[Flag], ticked: set[str]) -> None:
    expected = [flag for flag in Flag if flag in raised and flag.value not in ticked]  # in the table's order
    assert unchecked_flags(raised, ticked) == expected


def _submitted(channel: Channel, role: str, invoice: str, amount: int) -> Claim:
    claim = draft(channel, invoice=invoice, role=role, amount=amount, vendor=f"Vendor {invoice}")
    attach(channel, claim, role=role)
    services.submit(user(channel, role), claim)
    return claim


def test_an_approval_waits_for_every_flag_even_one_raised_after_the_page_opened(
    app: Flask, budgets_set: Channel
) -> None:
    with app.app_context():
        claim = _submitted(budgets_set, "dealer_owner", "R-1", 500_000)  # 5,000.00: a round amount
        manager = user(budgets_set, "manager")
        with pytest.raises(InvalidInput, match="Tick each flag") as refused, db.session.begin_nested():
            services.decide(manager, claim, services.Decision.APPROVE)
        assert refused.value.field == "checked"
        ticked_on_the_page = [Flag.ROUND_AMOUNT.value]
        # Meanwhile another dealer submits the same invoice: the earlier claim carries that flag too.
        _submitted(budgets_set, "foreign_owner", "R-1", 123_456)
        with pytest.raises(InvalidInput) as refused, db.session.begin_nested():
            services.decide(manager, claim, services.Decision.APPROVE, checked=ticked_on_the_page)
        assert "another claim" in refused.value.message and "round amount" not in refused.value.message
        assert claim.status is ClaimStatus.SUBMITTED
        services.decide(
            manager,
            claim,
            services.Decision.APPROVE,
            checked=[*ticked_on_the_page, Flag.SAME_INVOICE_ELSEWHERE.value, "not a flag"],
        )
        assert claim.status is ClaimStatus.APPROVED
        event = db.session.execute(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.to_status == ClaimStatus.APPROVED)
        ).scalar_one()
        assert event.details["flags_checked"] == sorted([Flag.ROUND_AMOUNT.value, Flag.SAME_INVOICE_ELSEWHERE.value])


def test_rejecting_or_asking_never_needs_the_ticks(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        claim = _submitted(budgets_set, "dealer_owner", "R-2", 300_000)
        services.decide(user(budgets_set, "manager"), claim, services.Decision.REQUEST_INFO, reason="Add a photo.")
        assert claim.status is ClaimStatus.NEEDS_INFO


def test_the_review_page_chooses_nothing_and_enter_never_decides(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        claim_id = _submitted(budgets_set, "dealer_owner", "R-3", 123_456).id  # 1,234.56: no flag
        db.session.commit()
    manager = logged_in_client(app, budgets_set.emails["manager"])
    page = manager.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert '<select id="decision"' not in page and " selected" not in page.split('id="decision-form"')[1][:400]
    form = page[page.index('id="decision-form"') :]
    # The form's first button, the one Enter presses, is disabled: Enter in the amount or the reason does nothing.
    first_button = re.search(r"<button[^>]*>", form)
    assert first_button is not None and "disabled" in first_button.group(0)
    for value in ("approve", "approve_part", "request_info", "reject"):
        assert f'form="decision-form" name="decision" value="{value}"' in page
    assert "Approve CN¥1,234.56" in page and 'data-shortcut="a"' in page and "Keys: J next claim" in page
    nothing = manager.post(f"/console/claims/{claim_id}/decide", data={"reason": "Enter pressed in the reason."})
    assert nothing.status_code == 422
    body = nothing.get_data(as_text=True)
    assert "Press one of the decision buttons." in body and 'class="error-summary"' in body
    with app.app_context():
        assert db.session.get(Claim, claim_id).status is ClaimStatus.SUBMITTED  # type: ignore[union-attr]
    approved = manager.post(f"/console/claims/{claim_id}/decide", data={"decision": "approve"})
    assert approved.status_code == 303  # a clean claim: one press after opening it


def test_previous_and_next_walk_the_queue_in_its_order(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        ids = [_submitted(budgets_set, "dealer_owner", f"W-{number}", 111_111 * number).id for number in (1, 2, 3)]
        db.session.commit()
    manager = logged_in_client(app, budgets_set.emails["manager"])
    middle = manager.get(f"/console/claims/{ids[1]}").get_data(as_text=True)
    assert f'href="/console/claims/{ids[0]}" rel="prev" data-shortcut="k"' in middle
    assert f'href="/console/claims/{ids[2]}" rel="next" data-shortcut="j"' in middle
    first = manager.get(f"/console/claims/{ids[0]}").get_data(as_text=True)
    assert 'rel="prev"' not in first
