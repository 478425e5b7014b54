"""The audit trail as a hash chain, sealed in batches, so that an edited or deleted event is found out.

Events are written without a hash, in the transaction of the change they describe, so that writers never wait for
one another. A job seals them every minute: it takes the events not yet sealed in id order, gives each the next
position in the chain and the hash of the chain up to it (SHA-256 of the previous hash and the event's canonical
form), and records the batch as a seal with the hash before and after it. `flask audit verify` reads the whole chain
again: an edited event no longer hashes to what was stored, a deleted one leaves a gap in the positions, events
removed from the end fall short of the last seal, and a re-hashed stretch no longer meets its seal.

What it cannot do: notice a change made before an event was sealed (the job runs every minute), or a rewrite of the
whole chain and every seal by someone who can write anywhere in the database. Against the second, `verify` prints
the chain's latest hash: written down elsewhere now and then, it pins everything before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.audit.models import AuditEvent, AuditSeal
from portal.database import begin_write, one_at_a_time
from portal.extensions import db

GENESIS = "0" * 64
SEAL_LOCK_KEY = 7_301_011  # PostgreSQL advisory lock taken by a sealer for its transaction
SEAL_BATCH = 5000
VERIFY_BATCH = 5000


def canonical_form(event: AuditEvent) -> str:
    """Everything an event says, in one stable text: the same on SQLite and PostgreSQL, whatever the key order."""
    fields: dict[str, Any] = {
        "id": event.id,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "subject_label": event.subject_label,
        "details": event.details,
        "ip_address": event.ip_address,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def next_hash(previous: str, event: AuditEvent) -> str:
    return hashlib.sha256(f"{previous}\n{canonical_form(event)}".encode()).hexdigest()


def seal_audit_events(batch_size: int = SEAL_BATCH) -> AuditSeal | None:
    """Seal up to batch_size events not sealed yet, continuing the chain; None when there is nothing to seal.

    Two sealers at once would continue from the same position: they wait for each other (an advisory lock on
    PostgreSQL, the write lock on SQLite), and the unique first position of a seal, and of each event's position,
    would let only one of them commit if they did not.
    """
    one_at_a_time(SEAL_LOCK_KEY)
    last = db.session.execute(select(AuditSeal).order_by(AuditSeal.last_position.desc()).limit(1)).scalar()
    position, chain_hash = (last.last_position, last.chain_hash) if last else (0, GENESIS)
    events = list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.chain_position.is_(None))
            .order_by(AuditEvent.id)
            .limit(batch_size)
            .execution_options(populate_existing=True)  # hashed as stored, not as a caller's objects still hold them
        ).scalars()
    )
    if not events:
        return None
    seal = AuditSeal(first_position=position + 1, last_position=position + len(events), previous_hash=chain_hash)
    for event in events:
        position += 1
        chain_hash = next_hash(chain_hash, event)
        event.chain_position, event.chain_hash = position, chain_hash
    seal.chain_hash = chain_hash
    db.session.add(seal)
    db.session.flush()
    return seal


def seal_pending_events() -> int:
    """The job and `flask audit seal`: seal everything pending, a committed batch at a time; the events sealed."""

    sealed = 0
    while True:
        begin_write()  # SQLite: the writer's lock from the first read, so the chain's end cannot move underneath
        try:
            seal = seal_audit_events()
            db.session.commit()
        except IntegrityError:  # another sealer continued the chain first (only if the lock was bypassed)
            db.session.rollback()
            return sealed
        if seal is None:
            return sealed
        sealed += seal.last_position - seal.first_position + 1


@dataclass
class ChainReport:
    events_checked: int = 0
    seals_checked: int = 0
    unsealed: int = 0
    latest_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_audit_chain() -> ChainReport:
    """Recompute the chain from the events themselves and hold it against the stored hashes and the seals."""
    report = ChainReport()
    hash_at: dict[int, str] = {0: GENESIS}  # the chain's hash at each seal boundary, to check the seals against
    seals = _seals()
    boundaries = {seal.first_position - 1 for seal in seals} | {seal.last_position for seal in seals}
    expected, chain_hash = 1, GENESIS
    for event in _sealed_events():
        position = event.chain_position or 0
        if position != expected:
            report.problems.append(
                f"positions {expected} to {position - 1} are missing: sealed events were deleted"
                if position > expected
                else f"position {position} appears twice"
            )
            expected = position
        chain_hash = next_hash(chain_hash, event)
        if chain_hash != event.chain_hash:
            report.problems.append(f"event {event.id} (position {position}) no longer matches its hash: it was changed")
            chain_hash = event.chain_hash or chain_hash  # go on from what was stored, to find every change
        if position in boundaries:
            hash_at[position] = chain_hash
        expected += 1
        report.events_checked += 1
    last_position = expected - 1
    report.latest_hash = chain_hash
    previous_last = 0
    for seal in seals:
        report.seals_checked += 1
        if seal.first_position != previous_last + 1:
            report.problems.append(f"seal {seal.id} starts at {seal.first_position}, not {previous_last + 1}")
        if seal.last_position > last_position:
            report.problems.append(
                f"seal {seal.id} covers positions up to {seal.last_position}, but the chain ends at {last_position}: "
                "sealed events were deleted"
            )
        elif hash_at.get(seal.last_position) != seal.chain_hash:
            report.problems.append(
                f"seal {seal.id} does not match the events it sealed (positions "
                f"{seal.first_position} to {seal.last_position})"
            )
        if hash_at.get(seal.first_position - 1, seal.previous_hash) != seal.previous_hash:
            report.problems.append(f"seal {seal.id} does not follow on from the chain before it")
        previous_last = seal.last_position
    if last_position > previous_last:
        report.problems.append(f"positions {previous_last + 1} to {last_position} carry hashes but no seal")
    report.unsealed = db.session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.chain_position.is_(None))
    ).scalar_one()
    return report


def _sealed_events() -> Iterator[AuditEvent]:
    """In chain order, a batch at a time, without holding the whole trail in the session."""
    after = 0
    while True:
        batch = list(
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.chain_position > after)
                .order_by(AuditEvent.chain_position)
                .limit(VERIFY_BATCH)
            ).scalars()
        )
        if not batch:
            return
        yield from batch  # the session holds loaded rows weakly: a verified batch is freed once passed
        after = batch[-1].chain_position or after


def _seals() -> list[AuditSeal]:
    return list(db.session.execute(select(AuditSeal).order_by(AuditSeal.first_position)).scalars())
