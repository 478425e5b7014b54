"""A dealer's currency is fixed once money exists in it: amounts are minor units of that currency, so changing it
would re-read every stored amount (CN¥1,000,000.00 as ¥100,000,000)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.dealers.models import Dealer
from portal.disputes.models import Violation
from portal.disputes.rules import ViolationKind, ViolationStatus
from portal.extensions import db
from tests.factories import (
    Channel,
    make_activity_type,
    make_allocation,
    make_claim,
    make_dealer,
    make_sales,
    make_target,
    period,
    person,
)
from tests.helpers import logged_in_client


def edit_form(dealer: Dealer, **changes: str) -> dict[str, str]:
    return {
        "name": dealer.name,
        "territory_id": str(dealer.territory_id),
        "tier": dealer.tier.value,
        "currency": dealer.currency,
        "payee_name": "",
        "payee_bank": "",
        "payee_account": "",
        **changes,
    }


def currency_of(app: Flask, code: str) -> str:
    with app.app_context():
        return db.session.execute(sa.select(Dealer.currency).where(Dealer.code == code)).scalar_one()


def new_dealer(app: Flask) -> tuple[str, dict[str, str]]:
    with app.app_context():
        dealer = make_dealer()
        db.session.commit()
        return dealer.code, edit_form(dealer)


def test_a_dealer_without_money_may_change_currency(app: Flask, channel: Channel) -> None:
    code, form = new_dealer(app)
    admin = logged_in_client(app, channel.emails["admin"])
    page = admin.get(f"/admin/dealers/{code}/edit").get_data(as_text=True)
    assert "Fixed:" not in page
    assert admin.post(f"/admin/dealers/{code}/edit", data={**form, "currency": "USD"}).status_code == 303
    assert currency_of(app, code) == "USD"


def _target(dealer: Dealer, channel: Channel) -> None:
    make_target(dealer, period(channel.current_period), 1_000_000)


def _sale(dealer: Dealer, channel: Channel) -> None:
    make_sales(dealer, period(channel.current_period), [100_000])


def _budget(dealer: Dealer, channel: Channel) -> None:
    make_allocation(dealer, period(channel.current_period), 0)


def _claim(dealer: Dealer, channel: Channel) -> None:
    make_claim(dealer, period(channel.current_period), make_activity_type("KIND-C"), status="draft")


def _violation(dealer: Dealer, channel: Channel) -> None:
    db.session.add(
        Violation(
            dealer_id=dealer.id,
            period_id=period(channel.current_period).id,
            kind=ViolationKind.PRICE_BELOW_FLOOR,
            description="Sold below the floor price.",
            penalty=100_000,
            status=ViolationStatus.PROPOSED,
            recorded_by_id=person(channel.people.manager).id,
        )
    )


@pytest.mark.parametrize(
    "money", [_target, _sale, _budget, _claim, _violation], ids=["target", "sale", "budget", "claim", "violation"]
)
def test_any_money_fixes_the_currency(app: Flask, channel: Channel, money: Callable[[Dealer, Channel], None]) -> None:
    with app.app_context():
        dealer = make_dealer()
        money(dealer, channel)
        db.session.commit()
        code, form = dealer.code, edit_form(dealer)
    admin = logged_in_client(app, channel.emails["admin"])
    page = admin.get(f"/admin/dealers/{code}/edit").get_data(as_text=True)
    assert "Fixed: this dealer already has targets, sales, budgets, claims or statements in CNY." in page
    select = re.search(r'<select[^>]*id="currency"[^>]*>', page)
    assert select and " disabled" in select.group(0)
    refused = admin.post(f"/admin/dealers/{code}/edit", data={**form, "currency": "JPY"})
    assert refused.status_code == 422
    assert "The currency cannot change: this dealer already has" in refused.get_data(as_text=True)
    assert currency_of(app, code) == "CNY"
    # What a browser posts: a disabled select sends nothing, and the rest of the profile is saved.
    without_currency = {key: value for key, value in form.items() if key != "currency"}
    saved = admin.post(f"/admin/dealers/{code}/edit", data={**without_currency, "name": "Renamed Trading"})
    assert saved.status_code == 303
    assert currency_of(app, code) == "CNY"
    with app.app_context():
        assert db.session.execute(sa.select(Dealer.name).where(Dealer.code == code)).scalar_one() == "Renamed Trading"
