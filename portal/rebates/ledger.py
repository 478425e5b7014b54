"""The dealer's account: every amount the manufacturer owes a dealer, or a dealer owes the manufacturer, as an
append-only entry (`LedgerEntry`). The balance is the sum of the entries; nothing is ever dropped.

- When a period closes, its statements' money is booked: the final rebate (+), each penalty (-), each adjustment
  (+ or -; an overturned penalty given back is a refund). The statement records the balance brought forward from
  earlier periods and the balance carried after its own entries. A negative balance stays on the account: the next
  rebates cover it before anything is paid.
- A payment is an entry too (-). What a statement's payment may transfer is its amount due: what the dealer has
  earned up to that period less what was paid, never more than the account's whole balance (so a later penalty
  still counts, and paying two periods never pays one twice).
- Reopening a period reverses what its close booked (new entries, `reverses_id`); closing it again books them
  anew. A sales campaign's reward is booked when the campaign is settled, in the open period of that day; it is not
  the close's to book, so a reopened period keeps it, and the statement's closing balance counts it.

Why no "balance carried" entries: the balance at any point is the sum of the entries before it, so a pair of
entries moving a balance from one period to the next would add nothing but a chance to disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, insert, select

from portal.accounts.models import User
from portal.dates import company_today
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.rebates.models import Adjustment, AdjustmentKind, LedgerEntry, LedgerKind, RebateStatement


@dataclass(frozen=True)
class Movement:
    """An entry as an account page lists it, with the running balance after it."""

    entry: LedgerEntry
    balance: int


@dataclass(frozen=True)
class Account:
    """A dealer's account over a stretch (a period, or a date range): opening balance, movements, closing."""

    dealer: Dealer
    opening: int
    movements: list[Movement]

    @property
    def closing(self) -> int:
        return self.movements[-1].balance if self.movements else self.opening

    @property
    def currency(self) -> str:
        return self.dealer.currency


def _entry(
    dealer_id: int,
    period: Period,
    kind: LedgerKind,
    amount: int,
    currency: str,
    source: str,
    note: str = "",
    actor: User | None = None,
    reverses: LedgerEntry | None = None,
) -> LedgerEntry:
    entry = LedgerEntry(
        dealer_id=dealer_id,
        period_id=period.id,
        kind=kind,
        amount=amount,
        currency=currency,
        booked_on=company_today(),
        source=source,
        note=note,
        created_by_id=actor.id if actor else None,
        reverses_id=reverses.id if reverses else None,
    )
    db.session.add(entry)
    return entry


def balances_before(dealer_ids: Sequence[int], period: Period) -> dict[int, int]:
    """Each dealer's balance from the entries of the periods before this one."""
    rows = db.session.execute(
        select(LedgerEntry.dealer_id, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(Period, Period.id == LedgerEntry.period_id)
        .where(LedgerEntry.dealer_id.in_(sorted(set(dealer_ids))), Period.starts_on < period.starts_on)
        .group_by(LedgerEntry.dealer_id)
    ).all()
    return {dealer_id: int(total) for dealer_id, total in rows}


def book_period(period: Period, penalties: Iterable[tuple[int, int, str, str]]) -> int:
    """Book the money of a closing period's statements (called as the statements become final). `penalties` are
    (dealer id, amount, description, source) of the period's penalties. Returns how many entries were booked."""
    statements = list(
        db.session.execute(select(RebateStatement).where(RebateStatement.period_id == period.id)).scalars()
    )
    by_dealer = {statement.dealer_id: statement for statement in statements}
    booked = 0
    for statement in statements:
        if statement.rebate:
            _entry(
                statement.dealer_id,
                period,
                LedgerKind.REBATE,
                statement.rebate,
                statement.currency,
                f"statement:{statement.id}",
            )
            booked += 1
    for dealer_id, amount, description, source in penalties:
        penalised = by_dealer.get(dealer_id)
        if penalised is not None and amount:
            _entry(dealer_id, period, LedgerKind.PENALTY, -amount, penalised.currency, source, description)
            booked += 1
    for adjustment in db.session.execute(
        select(Adjustment).where(Adjustment.booked_period_id == period.id).order_by(Adjustment.id)
    ).scalars():
        adjusted = by_dealer.get(adjustment.dealer_id)
        if adjusted is None:
            continue
        kind = LedgerKind.REFUND if adjustment.kind is AdjustmentKind.PENALTY_OVERTURNED else LedgerKind.ADJUSTMENT
        _entry(
            adjustment.dealer_id,
            period,
            kind,
            adjustment.amount,
            adjusted.currency,
            adjustment.source or f"adjustment:{adjustment.id}",
            adjustment.note,
        )
        booked += 1
    db.session.flush()
    opening = balances_before(list(by_dealer), period)
    rewarded = campaign_rewards_in(period, list(by_dealer))
    for statement in statements:
        statement.opening_balance = opening.get(statement.dealer_id, 0)
        statement.closing_balance = (
            statement.opening_balance + statement.net_payable + rewarded.get(statement.dealer_id, 0)
        )
    db.session.flush()
    return booked


def reverse_period(actor: User, period: Period, reason: str) -> int:
    """Take back every entry of the period not yet reversed (a reopened period): new entries, never edits."""
    reversed_ids = select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None))
    entries = list(
        db.session.execute(
            select(LedgerEntry)
            .where(
                LedgerEntry.period_id == period.id,
                LedgerEntry.kind.not_in((LedgerKind.REVERSAL, LedgerKind.CAMPAIGN)),
                LedgerEntry.id.not_in(reversed_ids),
            )
            .order_by(LedgerEntry.id)
        ).scalars()
    )
    for entry in entries:
        _entry(
            entry.dealer_id,
            period,
            LedgerKind.REVERSAL,
            -entry.amount,
            entry.currency,
            entry.source,
            reason,
            actor,
            reverses=entry,
        )
    db.session.flush()
    return len(entries)


def campaign_rewards_in(period: Period, dealer_ids: Sequence[int]) -> dict[int, int]:
    """Each dealer's campaign rewards booked in the period (they are on its account, not on its statement)."""
    rows = db.session.execute(
        select(LedgerEntry.dealer_id, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(
            LedgerEntry.period_id == period.id,
            LedgerEntry.kind == LedgerKind.CAMPAIGN,
            LedgerEntry.dealer_id.in_(sorted(set(dealer_ids))),
        )
        .group_by(LedgerEntry.dealer_id)
    ).all()
    return {dealer_id: int(total) for dealer_id, total in rows}


def book_campaign_rewards(
    actor: User, period: Period, rewards: Mapping[int, int], currency: str, source: str, note: str
) -> dict[int, int]:
    """A settled campaign's rewards, one entry per dealer, in the open period of the settlement day, written by one
    statement (a campaign may reward thousands of dealers); returns each dealer's entry id."""
    rows = [
        {
            "dealer_id": dealer_id,
            "period_id": period.id,
            "kind": LedgerKind.CAMPAIGN,
            "amount": amount,
            "currency": currency,
            "booked_on": company_today(),
            "source": source,
            "note": note,
            "created_by_id": actor.id,
        }
        for dealer_id, amount in sorted(rewards.items())
        if amount
    ]
    if not rows:
        return {}
    booked = db.session.execute(insert(LedgerEntry).returning(LedgerEntry.dealer_id, LedgerEntry.id), rows)
    return {dealer_id: entry_id for dealer_id, entry_id in booked.all()}


def balances(dealer_ids: Sequence[int]) -> dict[int, int]:
    """Each dealer's whole balance (0 without entries)."""
    wanted = sorted(set(dealer_ids))
    rows = db.session.execute(
        select(LedgerEntry.dealer_id, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.dealer_id.in_(wanted))
        .group_by(LedgerEntry.dealer_id)
    ).all()
    found = {dealer_id: int(total) for dealer_id, total in rows}
    return {dealer_id: found.get(dealer_id, 0) for dealer_id in wanted}


def amounts_due(period: Period, dealer_ids: Sequence[int] | None = None) -> dict[int, int]:
    """What paying each dealer's statement of this period may transfer: the balance of the entries of this period
    and earlier ones (payments of those included), never more than the whole balance, never below zero. Two
    grouped queries for any number of dealers."""
    through = (
        select(LedgerEntry.dealer_id, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(Period, Period.id == LedgerEntry.period_id)
        .where(Period.starts_on <= period.starts_on)
        .group_by(LedgerEntry.dealer_id)
    )
    whole = select(LedgerEntry.dealer_id, func.coalesce(func.sum(LedgerEntry.amount), 0)).group_by(
        LedgerEntry.dealer_id
    )
    if dealer_ids is not None:
        wanted = sorted(set(dealer_ids))
        through = through.where(LedgerEntry.dealer_id.in_(wanted))
        whole = whole.where(LedgerEntry.dealer_id.in_(wanted))
    up_to = {dealer_id: int(total) for dealer_id, total in db.session.execute(through).all()}
    overall = {dealer_id: int(total) for dealer_id, total in db.session.execute(whole).all()}
    return {dealer_id: max(0, min(total, overall.get(dealer_id, 0))) for dealer_id, total in up_to.items()}


def book_payment(actor: User | None, statement: RebateStatement, amount: int, reference: str) -> LedgerEntry:
    entry = _entry(
        statement.dealer_id,
        statement.period,
        LedgerKind.PAYMENT,
        -amount,
        statement.currency,
        f"payment:{statement.id}",
        reference,
        actor,
    )
    db.session.flush()
    return entry


def booked_for(source: str) -> int:
    """The net amount the account holds for a source (a violation's penalty less anything reversed)."""
    return int(
        db.session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.source == source)
        ).scalar_one()
    )


def _movements(query: Select, opening: int) -> list[Movement]:
    running = opening
    movements = []
    for entry in db.session.execute(query).scalars():
        running += entry.amount
        movements.append(Movement(entry, running))
    return movements


def period_account(dealer: Dealer, period: Period) -> Account:
    """The account around one period: the balance brought forward from earlier periods, this period's entries."""
    opening = balances_before([dealer.id], period).get(dealer.id, 0)
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.dealer_id == dealer.id, LedgerEntry.period_id == period.id)
        .order_by(LedgerEntry.booked_on, LedgerEntry.id)
    )
    return Account(dealer, opening, _movements(query, opening))


def dated_account(dealer: Dealer, first: date, last: date) -> Account:
    """The account over a date range, as a bank statement: what was booked before `first`, then each entry booked
    from `first` to `last`."""
    opening = int(
        db.session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.dealer_id == dealer.id, LedgerEntry.booked_on < first
            )
        ).scalar_one()
    )
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.dealer_id == dealer.id, LedgerEntry.booked_on >= first, LedgerEntry.booked_on <= last)
        .order_by(LedgerEntry.booked_on, LedgerEntry.id)
    )
    return Account(dealer, opening, _movements(query, opening))
