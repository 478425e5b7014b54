"""Hostile input to the partner side's files and query strings: never a 500, never a half-saved import."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.extensions import db
from portal.jobs import huey_of
from portal.rebates.models import ImportStatus, SalesImport, SalesLine, Target
from tests.factories import Channel, World, examples
from tests.helpers import example_savepoint, log_in

SETTINGS = settings(
    max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
hostile_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", "-1", "1e9999", "NaN", "Infinity", "1,2,3", "0.001", "9" * 40, "=1+1", "１２３", "\u00a0"]),
)
cells = st.one_of(hostile_text, st.sampled_from(["D001", "D003", "2026-10-01", "2030-01-05", "100.00", "3", "INV-1"]))
rows = st.lists(st.lists(cells, min_size=0, max_size=8), max_size=12)
headers = st.sampled_from(
    [
        "dealer_code,date,amount,units,product_line,invoice_ref",
        "经销商代码,日期,金额,数量,产品线,发票号",
        "dealer_code,amount",
        "",
    ]
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "gb18030"])


def _csv(header: str, lines: list[list[str]], encoding: str) -> bytes:

    buffer = io.StringIO()
    buffer.write(header + "\n")
    writer = csv.writer(buffer)
    for line in lines:
        writer.writerow(line)
    return buffer.getvalue().encode(encoding, errors="replace")


def _run_jobs(app: Flask) -> None:
    huey = huey_of(app)
    while (task := huey.dequeue()) is not None:
        huey.execute(task)


@SETTINGS
@given(
    content=st.one_of(st.binary(max_size=400), st.builds(_csv, headers, rows, encodings)),
)
@pytest.mark.usefixtures("rebate_records")
def test_any_sales_file_is_checked_without_a_crash_and_saves_no_line(
    app: Flask, db_connection: sa.Connection, channel: Channel, content: bytes
) -> None:
    huey_of(app).flush()
    with example_savepoint(db_connection):
        client = app.test_client()
        log_in(client, channel.emails["manager"])
        response = client.post("/console/sales-imports", data={"file": (io.BytesIO(content), "hostile.csv")})
        assert response.status_code in {303, 422}
        _run_jobs(app)
        with app.app_context():
            assert db.session.execute(select(func.count()).select_from(SalesLine)).scalar_one() == 6
            statuses = set(
                db.session.execute(select(SalesImport.status).where(SalesImport.filename == "hostile.csv")).scalars()
            )
            assert statuses <= {ImportStatus.READY, ImportStatus.REJECTED}
            rejected = db.session.execute(
                select(SalesImport).where(
                    SalesImport.status == ImportStatus.REJECTED, SalesImport.filename == "hostile.csv"
                )
            ).scalars()
            assert all(batch.error_count >= 1 and batch.errors for batch in rejected)
        if response.status_code == 303:
            assert client.get(response.headers["Location"]).status_code == 200


@SETTINGS
@given(header=st.sampled_from(["dealer_code,target", "dealer,amount", "x,y", ""]), lines=rows, encoding=encodings)
def test_any_targets_file_saves_all_or_nothing(
    app: Flask, db_connection: sa.Connection, channel: Channel, header: str, lines: list[list[str]], encoding: str
) -> None:
    with example_savepoint(db_connection):
        client = app.test_client()
        log_in(client, channel.emails["manager"])
        with app.app_context():
            before = db.session.execute(select(Target.id, Target.amount).order_by(Target.id)).all()
        content = _csv(header, lines, encoding)
        response = client.post(
            f"/console/targets/{channel.current_period}/import", data={"file": (io.BytesIO(content), "t.csv")}
        )
        assert response.status_code in {303, 422}
        if response.status_code == 422:
            with app.app_context():
                assert db.session.execute(select(Target.id, Target.amount).order_by(Target.id)).all() == before


@pytest.fixture
def clients(app: Flask, world: World) -> dict[str, FlaskClient]:
    """Logged in once, before the examples: a log-in per example would spend the test on password hashing."""
    logged_in = {}
    for role in ("senior_manager", "dealer_owner", "admin"):
        logged_in[role] = app.test_client()
        log_in(logged_in[role], world.emails[role])
    return logged_in


@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(["period", "q", "territory", "watch", "sort", "dir", "page", "extra", "status"]), hostile_text
    )
)
def test_query_strings_never_break_the_pages(
    db_connection: sa.Connection, channel: Channel, clients: dict[str, FlaskClient], params: dict[str, str]
) -> None:
    with example_savepoint(db_connection):
        manager, owner, admin = clients["senior_manager"], clients["dealer_owner"], clients["admin"]
        assert manager.get("/console/performance", query_string=params).status_code in {200, 400, 404}
        assert manager.get("/console/targets", query_string=params).status_code in {200, 400, 404}
        url = f"/dealer/statements/{channel.current_period}"
        assert owner.get(url, query_string=params, headers={"HX-Request": "true"}).status_code in {200, 400}
        assert owner.get("/dealer/statements", query_string=params).status_code in {200, 400}
        assert admin.get("/admin/statements", query_string=params).status_code in {200, 400, 404}
