"""Races of a period's close, with real commits on a file SQLite database and on PostgreSQL, threads released
together: two people confirming one close (the period closes once, its money is booked once), and a close confirmed
while a sales file of that period is being imported (no line's rebate vanishes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User, UserRole
from portal.dates import quarter_of
from portal.dealers import closing
from portal.dealers.models import Period, PeriodStatus
from portal.extensions import db
from portal.rebates.models import (
    Adjustment,
    AdjustmentKind,
    ImportStatus,
    LedgerEntry,
    LedgerKind,
    RebateStatement,
    SalesImport,
    SalesLine,
)
from portal.rebates.sales_jobs import run_sales_import
from tests.factories import PASSWORD, make_period, make_user, make_world, person
from tests.helpers import BACKENDS, dispose_app, past_the_grace_days, race_app
from tests.threads import race_posts, run_together

LATE_FILE_LINES = 20_000  # long enough to read that the close lands while the import is under way


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_confirmations_at_once_close_the_period_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        second_admin = make_user(UserRole.ADMIN, email="admin2@example.test").email
        current = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        last_day = current.ends_on
        db.session.commit()
    url = f"/admin/periods/{world.current_period}/close/confirm"
    try:
        with past_the_grace_days(last_day):
            with app.app_context():
                asked = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
                closing.request_close(person(world.people.admin), asked)
                db.session.commit()
            statuses = race_posts(app, [(world.emails["senior_manager"], url, {}), (second_admin, url, {})])
        with app.app_context():
            period_id, status = db.session.execute(
                select(Period.id, Period.status).where(Period.code == world.current_period)
            ).one()
            rebates = db.session.execute(
                select(func.count()).where(LedgerEntry.period_id == period_id, LedgerEntry.kind == LedgerKind.REBATE)
            ).scalar_one()
            with_rebate = db.session.execute(
                select(func.count()).where(RebateStatement.period_id == period_id, RebateStatement.rebate != 0)
            ).scalar_one()
    finally:
        dispose_app(app)
    assert sorted(statuses) == [303, 409]
    assert status is PeriodStatus.CLOSED
    assert rebates == with_rebate > 0  # booked once


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_close_confirmed_during_an_import_of_its_sales_loses_no_line(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The import read the period as open when it started; the close commits before its lines do. Each line must
    end either in the frozen statement (inserted before the freeze) or booked in the next period as a late sale,
    with the late-sales adjustment for it: never booked in the closed period after its freeze, counted nowhere."""
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        quarter = db.session.execute(select(Period).where(Period.code == world.current_period)).scalar_one()
        code, starts_on, ends_on = quarter_of(quarter.ends_on + timedelta(days=1))
        if db.session.execute(select(Period.id).where(Period.code == code)).first() is None:
            make_period(code, starts_on, ends_on)
        manager = db.session.execute(select(User).where(User.email == world.emails["manager"])).scalar_one()
        day = quarter.starts_on.isoformat()
        lines = "".join(
            f"{world.own_dealer},{day},100.00,1,Controls,LATE-{number}\n" for number in range(LATE_FILE_LINES)
        )
        content = ("dealer_code,date,amount,units,product_line,invoice_ref\n" + lines).encode()
        batch = SalesImport(
            filename="late.csv",
            content=content,
            size=len(content),
            uploaded_by_id=manager.id,
            status=ImportStatus.IMPORTING,
            errors=[],
        )
        db.session.add(batch)
        quarter_id, batch_id, last_day = quarter.id, batch.id, quarter.ends_on
        db.session.flush()
        batch_id = batch.id
        db.session.commit()

    def import_the_file(wait: Callable[[], object]) -> object:
        wait()
        with app.app_context():
            try:
                return run_sales_import(batch_id)
            finally:
                db.session.remove()

    def confirm_the_close(wait: Callable[[], object]) -> object:
        client = app.test_client()
        assert client.post("/login", data={"email": world.emails["senior_manager"], "password": PASSWORD}).status_code
        client.get("/account")
        wait()
        return client.post(f"/admin/periods/{world.current_period}/close/confirm").status_code

    try:
        with past_the_grace_days(last_day):
            with app.app_context():
                closing.request_close(person(world.people.admin), db.session.get(Period, quarter_id))
                db.session.commit()
            results = run_together([import_the_file, confirm_the_close])
        with app.app_context():
            dealer_id = db.session.execute(
                select(RebateStatement.dealer_id)
                .join(SalesLine, SalesLine.dealer_id == RebateStatement.dealer_id)
                .where(SalesLine.invoice_ref == "LATE-0")
            ).scalar()
            status = db.session.get(Period, quarter_id).status
            frozen = db.session.execute(
                select(RebateStatement).where(
                    RebateStatement.dealer_id == dealer_id, RebateStatement.period_id == quarter_id
                )
            ).scalar_one()
            on_time = db.session.execute(
                select(func.sum(SalesLine.amount)).where(
                    SalesLine.dealer_id == dealer_id,
                    SalesLine.period_id == quarter_id,
                    SalesLine.booked_period_id == quarter_id,
                )
            ).scalar_one()
            late_lines = db.session.execute(
                select(func.count()).where(
                    SalesLine.invoice_ref.like("LATE-%"), SalesLine.booked_period_id != quarter_id
                )
            ).scalar_one()
            imported = db.session.execute(select(func.count()).where(SalesLine.invoice_ref.like("LATE-%"))).scalar_one()
            late_adjustments = db.session.execute(
                select(func.count()).where(
                    Adjustment.corrects_period_id == quarter_id, Adjustment.kind == AdjustmentKind.LATE_SALES
                )
            ).scalar_one()
    finally:
        dispose_app(app)
    assert results == ["imported", 303]
    assert status is PeriodStatus.CLOSED
    assert imported == LATE_FILE_LINES
    # Every line booked in the quarter was counted by its freeze: none arrived in it afterwards.
    assert frozen.sales == on_time
    # Lines that came after the freeze are late sales of the quarter, booked in the next one, and their rebate is an
    # adjustment there (the world's program pays a rate on this dealer's sales, so they change the rebate).
    assert late_lines == 0 or late_adjustments == 1
