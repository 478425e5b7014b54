"""Violations and disputes through their services and pages: a penalty counts once confirmed by a second person and
leaves the statement when overturned; appeals open disputes; who sees a dispute and its files; the mediator's
queues, requests, outcomes (each applied once) and dismissals."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from portal.accounts.models import DealerRole, User, UserRole
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.disputes import services
from portal.disputes import violations as dispute_violations
from portal.disputes.models import Dispute, DisputeMessage, Violation
from portal.disputes.rules import DisputeCategory, DisputeStatus, Outcome, ViolationKind, ViolationStatus
from portal.evidence.services import add_evidence
from portal.extensions import db
from portal.notifications.models import Notification
from portal.rebates.models import Adjustment, LedgerEntry, LedgerKind
from portal.rebates.services import recompute_statements, statement_of
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from tests.evidence_files import pdf
from tests.factories import Channel, DisputeRecords, World, make_user, today, utcnow_minus
from tests.helpers import fingerprint, logged_in_client

# Dates decide here (windows, deadlines, quarters): also run at a quarter's first and last minute and on 29 February.
pytestmark = pytest.mark.calendar


def person(world: World, role: str) -> User:
    return db.session.execute(select(User).where(User.email == world.emails[role])).scalar_one()


def dealer(code: str) -> Dealer:
    return db.session.execute(select(Dealer).where(Dealer.code == code)).scalar_one()


def period(code: str) -> Period:
    return db.session.execute(select(Period).where(Period.code == code)).scalar_one()


def told(user: User, kind: str) -> list[Notification]:
    return list(
        db.session.execute(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        ).scalars()
    )


def test_a_penalty_counts_once_a_second_person_confirms_and_leaves_when_overturned(app: Flask, world: World) -> None:
    with app.app_context():
        manager, senior, mediator = person(world, "manager"), person(world, "senior_manager"), person(world, "mediator")
        owner = person(world, "dealer_owner")
        own, current = dealer(world.own_dealer), period(world.current_period)
        recompute_statements(current, [own.id])  # with the penalty the world already confirmed
        before = statement_of(own, current)
        assert before is not None
        net_before = before.net_payable
        violation = dispute_violations.record_violation(
            manager, own, current, ViolationKind.PRICE_BELOW_FLOOR, "Sold KF-35 at 12 % under the floor.", 250_000
        )
        assert told(senior, "violation_proposed")
        db.session.refresh(before)
        assert before.net_payable == net_before  # proposed: it does not count yet
        with pytest.raises(Forbidden):
            dispute_violations.confirm_violation(manager, violation)
        dispute_violations.confirm_violation(senior, violation)
        db.session.refresh(before)
        assert before.net_payable == net_before - 250_000
        assert told(owner, "violation_confirmed")
        dispute = services.appeal_violation(owner, violation, "The customer bought in our shop.")
        assert violation.status is ViolationStatus.APPEALED and dispute.violation_id == violation.id
        assert dispute.category is DisputeCategory.VIOLATION_APPEAL
        with pytest.raises(IllegalTransition, match="no longer be appealed"):
            services.appeal_violation(owner, violation, "Again.")
        services.assign(mediator, dispute, mediator)
        with pytest.raises(InvalidInput, match="fits this dispute"):
            services.resolve(mediator, dispute, services.Resolution(Outcome.NO_ACTION, "x"))
        services.resolve(
            mediator, dispute, services.Resolution(Outcome.OVERTURN_VIOLATION, "The sale was in its shop.")
        )
        assert violation.status is ViolationStatus.OVERTURNED
        db.session.refresh(before)
        assert before.net_payable == net_before  # the overturned penalty left the statement
        assert told(owner, "dispute_resolved")


def test_the_recorder_never_confirms_and_the_appeal_window_closes(app: Flask, world: World) -> None:
    with app.app_context():
        senior, owner = person(world, "senior_manager"), person(world, "dealer_owner")
        own, current = dealer(world.own_dealer), period(world.current_period)
        violation = dispute_violations.record_violation(senior, own, current, ViolationKind.OTHER, "Late reports.", 0)
        with pytest.raises(IllegalTransition, match="someone other than"):
            dispute_violations.confirm_violation(senior, violation)
        dispute_violations.confirm_violation(person(world, "admin"), violation, today=today() - timedelta(days=30))
        with pytest.raises(IllegalTransition, match="no longer be appealed"):
            services.appeal_violation(owner, violation, "Too late?")


def test_a_penalty_for_a_closed_quarter_is_booked_in_the_open_one_naming_the_period(app: Flask, world: World) -> None:
    with app.app_context():
        own = dealer(world.own_dealer)
        previous, current = period(world.previous_period), period(world.current_period)
        assert previous.status is PeriodStatus.CLOSED
        violation = dispute_violations.record_violation(
            person(world, "manager"), own, previous, ViolationKind.CROSS_TERRITORY, "Invoices into Shanghai.", 80_000
        )
        dispute_violations.confirm_violation(person(world, "senior_manager"), violation)
        assert violation.booked_period_id == current.id
        lines = dispute_violations.penalty_lines_for(current, [own.id])
        assert [(line.amount, line.description) for line in lines if line.amount == 80_000] == [  # type: ignore[attr-defined]
            (80_000, f"Selling into another dealer's territory ({previous.code})")
        ]


def test_overturning_after_the_booked_quarter_closed_gives_back_what_the_account_bore(app: Flask, world: World) -> None:
    """The refund is what the dealer's account bore for the penalty, once. Here the closed quarter's account holds
    CN¥1,000.00 for it (as its close would have booked); tests/test_ledger.py follows a penalty through a close."""
    with app.app_context():
        own, mediator = dealer(world.own_dealer), person(world, "mediator")
        violation = db.session.get(Violation, world.disputes.own_violation)
        assert violation is not None
        previous = period(world.previous_period)
        assert violation.booked_period_id == previous.id
        db.session.add(
            LedgerEntry(
                dealer_id=own.id,
                period_id=previous.id,
                kind=LedgerKind.PENALTY,
                amount=-100_000,
                currency="CNY",
                booked_on=previous.ends_on,
                source=f"violation:{violation.id}",
            )
        )
        dispute = services.appeal_violation(person(world, "dealer_owner"), violation, "Wrong dealer.")
        services.assign(mediator, dispute, mediator)
        services.resolve(mediator, dispute, services.Resolution(Outcome.OVERTURN_VIOLATION, "Another dealer did it."))
        refunds = db.session.execute(select(Adjustment).where(Adjustment.source == f"overturn:{violation.id}")).all()
        assert len(refunds) == 1 and refunds[0][0].amount == 100_000 and refunds[0][0].dealer_id == own.id


def test_overturning_a_penalty_the_account_never_bore_gives_nothing_back(app: Flask, world: World) -> None:
    with app.app_context():
        mediator = person(world, "mediator")
        violation = db.session.get(Violation, world.disputes.own_violation)
        assert violation is not None
        dispute = services.appeal_violation(person(world, "dealer_owner"), violation, "Wrong dealer.")
        services.assign(mediator, dispute, mediator)
        services.resolve(mediator, dispute, services.Resolution(Outcome.OVERTURN_VIOLATION, "Another dealer did it."))
        refunds = db.session.execute(select(Adjustment).where(Adjustment.source == f"overturn:{violation.id}")).all()
        assert refunds == []


def test_raising_a_dispute_checks_the_other_party_and_the_links(app: Flask, world: World) -> None:
    with app.app_context():
        owner = person(world, "dealer_owner")

        def raise_(**changes: object) -> Dispute:
            data = {
                "category": DisputeCategory.PRICING_CONFLICT,
                "title": "Undercut",
                "description": "Quotes.",
                "respondent_code": world.foreign_dealer,
                **changes,
            }
            return services.raise_dispute(owner, services.DisputeInput(**data))  # type: ignore[arg-type]

        with pytest.raises(InvalidInput, match="Name the other dealer"):
            raise_(respondent_code="")
        with pytest.raises(InvalidInput, match="another dealer"):
            raise_(respondent_code=world.own_dealer)
        with pytest.raises(InvalidInput, match="one of your claims"):
            raise_(claim_id=world.claims.foreign_claim)
        with pytest.raises(InvalidInput, match="from its page"):
            raise_(category=DisputeCategory.VIOLATION_APPEAL)
        dispute = raise_()
        assert dispute.status is DisputeStatus.OPEN and dispute.respondent_dealer_id == dealer(world.foreign_dealer).id
        assert told(person(world, "mediator"), "dispute_raised")
        assert told(person(world, "manager"), "dispute_raised")  # D001's manager reads its disputes
        foreign_owner = db.session.execute(select(User).where(User.email == world.emails["foreign_owner"])).scalar_one()
        assert told(foreign_owner, "dispute_against_you")


def test_who_sees_a_dispute_its_internal_notes_and_its_files(
    app: Flask, channel: Channel, dispute_records: DisputeRecords
) -> None:
    """Raiser, respondent, a third dealer, each dealer's manager, another manager and the mediator."""
    with app.app_context():
        second = dealer(channel.second_dealer)
        third = make_user(UserRole.DEALER, email="third@example.test", dealer=second, dealer_role=DealerRole.OWNER)
        lonely = make_user(UserRole.MANAGER, email="lonely-manager@example.test")
        db.session.commit()
        del third, lonely
    expected = {
        channel.emails["dealer_owner"]: 200,  # raiser (D001)
        channel.emails["foreign_owner"]: 200,  # respondent (D003)
        "third@example.test": 404,  # D002: not a party
        channel.emails["manager"]: 200,  # D001's manager
        channel.emails["other_manager"]: 200,  # D003's manager
        "lonely-manager@example.test": 404,  # a manager of neither
        channel.emails["mediator"]: 200,
    }
    cross, file_id = dispute_records.cross_dispute, dispute_records.cross_dispute_file
    for email, status in expected.items():
        client = logged_in_client(app, email)
        page = client.get(f"/disputes/{cross}")
        assert page.status_code == status, email
        assert client.get(f"/evidence/{file_id}/download").status_code == status, email
        assert client.get(f"/evidence/{file_id}").status_code == status, email
        if status == 200:
            html = page.get_data(as_text=True)
            assert "Our prices were approved." in html
            assert ("Secret mediator note." in html) is (email == channel.emails["mediator"]), email
        assert "Cross dispute" not in client.get("/dealer/violations").get_data(as_text=True) or status == 200


def test_ask_a_party_the_answer_or_the_deadline_resumes_mediation(app: Flask, world: World) -> None:
    with app.app_context():
        mediator, owner = person(world, "mediator"), person(world, "dealer_owner")
        dispute = db.session.get(Dispute, world.disputes.cross_dispute)
        assert dispute is not None
        services.request_information(mediator, dispute, dealer(world.own_dealer).id, "Send the quote.", 3)
        assert dispute.status is DisputeStatus.AWAITING_PARTY and told(owner, "dispute_info_requested")
        services.post_message(owner, dispute, "Attached.")
        assert dispute.status is DisputeStatus.IN_MEDIATION
        services.request_information(mediator, dispute, dealer(world.foreign_dealer).id, "Your approval?", 1)
        assert services.lapse_party_deadlines(now=dispute.awaiting_until + timedelta(minutes=1)) == 1  # type: ignore[operator]
        db.session.refresh(dispute)
        assert dispute.status is DisputeStatus.IN_MEDIATION
        steps = [(message.from_status, message.to_status) for message in services.thread(mediator, dispute)]
        assert (DisputeStatus.AWAITING_PARTY, DisputeStatus.IN_MEDIATION) in steps


@pytest.mark.parametrize("outcome", [Outcome.WARNING, Outcome.PENALTY, Outcome.REBATE_ADJUSTMENT, Outcome.NO_ACTION])
def test_each_outcome_takes_effect_once(app: Flask, world: World, outcome: Outcome) -> None:
    with app.app_context():
        mediator, own = person(world, "mediator"), dealer(world.own_dealer)
        dispute = db.session.get(Dispute, world.disputes.cross_dispute)
        assert dispute is not None
        resolution = services.Resolution(
            outcome,
            "Settled.",
            own.id,
            -30_000 if outcome is Outcome.REBATE_ADJUSTMENT else 40_000 if outcome is Outcome.PENALTY else 0,
        )
        services.resolve(mediator, dispute, resolution)
        with pytest.raises(IllegalTransition, match="already settled"):
            services.resolve(mediator, dispute, resolution)
        made = db.session.execute(select(Violation).where(Violation.source == f"dispute:{dispute.id}")).scalars().all()
        booked = db.session.execute(select(Adjustment).where(Adjustment.source == f"dispute:{dispute.id}")).scalars()
        adjustments = list(booked)
        if outcome in (Outcome.WARNING, Outcome.PENALTY):
            assert [(found.dealer_id, found.penalty, found.status) for found in made] == [
                (own.id, 40_000 if outcome is Outcome.PENALTY else 0, ViolationStatus.CONFIRMED)
            ]
        else:
            assert made == []
        assert [found.amount for found in adjustments] == ([-30_000] if outcome is Outcome.REBATE_ADJUSTMENT else [])
        assert dispute.status is DisputeStatus.RESOLVED and dispute.outcome is outcome


def test_a_rejected_claim_is_reviewed_again(app: Flask, world: World) -> None:
    with app.app_context():
        owner, mediator = person(world, "dealer_owner"), person(world, "mediator")
        claim = db.session.get(Claim, world.claims.own_claim)
        assert claim is not None
        claim.status = ClaimStatus.REJECTED
        dispute = services.raise_dispute(
            owner,
            services.DisputeInput(
                DisputeCategory.CLAIM_DECISION, "The display was ours", "Photos attached.", claim_id=claim.id
            ),
        )
        services.assign(mediator, dispute, mediator)
        assert Outcome.REOPEN_CLAIM in services.outcome_choices(dispute)
        services.resolve(mediator, dispute, services.Resolution(Outcome.REOPEN_CLAIM, "Review it with the photos."))
        db.session.refresh(claim)
        assert claim.status is ClaimStatus.SUBMITTED and claim.submission_count == 1


def test_withdrawing_and_dismissing(app: Flask, world: World) -> None:
    with app.app_context():
        owner, mediator = person(world, "dealer_owner"), person(world, "mediator")
        foreign_owner = db.session.execute(select(User).where(User.email == world.emails["foreign_owner"])).scalar_one()
        dispute = db.session.get(Dispute, world.disputes.cross_dispute)
        assert dispute is not None
        with pytest.raises(Forbidden):
            services.withdraw_dispute(foreign_owner, dispute)  # the respondent cannot withdraw it
        services.withdraw_dispute(owner, dispute, "Settled between us.")
        assert dispute.status is DisputeStatus.WITHDRAWN and told(foreign_owner, "dispute_withdrawn")
        with pytest.raises(IllegalTransition):
            services.post_message(owner, dispute, "Hello?")
        alone = db.session.get(Dispute, world.disputes.foreign_dispute)
        assert alone is not None
        with pytest.raises(InvalidInput, match="reason"):
            services.dismiss(mediator, alone, " ")
        services.dismiss(mediator, alone, "A rebate question for the channel manager.")
        assert alone.status is DisputeStatus.DISMISSED and alone.summary.startswith("A rebate question")


def test_pages_a_party_raises_answers_and_the_mediator_resolves(app: Flask, channel: Channel) -> None:
    dealer_client = logged_in_client(app, channel.emails["dealer_owner"])
    directory = dealer_client.get("/disputes/directory?q=west").get_data(as_text=True)
    assert "Western Wind Retail" in directory and "D003" in directory and "North" in directory
    assert "owner3@example.test" not in directory  # name, code and territory only
    raised = dealer_client.post(
        "/disputes/new",
        data={
            "category": "customer_poaching",
            "respondent": "d003",
            "title": "Poached the hotel order",
            "description": "They quoted our hotel customer.",
        },
    )
    assert raised.status_code == 303
    dispute_id = int(raised.headers["Location"].rsplit("/", 1)[1])
    page = dealer_client.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "Poached the hotel order" in page and "Withdraw the dispute" in page
    upload = dealer_client.post(f"/disputes/{dispute_id}/evidence", data={"file": (io.BytesIO(pdf()), "order.pdf")})
    assert upload.status_code == 303
    respondent = logged_in_client(app, channel.emails["foreign_owner"])
    assert "order.pdf" in respondent.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert respondent.post(f"/disputes/{dispute_id}/messages", data={"body": "The hotel asked us."}).status_code == 303
    mediator = logged_in_client(app, channel.emails["mediator"])
    home = mediator.get("/mediation/?queue=unassigned").get_data(as_text=True)
    assert "Poached the hotel order" in home
    assert mediator.post(f"/disputes/{dispute_id}/take").status_code == 303
    assert "Poached the hotel order" in mediator.get("/mediation/").get_data(as_text=True)  # mine
    mediator.post(f"/disputes/{dispute_id}/messages", data={"body": "Ask Li Wei.", "internal": "y"})
    assert "Ask Li Wei." not in respondent.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    outcome = {
        "outcome": "warning",
        "party": str(channel.people.own_dealer_id),
        "amount": "",
        "summary": "The hotel asked D003 first; no poaching. D001 is reminded to check first.",
    }
    # The confirm step: the effect in words, a button to apply it carrying the same outcome; nothing applied yet.
    before = fingerprint(app)
    checked = mediator.post(f"/disputes/{dispute_id}/resolve", data=outcome)
    assert checked.status_code == 200
    confirm = checked.get_data(as_text=True)
    assert "Applying this outcome will do this:" in confirm
    assert "gets a confirmed warning in" in confirm and "without a penalty" in confirm
    assert 'name="confirmed" value="yes"' in confirm and 'name="summary" value="The hotel asked D003 first;' in confirm
    assert fingerprint(app) == before
    resolved = mediator.post(f"/disputes/{dispute_id}/resolve", data={**outcome, "confirmed": "yes"})
    assert resolved.status_code == 303
    settled = dealer_client.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "A warning" in settled and "no poaching" in settled and "Withdraw the dispute" not in settled
    warned = dealer_client.get("/dealer/violations").get_data(as_text=True)
    assert "Another breach of the dealer agreement" in warned  # the warning, a confirmed violation without penalty
    again = mediator.post(f"/disputes/{dispute_id}/resolve", data={"outcome": "no_action", "summary": "Again."})
    assert again.status_code == 409


@pytest.mark.usefixtures("dispute_records")
def test_overdue_disputes_are_highlighted_for_the_mediator(app: Flask, channel: Channel) -> None:
    with app.app_context():
        db.session.execute(sa.update(Dispute).values(due_at=utcnow_minus(days=1)))
        db.session.commit()
    html = logged_in_client(app, channel.emails["mediator"]).get("/mediation/?queue=overdue").get_data(as_text=True)
    assert "Cross dispute" in html and "Foreign dispute" in html and "Overdue since" in html


@pytest.mark.usefixtures("dispute_records")
def test_the_manager_sees_the_dealers_violations_and_disputes(app: Flask, channel: Channel) -> None:
    html = (
        logged_in_client(app, channel.emails["manager"])
        .get(f"/console/dealers/{channel.own_dealer}")
        .get_data(as_text=True)
    )
    assert "Selling below the floor price" in html and "Cross dispute" in html and "Record a violation" in html


def test_the_evidence_of_a_closed_dispute_is_fixed(app: Flask, world: World) -> None:
    with app.app_context():
        owner = person(world, "dealer_owner")
        dispute = db.session.get(Dispute, world.disputes.cross_dispute)
        assert dispute is not None
        services.withdraw_dispute(owner, dispute)
        with pytest.raises(NotFound):
            add_evidence(owner, services.DISPUTE_FILES, dispute.id, io.BytesIO(pdf()), "late.pdf")
        assert (
            db.session.execute(
                select(sa.func.count()).select_from(DisputeMessage).where(DisputeMessage.dispute_id == dispute.id)
            ).scalar_one()
            >= 3
        )


def test_the_mediator_sees_the_appealed_violation_and_its_files(
    app: Flask, channel: Channel, dispute_records: DisputeRecords
) -> None:
    dealer_client = logged_in_client(app, channel.emails["dealer_owner"])
    appealed = dealer_client.post(
        f"/dealer/violations/{dispute_records.own_violation}/appeal", data={"reason": "The customer came to our shop."}
    )
    assert appealed.status_code == 303
    dispute_path = appealed.headers["Location"]
    html = logged_in_client(app, channel.emails["mediator"]).get(dispute_path).get_data(as_text=True)
    assert "The violation appealed" in html and "Sold below the floor price." in html and "till receipt.pdf" in html
    assert "The customer came to our shop." in html


def test_only_the_mediator_holding_a_dispute_writes_in_it_the_others_read(
    app: Flask, channel: Channel, dispute_records: DisputeRecords
) -> None:
    """Messages, internal notes and files come from the dispute's parties and its mediator; another mediator reads
    the dispute and is told who has it, and nothing they send is kept."""
    with app.app_context():
        other_email = make_user(UserRole.MEDIATOR, email="mediator2@example.test", name="Mediator Two").email
        db.session.commit()
    dispute_id = dispute_records.cross_dispute

    def kept() -> tuple[int, int]:
        with app.app_context():
            messages = db.session.execute(
                select(sa.func.count()).select_from(DisputeMessage).where(DisputeMessage.dispute_id == dispute_id)
            ).scalar_one()
            files = db.session.execute(
                sa.text("SELECT count(*) FROM evidence WHERE owner_type = 'dispute' AND owner_id = :id"),
                {"id": dispute_id},
            ).scalar_one()
            return messages, files

    before = kept()
    other = logged_in_client(app, other_email)
    page = other.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "Cross dispute" in page and "Mediator mediates this dispute. You can read it" in page
    assert "Secret mediator note." in page  # mediators read the internal notes
    assert f'action="/disputes/{dispute_id}/messages"' not in page and f"/disputes/{dispute_id}/resolve" not in page
    refused = other.post(f"/disputes/{dispute_id}/messages", data={"body": "I think D003 is right.", "internal": "y"})
    assert refused.status_code == 409 and "Another mediator has this dispute." in refused.get_data(as_text=True)
    assert other.post(f"/disputes/{dispute_id}/messages", data={"body": "Hello parties."}).status_code == 409
    upload = other.post(f"/disputes/{dispute_id}/evidence", data={"file": (io.BytesIO(pdf()), "mine.pdf")})
    assert upload.status_code == 404
    assert kept() == before
    holder = logged_in_client(app, channel.emails["mediator"])
    assert holder.post(f"/disputes/{dispute_id}/messages", data={"body": "Noted.", "internal": "y"}).status_code == 303
    assert kept() == (before[0] + 1, before[1])


def test_a_mediator_takes_an_unassigned_dispute_before_writing_in_it(
    app: Flask, channel: Channel, dispute_records: DisputeRecords
) -> None:
    dispute_id = dispute_records.foreign_dispute
    mediator = logged_in_client(app, channel.emails["mediator"])
    page = mediator.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    assert "Nobody mediates this dispute yet." in page
    refused = mediator.post(f"/disputes/{dispute_id}/messages", data={"body": "First thoughts.", "internal": "y"})
    assert refused.status_code == 409 and "Take this dispute first" in refused.get_data(as_text=True)
    assert mediator.post(f"/disputes/{dispute_id}/take").status_code == 303
    assert (
        mediator.post(f"/disputes/{dispute_id}/messages", data={"body": "Mine now.", "internal": "y"}).status_code
        == 303
    )


def test_the_mediator_sees_one_action_at_a_time_and_a_refused_one_stays_open(
    app: Flask, channel: Channel, dispute_records: DisputeRecords
) -> None:
    mediator = logged_in_client(app, channel.emails["mediator"])
    dispute_id = dispute_records.cross_dispute
    assert mediator.post(f"/disputes/{dispute_id}/take").status_code == 303
    page = mediator.get(f"/disputes/{dispute_id}").get_data(as_text=True)
    folds = re.findall(r'<details class="action-fold" name="mediate-action"( open)?>\s*<summary><h3>([^<]+)', page)
    assert [title for _open, title in folds] == ["Resolve", "Ask a party", "Assign", "Dismiss"]
    assert [title for is_open, title in folds if is_open] == ["Resolve"]  # the main action, the others folded
    refused = mediator.post(f"/disputes/{dispute_id}/dismiss", data={"reason": " "})
    assert refused.status_code == 422
    folds = re.findall(r'name="mediate-action"( open)?>\s*<summary><h3>([^<]+)', refused.get_data(as_text=True))
    assert [title for is_open, title in folds if is_open] == ["Dismiss"]  # the refused one, with its error
    with app.app_context():
        assert db.session.get(Dispute, dispute_id).status is not DisputeStatus.DISMISSED  # type: ignore[union-attr]


def test_the_confirm_step_states_the_money_before_it_moves(app: Flask, world: World) -> None:
    """A penalty and an adjustment are described with their amounts (formatted here by hand) and the party; the
    page changes nothing until the mediator applies it."""
    mediator = logged_in_client(app, world.emails["mediator"])
    url = f"/disputes/{world.disputes.cross_dispute}/resolve"
    party = str(world.people.own_dealer_id)
    before = fingerprint(app)
    penalty = mediator.post(url, data={"outcome": "penalty", "party": party, "amount": "2,000", "summary": "Floor."})
    assert penalty.status_code == 200
    page = penalty.get_data(as_text=True)
    fen = 2_000 * 100
    assert f"a penalty of CN¥{fen // 100:,}.{fen % 100:02d}" in page and "Apply this outcome" in page
    back = mediator.post(
        url, data={"outcome": "rebate_adjustment", "party": party, "amount": "-150.5", "summary": "Overpaid."}
    )
    assert back.status_code == 200 and "CN¥150.50 is taken back from" in back.get_data(as_text=True)
    wrong = mediator.post(url, data={"outcome": "penalty", "party": party, "amount": "0", "summary": "Floor."})
    assert wrong.status_code == 422 and "Enter the penalty, above zero." in wrong.get_data(as_text=True)
    assert fingerprint(app) == before
