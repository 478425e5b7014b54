"""A sales line always names periods that exist, and a period that lines name stays.

On SQLite these are foreign keys. On PostgreSQL they are checked once per statement (a trigger over the rows a
statement wrote, migration 0025): every way lines are written is tried here, the import's straight copy included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from flask import Flask
from psycopg.errors import ForeignKeyViolation
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.rebates import sales_jobs
from portal.rebates.models import SalesLine
from portal.rebates.sales_jobs import ParsedLine
from tests.factories import Channel, period

NO_PERIOD = 987_654


def _line(channel: Channel, **periods: int) -> ParsedLine:
    dealer_id = db.session.execute(select(Dealer.id).where(Dealer.code == channel.own_dealer)).scalar_one()
    current = period(channel.current_period)
    fields = {"period_id": current.id, "booked_period_id": current.id, **periods}
    return ParsedLine(
        2, dealer_id, fields["period_id"], fields["booked_period_id"], current.starts_on, 1_000, 1, "", "SP-1", "SP-1"
    )


def _written_by_the_orm(line: ParsedLine) -> None:
    db.session.execute(
        insert(SalesLine).values(
            dealer_id=line.dealer_id,
            period_id=line.period_id,
            booked_period_id=line.booked_period_id,
            sold_on=line.sold_on,
            amount=line.amount,
            invoice_ref=line.invoice_ref,
        )
    )


def _written_by_the_import(line: ParsedLine) -> None:
    sales_jobs._insert_new_lines(None, [line])


def _copied_by_the_import(line: ParsedLine) -> None:
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        sales_jobs._insert_new_lines(None, [line])  # SQLite has no copy: the import inserts
        return
    sales_jobs._copied_as_new(connection, sales_jobs._rows_of(None, [line]))


@pytest.mark.parametrize("column", ["period_id", "booked_period_id"])
@pytest.mark.parametrize(
    "write", [_written_by_the_orm, _written_by_the_import, _copied_by_the_import], ids=["orm", "insert", "copy"]
)
def test_a_sales_line_naming_no_period_is_refused(
    app: Flask, channel: Channel, column: str, write: Callable[[ParsedLine], None]
) -> None:
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one()
        with pytest.raises((IntegrityError, ForeignKeyViolation)), db.session.begin_nested():
            write(_line(channel, **{column: NO_PERIOD}))
        assert db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one() == before
        write(_line(channel))  # the same line naming periods that exist goes in
        assert db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one() == before + 1


def test_a_line_cannot_be_moved_to_a_period_that_does_not_exist(app: Flask, channel: Channel) -> None:
    with app.app_context():
        _written_by_the_orm(_line(channel))
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.execute(
                update(SalesLine).where(SalesLine.invoice_ref == "SP-1").values(booked_period_id=NO_PERIOD)
            )
        assert (
            db.session.execute(select(SalesLine.booked_period_id).where(SalesLine.invoice_ref == "SP-1")).scalar_one()
            == period(channel.current_period).id
        )


@pytest.mark.parametrize("column", ["period_id", "booked_period_id"])
def test_a_period_that_sales_lines_name_cannot_be_deleted(app: Flask, channel: Channel, column: str) -> None:
    """A period of its own (far ahead, nothing else in it), named by one line in the column tried."""
    with app.app_context():
        spare = Period(code="2041-Q1", starts_on=date(2041, 1, 1), ends_on=date(2041, 3, 31))
        db.session.add(spare)
        db.session.flush()
        _written_by_the_orm(_line(channel, **{column: spare.id}))
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.execute(delete(Period).where(Period.id == spare.id))
        assert db.session.get(Period, spare.id) is not None
        db.session.execute(delete(SalesLine).where(SalesLine.invoice_ref == "SP-1"))
        db.session.execute(delete(Period).where(Period.id == spare.id))  # named by nothing now: it may go
        assert db.session.execute(select(Period.id).where(Period.id == spare.id)).first() is None
