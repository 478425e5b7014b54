"""Backup and restore, with real files and real databases on SQLite and PostgreSQL: everything comes back (rows,
evidence files, an intact audit chain), a damaged archive changes nothing, and a database with data is not
overwritten unless asked."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from portal.audit.chain import seal_pending_events
from portal.evidence.models import Evidence
from portal.evidence.storage import storage_of
from portal.extensions import db
from tests.factories import World, make_world
from tests.helpers import BACKENDS, build_app, dispose_app, fresh_database_url, log_in


@pytest.fixture(params=BACKENDS)
def source_and_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Flask, World, Flask]]:
    """A portal with the test world and its files, and an empty one on another database and evidence folder."""
    source = build_app(fresh_database_url(request.param, "backup_source", tmp_path_factory))
    with source.app_context():
        upgrade()
        world = make_world()
        db.session.commit()
        seal_pending_events()
        db.session.remove()
    target = build_app(fresh_database_url(request.param, "backup_target", tmp_path_factory))
    try:
        yield source, world, target
    finally:
        dispose_app(source)
        dispose_app(target)


def files_of(app: Flask) -> dict[str, bytes]:
    with app.app_context():
        keys = db.session.execute(sa.select(Evidence.storage_key)).scalars().all()
        contents = {key: storage_of(app).read(key) for key in keys}
        db.session.remove()
    return contents


def users_of(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT email, password_hash FROM users ORDER BY email")).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_everything_comes_back_and_the_restored_portal_works(
    source_and_target: tuple[Flask, World, Flask], tmp_path: Path
) -> None:
    source, world, target = source_and_target
    archive = tmp_path / "portal.tar.gz"
    created = source.test_cli_runner().invoke(args=["backup", "create", "--output", str(archive)])
    assert created.exit_code == 0, created.output
    assert "Backup written:" in created.output and "evidence files" in created.output

    restored = target.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert users_of(target) == users_of(source)
    assert files_of(target) == files_of(source) and len(files_of(source)) >= 5
    verified = target.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "The chain is intact" in verified.output, verified.output

    client = target.test_client()  # the restored portal serves a dealer's file to its owner
    log_in(client, world.emails["dealer_owner"])
    download = client.get(f"/evidence/{world.people.own_document}/download")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")

    again = target.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert again.exit_code == 1 and "already holds data" in again.output
    replaced = target.test_cli_runner().invoke(args=["backup", "restore", str(archive), "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert users_of(target) == users_of(source)


def test_a_damaged_archive_is_refused_before_anything_changes(
    source_and_target: tuple[Flask, World, Flask], tmp_path: Path
) -> None:
    source, _world, target = source_and_target
    archive = tmp_path / "portal.tar.gz"
    assert source.test_cli_runner().invoke(args=["backup", "create", "--output", str(archive)]).exit_code == 0
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive, "r:gz") as original, tarfile.open(damaged, "w:gz") as copy:
        for member in original.getmembers():
            content = original.extractfile(member) if member.isfile() else None
            if content is not None and member.name.startswith("evidence/"):
                data = content.read() + b"tampered"
                member.size = len(data)
                copy.addfile(member, io.BytesIO(data))
            else:
                copy.addfile(member, content)
    refused = target.test_cli_runner().invoke(args=["backup", "restore", str(damaged)])
    assert refused.exit_code == 1 and "does not match its manifest" in refused.output
    with target.app_context():
        tables = sa.inspect(db.engine).get_table_names()
        db.session.remove()
    assert "users" not in tables  # the empty database stayed empty
