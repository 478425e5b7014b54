"""Races of the partner side with real commits, on a file SQLite database and on PostgreSQL.

- two admins paying the same statement: one payment, the other is told;
- two imports carrying the same invoices, run at the same moment: every invoice counts once;
- two clicks on "import" for the same checked file: one import;
- paying two quarters of one dealer at once: each rebate paid once, never more than the balance.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.accounts.models import User, UserRole
from portal.audit.models import AuditEvent
from portal.dates import quarter_of
from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.extensions import db
from portal.jobs import huey_of
from portal.notifications.models import Notification
from portal.rebates import ledger
from portal.rebates.models import ImportStatus, LedgerEntry, LedgerKind, RebateStatement, SalesImport, SalesLine
from portal.rebates.sales_jobs import run_sales_import
from portal.rebates.services import freeze_statements
from tests.factories import make_period, make_program, make_sales, make_target, make_user, make_world
from tests.helpers import BACKENDS, build_app, dispose_app, migrated_database_url
from tests.threads import race_posts, run_together


def _app(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app = build_app(migrated_database_url(backend_name, "rebate_races", tmp_path_factory), SQLITE_BUSY_TIMEOUT_MS=30000)
    return app


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_admins_paying_one_statement_pay_it_once(backend_name: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    app = _app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        second_admin = make_user(UserRole.ADMIN).email
        db.session.commit()
    statement_id = str(world.rebates.own_final_statement)
    try:
        statuses = race_posts(
            app,
            [
                (world.emails["admin"], "/admin/statements/pay", {"reference": "BANK-A", "statement_id": statement_id}),
                (second_admin, "/admin/statements/pay", {"reference": "BANK-B", "statement_id": statement_id}),
            ],
        )
        with app.app_context():
            paid = db.session.execute(
                select(func.count()).where(AuditEvent.action == "rebate_statement.paid")
            ).scalar_one()
            reference = db.session.get(RebateStatement, int(statement_id)).paid_reference
    finally:
        dispose_app(app)
    assert sorted(statuses) == [303, 409]
    assert paid == 1
    assert reference == ("BANK-A" if statuses[0] == 303 else "BANK-B")


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_imports_of_the_same_invoices_count_each_once(backend_name: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    app = _app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
        day = current.starts_on.isoformat()
        lines = "".join(f"{world.own_dealer},{day},100.00,1,Controls,RACE-{number}\n" for number in range(2500))
        content = ("dealer_code,date,amount,units,product_line,invoice_ref\n" + lines).encode()
        batches = []
        for name in ("first.csv", "second.csv"):
            batch = SalesImport(
                filename=name,
                content=content,
                size=len(content),
                uploaded_by_id=manager.id,
                status=ImportStatus.IMPORTING,
                errors=[],
            )
            db.session.add(batch)
            db.session.flush()
            batches.append(batch.id)
        before = db.session.execute(
            select(RebateStatement.sales)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(Dealer.code == world.own_dealer, RebateStatement.period_id == current.id)
        ).scalar_one()
        current_id = current.id
        db.session.commit()

    def import_in_a_worker(batch_id: int) -> Callable[[Callable[[], object]], object]:
        def work(wait: Callable[[], object]) -> object:
            wait()
            with app.app_context():
                try:
                    return run_sales_import(batch_id)
                finally:
                    db.session.remove()

        return work

    try:
        results = run_together([import_in_a_worker(batch_id) for batch_id in batches])
        with app.app_context():
            counted = db.session.execute(select(func.count()).where(SalesLine.invoice_ref.like("RACE-%"))).scalar_one()
            imported = db.session.execute(
                select(func.sum(SalesImport.imported_rows)).where(SalesImport.id.in_(batches))
            ).scalar_one()
            after = db.session.execute(
                select(RebateStatement.sales)
                .join(Dealer, Dealer.id == RebateStatement.dealer_id)
                .where(Dealer.code == world.own_dealer, RebateStatement.period_id == current_id)
            ).scalar_one()
    finally:
        dispose_app(app)
    assert results == ["imported", "imported"]
    assert counted == 2500 and imported == 2500
    assert after == before + 2500 * 10_000


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_clicks_on_import_start_one_import(backend_name: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    app = _app(backend_name, tmp_path_factory)
    huey_of(app).flush()
    with app.app_context():
        world = make_world()
        db.session.commit()
    url = f"/console/sales-imports/{world.rebates.own_import}/confirm"
    try:
        statuses = race_posts(app, [(world.emails["manager"], url, {}), (world.emails["senior_manager"], url, {})])
        queued = len(huey_of(app).pending())
        with app.app_context():
            confirmed = db.session.execute(
                select(func.count()).where(AuditEvent.action == "sales_import.confirmed")
            ).scalar_one()
    finally:
        dispose_app(app)
    assert sorted(statuses) == [303, 409]
    assert confirmed == 1 and queued == 1


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_paying_two_quarters_of_one_dealer_at_once_never_pays_more_than_the_balance(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The quarter before last is final too: paying it and last quarter at the same moment must not pay the older
    quarter's rebate twice (each payment is at most the balance, after the other's entry)."""
    app = _app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        second_admin = make_user(UserRole.ADMIN).email
        previous = db.session.execute(select(Period).where(Period.code == world.previous_period)).scalar_one()
        older = make_period(*quarter_of(previous.starts_on - timedelta(days=1)), PeriodStatus.CLOSED)
        own = db.session.execute(select(Dealer).where(Dealer.code == world.own_dealer)).scalar_one()
        make_program(older)
        make_target(own, older, 100_000_000)
        make_sales(own, older, [110_000_000], prefix="OLD")
        older.status = PeriodStatus.OPEN
        db.session.flush()
        freeze_statements(older)
        older.status = PeriodStatus.CLOSED
        older_statement = db.session.execute(
            select(RebateStatement.id).where(RebateStatement.dealer_id == own.id, RebateStatement.period_id == older.id)
        ).scalar_one()
        db.session.commit()
        own_id = own.id
    # 110 % reaches the third tier (3 %); 105 % the second (2 %): computed here, apart from the rebate module.
    earned = 110_000_000 * 3 // 100 + 105_000_000 * 2 // 100
    try:
        statuses = race_posts(
            app,
            [
                (
                    world.emails["admin"],
                    "/admin/statements/pay",
                    {"reference": "BANK-A", "statement_id": str(world.rebates.own_final_statement)},
                ),
                (second_admin, "/admin/statements/pay", {"reference": "BANK-B", "statement_id": str(older_statement)}),
            ],
        )
        with app.app_context():
            payments = db.session.execute(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.dealer_id == own_id, LedgerEntry.kind == LedgerKind.PAYMENT
                )
            ).scalar_one()
            balance = ledger.balances([own_id])[own_id]
    finally:
        dispose_app(app)
    assert 303 in statuses and set(statuses) <= {303, 409}
    assert -payments == earned  # both quarters' rebates, once each
    assert balance == 0


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_senior_managers_approving_one_target_change_apply_it_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = _app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        second_senior = make_user(UserRole.MANAGER, email="senior2@example.test", is_senior=True).email
        db.session.commit()
    url = f"/console/target-changes/{world.rebates.pending_target_change}/approve"
    try:
        statuses = race_posts(app, [(world.emails["senior_manager"], url, {}), (second_senior, url, {})])
        with app.app_context():
            events = db.session.execute(select(func.count()).where(AuditEvent.action == "target.set")).scalar_one()
            told = db.session.execute(select(func.count()).where(Notification.kind == "target_changed")).scalar_one()
    finally:
        dispose_app(app)
    assert sorted(statuses) == [303, 409]
    assert events == 1 and told == 1  # the target written once, the dealer's owner told once
