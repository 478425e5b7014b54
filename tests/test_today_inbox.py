"""The "today" inbox on every role's start page: each line counts what waits for this person, links to where it is
done, and the counts match the rows counted here independently. Nothing waiting says so instead of listing zeros."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from flask import Flask
from flask_login import login_user
from sqlalchemy import func, select

from portal import inbox as inbox_module
from portal.accounts.models import User, UserRole
from portal.claims import services
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.dates import company_today
from portal.dealers.models import Dealer
from portal.dealers.services import current_period, visible_dealers
from portal.extensions import db
from portal.jobs import JobFailure
from portal.rebates.models import RebateStatement
from portal.training.models import Enrollment
from portal.training.rules import EXPIRING_SOON_DAYS
from portal.types import utcnow
from tests.factories import (
    Channel,
    TrainingRecords,
    attach,
    draft,
    make_course,
    make_enrollment,
    make_session,
    make_trainee,
    user,
)
from tests.helpers import logged_in_client


def _today(page: str) -> list[str]:
    """The inbox's lines as a reader sees them (text of each list item), or [] without the list."""
    found = re.search(r'<section class="panel today".*?</section>', page, re.S)
    assert found, "no today inbox on the start page"
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", item)).split())
        for item in re.findall(r"<li>(.*?)</li>", found.group(0), re.S)
    ]


def _submitted(channel: Channel, role: str, invoice: str, amount: int) -> Claim:
    claim = draft(channel, invoice=invoice, role=role, amount=amount, vendor=f"Vendor {invoice}")
    attach(channel, claim, role=role)
    services.submit(user(channel, role), claim)
    return claim


def test_the_dealer_sees_the_answer_owed_the_drafts_and_the_budget_left(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        asked = _submitted(budgets_set, "dealer_owner", "T-1", 123_456)
        services.decide(user(budgets_set, "manager"), asked, services.Decision.REQUEST_INFO, reason="A photo?")
        draft(budgets_set, invoice="T-2", amount=50_000)
        _submitted(budgets_set, "dealer_owner", "T-3", 200_000)  # waiting for the manager: holds 2,000.00
        db.session.commit()
        dealer_id = user(budgets_set, "dealer_owner").dealer_id
        counts = dict(
            db.session.execute(
                select(Claim.status, func.count()).where(Claim.dealer_id == dealer_id).group_by(Claim.status)
            ).all()
        )
        held = db.session.execute(select(func.sum(Claim.budget_held)).where(Claim.dealer_id == dealer_id)).scalar_one()
    left = 10_000_000 - int(held)  # the allocation of budgets_set, less what waiting claims hold; nothing approved
    page = logged_in_client(app, budgets_set.emails["dealer_owner"]).get("/dealer/").get_data(as_text=True)
    lines = _today(page)
    answers = counts[ClaimStatus.NEEDS_INFO]
    assert lines[0] == f"Now {answers} claim waits for your answer to the manager's question"  # urgent first
    assert f"{counts[ClaimStatus.DRAFT]} draft claim" in " | ".join(lines)
    budget_line = next(line for line in lines if "promotion budget is left" in line)
    assert f"CN¥{left // 100:,}.{left % 100:02d} of the promotion budget" in budget_line
    assert "Claims for it until" in budget_line
    assert 'href="/claims/?status=needs_info"' in page


def test_each_reader_of_a_role_gets_their_own_counts(app: Flask, budgets_set: Channel) -> None:
    """One statement serves every dealer's inbox (built once per role, the reader's ids given per visit): two
    dealers asking in turn each see their own drafts, never the other's."""
    with app.app_context():
        draft(budgets_set, invoice="A-1", amount=10_000)
        draft(budgets_set, invoice="A-2", amount=20_000)
        draft(budgets_set, invoice="B-1", amount=30_000, role="foreign_owner")
        db.session.commit()
        drafts = dict(
            db.session.execute(
                select(Claim.dealer_id, func.count()).where(Claim.status == ClaimStatus.DRAFT).group_by(Claim.dealer_id)
            ).all()
        )
        own, foreign = (user(budgets_set, role).dealer_id for role in ("dealer_owner", "foreign_owner"))
    owner = logged_in_client(app, budgets_set.emails["dealer_owner"])
    other = logged_in_client(app, budgets_set.emails["foreign_owner"])
    for _round in range(2):
        assert f"{drafts[own]} draft claims are not submitted yet" in _today(
            owner.get("/dealer/").get_data(as_text=True)
        )
        assert f"{drafts[foreign]} draft claim is not submitted yet" in _today(
            other.get("/dealer/").get_data(as_text=True)
        )
    assert (drafts[own], drafts[foreign]) == (2, 1)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("dealer_owner", "foreign_owner"),
        ("dealer_staff", "dealer_staff"),
        ("manager", "other_manager"),
        ("senior_manager", "senior_manager"),
        ("admin", "admin"),  # a mediator's lines need rows: nothing to build
    ],
)
def test_a_roles_inbox_statement_holds_nothing_of_who_built_it_or_when(
    app: Flask, channel: Channel, first: str, second: str
) -> None:
    """A role's inbox statement is built on its first start page and kept for every reader of the role, so nothing
    in it may come from that reader or that day (a source must use the reader's parameters, TODAY and NOW): built
    by two readers of the role a hundred days apart, it is the same SQL binding the same values."""
    built = []
    for person, days in ((first, 0), (second, 100)):
        with time_machine.travel(utcnow() + timedelta(days=days), tick=False), app.test_request_context():
            reader = user(channel, person)
            login_user(reader)
            inbox_module._PREPARED.clear()  # built afresh, as by the role's first start page in a new process
            statement = inbox_module._prepared(reader.access_role).statement
            assert statement is not None
            key = statement._generate_cache_key()
            assert key is not None
            built.append((str(statement), [parameter.value for parameter in key.bindparams]))
    inbox_module._PREPARED.clear()
    assert built[0] == built[1]


def test_the_reviewer_sees_the_claims_waiting_with_the_flagged_counted(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        _submitted(budgets_set, "dealer_owner", "Q-1", 500_000)  # a round amount: flagged
        _submitted(budgets_set, "dealer_owner", "Q-2", 123_456)
        db.session.commit()
        manager = user(budgets_set, "manager")
        waiting = db.session.execute(
            services.visible_claims(manager)
            .where(Claim.status == ClaimStatus.SUBMITTED)
            .with_only_columns(func.count())
            .order_by(None)
        ).scalar_one()
    page = logged_in_client(app, budgets_set.emails["manager"]).get("/console/").get_data(as_text=True)
    lines = _today(page)
    claims_line = next(line for line in lines if "wait for your decision" in line)
    assert claims_line.startswith(f"Now {waiting} claims wait for your decision")
    assert "the oldest has waited 0 days" in claims_line and "flagged" in claims_line
    assert 'href="/console/claims"' in page


def test_the_admin_sees_failed_jobs_and_people_without_a_second_factor(app: Flask, budgets_set: Channel) -> None:
    with app.app_context():
        db.session.add(JobFailure(task_name="mail.send", task_id="t-1", error="SMTP refused"))
        db.session.commit()
        without = db.session.execute(
            select(func.count())
            .select_from(User)
            .where(
                User.role.in_((UserRole.ADMIN, UserRole.MANAGER, UserRole.MEDIATOR)),
                User.active.is_(True),
                User.totp_enabled_at.is_(None),
            )
        ).scalar_one()
    page = logged_in_client(app, budgets_set.emails["admin"]).get("/admin/").get_data(as_text=True)
    lines = _today(page)
    assert lines[0] == "Now 1 background job failed"
    assert f"{without} staff members sign in without a second factor" in lines


def test_an_empty_inbox_says_so_and_other_pages_have_none(app: Flask, budgets_set: Channel) -> None:
    mediator = logged_in_client(app, budgets_set.emails["mediator"])
    page = mediator.get("/mediation/").get_data(as_text=True)
    assert "Nothing waits for you today." in page
    admin = logged_in_client(app, budgets_set.emails["admin"])
    assert 'class="panel today"' not in admin.get("/console/").get_data(as_text=True)  # not the admin's start page


def test_an_expiring_certificate_is_a_line_to_book_again(
    app: Flask, channel: Channel, training_records: TrainingRecords
) -> None:
    with app.app_context():
        enrollment = db.session.execute(
            select(Enrollment).where(Enrollment.certificate_number == training_records.own_certificate)
        ).scalar_one_or_none()
        assert enrollment is not None and enrollment.certificate_expires_on is not None
        expires = enrollment.certificate_expires_on
        soon = expires <= company_today() + timedelta(days=EXPIRING_SOON_DAYS)
        course = enrollment.session.course
        person, title = enrollment.person_name, course.title
    dealer = logged_in_client(app, channel.emails["dealer_owner"])
    page = dealer.get("/dealer/").get_data(as_text=True)
    line = f"{person}'s {title} certificate expires on {expires:%b} {expires.day}, {expires.year}: book again"
    assert soon and any(text.startswith(f"Now {line}") for text in _today(page)), _today(page)


def test_an_expiring_certificate_is_booked_again_in_one_tap(
    app: Flask, channel: Channel, training_records: TrainingRecords
) -> None:
    """The next open session of the course is a button on the start page; pressing it books the same person, and
    the line goes (they are booked)."""
    with app.app_context():
        enrollment = db.session.execute(
            select(Enrollment).where(Enrollment.certificate_number == training_records.own_certificate)
        ).scalar_one()
        course = enrollment.session.course
        later = make_session(course, starts_in=timedelta(days=40), capacity=5)
        sooner = make_session(course, starts_in=timedelta(days=3), capacity=5)  # before any session of the records
        make_session(course, starts_in=timedelta(days=2), enrol_deadline=utcnow() - timedelta(hours=1))  # closed
        db.session.commit()
        person_key, sooner_id, later_id, title = enrollment.person_key, sooner.id, later.id, course.title
        starts = sooner.starts_at.date()
    dealer = logged_in_client(app, channel.emails["dealer_owner"])
    page = dealer.get("/dealer/").get_data(as_text=True)
    button = f"Book {starts:%b} {starts.day}, {starts.year}"
    assert f'action="/training/sessions/{sooner_id}/enrol"' in page and button in page
    assert f'name="person" value="{person_key}"' in page and f"/training/sessions/{later_id}/enrol" not in page
    booked = dealer.post(f"/training/sessions/{sooner_id}/enrol", data={"person": person_key})
    assert booked.status_code == 303
    with app.app_context():
        assert db.session.execute(
            select(Enrollment).where(Enrollment.session_id == sooner_id, Enrollment.person_key == person_key)
        ).scalar_one()
    after = dealer.get("/dealer/").get_data(as_text=True)
    assert not any(title in text and "book again" in text for text in _today(after))


def test_five_certificates_to_renew_the_nearest_first_and_none_booked_again(app: Flask, channel: Channel) -> None:
    """Seven certificates of the dealer's people expire soon; the nearest one's holder is booked on a later session
    already. The inbox shows the next five by expiry, each with the session to book, and not the booked one."""
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        course = make_course("RENEW-1", validity_months=12)
        done = make_session(course, starts_in=timedelta(days=-300), enrol_deadline=utcnow() - timedelta(days=301))
        later = make_session(course, starts_in=timedelta(days=20), capacity=20)
        people = [make_trainee(dealer, f"Renewer {number}") for number in range(7)]
        for number, trainee in enumerate(people):
            make_enrollment(
                done,
                trainee=trainee,
                status="completed",
                certificate=f"CERT-RNW{number}-AAAA-BBBB",
                expires_on=company_today() + timedelta(days=5 + number),
            )
        make_enrollment(later, trainee=people[0])  # the nearest one is booked again
        db.session.commit()
        expected = [f"Renewer {number}" for number in range(1, 6)]  # by expiry, the booked one left out, five
        later_id = later.id
    page = logged_in_client(app, channel.emails["dealer_owner"]).get("/dealer/").get_data(as_text=True)
    renewals = [line for line in _today(page) if "Course RENEW-1 certificate" in line]
    assert [line.split("'s ")[0].removeprefix("Now ") for line in renewals] == expected
    assert page.count(f'action="/training/sessions/{later_id}/enrol"') == 5


@pytest.mark.usefixtures("rebate_records")
def test_the_dealer_sees_its_next_tier_gap_and_the_manager_its_watch_list(app: Flask, channel: Channel) -> None:
    # The own dealer sold 950,000.00 of a 1,000,000.00 target; the next tier pays 2 % on all sales from 100 %.
    gap, rebate = 100_000_000 - 95_000_000, 100_000_000 * 2 // 100
    page = logged_in_client(app, channel.emails["dealer_owner"]).get("/dealer/").get_data(as_text=True)
    line = next(text for text in _today(page) if "next tier" in text)
    assert line == (
        f"CN¥{gap // 100:,}.00 more sales reach the next tier this quarter "
        f"The rebate would then be CN¥{rebate // 100:,}.00"
    )
    with app.app_context():
        manager = user(channel, "manager")
        period = current_period()
        assert period is not None
        gaps = db.session.execute(
            select(RebateStatement.sales_to_next_tier, RebateStatement.next_tier_sales)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(
                RebateStatement.period_id == period.id,
                Dealer.id.in_(visible_dealers(manager).with_only_columns(Dealer.id)),
            )
        ).all()
    near = sum(1 for missing, needed in gaps if needed is not None and missing > 0 and missing * 10 <= needed)
    page = logged_in_client(app, channel.emails["manager"]).get("/console/").get_data(as_text=True)
    expected = (
        f"{near} dealer is close to its next tier" if near == 1 else f"{near} dealers are close to their next tier"
    )
    assert near >= 1 and expected in _today(page)
    assert 'href="/console/performance?watch=near_tier"' in page
