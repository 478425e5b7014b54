"""The API against its own description, by schemathesis: every operation of the generated OpenAPI document, with
inputs drawn from its schemas, never answers 5xx, answers only what it documents (status, content type, body
schema, headers), and refuses a call without a token (schemathesis's `ignored_auth` check).

One check is left out: "schema-valid data is accepted". The schemas say what is well formed; the rules say what
is acceptable, and a well-formed request can break them: a sales line for a dealer that does not exist, a claim
already paid, a cursor this API never gave. Those answer 422, 409 or 400 by design, each a documented problem.

The operations are walked in one test: schemathesis's pytest loader cannot take the suite's per-test `app` fixture
under pytest 9, so each operation's strategy is drawn by Hypothesis here, and a failure names the operation."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from portal.api import clients
from portal.api.rules import Scope
from portal.extensions import db
from tests.factories import Channel, examples, user

OPERATIONS = {
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/statements"),
    ("GET", "/api/v1/ledger-entries"),
    ("GET", "/api/v1/claims"),
    ("GET", "/api/v1/violations"),
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/sales-batches"),
    ("POST", "/api/v1/payments"),
    ("PUT", "/api/v1/dealers/{code}"),
    ("PUT", "/api/v1/targets/{period}/{dealer_code}"),
}


def _token(app: Flask, channel: Channel) -> str:
    with app.app_context():
        _made, token = clients.create_client(
            user(channel, "admin"), "Schemathesis", [scope.value for scope in Scope], []
        )
        db.session.commit()
    return token


@pytest.mark.usefixtures("rebate_records", "claim_records", "dispute_records")
def test_every_operation_keeps_to_its_description(app: Flask, channel: Channel) -> None:
    token = _token(app, channel)
    described = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in described.get_all_operations()]
    assert {(operation.method.upper(), operation.path) for operation in operations} == OPERATIONS

    for operation in operations:

        @settings(
            max_examples=examples(25),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def keeps_to_it(case: Any) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"}, excluded_checks=[checks.positive_data_acceptance]
            )

        try:
            keeps_to_it()
        except Exception as failure:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {failure}") from failure
