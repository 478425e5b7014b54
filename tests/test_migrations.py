"""The Alembic migrations build the schema from nothing on both back ends and match the models exactly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal.extensions import db
from portal.types import UTCDateTime, utcnow
from tests.conftest import BACKENDS, build_app, dispose_app, fresh_database_url


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_upgrade_from_empty_to_head_matches_the_models(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = build_app(fresh_database_url(backend_name, "migrations", tmp_path_factory))
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
            differences = compare_metadata(context, db.metadata)
        tables = set(sa.inspect(db.engine).get_table_names())
    dispose_app(app)
    assert differences == [], f"models and migrations differ: {differences}"
    assert {"users", "dealers", "territories", "periods", "audit_events"} <= tables


NOTIFICATIONS = sa.table(
    "notifications",
    sa.column("id", sa.Integer),
    sa.column("user_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("params", sa.JSON),
    sa.column("link", sa.String),
    sa.column("created_at", UTCDateTime()),
)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_prefixed_notification_parameters_become_typed_and_back(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Revision 0013 rewrites the amounts and statuses the portal stored as prefixed strings, and only those: a
    title people typed that looks like one stays a string. Downgrading writes the old form back."""
    app = build_app(fresh_database_url(backend_name, "typed_params", tmp_path_factory))
    old = [
        ("claim_submitted", {"dealer": "D", "claim": "money:5:CNY", "amount": "money:123456:CNY"}),
        ("dealer_status_changed", {"dealer": "D", "old": "status:active", "new": "status:suspended", "reason": "r"}),
        ("dispute_resolved", {"title": "status:active", "status": "dispute_status:resolved", "note": "n"}),
        ("violation_confirmed", {"kind": "violation:other", "amount": "money:100:CNY", "until": "2026-12-18"}),
    ]
    with app.app_context():
        upgrade(revision="0012")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO users (email, name, password_hash, role, timezone, active, session_token, "
                    "must_change_password, is_senior, created_at, two_factor_required) VALUES ('a@example.test', "
                    "'A', 'x', 'dealer', 'UTC', true, 'token', false, false, CURRENT_TIMESTAMP, false)"
                )
            )
            user_id = connection.execute(sa.text("SELECT id FROM users")).scalar_one()
            rows = [{"user_id": user_id, "kind": kind, "params": params, "link": "/", "created_at": utcnow()}
                    for kind, params in old]  # fmt: skip
            connection.execute(NOTIFICATIONS.insert(), rows)

        def stored() -> list[dict[str, object]]:
            with db.engine.connect() as connection:
                return list(
                    connection.execute(sa.select(NOTIFICATIONS.c.params).order_by(NOTIFICATIONS.c.id)).scalars()
                )

        upgrade()
        typed = stored()
        downgrade(revision="0012")
        restored = stored()
    dispose_app(app)
    money = {"type": "money", "amount": 123456, "currency": "CNY"}
    assert typed[0] == {"dealer": "D", "claim": "money:5:CNY", "amount": money}
    assert typed[1]["new"] == {"type": "label", "enum": "DealerStatus", "value": "suspended", "lower": False}
    resolved = {"type": "label", "enum": "DisputeStatus", "value": "resolved", "lower": True}
    assert typed[2] == {"title": "status:active", "note": "n", "status": resolved}
    assert typed[3]["until"] == {"type": "date", "value": "2026-12-18"}
    assert restored == [params for _kind, params in old]
