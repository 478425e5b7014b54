"""One rule decides whether a dealer may submit something new (a claim, a pre-approval request, an enrolment), and
every service that starts one asks it: a suspended dealer reads, answers and appeals, but starts nothing new."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.accounts.models import User
from portal.claims import pre_approvals as claim_pre_approvals
from portal.claims import services as claims
from portal.claims.models import Claim, FundRequest
from portal.claims.rules import ClaimStatus, Problem
from portal.dealers.models import Dealer, DealerStatus, Period
from portal.dealers.rules import NewSubmission, can_submit_new
from portal.disputes import services as disputes
from portal.disputes.rules import DisputeCategory
from portal.extensions import db
from portal.service_errors import IllegalTransition
from portal.training import services as training
from portal.training.models import CourseSession, Enrollment
from tests.factories import World, activity_day, make_course, make_session
from tests.helpers import log_in

pytestmark = pytest.mark.calendar


def _user(email: str) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _set_status(world: World, status: DealerStatus) -> Dealer:
    dealer = db.session.execute(sa.select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
    dealer.status = status
    db.session.flush()
    return dealer


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_rule_for_every_status_and_kind_of_submission() -> None:
    allowed = {
        DealerStatus.ACTIVE: set(NewSubmission),
        DealerStatus.ONBOARDING: {NewSubmission.ENROLMENT},  # onboarding dealers train before they sell
        DealerStatus.SUSPENDED: set(),
        DealerStatus.TERMINATED: set(),
    }
    for status in DealerStatus:
        for what in NewSubmission:
            assert can_submit_new(status, what) is (what in allowed[status]), (status, what)


def test_a_suspended_dealer_cannot_take_the_last_seat(app: Flask, world: World) -> None:
    with app.app_context():
        _set_status(world, DealerStatus.SUSPENDED)
        session = make_session(make_course("LAST-1"), capacity=1)
        owner = _user(world.emails["dealer_owner"])
        with pytest.raises(IllegalTransition, match="suspended"):
            training.enrol(owner, session, f"u{owner.id}")
        db.session.expire_all()
        assert db.session.get(CourseSession, session.id).seats_taken == 0  # type: ignore[union-attr]
        assert db.session.execute(sa.select(Enrollment).where(Enrollment.session_id == session.id)).first() is None


def test_a_suspended_dealer_asks_for_no_pre_approval_and_starts_no_claim(app: Flask, world: World) -> None:
    with app.app_context():
        _set_status(world, DealerStatus.SUSPENDED)
        owner = _user(world.emails["dealer_owner"])
        period = db.session.execute(sa.select(Period).where(Period.code == world.current_period)).scalar_one()
        requests = db.session.execute(sa.select(sa.func.count()).select_from(FundRequest)).scalar_one()
        day = activity_day()
        with pytest.raises(IllegalTransition, match="suspended"):
            claim_pre_approvals.request_pre_approval(
                owner, period, world.claims.activity_type, "Expo", day, day, 100_000
            )
        data = claims.ClaimInput(
            activity_type_id=world.claims.activity_type,
            title="Flyers",
            description="",
            activity_start=day,
            activity_end=day,
            vendor="V",
            vendor_tax_id="T",
            invoice_number="N-1",
            amount=10_000,
        )
        with pytest.raises(IllegalTransition, match="suspended"):
            claims.create_draft(owner, period, data)
        assert db.session.execute(sa.select(sa.func.count()).select_from(FundRequest)).scalar_one() == requests
        ready = db.session.get(Claim, world.claims.ready_draft)
        assert ready is not None
        with pytest.raises(claims.SubmissionRefused) as refused:
            claims.submit(owner, ready)
        assert refused.value.problems == [Problem.DEALER_CANNOT_SUBMIT]


def test_a_suspended_dealer_still_answers_and_raises_disputes(app: Flask, world: World) -> None:
    with app.app_context():
        owner = _user(world.emails["dealer_owner"])
        ready = db.session.get(Claim, world.claims.ready_draft)
        assert ready is not None
        ready.status = ClaimStatus.NEEDS_INFO  # the reviewer asked a question before the suspension
        ready.submission_count = 1
        _set_status(world, DealerStatus.SUSPENDED)
        claims.submit(owner, ready)
        assert ready.status is ClaimStatus.SUBMITTED
        dispute = disputes.raise_dispute(
            owner,
            disputes.DisputeInput(
                category=DisputeCategory.REBATE_CALCULATION, title="Q rebate", description="The late sales are missing."
            ),
        )
        assert dispute.id is not None


def test_an_onboarding_dealer_trains_but_does_not_claim(app: Flask, world: World) -> None:
    with app.app_context():
        _set_status(world, DealerStatus.ONBOARDING)
        owner = _user(world.emails["dealer_owner"])
        session = make_session(make_course("ONB-1"), capacity=3, starts_in=timedelta(days=3))
        assert training.enrol(owner, session, f"u{owner.id}").id is not None
        period = db.session.execute(sa.select(Period).where(Period.code == world.current_period)).scalar_one()
        day = activity_day()
        with pytest.raises(IllegalTransition, match="being set up"):
            claim_pre_approvals.request_pre_approval(
                owner, period, world.claims.activity_type, "Expo", day, day, 100_000
            )


@pytest.mark.parametrize(
    ("locale", "notice"),
    [("en", "Your dealer is suspended, so it cannot start new claims"), ("zh_Hans", "贵经销商已被暂停")],
)
def test_the_pages_say_why_instead_of_offering_the_form(app: Flask, world: World, locale: str, notice: str) -> None:
    with app.app_context():
        _set_status(world, DealerStatus.SUSPENDED)
        _user(world.emails["dealer_owner"]).locale = locale
        session_id = make_session(make_course("PAGE-1"), capacity=3).id
        db.session.commit()
    client = app.test_client()
    log_in(client, world.emails["dealer_owner"])
    for path, form_action in (
        ("/claims/", 'href="/claims/new"'),
        ("/claims/new", 'action="/claims/new"'),
        ("/claims/pre-approvals", 'action="/claims/pre-approvals"'),
        (f"/training/sessions/{session_id}", f'action="/training/sessions/{session_id}/enrol"'),
    ):
        html = client.get(path).get_data(as_text=True)
        assert notice in _text(html), path
        assert form_action not in html, path
