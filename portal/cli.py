"""flask commands: seed-demo, seed-scale, create-user, reset-two-factor, import-sales, jobs worker,
audit seal/verify, backup create/restore, send-mail, cleanup-evidence, api-clients create/rotate/revoke."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.accounts.models import User, UserRole
from portal.accounts.services import find_user_by_email, hash_password, normalise_email
from portal.accounts.two_factor import reset_for_user
from portal.api import clients as api_clients
from portal.api.models import IntegrationClient
from portal.audit.chain import seal_pending_events, verify_audit_chain
from portal.backup import BackupError, create_backup, describe, restore_backup
from portal.demo import demo_logins, seed_demo
from portal.evidence.services import cleanup_orphans, fingerprint_stored
from portal.extensions import db
from portal.jobs import huey_of
from portal.money import NumberFormat, to_decimal
from portal.notifications.mail import deliver_outbox
from portal.rebates.imports import dealer_rows, import_file, report_errors
from portal.rebates.models import ImportStatus
from portal.scale import Scale, seed_scale
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Load the demo dealers, users and periods (safe to run again)."""

        seed_demo()
        db.session.commit()
        click.echo("Demo data ready. Log in with any of:")
        for email, password in demo_logins():
            click.echo(f"  {email:<22} {password}")

    @app.cli.command("seed-scale")
    @click.option("--dealers", default=10_000, show_default=True)
    @click.option("--sales", default=2_000_000, show_default=True)
    @click.option("--claims", default=300_000, show_default=True)
    @click.option("--enrolments", default=20_000, show_default=True)
    @click.option("--disputes", default=5_000, show_default=True)
    def seed_scale_command(dealers: int, sales: int, claims: int, enrolments: int, disputes: int) -> None:
        """A large channel for the benchmark, on top of the demo data, with bulk inserts."""

        started = time.monotonic()
        seed_scale(Scale(dealers, sales, claims, enrolments, disputes), report=click.echo)
        click.echo(f"Done in {time.monotonic() - started:.1f} s.")

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", type=click.Choice(["manager", "mediator", "admin"]), required=True)
    @click.option("--senior", is_flag=True, help="A senior manager (head of channel).")
    @click.password_option()
    def create_user_command(email: str, name: str, role: str, senior: bool, password: str) -> None:
        """Create a channel staff account (managers, mediators, admins); dealers' people come from the admin pages."""

        if len(password) < 12:
            raise click.BadParameter("use at least 12 characters", param_hint="password")
        if find_user_by_email(email) is not None:
            raise click.ClickException(f"a user with email {email} already exists")
        db.session.add(
            User(
                email=normalise_email(email),
                name=name,
                role=UserRole(role),
                is_senior=senior and role == "manager",
                password_hash=hash_password(password),
            )
        )
        db.session.commit()
        click.echo(f"Created {role} {email}.")

    @app.cli.command("reset-two-factor")
    @click.option("--email", required=True)
    def reset_two_factor_command(email: str) -> None:
        """Remove a person's authenticator and recovery codes and end their sessions (an admin locked out)."""

        user = find_user_by_email(email)
        if user is None:
            raise click.ClickException(f"no user has the email {email}")
        try:
            reset_for_user(None, user)
        except InvalidInput as error:
            raise click.ClickException(error.message) from error
        db.session.commit()
        click.echo(f"Two-factor sign-in of {user.email} is reset; their sessions have ended.")

    api_group = AppGroup("api-clients", help="Integration clients of the API (an ERP, a BI tool).")

    @api_group.command("create")
    @click.option("--name", required=True, help="The client, as the admins will recognise it (e.g. SAP production).")
    @click.option("--scope", "scopes", multiple=True, required=True, help="e.g. statements:read; repeat for more.")
    @click.option("--network", "networks", multiple=True, help="An address range it may call from; repeat for more.")
    @click.option("--by", "admin_email", required=True, help="The admin creating it, for the audit trail.")
    def create_api_client_command(
        name: str, scopes: tuple[str, ...], networks: tuple[str, ...], admin_email: str
    ) -> None:
        """Create a client and print its token, once: only its hash is kept."""
        admin = find_user_by_email(admin_email)
        if admin is None:
            raise click.ClickException(f"no user has the email {admin_email}")
        try:
            client, token = api_clients.create_client(admin, name, list(scopes), list(networks))
        except (InvalidInput, Forbidden) as error:
            raise click.ClickException(getattr(error, "message", "only an admin may create a client")) from error
        db.session.commit()
        click.echo(f"Created client {client.name} with scopes {', '.join(client.scopes)}.")
        click.echo(f"Its token (shown this once, store it in the ERP's secret store): {token}")

    def admin_and_client(admin_email: str, name: str) -> tuple[User, IntegrationClient]:
        admin = find_user_by_email(admin_email)
        client = db.session.execute(
            select(IntegrationClient).where(IntegrationClient.name == name)
        ).scalar_one_or_none()
        if admin is None or client is None:
            raise click.ClickException("no such admin or client")
        return admin, client

    @api_group.command("rotate")
    @click.option("--name", required=True)
    @click.option("--by", "admin_email", required=True)
    def rotate_api_client_command(name: str, admin_email: str) -> None:
        """A new token; the old ones keep working for a day, time for the ERP to switch."""
        admin, client = admin_and_client(admin_email, name)
        try:
            token = api_clients.rotate_token(admin, client)
        except (IllegalTransition, Forbidden) as error:
            raise click.ClickException(getattr(error, "message", "only an admin may rotate a token")) from error
        db.session.commit()
        click.echo(f"New token for {client.name} (shown this once): {token}")

    @api_group.command("revoke")
    @click.option("--name", required=True)
    @click.option("--by", "admin_email", required=True)
    def revoke_api_client_command(name: str, admin_email: str) -> None:
        """Every token of the client stops working now."""
        admin, client = admin_and_client(admin_email, name)
        try:
            api_clients.revoke_client(admin, client)
        except (IllegalTransition, Forbidden) as error:
            raise click.ClickException(getattr(error, "message", "only an admin may revoke a client")) from error
        db.session.commit()
        click.echo(f"Revoked {client.name}.")

    app.cli.add_command(api_group)

    jobs_group = AppGroup("jobs", help="Background jobs.")

    @jobs_group.command("worker")
    @click.option("--workers", default=2, show_default=True, help="Worker threads.")
    def worker_command(workers: int) -> None:
        """Run a job consumer (mail delivery, and the periodic tasks) until stopped."""

        huey_of(current_app).create_consumer(workers=workers, worker_type="thread", periodic=True).run()

    app.cli.add_command(jobs_group)

    audit_group = AppGroup("audit", help="The audit trail's hash chain.")

    @audit_group.command("seal")
    def audit_seal_command() -> None:
        """Seal the audit events not sealed yet (the job does it every minute)."""

        click.echo(f"{seal_pending_events()} audit events sealed.")

    @audit_group.command("verify")
    def audit_verify_command() -> None:
        """Recompute the chain from the events; exit 1 if an event was changed or deleted after sealing."""

        report = verify_audit_chain()
        click.echo(
            f"{report.events_checked} sealed events and {report.seals_checked} seals checked; "
            f"{report.unsealed} events waiting to be sealed."
        )
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}")
        if not report.intact:
            raise SystemExit(1)
        click.echo(f"The chain is intact. Its latest hash: {report.latest_hash}")

    app.cli.add_command(audit_group)

    backup_group = AppGroup("backup", help="Backup and restore of the database and the evidence files.")

    @backup_group.command("create")
    @click.option(
        "--output",
        type=click.Path(dir_okay=False),
        default=None,
        help="The archive to write (default: instance/backups/portal-<time>.tar.gz).",
    )
    def backup_create_command(output: str | None) -> None:
        """Write one archive with the database, every evidence file and a manifest of hashes and row counts."""

        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = Path(output) if output else Path(current_app.instance_path) / "backups" / f"portal-{stamp}.tar.gz"
        try:
            click.echo("Backup written: " + describe(create_backup(current_app, path)))
        except BackupError as error:
            raise click.ClickException(str(error)) from error

    @backup_group.command("restore")
    @click.argument("archive", type=click.Path(exists=True, dir_okay=False))
    @click.option("--replace", is_flag=True, help="Replace a database that already holds data.")
    def backup_restore_command(archive: str, replace: bool) -> None:
        """Check the archive against its manifest, then load the database and put the evidence files back."""

        try:
            click.echo("Restored: " + describe(restore_backup(current_app, Path(archive), replace=replace)))
        except BackupError as error:
            raise click.ClickException(str(error)) from error

    app.cli.add_command(backup_group)

    @app.cli.command("send-mail")
    @click.option("--loop", is_flag=True, help="Keep delivering until stopped.")
    @click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds with --loop.")
    def send_mail_command(loop: bool, interval: float) -> None:
        """Deliver the email outbox through SMTP once, or in a loop."""

        while True:
            counts = deliver_outbox()
            click.echo(f"sent {counts['sent']}, deferred {counts['deferred']}")
            if not loop:
                break
            time.sleep(interval)

    @app.cli.command("cleanup-evidence")
    def cleanup_evidence_command() -> None:
        """Delete stored evidence files that no row refers to (left by a crash) and are older than a day."""

        click.echo(f"removed {cleanup_orphans()} orphaned files")

    @app.cli.command("fingerprint-evidence")
    def fingerprint_evidence_command() -> None:
        """Fingerprint the photos and PDFs stored before the portal compared evidence by what it shows (once,
        after upgrading; a batch per transaction)."""

        total, after = 0, 0
        while True:
            done, after = fingerprint_stored(after)
            db.session.commit()
            total += done
            if not after:
                break
        click.echo(f"fingerprinted {total} files")

    @app.cli.command("import-sales")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option(
        "--as", "email", default="", help="The manager or admin the import is recorded for (default: first admin)."
    )
    @click.option(
        "--number-format",
        type=click.Choice(["point", "comma"]),
        default=None,
        help="How the file writes amounts: point (1,234.56) or comma (1.234,56); unsaid, anything that reads two "
        "ways is refused.",
    )
    @click.option("--sheet", default="", help="A workbook's sheet to read (default: the first).")
    @click.option(
        "--conflicts",
        type=click.Choice(["keep", "replace"]),
        default=None,
        help="Invoices sent again with other values: keep the booked ones or replace them (default: import nothing "
        "and list them).",
    )
    def import_sales_command(
        path: str, email: str, number_format: str | None, sheet: str, conflicts: str | None
    ) -> None:
        """Check a sales file (CSV or .xlsx) and, when it has no errors, import it (the same rules and report as the
        web import). Exits with status 1 when nothing was imported."""

        query = select(User).where(User.active)
        query = query.where(User.email == email.strip().lower()) if email else query.where(User.role == UserRole.ADMIN)
        actor = db.session.execute(query.order_by(User.id).limit(1)).scalar_one_or_none()
        if actor is None:
            raise click.ClickException("No such active manager or admin; name one with --as EMAIL.")
        batch = import_file(
            actor,
            Path(path).name,
            Path(path).read_bytes(),
            number_format=NumberFormat(number_format or ""),
            sheet=sheet,
            conflicts=conflicts,
        )
        for line, why in batch.skipped:
            click.echo(f"line {line}: {why}")
        if batch.status is ImportStatus.READY:  # stopped at conflicts nobody decided
            for code, invoice, line_no, old, old_date, new, new_date, line, *_rest in batch.conflicts:
                click.echo(
                    f"line {line}: {code} invoice {invoice} line {line_no}: booked {old} on {old_date}, "
                    f"file {new} on {new_date} (minor units)"
                )
            click.echo(f"{batch.conflict_count} conflicts: run again with --conflicts keep or --conflicts replace.")
            raise SystemExit(1)
        if batch.status is not ImportStatus.IMPORTED:
            for line, column, message, found in report_errors(batch):
                shown = f" (found {found!r})" if found else ""
                click.echo(f"line {line}, {column or 'file'}{shown}: {message}")
            click.echo(f"{batch.error_count} errors in {batch.total_rows} lines. Nothing was imported.")
            raise SystemExit(1)
        for code, currency, lines, new_lines, new_amount, already, returns, returned, conflicting in dealer_rows(batch):
            click.echo(
                f"{code}: {lines} lines, {new_lines} new ({to_decimal(int(str(new_amount)), str(currency))} "
                f"{currency}), {returns} returns ({to_decimal(int(str(returned)), str(currency))} {currency}), "
                f"{conflicting} conflicts, {already} already imported"
            )
        click.echo(
            f"{batch.total_rows} lines read: {batch.imported_rows} lines added, "
            f"{batch.duplicate_rows} already imported and skipped, {batch.late_rows} booked as late sales."
        )
        if batch.imported_rows == 0:  # every line was there already: nothing happened, and a script should know
            click.echo("Nothing was imported.")
            raise SystemExit(1)
