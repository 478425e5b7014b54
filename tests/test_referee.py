"""The referee's services: price lists drafted, filled from files people really send and published to the dealers
(who acknowledge them); territories' regions; suspicions dismissed or made violations that enter the violations'
own flow; two managers deciding one suspicion at once."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask import Flask
from openpyxl import Workbook
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.dates import company_today
from portal.dealers.amounts import FileRefused
from portal.dealers.models import Acknowledgement, Dealer, Territory
from portal.disputes.models import Violation
from portal.disputes.rules import ViolationKind, ViolationStatus
from portal.extensions import db
from portal.notifications.models import Notification
from portal.referee import catalogue, detection, suspicions
from portal.referee.models import PriceList, PriceListItem, Product, Suspicion
from portal.referee.rules import PriceListStatus, SuspicionRule, SuspicionStatus
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from portal.types import utcnow
from tests.factories import Channel, RefereeRecords, dealer_of, make_price_list, make_world
from tests.helpers import BACKENDS, dispose_app, log_in, race_app
from tests.threads import acting_as, run_together


def _user(channel: Channel, role: str) -> User:
    return db.session.execute(select(User).where(User.email == channel.emails[role])).scalar_one()


def _workbook(*rows: tuple[object, ...]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- Price lists ------------------------------------------------------------------------------------------------------


def test_an_erp_item_master_in_chinese_fills_the_catalogue(app: Flask, channel: Channel) -> None:
    content = "物料编码,物料名称,英文名称,产品线,计量单位\nac-2000 ,空调 2000,Air conditioner 2000,空调,台\n合计,,,,\n"
    with app.app_context():
        imported = catalogue.import_products(_user(channel, "admin"), content.encode("gb18030"))
        product = db.session.execute(select(Product).where(Product.sku == "AC-2000")).scalar_one()
    assert (imported.created, imported.changed) == (1, 0)
    assert (product.name_zh, product.name_en, product.unit) == ("空调 2000", "Air conditioner 2000", "台")


def test_a_price_file_from_excel_with_territory_lines_is_read_and_its_errors_all_said(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        admin = _user(channel, "admin")
        draft = db.session.get(PriceList, referee_records.draft_list)
        assert draft is not None
        broken = _workbook(
            ("物料编码", "建议零售价", "最低限价", "区域"),
            ("AC-1200", 6200, 5200, ""),
            ("AC-1200", 6200, 6300, "NORTH"),  # a floor above the list price
            ("NOPE", 100, 90, ""),  # not in the catalogue
            ("AC-900", 4000, 3500, "MARS"),  # no such territory
        )
        with pytest.raises(FileRefused) as refused:
            catalogue.import_price_items(admin, draft, broken)
        assert [(error.line, error.column) for error in refused.value.errors] == [
            (3, "floor_price"),
            (4, "sku"),
            (5, "territory"),
        ]
        good = _workbook(
            ("物料编码", "建议零售价", "最低限价", "区域"),
            ("AC-1200", 6200, 5200.5, ""),
            ("AC-1200", 6200, 5000, "NORTH"),
        )
        assert catalogue.import_price_items(admin, draft, good) == 2
        items = db.session.execute(
            select(PriceListItem.sku, PriceListItem.territory_key, PriceListItem.floor_price)
            .where(PriceListItem.price_list_id == draft.id)
            .order_by(PriceListItem.territory_key)
        ).all()
        north = db.session.execute(select(Territory.id).where(Territory.code == "NORTH")).scalar_one()
    assert [tuple(item) for item in items] == [("AC-1200", 0, 520_050), ("AC-1200", north, 500_000)]


def test_a_price_list_never_takes_effect_in_the_past_and_a_published_one_never_changes(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        admin = _user(channel, "admin")
        with pytest.raises(InvalidInput):
            catalogue.create_price_list(admin, "Backdated", company_today() - timedelta(days=1))
        published = db.session.get(PriceList, referee_records.price_list)
        assert published is not None
        with pytest.raises(IllegalTransition):
            catalogue.import_price_items(admin, published, b"sku,list_price,floor_price\nAC-1200,1,1\n")
        with pytest.raises(IllegalTransition):
            catalogue.publish_price_list(admin, published)
        with pytest.raises(Forbidden):
            catalogue.create_price_list(_user(channel, "manager"), "Mine", company_today())


def test_publishing_tells_every_dealer_owner_who_then_acknowledges_once(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        draft = db.session.get(PriceList, referee_records.draft_list)
        assert draft is not None
        catalogue.publish_price_list(_user(channel, "admin"), draft)
        told = set(
            db.session.execute(
                select(User.email)
                .join(Notification, Notification.user_id == User.id)
                .where(Notification.kind == "price_list_published")
            ).scalars()
        )
        assert told == {channel.emails["dealer_owner"], channel.emails["foreign_owner"]}
        owner = _user(channel, "dealer_owner")
        own = dealer_of(channel.own_dealer)
        first = catalogue.acknowledge_price_list(owner, own, draft)
        again = catalogue.acknowledge_price_list(owner, own, draft)
        assert first.id == again.id
        assert (first.acknowledged_by_id, draft.status) == (owner.id, PriceListStatus.PUBLISHED)
        with pytest.raises(Forbidden):
            catalogue.acknowledge_price_list(_user(channel, "dealer_staff"), own, draft)
        with pytest.raises(NotFound):
            catalogue.acknowledge_price_list(owner, dealer_of(channel.foreign_dealer), draft)
        assert db.session.execute(select(func.count()).select_from(Acknowledgement)).scalar_one() == 1


def test_a_territory_takes_regions_written_as_people_write_them(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        east = db.session.execute(select(Territory).where(Territory.code == "EAST")).scalar_one()
        senior = _user(channel, "senior_manager")
        codes = catalogue.set_territory_regions(
            senior, east, "广东省，上海市、440300\n广东省 深圳市 南山区;110000 120000"
        )
        assert codes == ["440000", "310000", "440300", "440305", "110000", "120000"]
        with pytest.raises(InvalidInput) as refused:
            catalogue.set_territory_regions(senior, east, "440000, Atlantis, 朝阳区")
        assert "Atlantis" in refused.value.message and "朝阳区" in refused.value.message
        assert detection.territory_regions(east.id) == set(codes)


# --- Suspicions ------------------------------------------------------------------------------------------------------


def test_a_dismissal_needs_a_reason_and_is_final(app: Flask, channel: Channel, referee_records: RefereeRecords) -> None:
    with app.app_context():
        manager = _user(channel, "manager")
        suspicion = suspicions.get_visible_suspicion(manager, referee_records.suspicion)
        with pytest.raises(InvalidInput):
            suspicions.dismiss_suspicion(manager, suspicion, "   ")
        suspicions.dismiss_suspicion(manager, suspicion, "Clearance of an old model, agreed.")
        assert (suspicion.status, suspicion.decided_by_id) == (SuspicionStatus.DISMISSED, manager.id)
        with pytest.raises(IllegalTransition):
            suspicions.make_violation(manager, suspicion, "", 0)
        with pytest.raises(NotFound):
            suspicions.get_visible_suspicion(manager, referee_records.foreign_suspicion)
        with pytest.raises(NotFound):
            suspicions.get_visible_suspicion(_user(channel, "dealer_owner"), referee_records.suspicion)


def test_a_suspicion_made_a_violation_carries_its_evidence_into_the_violations_flow(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        manager = _user(channel, "manager")
        suspicion = suspicions.get_visible_suspicion(manager, referee_records.suspicion)
        violation = suspicions.make_violation(
            manager, suspicion, "Second time this quarter.", 100_000, "Warned by phone in October."
        )
        db.session.commit()
        assert violation.status is ViolationStatus.PROPOSED
        assert violation.kind is ViolationKind.PRICE_BELOW_FLOOR
        assert violation.source == f"suspicion:{suspicion.id}"
        assert suspicion.violation_id == violation.id
        # The evidence in the dealer's words: one line, 10% below, (5,000.00 - 4,500.00) x 2 at stake.
        assert "1 sales lines" in violation.description
        assert "10.00%" in violation.description
        assert "1,000.00" in violation.description
        assert violation.description.endswith("Second time this quarter.")


def test_the_queue_hides_small_suspicions_and_marks_repeat_offenders(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        senior = _user(channel, "senior_manager")
        app.config["REFEREE_MIN_STAKE"] = 100_001  # D001's stake is 100,000 (1,000.00): below it now
        try:
            shown = [found.id for found in db.session.execute(suspicions.queued(senior)).scalars()]
        finally:
            app.config["REFEREE_MIN_STAKE"] = 10_000
        assert shown == [referee_records.foreign_suspicion]
        own = dealer_of(channel.own_dealer)
        assert suspicions.offences([own.id]) == {}
        suspicion = db.session.get(Suspicion, referee_records.suspicion)
        assert suspicion is not None
        violation = suspicions.make_violation(senior, suspicion, "", 0)
        violation.status, violation.confirmed_on = ViolationStatus.CONFIRMED, company_today()
        db.session.flush()
        assert suspicions.offences([own.id]) == {own.id: 1}


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_two_managers_deciding_one_suspicion_at_once_decide_it_once(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """One dismisses while another makes it a violation: one wins; never a dismissed suspicion with a violation."""
    app = race_app(backend_name, tmp_path_factory)
    with app.app_context():
        world = make_world()
        db.session.commit()
    suspicion_id = world.referee.suspicion

    def dismiss(actor: User, suspicion: Suspicion) -> None:
        suspicions.dismiss_suspicion(actor, suspicion, "Agreed clearance.")

    def make(actor: User, suspicion: Suspicion) -> None:
        suspicions.make_violation(actor, suspicion, "", 50_000, "Warned before.")

    try:
        results = run_together(
            [
                acting_as(app, world.emails["manager"], Suspicion, suspicion_id, dismiss),
                acting_as(app, world.emails["senior_manager"], Suspicion, suspicion_id, make),
            ]
        )
        with app.app_context():
            suspicion = db.session.get(Suspicion, suspicion_id)
            assert suspicion is not None
            violations = db.session.execute(
                select(func.count()).where(Violation.source == f"suspicion:{suspicion_id}")
            ).scalar_one()
            status = suspicion.status
    finally:
        dispose_app(app)
    assert sorted(results) == ["done", "refused"]
    assert (status, violations) in {(SuspicionStatus.DISMISSED, 0), (SuspicionStatus.VIOLATION, 1)}


def test_the_schedule_proposes_the_penalty_and_a_different_one_needs_a_reason(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    """Below the floor: a warning first, then 5,000.00, then 20,000.00 from the third on; only offences confirmed
    in the last 12 months count, so an older one leaves the dealer's record clean."""
    with app.app_context():
        senior = _user(channel, "senior_manager")
        own = dealer_of(channel.own_dealer)
        today = company_today()
        assert suspicions.proposed_penalty(own.id, SuspicionRule.BELOW_FLOOR) == 0
        suspicion = db.session.get(Suspicion, referee_records.suspicion)
        assert suspicion is not None
        with pytest.raises(InvalidInput) as refused:
            suspicions.make_violation(senior, suspicion, "", 300_000)
        assert refused.value.field == "change_reason"
        first = suspicions.make_violation(senior, suspicion, "", 0)  # the schedule's warning: no reason needed
        first.status, first.confirmed_on = ViolationStatus.CONFIRMED, today - timedelta(days=30)
        db.session.flush()
        assert suspicions.proposed_penalty(own.id, SuspicionRule.BELOW_FLOOR) == 500_000
        assert suspicions.proposed_penalty(own.id, SuspicionRule.OUTSIDE_TERRITORY) == 0  # per rule
        first.confirmed_on = today.replace(year=today.year - 1) - timedelta(days=1)  # 12 months and a day ago
        db.session.flush()
        assert suspicions.proposed_penalty(own.id, SuspicionRule.BELOW_FLOOR) == 0
        first.confirmed_on = today.replace(year=today.year - 1) if (today.month, today.day) != (2, 29) else today
        db.session.flush()
        assert suspicions.proposed_penalty(own.id, SuspicionRule.BELOW_FLOOR) == 500_000  # the day itself counts


def test_owners_who_have_not_acknowledged_are_reminded_after_three_days_then_weekly(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        published = db.session.get(PriceList, referee_records.price_list)
        assert published is not None
        published.published_at = utcnow() - timedelta(days=2)
        db.session.flush()
        assert catalogue.remind_unacknowledged() == 0  # too soon
        now = utcnow() + timedelta(days=1, minutes=1)
        assert catalogue.remind_unacknowledged(now) == 3  # D001, D002, D003: every active dealer in CNY
        assert catalogue.remind_unacknowledged(now + timedelta(days=6)) == 0  # reminded this week already
        catalogue.acknowledge_price_list(_user(channel, "dealer_owner"), dealer_of(channel.own_dealer), published)
        assert catalogue.remind_unacknowledged(now + timedelta(days=7)) == 2  # the one who read it is left alone
        told = db.session.execute(
            select(User.email)
            .join(Notification, Notification.user_id == User.id)
            .where(Notification.kind == "price_list_reminder")
        ).scalars()
        # D002 has no owner account in the test channel: its dealer counts as reminded, no one is notified.
        assert sorted(told) == sorted(
            [channel.emails["dealer_owner"], channel.emails["foreign_owner"], channel.emails["foreign_owner"]]
        )


def test_a_list_replaced_by_a_newer_one_in_force_is_not_asked_for(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        today = company_today()
        older = make_price_list(50, today - timedelta(days=400), {"AC-1200": (1, 1)})
        upcoming = make_price_list(51, today + timedelta(days=30), {"AC-1200": (1, 1)})
        asked = {found.id for found in catalogue.lists_to_acknowledge(today)}
    assert asked == {referee_records.price_list, upcoming.id}
    assert older.id not in asked


def test_a_dealer_sees_its_record_the_schedule_and_what_its_suspicions_became(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        suspicion = db.session.get(Suspicion, referee_records.suspicion)
        assert suspicion is not None
        violation = suspicions.make_violation(_user(channel, "senior_manager"), suspicion, "Shop on Nanjing Road.", 0)
        db.session.commit()
        client = app.test_client()
        log_in(client, channel.emails["dealer_staff"])
        hidden = client.get("/referee/prices").get_data(as_text=True)
        assert "Shop on Nanjing Road." not in hidden and f"/dealer/violations/{violation.id}" not in hidden
        violation.status, violation.confirmed_on = ViolationStatus.CONFIRMED, company_today()
        db.session.commit()
        page = client.get("/referee/prices").get_data(as_text=True)
    assert f"/dealer/violations/{violation.id}" in page
    assert "CN¥5,000.00" in page  # the next offence below the floor, by the schedule
    assert "a warning → CN¥5,000.00 → CN¥20,000.00" in page


def test_the_violations_page_links_to_the_suspicion_it_was_made_from(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    with app.app_context():
        suspicion = db.session.get(Suspicion, referee_records.suspicion)
        assert suspicion is not None
        violation = suspicions.make_violation(_user(channel, "manager"), suspicion, "", 0)
        db.session.commit()
        violation_id, suspicion_id = violation.id, suspicion.id
    client = app.test_client()
    log_in(client, channel.emails["senior_manager"])
    page = client.get(f"/console/violations/{violation_id}").get_data(as_text=True)
    assert f'href="/referee/suspicions/{suspicion_id}"' in page


def test_the_inbox_asks_an_owner_to_read_the_list_in_force_and_a_manager_to_rule(
    app: Flask, channel: Channel, referee_records: RefereeRecords
) -> None:
    owner = app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    home = owner.get("/dealer/").get_data(as_text=True)
    assert "1 price list to read and acknowledge" in home and 'href="/referee/prices"' in home
    staff = app.test_client()
    log_in(staff, channel.emails["dealer_staff"])
    assert "price list to read" not in staff.get("/dealer/").get_data(as_text=True)  # only an owner acknowledges
    assert owner.post(f"/referee/prices/{referee_records.price_list}/acknowledge").status_code == 303
    assert "price list to read" not in owner.get("/dealer/").get_data(as_text=True)
    manager = app.test_client()
    log_in(manager, channel.emails["manager"])
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == channel.emails["manager"])).scalar_one()
        least = app.config["REFEREE_MIN_STAKE"]
        # Independently: the open suspicions of the manager's dealers worth a ruling.
        waiting = db.session.execute(
            select(func.count()).where(
                Suspicion.status == SuspicionStatus.OPEN,
                Suspicion.dealer_id.in_(select(Dealer.id).where(Dealer.manager_id == user.id)),
                (Suspicion.stake >= least) | (Suspicion.sighting_count > 0),
            )
        ).scalar_one()
    assert waiting >= 1
    console = manager.get("/console/").get_data(as_text=True)
    assert f"{waiting} suspicion" in console and 'href="/referee/suspicions"' in console
