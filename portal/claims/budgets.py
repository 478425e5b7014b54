"""Promotion budgets: an allocation per dealer and period, set one by one or from a CSV, and what is left of it
(allocation - approved - pending)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, case, exists, func, or_, select

from portal.access import AccessRole
from portal.accounts.models import User
from portal.claims.models import Claim, FundAllocation, FundRequest
from portal.claims.rules import (
    APPROVED,
    PENDING,
    available,
)
from portal.database import read
from portal.dealers.amounts import AmountKind, import_dealer_amounts, set_dealer_amount
from portal.dealers.models import Dealer, Period
from portal.extensions import db
from portal.request_locale import gettext as _
from portal.request_memo import remembered


@dataclass(frozen=True)
class Budget:
    allocation: int
    approved: int
    pending: int

    @property
    def left(self) -> int:
        return available(self.allocation, self.approved, self.pending)


def budget_of(dealer: Dealer, period: Period) -> Budget:
    """One query (once per request until the next write: the start page's tile and its inbox line both show it);
    approved counts the amount approved, pending what waiting claims hold (Claim.budget_held)."""
    return remembered(("budget_of", dealer.id, period.id), lambda: _budget_of(dealer, period))


_BUDGET = select(
    select(FundAllocation.amount)
    .where(FundAllocation.dealer_id == bindparam("dealer_id"), FundAllocation.period_id == bindparam("period_id"))
    .scalar_subquery(),
    func.coalesce(func.sum(case((Claim.status.in_(APPROVED), Claim.amount_approved), else_=0)), 0),
    func.coalesce(func.sum(case((Claim.status.in_(PENDING), Claim.budget_held), else_=0)), 0),
).where(
    Claim.dealer_id == bindparam("dealer_id"), Claim.period_id == bindparam("period_id")
)  # built once: the dealer's home and every claim form run it


def _budget_of(dealer: Dealer, period: Period) -> Budget:
    allocated, approved, pending = read(_BUDGET, {"dealer_id": dealer.id, "period_id": period.id}).one()
    return Budget(int(allocated or 0), int(approved), int(pending))


def _not_below_what_claims_hold(dealer: Dealer, period: Period, amount: int) -> str | None:
    """A budget is never cut below what approved and waiting claims hold; keeping it as it is, or raising it, is
    always possible (a budget overdrawn by a bug of the past can still be saved and raised)."""
    held = budget_of(dealer, period)
    if amount < held.approved + held.pending and amount < held.allocation:
        return _("Claims already hold more than this: approved and pending claims come to more.")
    return None


BUDGETS = AmountKind(
    model=FundAllocation,
    audit_action="fund_allocation.set",
    roles=(AccessRole.ADMIN,),
    columns={
        "dealer_code": "dealer_code",
        "dealer": "dealer_code",
        "经销商代码": "dealer_code",
        "经销商编码": "dealer_code",
        "客户编码": "dealer_code",
        "budget": "budget",
        "amount": "budget",
        "allocation": "budget",
        "预算": "budget",
    },
    amount_column="budget",
    zero_allowed=True,
    too_low=lambda: _("Enter an amount of zero or more."),
    frozen=lambda period: _("Period %(code)s is closed; its budgets are frozen.", code=period.code),
    rule=_not_below_what_claims_hold,
)


def set_allocation(actor: User, dealer: Dealer, period: Period, amount: int) -> FundAllocation:
    """Admins set a dealer's promotion budget for a period; it cannot drop below what is approved and pending."""
    allocation: FundAllocation = set_dealer_amount(BUDGETS, actor, dealer, period, amount)
    return allocation


def import_budgets(actor: User, period: Period, content: bytes) -> int:
    """Budgets of many dealers from a CSV (dealer_code, budget): all of them or, if any line is wrong, none."""
    return import_dealer_amounts(BUDGETS, actor, period, content).count


def holds_money(dealer_id: int) -> bool:
    """Whether any budget, claim or pre-approval request of the dealer exists (its currency is then fixed)."""
    found = db.session.execute(
        select(or_(*(exists().where(model.dealer_id == dealer_id) for model in (FundAllocation, Claim, FundRequest))))
    ).scalar_one()
    return bool(found)
