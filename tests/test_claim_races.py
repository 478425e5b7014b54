"""Claim races with real commits on a file SQLite database and on PostgreSQL, threads released together:
two submit requests make one submission; two reviewers deciding at once make one decision."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from portal.accounts.models import User, UserRole
from portal.claims import services
from portal.claims.models import Claim, ClaimEvent
from portal.claims.rules import ClaimStatus
from portal.database import begin_write
from portal.dealers.models import Dealer, Period
from portal.evidence.services import add_evidence
from portal.extensions import db
from portal.service_errors import IllegalTransition
from tests.conftest import BACKENDS, build_app, dispose_app, fresh_database_url
from tests.evidence_files import pdf
from tests.factories import make_user, make_world
from tests.test_claims import draft
from tests.threads import run_together


def _worker(app: Flask, email: str, claim_id: int, action: Callable[[User, Claim], Any]) -> Callable[..., str]:
    def work(wait: Callable[[], Any]) -> str:
        with app.app_context():
            wait()
            begin_write()
            try:
                actor = db.session.execute(select(User).where(User.email == email)).scalar_one()
                action(actor, db.session.get(Claim, claim_id))
                db.session.commit()
                return "done"
            except IllegalTransition:
                db.session.rollback()
                return "refused"
            finally:
                db.session.remove()

    return work


def _submitted_claim(app: Flask, submit: bool) -> tuple[Any, int]:
    with app.app_context():
        world = make_world()
        owner = db.session.execute(select(User).where(User.email == world.emails["dealer_owner"])).scalar_one()
        dealer = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        period = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        admin = db.session.execute(select(User).where(User.email == world.emails["admin"])).scalar_one()
        services.set_allocation(admin, dealer, period, 10_000_000)
        claim = draft(world, amount=123_456)
        add_evidence(owner, services.CLAIM_OWNER, claim.id, io.BytesIO(pdf()), "invoice.pdf")
        if submit:
            services.submit(owner, claim)
        claim_id = claim.id
        db.session.commit()
        return world, claim_id


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_submit_requests_make_one_submission(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    app = build_app(fresh_database_url(backend_name, "claim_races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)
    with app.app_context():
        upgrade()
    world, claim_id = _submitted_claim(app, submit=False)
    owner, staff = world.emails["dealer_owner"], world.emails["dealer_staff"]
    try:
        results = run_together(
            [
                _worker(app, email, claim_id, lambda actor, claim: services.submit(actor, claim))
                for email in (owner, staff)
            ]
        )
        with app.app_context():
            claim = db.session.get(Claim, claim_id)
            submissions = db.session.execute(
                select(func.count()).where(
                    ClaimEvent.claim_id == claim_id, ClaimEvent.to_status == ClaimStatus.SUBMITTED
                )
            ).scalar_one()
            state = (claim.status, claim.submission_count)
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert state == (ClaimStatus.SUBMITTED, 1) and submissions == 1


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_reviewers_deciding_at_once_make_one_decision(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(fresh_database_url(backend_name, "claim_races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)
    with app.app_context():
        upgrade()
    world, claim_id = _submitted_claim(app, submit=True)
    with app.app_context():
        second_manager = make_user(UserRole.MANAGER, is_senior=True).email
        db.session.commit()

    def approve(actor: User, claim: Claim) -> None:
        services.decide(actor, claim, services.Decision.APPROVE)

    def reject(actor: User, claim: Claim) -> None:
        services.decide(actor, claim, services.Decision.REJECT, reason="Not our product on the stand.")

    try:
        results = run_together(
            [_worker(app, world.emails["manager"], claim_id, approve), _worker(app, second_manager, claim_id, reject)]
        )
        with app.app_context():
            claim = db.session.get(Claim, claim_id)
            decisions = db.session.execute(
                select(func.count()).where(
                    ClaimEvent.claim_id == claim_id,
                    ClaimEvent.to_status.in_((ClaimStatus.APPROVED, ClaimStatus.REJECTED)),
                )
            ).scalar_one()
            status = claim.status
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert decisions == 1
    assert status is (ClaimStatus.APPROVED if results[0] == "done" else ClaimStatus.REJECTED)
