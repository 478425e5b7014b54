"""One item, one code: shipments imported as an ERP exports them (Chinese headers, a workbook, a correction that
moves a code to another dealer), and sightings at the boundaries: a code shipped to no one, a case code, a region
on the border of two territories, exactly at the floor and one fen below, a code seen twice; a dealer who reports
one learns the other dealer's name and nothing more."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask import Flask
from openpyxl import Workbook
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.dealers.amounts import FileRefused
from portal.dealers.models import Territory
from portal.evidence.models import Evidence
from portal.extensions import db
from portal.referee import codes
from portal.referee.models import CodedShipment, Sighting, Suspicion, SuspicionSighting, TerritoryRegion
from portal.referee.rules import SightingOutcome, SuspicionRule, week_of
from portal.regions import read_region
from portal.service_errors import Forbidden, InvalidInput
from tests.evidence_files import jpeg
from tests.factories import Channel, RefereeRecords, dealer_of, period
from tests.helpers import log_in


def _user(channel: Channel, role: str) -> User:
    return db.session.execute(select(User).where(User.email == channel.emails[role])).scalar_one()


def _report(app: Flask, channel: Channel, role: str, code: str, region: str, price: int | None = None) -> Sighting:
    with app.app_context():
        day = period(channel.current_period).starts_on + timedelta(days=14)  # not the world's suspicion's week
        sighting = codes.record_sighting(
            _user(channel, role), codes.SightingReport(code, region, "Shop 12", price, day)
        )
        db.session.commit()
        db.session.refresh(sighting)
        db.session.expunge(sighting)
        return sighting


def _workbook(*rows: tuple[object, ...]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_shipments_from_an_erp_workbook_are_imported_and_a_correction_moves_a_code(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        admin = _user(channel, "admin")
        start = period(channel.current_period).starts_on
        first = codes.import_shipments(
            admin,
            _workbook(
                ("追溯码", "箱码", "物料编码", "客户编码", "发货日期"),
                ("QR-1001", "CASE-10", "ac-900", "D002", start),
                ("QR-1002", "CASE-10", "ac-900", "D002", start),
            ),
        )
        # The ERP corrects itself: QR-1002 went to D003 two days later; QR-1001 is sent again as it was.
        second = codes.import_shipments(
            admin,
            f"code,sku,dealer_code,ship_date\nQR-1002,AC-900,D003,{start + timedelta(days=2)}\n"
            f"QR-1001,AC-900,D002,{start}\n".encode(),
        )
        moved = db.session.execute(select(CodedShipment).where(CodedShipment.code == "QR-1002")).scalar_one()
        assert (first.created, second.moved, second.unchanged) == (2, 1, 1)
        assert moved.dealer.code == "D003" and moved.sku == "AC-900"
        with pytest.raises(FileRefused) as refused:
            codes.import_shipments(
                admin, b"code,dealer_code,ship_date\nQR-2,D999,2026-01-01\nQR-3,D001,1 Jan\nQR-3,D001,2026-01-01\n"
            )
        assert [(error.line, error.column) for error in refused.value.errors] == [(2, "dealer_code"), (3, "ship_date")]
        with pytest.raises(Forbidden):
            codes.import_shipments(_user(channel, "manager"), b"code,dealer_code,ship_date\nQR-4,D001,2026-01-01\n")


def test_a_code_seen_outside_its_dealers_territory_raises_a_suspicion_against_that_dealer(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    # QR-0001-AC1200 was shipped to D001, whose territory (EAST) is Guangdong and Shanghai; seen in Beijing.
    sighting = _report(app, channel, "inspector", referee_records.shipped_code, "北京市朝阳区")
    assert sighting.outcome is SightingOutcome.OUTSIDE_TERRITORY
    with app.app_context():
        suspicion = db.session.execute(
            select(Suspicion).join(SuspicionSighting).where(SuspicionSighting.sighting_id == sighting.id)
        ).scalar_one()
        assert (suspicion.dealer.code, suspicion.rule, suspicion.sighting_count) == (
            "D001",
            SuspicionRule.OUTSIDE_TERRITORY,
            1,
        )
        assert suspicion.week_starts_on == week_of(sighting.seen_on)


def test_a_case_code_finds_its_dealer_and_a_border_region_is_inside(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        north = db.session.execute(select(Territory).where(Territory.code == "NORTH")).scalar_one()
        db.session.add(TerritoryRegion(territory_id=north.id, region_code="440300"))  # Shenzhen: EAST's and NORTH's
        db.session.commit()
    inside = _report(app, channel, "manager", "CASE-0001", "440305")  # the case's items went to D001
    with app.app_context():
        own_id = dealer_of(channel.own_dealer).id
    assert (inside.outcome, inside.shipped_to_id) == (SightingOutcome.IN_ORDER, own_id)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(SuspicionSighting)).scalar_one() == 0


def test_a_price_exactly_at_the_floor_passes_and_one_fen_below_is_suspected(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    at_floor = _report(app, channel, "inspector", referee_records.shipped_code, "440305", 500_000)
    below = _report(app, channel, "inspector", referee_records.shipped_code, "440305", 499_999)
    assert at_floor.outcome is SightingOutcome.IN_ORDER
    assert (below.outcome, below.floor_price) == (SightingOutcome.BELOW_FLOOR, 500_000)
    both = _report(app, channel, "inspector", referee_records.shipped_code, "110105", 450_000)
    assert both.outcome is SightingOutcome.OUTSIDE_AND_BELOW
    with app.app_context():
        suspicion = db.session.execute(
            select(Suspicion).join(SuspicionSighting).where(SuspicionSighting.sighting_id == below.id)
        ).scalar_one()
        # A code seen twice below the floor in one week: one suspicion, two sightings, the stakes added (computed
        # here: one fen below, then 500.00 below, one unit each).
        assert (suspicion.dealer.code, suspicion.sighting_count) == ("D001", 2)
        assert suspicion.stake == (500_000 - 499_999) + (500_000 - 450_000)
        assert suspicion.worst_gap_basis_points == 1000


def test_a_code_shipped_to_no_one_is_kept_without_a_suspicion(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    sighting = _report(app, channel, "dealer_owner", "FAKE-9999", "110105", 100)
    assert (sighting.outcome, sighting.shipped_to_id) == (SightingOutcome.UNKNOWN_CODE, None)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(SuspicionSighting)).scalar_one() == 0


def test_refusals_say_which_field_and_staff_of_a_dealer_cannot_report(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        inspector = _user(channel, "inspector")
        day = period(channel.current_period).starts_on
        for report, field in (
            (codes.SightingReport("", "110105", "", None, day), "code"),
            (codes.SightingReport("QR", "朝阳区", "", None, day), "region"),
            (codes.SightingReport("QR", "110105", "", 0, day), "price_seen"),
            (codes.SightingReport("QR", "110105", "", None, day + timedelta(days=400)), "seen_on"),
        ):
            with pytest.raises(InvalidInput) as refused:
                codes.record_sighting(inspector, report)
            assert refused.value.field == field
        with pytest.raises(Forbidden):
            codes.record_sighting(_user(channel, "dealer_staff"), codes.SightingReport("QR", "110105", "", None, day))


def test_a_dealer_reporting_another_dealers_code_learns_its_name_and_nothing_more(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    """D003's owner photographs D001's goods in Beijing: the answer names Eastern Star Trading; the page shows
    neither D001's code, its territory nor the suspicion, and the photo is kept as the sighting's evidence."""
    client = app.test_client()
    log_in(client, channel.emails["foreign_owner"])
    with app.app_context():
        day = period(channel.current_period).starts_on + timedelta(days=14)
    response = client.post(
        "/referee/field-check",
        data={
            "code": referee_records.shipped_code,
            "region": "北京市朝阳区",
            "shop": "Chaoyang market",
            "price_seen": "4,000.00",
            "seen_on": day.isoformat(),
            "photos": [(io.BytesIO(jpeg()), "IMG_20261201.jpg")],
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Eastern Star Trading" in page and "outside its territory below the floor price" in page
    assert "D001" not in page and "/referee/suspicions" not in page and "EAST" not in page
    with app.app_context():
        sighting = db.session.execute(select(Sighting).order_by(Sighting.id.desc()).limit(1)).scalar_one()
        photos = (
            db.session.execute(
                select(Evidence.original_name).where(
                    Evidence.owner_type == "sighting", Evidence.owner_id == sighting.id
                )
            )
            .scalars()
            .all()
        )
        assert photos == ["IMG_20261201.jpg"]
        assert sighting.reporter_dealer_id == dealer_of(channel.foreign_dealer).id


def test_a_refused_photo_keeps_nothing(app: Flask, channel: Channel, referee_records: RefereeRecords) -> None:
    client = app.test_client()
    log_in(client, channel.emails["inspector"])
    response = client.post(
        "/referee/field-check",
        data={
            "code": referee_records.shipped_code,
            "region": "110105",
            "seen_on": "2026-01-05",
            "photos": [(io.BytesIO(b"%PDF-1.4 not an image at all"), "shop.jpg")],
        },
    )
    assert response.status_code == 422
    assert "shop.jpg" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Sighting)).scalar_one() == 0


def test_the_photos_of_a_sighting_go_with_the_violation_made_of_it(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    """The inspector's photo becomes a file of the violation: the second person and, once it counts, the dealer
    see what was seen; the reporting dealer, who sees neither the suspicion nor the violation, does not."""
    inspector = app.test_client()
    log_in(inspector, channel.emails["inspector"])
    with app.app_context():
        day = period(channel.current_period).starts_on + timedelta(days=14)
    photo = jpeg()
    reported = inspector.post(
        "/referee/field-check",
        data={
            "code": referee_records.shipped_code,
            "region": "110105",
            "seen_on": day.isoformat(),
            "photos": [(io.BytesIO(photo), "微信图片_20261201.jpg")],
        },
    )
    assert reported.status_code == 303
    with app.app_context():
        suspicion_id = db.session.execute(
            select(SuspicionSighting.suspicion_id).order_by(SuspicionSighting.id.desc()).limit(1)
        ).scalar_one()
        kept = db.session.execute(select(Evidence.sha256).where(Evidence.owner_type == "sighting")).scalar_one()
    manager = app.test_client()
    log_in(manager, channel.emails["manager"])
    made = manager.post(f"/referee/suspicions/{suspicion_id}/violation", data={"penalty": "0.00"})
    assert made.status_code == 303, made.get_data(as_text=True)
    violation_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with app.app_context():
        copied = db.session.execute(
            select(Evidence.id, Evidence.sha256, Evidence.original_name).where(
                Evidence.owner_type == "violation", Evidence.owner_id == violation_id
            )
        ).one()
    assert (copied.sha256, copied.original_name) == (kept, "微信图片_20261201.jpg")
    assert "微信图片_20261201.jpg" in manager.get(made.headers["Location"]).get_data(as_text=True)
    assert manager.get(f"/evidence/{copied.id}/download").status_code == 200
    reporter = app.test_client()
    log_in(reporter, channel.emails["foreign_owner"])
    assert reporter.get(f"/evidence/{copied.id}/download").status_code == 404


def test_the_field_check_offers_the_regions_a_typed_part_may_mean(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    client = app.test_client()
    log_in(client, channel.emails["inspector"])
    offered = client.get("/referee/field-check/regions", query_string={"region": " 南山 "}).get_data(as_text=True)
    assert '<option value="广东省深圳市南山区">440305</option>' in offered
    assert '<option value="黑龙江省鹤岗市南山区">230404</option>' in offered
    by_code = client.get("/referee/field-check/regions", query_string={"region": "4403"}).get_data(as_text=True)
    assert by_code.count("<option") == 8 and "广东省深圳市</option>" not in by_code and ">440300<" in by_code
    for nothing in ("", "Atlantis", "<script>", "x" * 500):
        answer = client.get("/referee/field-check/regions", query_string={"region": nothing})
        assert answer.status_code == 200 and "<option" not in answer.get_data(as_text=True)
    assert read_region("广东省深圳市南山区") == "440305"  # what a picked option writes reads back as the region
