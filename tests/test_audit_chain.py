"""The audit trail's hash chain: sealed in batches, and `flask audit verify` finds an edited or deleted event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, update

from portal.audit.chain import GENESIS, next_hash, seal_audit_events, seal_pending_events, verify_audit_chain
from portal.audit.models import AuditEvent, AuditSeal
from portal.audit.services import record_event
from portal.extensions import db
from tests.factories import Channel
from tests.helpers import BACKENDS, build_app, dispose_app, migrated_database_url
from tests.threads import run_together


def add_events(count: int, label: str = "event") -> None:
    for number in range(count):
        record_event(
            "test.happened", actor_id=None, subject_label=f"{label} {number}", details={"n": number, "和": "是"}
        )
    db.session.flush()


def verify_command(app: Flask) -> Any:
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_sealed_events_verify_and_the_chain_goes_on_across_batches(app: Flask, channel: Channel) -> None:
    with app.app_context():
        add_events(7)
        total = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        first = seal_audit_events(batch_size=5)
        assert first is not None and (first.first_position, first.last_position) == (1, 5)
        assert first.previous_hash == GENESIS
        assert seal_pending_events() == total - 5
        add_events(2, "later")  # written after the seals: waiting, then sealed on
        db.session.commit()
        report = verify_audit_chain()
        assert report.intact and report.events_checked == total and report.unsealed == 2
        assert seal_pending_events() == 2 and seal_pending_events() == 0
        report = verify_audit_chain()
        assert report.intact and report.events_checked == total + 2 and report.unsealed == 0
        seals = db.session.execute(select(AuditSeal).order_by(AuditSeal.first_position)).scalars().all()
        assert [seal.previous_hash for seal in seals[1:]] == [seal.chain_hash for seal in seals[:-1]]
    result = verify_command(app)
    assert result.exit_code == 0, result.output
    assert "The chain is intact" in result.output and report.latest_hash in result.output


def tamper_and_verify(app: Flask, tamper: Callable[[list[int]], None]) -> tuple[Any, list[str]]:
    with app.app_context():
        add_events(6)
        seal_pending_events()
        ids = list(db.session.execute(select(AuditEvent.id).order_by(AuditEvent.chain_position)).scalars())
        tamper(ids)
        db.session.commit()
        problems = verify_audit_chain().problems
    return verify_command(app), problems


def test_an_edited_event_is_named(app: Flask, channel: Channel) -> None:
    target: list[int] = []

    def edit(ids: list[int]) -> None:
        target.append(ids[3])
        db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[3]).values(details={"n": 999}))

    result, problems = tamper_and_verify(app, edit)
    assert result.exit_code == 1
    assert problems == [f"event {target[0]} (position 4) no longer matches its hash: it was changed"]
    assert f"PROBLEM: event {target[0]} (position 4)" in result.output


def test_a_deleted_event_leaves_a_gap(app: Flask, channel: Channel) -> None:
    result, problems = tamper_and_verify(
        app, lambda ids: db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[2]))
    )
    assert result.exit_code == 1 and "positions 3 to 3 are missing: sealed events were deleted" in problems[0]


def test_events_deleted_from_the_end_fall_short_of_the_seal(app: Flask, channel: Channel) -> None:
    result, problems = tamper_and_verify(
        app, lambda ids: db.session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids[-2:])))
    )
    assert result.exit_code == 1 and any("but the chain ends at" in problem for problem in problems)


def test_an_edit_with_every_hash_recomputed_still_breaks_its_seal(app: Flask, channel: Channel) -> None:
    """Someone who edits an event and re-hashes the chain after it, but cannot rewrite the seal, is found out."""

    def rewrite(ids: list[int]) -> None:

        db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(subject_label="nothing to see"))
        db.session.flush()
        events = db.session.execute(
            select(AuditEvent).order_by(AuditEvent.chain_position).execution_options(populate_existing=True)
        ).scalars()
        chain_hash = GENESIS
        for event in events:
            chain_hash = next_hash(chain_hash, event)
            event.chain_hash = chain_hash
        db.session.flush()

    result, problems = tamper_and_verify(app, rewrite)
    assert result.exit_code == 1
    assert len(problems) == 1 and "does not match the events it sealed" in problems[0]


# --- two sealers at once, real commits ------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def fresh_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_app(migrated_database_url(request.param, "audit_chain", tmp_path_factory))
    try:
        yield app
    finally:
        dispose_app(app)


def test_two_sealers_at_once_seal_each_event_once_in_one_chain(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        add_events(40)
        db.session.commit()

    def sealer(wait: Callable[[], Any]) -> int:
        with fresh_app.app_context():
            wait()
            try:
                return seal_pending_events()
            finally:
                db.session.remove()

    counts = run_together([sealer, sealer])
    assert sum(counts) == 40  # each event sealed by one of them
    with fresh_app.app_context():
        report = verify_audit_chain()
        assert report.intact, report.problems
        assert report.events_checked == 40 and report.unsealed == 0
        positions = db.session.execute(select(AuditEvent.chain_position).order_by(AuditEvent.chain_position))
        assert list(positions.scalars()) == list(range(1, 41))
        db.session.remove()
