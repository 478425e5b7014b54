"""The Alembic migrations build the schema from nothing on both back ends and match the models exactly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal.extensions import db
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
