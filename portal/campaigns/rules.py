"""Sales campaigns (SPIFFs): the workflow table, what a dealer earns and how a budget shares out. Pure: no database.

The workflow (docs/design.md): draft -> live (launched: dealers see it from its first day) -> settlement_requested
(after its last day, by one person) -> settled (by a second person: the rewards are booked on the accounts);
settlement_requested -> live (sent back); draft and live -> cancelled. Whether a live campaign is still to come,
running or ended is read from its dates, never stored.

A dealer's result is the net of its counted sales lines (credit notes and reversals deducted). The reward is either
a rate per unit counted or a lump sum once a threshold (in units or in money) is reached, never more than the cap
per dealer. The rewards together never exceed the overall budget: when they would, each is scaled down in the same
proportion, rounded down to the minor unit, and what rounding left over goes one unit each to the largest
remainders, so the whole budget and no more is shared.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    SETTLEMENT_REQUESTED = "settlement_requested"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class CampaignPhase(enum.StrEnum):
    """Where a live campaign stands on a given day (read from its dates)."""

    UPCOMING = "upcoming"
    RUNNING = "running"
    ENDED = "ended"


class Measure(enum.StrEnum):
    UNITS = "units"
    AMOUNT = "amount"


class RewardKind(enum.StrEnum):
    PER_UNIT = "per_unit"  # a rate for each unit counted
    THRESHOLD = "threshold"  # a lump sum once the threshold is reached


S = CampaignStatus
TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    S.DRAFT: frozenset({S.LIVE, S.CANCELLED}),
    S.LIVE: frozenset({S.SETTLEMENT_REQUESTED, S.CANCELLED}),
    S.SETTLEMENT_REQUESTED: frozenset({S.SETTLED, S.LIVE}),
    S.SETTLED: frozenset(),
    S.CANCELLED: frozenset(),
}
VISIBLE_TO_DEALERS = frozenset({S.LIVE, S.SETTLEMENT_REQUESTED, S.SETTLED})

register_labels(
    {
        CampaignStatus.DRAFT: _l("Draft"),
        CampaignStatus.LIVE: _l("Launched"),
        CampaignStatus.SETTLEMENT_REQUESTED: _l("Settlement requested"),
        CampaignStatus.SETTLED: _l("Settled"),
        CampaignStatus.CANCELLED: _l("Cancelled"),
        CampaignPhase.UPCOMING: _l("Starts soon"),
        CampaignPhase.RUNNING: _l("Running"),
        CampaignPhase.ENDED: _l("Ended"),
        Measure.UNITS: _l("Units sold"),
        Measure.AMOUNT: _l("Amount sold"),
        RewardKind.PER_UNIT: _l("A reward for each unit"),
        RewardKind.THRESHOLD: _l("A lump sum at a threshold"),
    }
)


def can_move(current: CampaignStatus, target: CampaignStatus) -> bool:
    return target in TRANSITIONS[current]


# The guards pages ask (template globals, registered by the plugin): a page never compares a status itself.
def is_draft(status: CampaignStatus) -> bool:
    return status is S.DRAFT


def is_launched(status: CampaignStatus) -> bool:
    return status is S.LIVE


def awaits_settlement(status: CampaignStatus) -> bool:
    return status is S.SETTLEMENT_REQUESTED


def is_settled(status: CampaignStatus) -> bool:
    return status is S.SETTLED


def can_cancel(status: CampaignStatus) -> bool:
    return can_move(status, S.CANCELLED)


def phase_on(starts_on: date, ends_on: date, day: date) -> CampaignPhase:
    if day < starts_on:
        return CampaignPhase.UPCOMING
    if day > ends_on:
        return CampaignPhase.ENDED
    return CampaignPhase.RUNNING


@dataclass(frozen=True)
class Terms:
    """What a campaign pays, in the campaign's currency (minor units) and units."""

    measure: Measure
    reward_kind: RewardKind
    rate: int  # per unit (PER_UNIT) or the lump sum (THRESHOLD)
    threshold: int  # in units or minor units, by `measure` (THRESHOLD only)
    cap: int | None  # the most one dealer earns; None: no cap

    def measured(self, units: int, amount: int) -> int:
        return units if self.measure is Measure.UNITS else amount

    def reward(self, units: int, amount: int) -> int:
        """What a dealer's net result earns (a net return never earns, nor costs, anything)."""
        if self.reward_kind is RewardKind.PER_UNIT:
            earned = max(0, units) * self.rate
        else:
            earned = self.rate if self.measured(units, amount) >= self.threshold else 0
        return earned if self.cap is None else min(earned, self.cap)


@dataclass(frozen=True)
class NextReward:
    """What the dealer's next reward needs, as the dealer's home says it."""

    needed: int  # units or minor units still to sell (0: nothing more is needed, or nothing more can be earned)
    earns: int  # what selling them earns
    capped: bool  # the cap is reached: selling more earns nothing more


def next_reward(terms: Terms, units: int, amount: int) -> NextReward:
    earned = terms.reward(units, amount)
    if terms.cap is not None and earned >= terms.cap:
        return NextReward(0, 0, capped=True)
    if terms.reward_kind is RewardKind.PER_UNIT:
        more = terms.rate if terms.cap is None else min(terms.rate, terms.cap - earned)
        return NextReward(1 - units if units < 0 else 1, more, capped=False)
    if earned:
        return NextReward(0, 0, capped=True)
    lump = terms.rate if terms.cap is None else min(terms.rate, terms.cap)
    return NextReward(terms.threshold - terms.measured(units, amount), lump, capped=False)


def share_budget(rewards: Mapping[int, int], budget: int) -> dict[int, int]:
    """Each dealer's reward within the overall budget: unchanged when they fit, else scaled down together
    (largest remainders, then the smaller dealer id, take what rounding left). The sum never exceeds `budget`."""
    wanted = {dealer_id: reward for dealer_id, reward in rewards.items() if reward > 0}
    total = sum(wanted.values())
    if total <= budget:
        return wanted
    shares = {dealer_id: reward * budget // total for dealer_id, reward in wanted.items()}
    left = budget - sum(shares.values())
    by_remainder = sorted(wanted, key=lambda dealer_id: (-(wanted[dealer_id] * budget % total), dealer_id))
    for dealer_id in by_remainder[:left]:
        shares[dealer_id] += 1
    return {dealer_id: share for dealer_id, share in shares.items() if share > 0}


def terms_problems(
    starts_on: date, ends_on: date, terms: Terms, budget: int, skus: list[str], product_lines: list[str]
) -> list[str]:
    """Every reason the campaign cannot be launched as it is, at once (empty: it can)."""
    problems = []
    if ends_on < starts_on:
        problems.append(str(_l("The campaign ends before it starts.")))
    if not skus and not product_lines:
        problems.append(str(_l("Name the products that count: SKUs or product lines.")))
    if terms.rate <= 0:
        problems.append(str(_l("The reward must be more than zero.")))
    if terms.reward_kind is RewardKind.PER_UNIT and terms.measure is not Measure.UNITS:
        problems.append(str(_l("A reward for each unit counts units sold.")))
    if terms.reward_kind is RewardKind.THRESHOLD and terms.threshold <= 0:
        problems.append(str(_l("A lump sum needs a threshold above zero.")))
    if terms.cap is not None and terms.cap <= 0:
        problems.append(str(_l("The cap per dealer must be more than zero, or left empty.")))
    if budget <= 0:
        problems.append(str(_l("The overall budget must be more than zero.")))
    return problems
