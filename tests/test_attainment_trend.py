"""The dealer's last eight quarters of attainment on its start page: read from its statements, oldest on the left,
newest first in the table; each figure computed here from the statement's sales and target, cut (not rounded) to
two decimals as every output of the portal shows attainment."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import select

from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.rebates.models import RebateStatement
from portal.rebates.queries import attainment_trend
from tests.factories import Channel
from tests.helpers import count_queries, logged_in_client


def _by_hand(sales: int, target: int) -> str:
    if target <= 0:
        return "No target"
    cut = (Decimal(sales) * 100 / Decimal(target)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    text = f"{cut:,.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


@pytest.mark.usefixtures("rebate_records")
def test_the_dealer_home_shows_the_last_quarters_attainment(app: Flask, channel: Channel) -> None:
    with app.app_context():
        rows = db.session.execute(
            select(Period.code, RebateStatement.sales, RebateStatement.target, RebateStatement.reached_tier)
            .join(Period, Period.id == RebateStatement.period_id)
            .join(Dealer, Dealer.id == RebateStatement.dealer_id)
            .where(Dealer.code == channel.own_dealer)
            .order_by(Period.starts_on.desc())
        ).all()
    newest_eight = rows[:8]
    page = logged_in_client(app, channel.emails["dealer_owner"]).get("/dealer/").get_data(as_text=True)
    if len(newest_eight) < 2:
        pytest.fail(f"the records give the dealer {len(newest_eight)} statement(s); the trend needs two")
    assert f"Attainment, the last {len(newest_eight)} quarters" in page
    table = page.split('id="trend-heading"', 1)[1].split("</table>", 1)[0]
    shown = [
        (code, unescape(value).strip(), reached.strip())
        for code, value, reached in re.findall(
            r'<th scope="row" data-label="Quarter">([^<]+)</th>\s*<td data-label="Attainment">([^<]+)</td>'
            r'\s*<td data-label="A tier reached">([^<]+)</td>',
            table,
        )
    ]
    expected = [
        (code, _by_hand(sales, target), "Yes" if reached is not None else "No")
        for code, sales, target, reached in newest_eight
    ]
    assert shown == expected


@pytest.mark.usefixtures("rebate_records")
def test_the_trend_costs_one_query_however_many_quarters(app: Flask, channel: Channel) -> None:
    """Eight statements or one, the trend is one query (the page's query counts are in test_query_counts)."""
    with app.app_context():
        dealer = db.session.execute(select(Dealer).where(Dealer.code == channel.own_dealer)).scalar_one()
        with count_queries(app) as queries:
            trend = attainment_trend(dealer)
    assert len(queries) == 1 and len(trend) >= 2
