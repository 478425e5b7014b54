"""Detection from sales data, line by line at the boundaries: exactly at the floor, one fen below, the tolerance,
a territory's own floor, a region on the border of two territories, a region outside, lines that say nothing,
credit notes; grouping per dealer, rule and week; a retried detection that adds nothing. The files are written as
people produce them: Chinese ERP headers, amounts with thousands separators, regions by code or by name."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.accounts.models import User
from portal.dealers.models import Dealer, Period, Territory
from portal.extensions import db
from portal.jobs import huey_of
from portal.rebates import imports
from portal.rebates.models import ImportStatus, SalesImport, SalesLine
from portal.rebates.sales_jobs import check_sales_import, run_sales_import
from portal.referee import detection
from portal.referee.models import Suspicion, SuspicionLine, TerritoryRegion
from portal.referee.rules import (
    SuspicionRule,
    SuspicionStatus,
    below_floor_stake,
    gap_basis_points,
    is_below_floor,
    is_inside,
    lowest_allowed,
    record_starts,
    scheduled_penalty,
    week_of,
)
from portal.regions import enclosing, read_region
from portal.regions import search as search_regions
from tests.factories import Channel, make_price_list, make_products, period
from tests.helpers import CHINESE_SALES_HEADER, checked_sales_file, imported_sales_file, logged_in_client

CHINESE_HEADER = CHINESE_SALES_HEADER


@pytest.fixture(autouse=True)
def empty_queue(app: Flask) -> None:
    huey_of(app).flush()


@pytest.fixture
def priced(app: Flask, channel: Channel) -> Channel:
    """AC-1200 floors at 5,000.00 (4,800.00 in NORTH); AC-900 at 3,500.00; EAST holds Guangdong and Shanghai,
    NORTH holds Beijing and Shenzhen (so Shenzhen is in both)."""
    with app.app_context():
        current = period(channel.current_period)
        north = db.session.execute(select(Territory).where(Territory.code == "NORTH")).scalar_one()
        east = db.session.execute(select(Territory).where(Territory.code == "EAST")).scalar_one()
        make_products("AC-1200", "AC-900")
        make_price_list(
            1,
            current.starts_on,
            {"AC-1200": (600_000, 500_000), ("AC-1200", north.id): (600_000, 480_000), "AC-900": (400_000, 350_000)},
        )
        for territory, codes in ((east, ("440000", "310000")), (north, ("110000", "440300"))):
            db.session.add_all(TerritoryRegion(territory_id=territory.id, region_code=code) for code in codes)
        db.session.commit()
    return channel


def _user(email: str) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def _day(app: Flask, channel: Channel, offset: int = 0) -> date:
    with app.app_context():
        return period(channel.current_period).starts_on + timedelta(days=offset)


def _checked(channel: Channel, *lines: str, header: str = CHINESE_HEADER) -> SalesImport:
    return checked_sales_file(channel.emails["manager"], *lines, header=header)


def _imported(app: Flask, channel: Channel, *lines: str, header: str = CHINESE_HEADER) -> int:
    return imported_sales_file(app, channel.emails["manager"], *lines, header=header)


def _detected(app: Flask, import_id: int) -> int:
    with app.app_context():
        found = detection.detect_import(import_id)
        db.session.commit()
        return found


def _suspicions(app: Flask) -> list[tuple[str, SuspicionRule, date, int, int, int]]:
    with app.app_context():
        return [
            (
                code,
                suspicion.rule,
                suspicion.week_starts_on,
                suspicion.line_count,
                suspicion.stake,
                suspicion.worst_gap_basis_points,
            )
            for suspicion, code in db.session.execute(
                select(Suspicion, Dealer.code)
                .join(Dealer, Dealer.id == Suspicion.dealer_id)
                .order_by(Dealer.code, Suspicion.rule, Suspicion.week_starts_on)
            ).all()
        ]


def _evidence(app: Flask) -> set[tuple[str, SuspicionRule]]:
    with app.app_context():
        return {
            (invoice, rule)
            for invoice, rule in db.session.execute(
                select(SalesLine.invoice_ref, SuspicionLine.rule).join(
                    SalesLine, SalesLine.id == SuspicionLine.sales_line_id
                )
            ).all()
        }


# --- The rules, pure ------------------------------------------------------------------------------------------------


def test_exactly_at_the_floor_passes_and_one_fen_below_does_not() -> None:
    assert not is_below_floor(500_000, 500_000)
    assert is_below_floor(499_999, 500_000)
    assert not is_below_floor(500_001, 500_000)


def test_a_tolerance_lets_through_exactly_what_it_says_and_not_a_fen_more() -> None:
    # 2% below 5,000.00 is 4,900.00: allowed; 4,899.99 is not.
    assert lowest_allowed(500_000, 200) == 490_000
    assert not is_below_floor(490_000, 500_000, 200)
    assert is_below_floor(489_999, 500_000, 200)
    # A floor whose share is not whole fen rounds up: 1.5% of 333.33 below leaves 328.33005, so 328.34 is the lowest.
    assert lowest_allowed(33_333, 150) == 32_834
    assert is_below_floor(32_833, 33_333, 150)


def test_the_stake_and_the_gap_are_what_the_price_lost() -> None:
    assert below_floor_stake(450_000, 500_000, 3) == 150_000
    assert below_floor_stake(450_000, 500_000, 0) == 50_000  # units unsaid: one
    assert gap_basis_points(450_000, 500_000) == 1000
    assert gap_basis_points(499_999, 500_000) == 0  # two hundredths of a basis point, rounded down
    assert gap_basis_points(500_000, 500_000) == 0


def test_a_region_lies_in_a_territory_holding_it_or_a_region_around_it() -> None:
    nanshan = enclosing("440305")
    assert nanshan == ("440305", "440300", "440000")
    assert is_inside(nanshan, {"440000"})
    assert is_inside(nanshan, {"440300"})
    assert not is_inside(nanshan, {"440100"})
    assert not is_inside(enclosing("440000"), {"440300"})  # all of Guangdong is not inside Shenzhen
    assert is_inside(enclosing("110105"), {"110000"})  # a Beijing district lies directly in the municipality
    assert is_inside(nanshan, set())  # a territory with no regions is not checked


def test_the_schedule_climbs_per_offence_and_its_last_amount_repeats() -> None:
    schedule = (0, 500_000, 2_000_000)
    assert [scheduled_penalty(schedule, offences) for offences in range(5)] == [
        0,
        500_000,
        2_000_000,
        2_000_000,
        2_000_000,
    ]
    assert scheduled_penalty((), 3) == 0


def test_the_record_starts_the_same_day_months_ago_or_the_shorter_months_last_day() -> None:
    assert record_starts(date(2026, 12, 6), 12) == date(2025, 12, 6)
    assert record_starts(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert record_starts(date(2024, 2, 29), 12) == date(2023, 2, 28)
    assert record_starts(date(2026, 1, 15), 13) == date(2024, 12, 15)


@given(st.text(alphabet=st.sampled_from("北京市朝阳区广东省深圳南山4403051 x"), max_size=8))
def test_what_a_typed_part_offers_is_regions_that_part_names(typed: str) -> None:
    """Whatever is typed, at most eight regions are offered, each one the typed part names (a code it starts, or
    a part of its full name), and each reads back as itself by its full name."""
    text = "".join(typed.split())
    offered = search_regions(typed)
    assert len(offered) <= 8
    for choice in offered:
        assert choice.code.startswith(text) if text.isdigit() else text in choice.full_name
        assert read_region(choice.full_name) == choice.code
    assert not offered or text


def test_regions_are_read_from_codes_and_names_that_say_one_region() -> None:
    assert read_region("440305") == "440305"
    assert read_region("广东省深圳市南山区") == "440305"
    assert read_region("广东省 深圳市 南山区") == "440305"
    assert read_region("北京市朝阳区") == "110105"
    assert read_region("朝阳区") is None  # Beijing's and Changchun's
    assert read_region("440399") is None
    assert week_of(date(2026, 10, 1)) == date(2026, 9, 28)


# --- Detection over a real import -----------------------------------------------------------------------------------


def test_lines_below_the_floor_become_one_suspicion_per_dealer_and_week(app: Flask, priced: Channel) -> None:
    monday = week_of(_day(app, priced, 7))
    same_week, next_week = monday + timedelta(days=1), monday + timedelta(days=7)
    lines = [
        # D001 (EAST, general floor 5,000.00): at the floor, one fen below, far below in the same week.
        f'D001,{same_week},"10,000.00",2,F-1,AC-1200,"5,000.00",440305',
        f"D001,{same_week},9999.98,2,F-2,AC-1200,4999.99,440305",
        f"D001,{monday},9000.00,2,F-3,AC-1200,4500.00,310115",
        # D001 the next week: a second suspicion.
        f"D001,{next_week},4000.00,1,F-4,AC-1200,4000.00,440305",
        # D002 (NORTH, its own floor 4,800.00): 4,850 passes there though below the general floor.
        f"D002,{same_week},4850.00,1,F-5,AC-1200,4850.00,440305",
        f"D002,{same_week},4700.00,1,F-6,AC-1200,4700.00,110105",
        # Says nothing to check: no price, an unknown SKU.
        f"D002,{same_week},1.00,1,F-7,,,",
        f"D002,{same_week},1.00,1,F-8,NOT-IN-LIST,1.00,",
    ]
    found = _detected(app, _imported(app, priced, *lines))
    # Independently: the stake of each line below its floor is (floor - price) x units.
    expected_d001_week = (500_000 - 499_999) * 2 + (500_000 - 450_000) * 2
    assert found == 4
    assert _suspicions(app) == [
        ("D001", SuspicionRule.BELOW_FLOOR, monday, 2, expected_d001_week, 1000),
        ("D001", SuspicionRule.BELOW_FLOOR, next_week, 1, 100_000, 2000),
        ("D002", SuspicionRule.BELOW_FLOOR, monday, 1, 480_000 - 470_000, 208),
    ]
    assert _evidence(app) == {
        ("F-2", SuspicionRule.BELOW_FLOOR),
        ("F-3", SuspicionRule.BELOW_FLOOR),
        ("F-4", SuspicionRule.BELOW_FLOOR),
        ("F-6", SuspicionRule.BELOW_FLOOR),
    }


def test_one_floor_read_alone_is_the_floor_in_force_that_detection_reads(app: Flask, priced: Channel) -> None:
    """A field check reads one floor without loading every list: it must find the same list in force (the later
    version of one day, a list in another currency compares nothing) and the same line (the territory's own)."""
    with app.app_context():
        start = period(priced.current_period).starts_on
        north = db.session.execute(select(Territory).where(Territory.code == "NORTH")).scalar_one().id
        east = db.session.execute(select(Territory).where(Territory.code == "EAST")).scalar_one().id
        make_price_list(2, start, {"AC-1200": (600_000, 510_000), ("AC-900", north): (400_000, 340_000)})
        make_price_list(3, start + timedelta(days=10), {"AC-900": (400_000, 360_000)}).currency = "USD"
        db.session.flush()
        # By hand: version 2 replaced version 1 on the first day; version 3 is in dollars from the eleventh.
        expected = {
            ("AC-1200", east, start, "CNY"): 510_000,
            ("AC-1200", north, start, "CNY"): 510_000,  # version 2 has no line of NORTH's own
            ("AC-900", east, start, "CNY"): None,  # version 2 has no general AC-900 line
            ("AC-900", north, start + timedelta(days=9), "CNY"): 340_000,
            ("AC-900", north, start + timedelta(days=10), "CNY"): None,
            ("AC-900", north, start + timedelta(days=10), "USD"): 360_000,
            ("AC-1200", east, start - timedelta(days=1), "CNY"): None,
            ("NOT-IN-LIST", east, start, "CNY"): None,
        }
        floors = detection.load_floors()
        for (sku, territory, day, currency), floor in expected.items():
            assert detection.floor_in_force(sku, territory, day, currency) == floor, (sku, day, currency)
            assert floors.floor_of(sku, territory, day, currency) == floor, (sku, day, currency)
        db.session.rollback()


def test_goods_shipped_outside_the_territory_are_suspected_and_the_border_region_is_inside_both(
    app: Flask, priced: Channel
) -> None:
    day = _day(app, priced, 3)
    lines = [
        f"D001,{day},6000.00,1,R-1,AC-1200,6000.00,440305",  # Nanshan, Shenzhen: Guangdong is EAST's
        f"D002,{day},6000.00,1,R-2,AC-1200,6000.00,广东省深圳市南山区",  # Shenzhen is NORTH's too: the border
        f'D002,{day},"12,000.00",2,R-3,AC-1200,6000.00,440106',  # Tianhe, Guangzhou: not NORTH's
        f"D001,{day},7000.00,1,R-4,AC-1200,7000.00,北京市朝阳区",  # Beijing: not EAST's
    ]
    _detected(app, _imported(app, priced, *lines))
    week = week_of(day)
    assert _suspicions(app) == [
        ("D001", SuspicionRule.OUTSIDE_TERRITORY, week, 1, 700_000, 0),
        ("D002", SuspicionRule.OUTSIDE_TERRITORY, week, 1, 1_200_000, 0),
    ]
    assert _evidence(app) == {("R-3", SuspicionRule.OUTSIDE_TERRITORY), ("R-4", SuspicionRule.OUTSIDE_TERRITORY)}


def test_one_line_below_the_floor_and_outside_the_territory_is_evidence_of_both(app: Flask, priced: Channel) -> None:
    day = _day(app, priced, 3)
    _detected(app, _imported(app, priced, f"D001,{day},4000.00,1,B-1,AC-1200,4000.00,110105"))
    assert _evidence(app) == {("B-1", SuspicionRule.BELOW_FLOOR), ("B-1", SuspicionRule.OUTSIDE_TERRITORY)}


def test_detection_run_again_adds_nothing_and_later_lines_join_the_open_suspicion(app: Flask, priced: Channel) -> None:
    day = week_of(_day(app, priced, 7))  # a Monday: the day after is in the same week
    first = _imported(app, priced, f"D001,{day},4500.00,1,A-1,AC-1200,4500.00,")
    assert _detected(app, first) == 1
    assert _detected(app, first) == 1  # the evidence insert skips what is there; the totals are counted again
    assert _suspicions(app) == [("D001", SuspicionRule.BELOW_FLOOR, week_of(day), 1, 50_000, 1000)]
    second = _imported(app, priced, f"D001,{day + timedelta(days=1)},4000.00,1,A-2,AC-1200,4000.00,")
    _detected(app, second)
    assert _suspicions(app) == [("D001", SuspicionRule.BELOW_FLOOR, week_of(day), 2, 150_000, 2000)]


def test_a_decided_suspicion_stays_decided_and_new_lines_raise_a_new_one(app: Flask, priced: Channel) -> None:
    day = _day(app, priced, 3)
    _detected(app, _imported(app, priced, f"D001,{day},4500.00,1,C-1,AC-1200,4500.00,"))
    with app.app_context():
        found = db.session.execute(select(Suspicion)).scalar_one()
        found.status = SuspicionStatus.DISMISSED
        db.session.commit()
    _detected(app, _imported(app, priced, f"D001,{day},4400.00,1,C-2,AC-1200,4400.00,"))
    with app.app_context():
        rows = db.session.execute(select(Suspicion.status, Suspicion.line_count).order_by(Suspicion.id)).all()
    assert [tuple(row) for row in rows] == [(SuspicionStatus.DISMISSED, 1), (SuspicionStatus.OPEN, 1)]


def test_a_voided_import_is_evidence_no_more_and_a_suspicion_left_with_none_is_dismissed(
    app: Flask, priced: Channel
) -> None:
    day = week_of(_day(app, priced, 7))
    kept = _imported(app, priced, f"D001,{day},4500.00,1,V-1,AC-1200,4500.00,")
    voided = _imported(
        app,
        priced,
        f"D001,{day + timedelta(days=1)},8000.00,2,V-2,AC-1200,4000.00,",  # joins V-1's suspicion
        f"D001,{day + timedelta(days=7)},4000.00,1,V-3,AC-1200,4000.00,",  # the next week: its own suspicion
        f"D002,{day},3000.00,1,V-4,AC-900,3000.00,",  # D002's, decided before the void
    )
    _detected(app, kept)
    _detected(app, voided)
    with app.app_context():
        decided = db.session.execute(
            select(Suspicion).join(Dealer, Dealer.id == Suspicion.dealer_id).where(Dealer.code == "D002")
        ).scalar_one()
        decided.status = SuspicionStatus.DISMISSED
        db.session.commit()
        manager = _user(priced.emails["manager"])
        batch = db.session.get(SalesImport, voided)
        assert batch is not None
        imports.void_sales_import(manager, batch, "The ERP sent last month's file again")
        db.session.commit()
    # By hand: V-1 alone is left of the first week (5,000.00 - 4,500.00 on one unit); the next week had only V-3.
    assert _suspicions(app) == [
        ("D001", SuspicionRule.BELOW_FLOOR, day, 1, 50_000, 1000),
        ("D001", SuspicionRule.BELOW_FLOOR, day + timedelta(days=7), 0, 0, 0),
        ("D002", SuspicionRule.BELOW_FLOOR, day, 1, 50_000, (350_000 - 300_000) * 10_000 // 350_000),
    ]
    assert _evidence(app) == {("V-1", SuspicionRule.BELOW_FLOOR), ("V-4", SuspicionRule.BELOW_FLOOR)}
    with app.app_context():
        statuses = db.session.execute(
            select(Suspicion.week_starts_on, Suspicion.status, Suspicion.reason, Suspicion.dealer_id).order_by(
                Suspicion.dealer_id, Suspicion.week_starts_on
            )
        ).all()
    assert [(week, status) for week, status, _reason, _dealer in statuses] == [
        (day, SuspicionStatus.OPEN),
        (day + timedelta(days=7), SuspicionStatus.DISMISSED),
        (day, SuspicionStatus.DISMISSED),
    ]
    assert "voided" in statuses[1][2]
    assert statuses[2][2] == ""  # D002's was decided by a person, before: left as it was


def test_an_erp_correction_of_the_sku_alone_is_a_conflict_and_replaced_it_is_checked_anew(
    app: Flask, priced: Channel
) -> None:
    """The ERP first exported the wrong product code (AC-1200, floor 5,000.00) and sends the same invoice again,
    same amount and day, as AC-900 (floor 3,500.00). Taken as the same sale it would leave a suspicion standing
    on a line that was never below its floor; it is a conflict showing both products, and once replaced the old
    line is evidence no more."""
    day = _day(app, priced, 7)
    first = _imported(app, priced, f"D001,{day},4500.00,1,E-1,AC-1200,4500.00,440305")
    _detected(app, first)
    assert _suspicions(app) == [("D001", SuspicionRule.BELOW_FLOOR, week_of(day), 1, 50_000, 1000)]
    with app.app_context():
        batch = _checked(priced, f"D001,{day},4500.00,1,E-1,AC-900,4500.00,440305")
        assert (batch.conflict_count, batch.duplicate_rows) == (1, 0)
        assert batch.conflicts[0][10] == ["AC-1200", 450_000, "440305", "AC-900", 450_000, "440305"]
        correction = batch.id
    client = logged_in_client(app, priced.emails["manager"])
    page = client.get(f"/console/sales-imports/{correction}").get_data(as_text=True)
    assert "SKU AC-1200" in page and "SKU AC-900" in page
    assert client.post(f"/console/sales-imports/{correction}/conflicts", data={"all": "replace"}).status_code == 303
    assert client.post(f"/console/sales-imports/{correction}/confirm").status_code == 303
    with app.app_context():
        assert run_sales_import(correction) == "imported"
    assert _detected(app, correction) == 0  # AC-900 at 4,500.00 is above its floor
    assert _suspicions(app) == [("D001", SuspicionRule.BELOW_FLOOR, week_of(day), 0, 0, 0)]
    with app.app_context():
        status, reason = db.session.execute(select(Suspicion.status, Suspicion.reason)).one()
    assert status is SuspicionStatus.DISMISSED and "replaced" in reason


def test_the_same_invoice_sent_again_without_the_product_columns_is_the_same_sale(app: Flask, priced: Channel) -> None:
    day = _day(app, priced, 7)
    _imported(app, priced, f"D001,{day},4500.00,1,E-2,AC-1200,4500.00,440305")
    again = _imported(app, priced, f"D001,{day},4500.00,1,E-2", header="客户编码,开票日期,价税合计,数量,发票号码")
    with app.app_context():
        batch = db.session.get(SalesImport, again)
        assert batch is not None and (batch.conflict_count, batch.imported_rows) == (0, 0)


def test_credit_notes_and_sales_before_any_price_list_are_not_suspected(app: Flask, priced: Channel) -> None:
    with app.app_context():
        before = period(priced.current_period).starts_on - timedelta(days=1)
        previous = db.session.execute(select(Period).where(Period.code == priced.previous_period)).scalar_one()
        assert previous.starts_on <= before  # a closed period's day: booked late, still no list in force then
    day = _day(app, priced, 3)
    header = CHINESE_HEADER + ",原发票号"
    import_id = _imported(
        app,
        priced,
        f"D001,{day},6000.00,1,N-1,AC-1200,6000.00,440305,",
        f"D001,{day},-1500.00,-1,N-1-R,AC-1200,1500.00,440305,N-1",
        header=header,
    )
    assert _detected(app, import_id) == 0


def test_the_import_queues_detection_once_it_has_committed(app: Flask, priced: Channel) -> None:
    day = _day(app, priced, 3)
    _imported(app, priced, f"D001,{day},4500.00,1,Q-1,AC-1200,4500.00,")
    queued = [task.name for task in huey_of(app).pending()]
    assert "detect_suspicions" in queued


def test_a_region_no_one_can_read_is_an_error_of_the_line(app: Flask, priced: Channel) -> None:
    day = _day(app, priced, 3)
    content = (CHINESE_HEADER + f"\nD001,{day},6000.00,1,E-1,AC-1200,6000.00,朝阳区\n").encode()
    with app.app_context():
        batch = imports.start_sales_import(_user(priced.emails["manager"]), "s.csv", content)
        db.session.commit()
        check_sales_import(batch.id)
        batch = db.session.get(SalesImport, batch.id)
        assert batch is not None
        assert batch.status is ImportStatus.REJECTED
        assert [error[1] for error in batch.errors] == ["ship_to_region"]


def test_a_unit_price_that_is_not_a_price_is_an_error_of_its_line_each_time(app: Flask, priced: Channel) -> None:
    day = _day(app, priced, 3)
    content = (
        CHINESE_HEADER
        + f"\nD001,{day},6000.00,1,P-1,AC-1200,六千,440305\nD001,{day},6000.00,1,P-2,AC-1200,六千,440305"
        + f"\nD001,{day},6000.00,1,P-3,AC-1200,0,440305\n"
    ).encode()
    with app.app_context():
        batch = imports.start_sales_import(_user(priced.emails["manager"]), "s.csv", content)
        db.session.commit()
        check_sales_import(batch.id)
        batch = db.session.get(SalesImport, batch.id)
        assert batch is not None and batch.status is ImportStatus.REJECTED
        assert [(error[0], error[1]) for error in batch.errors] == [
            (2, "unit_price"),
            (3, "unit_price"),
            (4, "unit_price"),
        ]
