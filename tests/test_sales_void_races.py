"""Races of a void, with real commits on a file SQLite database and on PostgreSQL, threads released together: two
people voiding one import (its lines are reversed once), and a void while another import of the same invoices runs
(the outcome is one of the two orders, every invoice line counts at most once, and the statement is the sum of the
lines booked)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.rebates import imports
from portal.rebates.models import ImportStatus, RebateStatement, SalesLine
from portal.rebates.sales_jobs import check_sales_import, live_line, run_sales_import
from tests.factories import PASSWORD, make_world
from tests.helpers import BACKENDS, dispose_app, race_app
from tests.threads import race_posts, run_together

LINES = 3_000  # enough that the void and the import overlap


def _import(app: Flask, email: str, content: bytes, *, replace: bool = False, run: bool = True) -> int:
    with app.app_context():
        manager = db.session.execute(select(User).where(User.email == email)).scalar_one()
        batch = imports.start_sales_import(manager, "sales.csv", content)
        db.session.commit()
        check_sales_import(batch.id)
        db.session.refresh(batch)
        assert batch.status is ImportStatus.READY, batch.errors
        if batch.conflicts:
            imports.decide_conflicts(
                manager, batch, dict.fromkeys(range(len(batch.conflicts)), "replace" if replace else "keep")
            )
        imports.confirm_sales_import(manager, batch)
        db.session.commit()
        if run:
            assert run_sales_import(batch.id) == "imported"
        return batch.id


def _state(app: Flask, code: str, period_code: str) -> tuple[int, int, dict[str, int], int]:
    """(statement sales, sum of the lines booked, live invoice -> amount, lines reversed twice)."""
    with app.app_context():
        dealer_id = db.session.execute(select(Dealer.id).where(Dealer.code == code)).scalar_one()
        period_id = db.session.execute(select(Period.id).where(Period.code == period_code)).scalar_one()
        sales = db.session.execute(
            select(RebateStatement.sales).where(
                RebateStatement.dealer_id == dealer_id, RebateStatement.period_id == period_id
            )
        ).scalar_one()
        booked = db.session.execute(
            select(func.sum(SalesLine.amount)).where(
                SalesLine.dealer_id == dealer_id, SalesLine.booked_period_id == period_id
            )
        ).scalar_one()
        live = db.session.execute(
            select(SalesLine.invoice_key, SalesLine.amount).where(SalesLine.dealer_id == dealer_id, live_line())
        ).all()
        twice = db.session.execute(
            select(func.count()).select_from(
                select(SalesLine.reverses_id)
                .where(SalesLine.reverses_id.is_not(None))
                .group_by(SalesLine.reverses_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    mine = {key: amount for key, amount in live if key.startswith(("VR-", "NEW-"))}
    assert len(mine) == len([key for key, _amount in live if key.startswith(("VR-", "NEW-"))])  # never two live
    return int(sales), int(booked), mine, int(twice)


def _file(code: str, day: str, lines: list[tuple[str, str]]) -> bytes:
    body = "".join(f"{code},{day},{amount},1,Controls,{invoice}\n" for invoice, amount in lines)
    return ("dealer_code,date,amount,units,product_line,invoice_ref\n" + body).encode()


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_people_voiding_one_import_reverse_it_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = race_app(backend_name, tmp_path_factory)
    try:
        with app.app_context():
            world = make_world()
            day = db.session.execute(select(Period.starts_on).where(Period.code == world.current_period)).scalar_one()
            db.session.commit()
        before = _state(app, world.own_dealer, world.current_period)[0]
        content = _file(world.own_dealer, day.isoformat(), [(f"VR-{n}", "10.00") for n in range(LINES)])
        import_id = _import(app, world.emails["manager"], content)
        assert _state(app, world.own_dealer, world.current_period)[0] == before + LINES * 1_000
        url = f"/console/sales-imports/{import_id}/void"
        statuses = race_posts(
            app,
            [
                (world.emails["manager"], url, {"reason": "sent twice"}),
                (world.emails["senior_manager"], url, {"reason": "wrong month"}),
            ],
        )
        sales, booked, live, twice = _state(app, world.own_dealer, world.current_period)
        with app.app_context():
            reversals = db.session.execute(
                select(func.count()).where(SalesLine.import_id == import_id, SalesLine.reverses_id.is_not(None))
            ).scalar_one()
    finally:
        dispose_app(app)
    assert sorted(statuses) == [303, 409]
    assert reversals == LINES and twice == 0
    assert live == {}
    assert sales == booked == before  # back where it was, by an independent sum of the lines


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_void_while_a_correction_of_its_invoices_is_imported_ends_in_one_of_the_two_orders(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Import X booked VR-*. File Y sends them again (one with a new amount, replaced) and some new sales; it is
    confirmed, and its job runs while a manager voids X."""
    app = race_app(backend_name, tmp_path_factory)
    try:
        with app.app_context():
            world = make_world()
            day = db.session.execute(select(Period.starts_on).where(Period.code == world.current_period)).scalar_one()
            db.session.commit()
        code, when = world.own_dealer, day.isoformat()
        base = _state(app, code, world.current_period)[0]
        first = [(f"VR-{n}", "10.00") for n in range(LINES)]
        x = _import(app, world.emails["manager"], _file(code, when, first))
        second = [*first[:-1], (f"VR-{LINES - 1}", "25.00"), *[(f"NEW-{n}", "1.00") for n in range(LINES)]]
        y = _import(app, world.emails["manager"], _file(code, when, second), replace=True, run=False)

        def run_y(wait: Callable[[], object]) -> object:
            wait()
            with app.app_context():
                try:
                    return run_sales_import(y)
                finally:
                    db.session.remove()

        def void_x(wait: Callable[[], object]) -> object:
            client = app.test_client()
            assert (
                client.post("/login", data={"email": world.emails["manager"], "password": PASSWORD}).status_code == 303
            )
            client.get("/account")
            wait()
            return client.post(f"/console/sales-imports/{x}/void", data={"reason": "superseded"}).status_code

        results = run_together([run_y, void_x])
        sales, booked, live, twice = _state(app, code, world.current_period)
    finally:
        dispose_app(app)
    assert results == ["imported", 303]
    new_sales = {f"NEW-{n}": 100 for n in range(LINES)}
    corrected = {f"VR-{LINES - 1}": 2_500}
    void_first = {**{f"VR-{n}": 1_000 for n in range(LINES - 1)}, **corrected, **new_sales}  # Y books them afresh
    import_first = {**corrected, **new_sales}  # Y found them booked (skipped), then the void took them back
    assert live in (void_first, import_first)
    assert twice == 0
    assert sales == booked == base + sum(live.values())
