"""Idempotent pushes: the same `Idempotency-Key` and body answer the first answer again, never a second import;
the same key with another body is refused; copies sent at once wait for no one: the first claims the key (a unique
constraint decides, on SQLite under the write lock), the others are told it is in progress and retry later."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from portal.api.models import IdempotencyKey
from portal.api.problems import ApiProblem
from portal.database import begin_write
from portal.extensions import db

MAX_KEY = 200


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def body_hash(body: Any) -> str:
    """The request's body as JSON with sorted keys, hashed: the same content hashes the same however it was spaced."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _found(client_id: int, key: str) -> IdempotencyKey | None:
    return db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == key)
    ).scalar_one_or_none()


def _earlier(found: IdempotencyKey, operation: str, digest: str) -> Answer:
    if found.operation != operation or found.body_hash != digest:
        raise ApiProblem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was used with another request; send a new key for new content.",
        )
    if found.status_code is None or found.response is None:
        raise ApiProblem(409, "idempotency-in-progress", "A request with this Idempotency-Key is still running.")
    return Answer(found.status_code, found.response)


def claim(client_id: int, key: str, operation: str, body: Any) -> Answer | None:
    """Claim the key for this request (committed at once, so copies see it), or the earlier answer to give again."""
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise ApiProblem(
            400, "idempotency-key-missing", f"Send an Idempotency-Key header of 1 to {MAX_KEY} characters."
        )
    digest = body_hash(body)
    begin_write()
    found = _found(client_id, key)
    if found is not None:
        answer = _earlier(found, operation, digest)
        db.session.rollback()
        return answer
    try:
        with db.session.begin_nested():
            db.session.add(IdempotencyKey(client_id=client_id, key=key, operation=operation, body_hash=digest))
    except IntegrityError:  # a copy claimed it between the read and the insert (PostgreSQL)
        db.session.rollback()
        found = _found(client_id, key)
        assert found is not None
        return _earlier(found, operation, digest)
    db.session.commit()
    return None


def remember(client_id: int, key: str, answer: Answer) -> None:
    """Keep the answer for the key; the caller commits it with the work, or right after it."""
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == key.strip())
        .values(status_code=answer.status, response=answer.body)
    )


def release(client_id: int, key: str) -> None:
    """The work failed before it answered (the portal's fault, not the request's): free the key so a retry runs."""
    db.session.rollback()
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.client_id == client_id,
            IdempotencyKey.key == key.strip(),
            IdempotencyKey.status_code.is_(None),
        )
    )
    db.session.commit()
