"""Backup and restore of everything the portal keeps: the database and the evidence files, in one archive.

`flask backup create` writes a .tar.gz holding the database (SQLite's online backup of the file, or pg_dump's custom
format for PostgreSQL), every evidence file the database refers to, and a manifest: the schema revision, the row
count of every table and the SHA-256 of every file. The files listed are the ones the dumped database refers to,
read in the same snapshot (SQLite: from the copy; PostgreSQL: pg_dump runs in a snapshot exported by the
transaction that lists them), so a file uploaded or removed meanwhile cannot make the two disagree.

`flask backup restore` checks the whole archive against its manifest before it touches anything, then loads the
database (into an empty one, unless told to replace what is there), puts the files back through the configured
storage (a folder or S3), reads each one back, and compares the row counts. Anything that differs stops it with the
reason.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.evidence.models import Evidence
from portal.evidence.storage import storage_of
from portal.extensions import db

FORMAT = "portal-backup-1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
EVIDENCE_FOLDER = "evidence"


class BackupError(RuntimeError):
    """A backup that cannot be made or restored as it is; the message says why."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    tables: int
    rows: int
    files: int
    file_bytes: int


def create_backup(app: Flask, output: Path) -> BackupSummary:
    """Write the archive to `output` (a .tar.gz); fails without leaving a partial archive behind."""

    storage = storage_of(app)
    with tempfile.TemporaryDirectory(prefix="portal-backup-") as folder:
        work = Path(folder)
        engine = db.engine
        if engine.dialect.name == "sqlite":
            database_file, counts, revision, evidence = _dump_sqlite(engine, work)
        else:
            database_file, counts, revision, evidence = _dump_postgres(engine, work)
        files: dict[str, str] = {}
        file_bytes = 0
        (work / EVIDENCE_FOLDER).mkdir()
        for key in evidence:
            try:
                content = storage.read(key)
            except Exception as error:  # any storage failure, reported with the file's key
                raise BackupError(f"evidence file {key} could not be read: {error}") from error
            target = work / EVIDENCE_FOLDER / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            files[key] = hashlib.sha256(content).hexdigest()
            file_bytes += len(content)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": engine.dialect.name,
            "database_file": database_file,
            "database_sha256": _file_hash(work / database_file),
            "schema_revision": revision,
            "row_counts": counts,
            "evidence_sha256": files,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            for name in (MANIFEST, database_file, EVIDENCE_FOLDER):
                archive.add(work / name, arcname=name)
        partial.replace(output)
    return BackupSummary(output, len(counts), sum(counts.values()), len(files), file_bytes)


def restore_backup(app: Flask, archive_path: Path, *, replace: bool = False) -> BackupSummary:
    """Check the archive, then load the database and the files; BackupError says what stopped it."""

    with tempfile.TemporaryDirectory(prefix="portal-restore-") as folder:
        work = Path(folder)
        manifest = _unpack_and_check(archive_path, work)
        engine = db.engine
        if manifest["database"] != engine.dialect.name:
            raise BackupError(
                f"this backup is of a {manifest['database']} database; the portal is configured for "
                f"{engine.dialect.name}"
            )
        if not replace and _has_data(engine):
            raise BackupError("the database already holds data; restore into an empty one, or say --replace")
        db.session.remove()
        if engine.dialect.name == "sqlite":
            _load_sqlite(engine, work / manifest["database_file"])
        else:
            _load_postgres(engine, work / manifest["database_file"])
        storage = storage_of(app)
        stored = {
            row.storage_key: row.content_type
            for row in db.session.execute(sa.select(Evidence.storage_key, Evidence.content_type))
        }
        if set(stored) != set(manifest["evidence_sha256"]):
            raise BackupError("the restored database names other evidence files than the backup holds")
        file_bytes = 0
        for key, expected in manifest["evidence_sha256"].items():
            content = (work / EVIDENCE_FOLDER / key).read_bytes()
            file_bytes += len(content)
            storage.put(key, content, stored[key])
            if hashlib.sha256(storage.read(key)).hexdigest() != expected:
                raise BackupError(f"evidence file {key} reads back differently from the storage")
        counts = _row_counts(db.session.connection())
        db.session.commit()
        if counts != manifest["row_counts"]:
            differing = sorted(
                name
                for name in counts.keys() | manifest["row_counts"].keys()
                if counts.get(name) != manifest["row_counts"].get(name)
            )
            raise BackupError(f"row counts differ after the restore in: {', '.join(differing)}")
    return BackupSummary(archive_path, len(counts), sum(counts.values()), len(manifest["evidence_sha256"]), file_bytes)


# --- SQLite ---------------------------------------------------------------------------------------------------------


def _sqlite_path(engine: sa.Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return database


def _dump_sqlite(engine: sa.Engine, work: Path) -> tuple[str, dict[str, int], str | None, list[str]]:
    """SQLite's online backup: a consistent copy even while the portal writes; counts and files read from it."""
    copy_path = work / SQLITE_FILE
    source = sqlite3.connect(_sqlite_path(engine))
    target = sqlite3.connect(copy_path)
    try:
        source.backup(target)
    finally:
        source.close()
    try:
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        copy_engine = sa.create_engine(f"sqlite:///{copy_path}", poolclass=sa.pool.NullPool)
        with copy_engine.connect() as connection:
            counts = _row_counts(connection)
            revision = _revision(connection)
            evidence = _evidence_keys(connection)
        copy_engine.dispose()
    finally:
        target.close()
    return SQLITE_FILE, counts, revision, evidence


def _load_sqlite(engine: sa.Engine, database_file: Path) -> None:
    engine.dispose()
    source = sqlite3.connect(database_file)
    target = sqlite3.connect(_sqlite_path(engine))
    try:
        source.backup(target)  # replaces every page of the target, whatever it held
    finally:
        source.close()
        target.close()
    engine.dispose()


# --- PostgreSQL -----------------------------------------------------------------------------------------------------


def _libpq_url(engine: sa.Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is missing: install PostgreSQL's client programs (postgresql-client)")
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[-1500:]}")


def _dump_postgres(engine: sa.Engine, work: Path) -> tuple[str, dict[str, int], str | None, list[str]]:
    """pg_dump inside a snapshot exported by the transaction that counts the rows and lists the files."""
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        counts = _row_counts(connection)
        revision = _revision(connection)
        evidence = _evidence_keys(connection)
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={work / POSTGRES_FILE}",
                f"--dbname={_libpq_url(engine)}",
            ]
        )
        connection.exec_driver_sql("COMMIT")
    return POSTGRES_FILE, counts, revision, evidence


def _load_postgres(engine: sa.Engine, database_file: Path) -> None:
    engine.dispose()
    with engine.connect() as connection:  # --clean drops what the dump has; a fresh schema drops the rest too
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
        connection.commit()
    engine.dispose()
    _run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={_libpq_url(engine)}",
            str(database_file),
        ]
    )
    engine.dispose()


# --- both -----------------------------------------------------------------------------------------------------------


def _row_counts(connection: sa.Connection) -> dict[str, int]:
    names = sorted(sa.inspect(connection).get_table_names())
    return {
        name: int(connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
        for name in names
    }


def _revision(connection: sa.Connection) -> str | None:
    if "alembic_version" not in sa.inspect(connection).get_table_names():
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def _evidence_keys(connection: sa.Connection) -> list[str]:
    if "evidence" not in sa.inspect(connection).get_table_names():
        return []
    return sorted(connection.exec_driver_sql("SELECT storage_key FROM evidence").scalars())


def _has_data(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        counts = _row_counts(connection)
    return any(count for name, count in counts.items() if name not in ("alembic_version", "page_generations"))


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack_and_check(archive_path: Path, work: Path) -> dict[str, Any]:
    """Unpack only the names a backup has, then hold every file against the manifest."""
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            archive.extractall(work, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise BackupError(f"not a readable backup archive: {error}") from error
    try:
        manifest: dict[str, Any] = json.loads((work / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError("the archive has no readable manifest") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    database_file = work / str(manifest.get("database_file", ""))
    if not database_file.is_file() or _file_hash(database_file) != manifest.get("database_sha256"):
        raise BackupError("the database in the archive does not match its manifest")
    for key, expected in manifest["evidence_sha256"].items():
        path = work / EVIDENCE_FOLDER / key
        if not path.is_file() or _file_hash(path) != expected:
            raise BackupError(f"evidence file {key} in the archive does not match its manifest")
    return manifest


def describe(summary: BackupSummary) -> str:
    return (
        f"{summary.path}: {summary.rows} rows in {summary.tables} tables, {summary.files} evidence files "
        f"({summary.file_bytes / 1e6:.1f} MB)"
    )
