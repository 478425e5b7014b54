"""Reads answered once per request: today's period, a dealer's budget for it, its statement.

A dealer's start page asks for the current period from five places (the rebate tile, the budget line, the inbox's
claims, training and rebates lines), each an independent area that must not know the others ask too. Each such
read is a query of its own: a quarter of a millisecond of SQLAlchemy before SQLite even starts. `remembered` keeps
the answer on the request, under a key the caller names.

What is kept is forgotten at every flush and rollback of the session, so a request that writes (approves a claim,
then shows the budget) reads afresh after its write. Outside a request (a job, the shell) nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import Flask
from flask.globals import _cv_request
from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")
_ATTRIBUTE = "portal_remembered"


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    """compute(), or what it answered earlier in this request for the same key (since the last flush)."""
    request_context = _cv_request.get(None)
    if request_context is None:
        return compute()
    kept: dict[Hashable, Any] | None = request_context.__dict__.get(_ATTRIBUTE)
    if kept is None:
        kept = {}
        setattr(request_context, _ATTRIBUTE, kept)
    elif key in kept:
        return kept[key]
    answer = compute()
    kept[key] = answer
    return answer


def remember(key: Hashable, answer: object) -> None:
    """Keep an answer read with something else (the signed-in user's load) for `remembered` to find, until the next
    flush. Outside a request: nothing."""
    request_context = _cv_request.get(None)
    if request_context is not None:
        request_context.__dict__.setdefault(_ATTRIBUTE, {})[key] = answer


def forget_remembered(*_args: object) -> None:
    request_context = _cv_request.get(None)
    if request_context is not None:
        request_context.__dict__.pop(_ATTRIBUTE, None)


def init_app(_app: Flask) -> None:
    if not event.contains(Session, "after_flush", forget_remembered):
        event.listen(Session, "after_flush", forget_remembered)
        event.listen(Session, "after_soft_rollback", forget_remembered)
