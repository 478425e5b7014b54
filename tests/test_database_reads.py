"""Plain columns read on the session's connection (portal.database.read): the same rows as the session's own
execute, in the same transaction, with the session's changes flushed first exactly when its autoflush would."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import bindparam, func, select

from portal.database import read
from portal.dealers.models import Territory
from portal.extensions import db
from tests.factories import make_territory

COUNT = select(func.count()).select_from(Territory)
BY_CODE = select(Territory.code, Territory.name).where(Territory.code.in_(bindparam("codes", expanding=True)))


def test_the_same_rows_as_the_session_with_a_list_parameter(app: Flask) -> None:
    with app.app_context():
        for number in range(3):
            make_territory(f"RD{number}", f"Read {number}")
        codes = {"codes": ["RD2", "RD0", "missing"]}
        assert sorted(read(BY_CODE, codes).all()) == sorted(db.session.execute(BY_CODE, codes).all())
        assert sorted(row.name for row in read(BY_CODE, codes)) == ["Read 0", "Read 2"]


def test_a_change_waiting_in_the_session_is_flushed_first_as_autoflush_would(app: Flask) -> None:
    with app.app_context():
        before = read(COUNT).scalar_one()
        db.session.add(Territory(code="RDW", name="Waiting"))  # not flushed yet
        assert read(COUNT).scalar_one() == before + 1
        assert db.session.execute(COUNT).scalar_one() == before + 1


def test_inside_no_autoflush_nothing_is_flushed_as_with_the_session(app: Flask) -> None:
    with app.app_context():
        before = read(COUNT).scalar_one()
        with db.session.no_autoflush:
            db.session.add(Territory(code="RDN", name="Not yet"))
            assert read(COUNT).scalar_one() == before == db.session.execute(COUNT).scalar_one()
        assert read(COUNT).scalar_one() == before + 1  # flushed once autoflush is back


def test_it_reads_in_the_session_s_transaction(app: Flask) -> None:
    with app.app_context():
        before = read(COUNT).scalar_one()
        make_territory("RDT", "In the transaction")  # flushed, not committed
        assert read(COUNT).scalar_one() == before + 1
        db.session.rollback()
        assert read(COUNT).scalar_one() == before
