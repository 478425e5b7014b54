"""Running a sales campaign: a draft kept by an admin or a senior manager, launched, counted from the imported sales,
and settled by a second person, which books each dealer's reward on its account.

Counting reads the sales lines as they are (credit notes and reversals are lines too, negative), so a return
within the campaign's dates takes back what the sale counted. Settlement counts once more, shares the budget
(`rules.share_budget`), keeps each dealer's figures and books them; a status move checked against the status read
(`move_checked`) makes two people settling at once book once, and the database refuses a settled total above the
budget whatever happens above it.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Date, Select, bindparam, func, insert, or_, select
from sqlalchemy.orm import lazyload

from portal.access import AccessRole
from portal.accounts.models import User
from portal.audit.services import record_event
from portal.campaigns.models import Campaign, CampaignResult
from portal.campaigns.rules import (
    VISIBLE_TO_DEALERS,
    CampaignPhase,
    CampaignStatus,
    NextReward,
    can_move,
    next_reward,
    phase_on,
    share_budget,
    terms_problems,
)
from portal.database import read
from portal.dates import company_today
from portal.dealers.audiences import AudienceKind, includes, members_condition, unknown_codes
from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.dealers.services import current_period, owners_of_dealers, visible_dealers
from portal.extensions import db
from portal.jobs import run_after_commit
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.rebates import ledger
from portal.rebates.models import SalesLine
from portal.request_locale import gettext as _
from portal.request_memo import remembered
from portal.service_errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from portal.types import label, utcnow
from portal.workflow import move_checked

RUNNERS = (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)  # draft, launch, request and confirm settlement
READERS = (*RUNNERS, AccessRole.MANAGER)  # see every campaign, and the results of the dealers they see
DEALER_ROLES = (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)
CountedT = TypeVar("CountedT", bound=Select)
ENDING_SOON_DAYS = 7  # a running campaign this close to its end is on the dealer's inbox
TELL_DEALERS = "tell_campaign_dealers"  # the task (tasks.py) that notifies the owners

EDITABLE_FIELDS = (
    "name_en",
    "name_zh",
    "description",
    "audience_kind",
    "audience",
    "starts_on",
    "ends_on",
    "skus",
    "product_lines",
    "currency",
    "measure",
    "reward_kind",
    "rate",
    "threshold",
    "cap",
    "budget",
)


@dataclass(frozen=True)
class Progress:
    """A dealer's net counted sales in a campaign."""

    units: int = 0
    amount: int = 0
    line_count: int = 0


@dataclass(frozen=True)
class ResultRow:
    """A dealer's line of the campaign's results: its figures, what the terms give, what it gets (or got)."""

    dealer: Dealer
    progress: Progress
    earned: int
    reward: int


@dataclass(frozen=True)
class DealerCampaign:
    """A campaign as a dealer's home shows it: where the dealer stands and what the next reward needs."""

    campaign: Campaign
    phase: CampaignPhase
    progress: Progress
    earned: int
    next: NextReward
    days_left: int


# --- Who sees what ----------------------------------------------------------------------------------------------------


def concerned_dealers(campaign: Campaign) -> Select[Any]:
    """The dealers the campaign is for: its audience, in its currency."""
    return select(Dealer).where(
        members_condition(campaign.audience_kind, campaign.audience), Dealer.currency == campaign.currency
    )


def visible_campaigns(user: User) -> Select[Any]:
    """Runners and managers see every campaign; a dealer's people see the launched ones addressed to their dealer."""
    query = select(Campaign)
    role = user.access_role
    if role in READERS:
        return query
    if role in DEALER_ROLES and user.dealer is not None:
        dealer = user.dealer
        concerned = [
            campaign.id
            for campaign in db.session.execute(query.where(Campaign.status.in_(VISIBLE_TO_DEALERS))).scalars()
            if _concerns(campaign, dealer)
        ]
        return query.where(Campaign.id.in_(concerned))
    return query.where(Campaign.id.is_(None))


def _concerns(campaign: Campaign, dealer: Dealer) -> bool:
    return dealer.currency == campaign.currency and includes(campaign.audience_kind, campaign.audience, dealer)


def get_visible_campaign(user: User, campaign_id: int) -> Campaign:
    found = db.session.execute(visible_campaigns(user).where(Campaign.id == campaign_id)).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def _require_runner(actor: User) -> None:
    if actor.access_role not in RUNNERS:
        raise Forbidden()


# --- Counting ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CountedShape:
    """Which product conditions a counting statement has, and the request's values for its parameters."""

    by_sku: bool
    by_line: bool
    values: dict[str, Any]


def _counted_shape(campaigns: Sequence[Campaign]) -> _CountedShape:
    """The days and products any of the campaigns count, as values for `_counted`'s parameters."""
    skus = sorted({sku for campaign in campaigns for sku in campaign.skus})
    product_lines = sorted({line for campaign in campaigns for line in campaign.product_lines})
    values: dict[str, Any] = {
        "counted_first": min(campaign.starts_on for campaign in campaigns),
        "counted_last": max(campaign.ends_on for campaign in campaigns),
    }
    if skus:
        values["counted_skus"] = skus
    if product_lines:
        values["counted_lines"] = product_lines
    return _CountedShape(bool(skus), bool(product_lines), values)


def _counted(query: CountedT, shape: _CountedShape) -> CountedT:
    """Restrict a query of sales lines to the days and products of `shape`, its values left as parameters so that
    a statement built from it can be kept (the dealer's home counts on every visit)."""
    first = bindparam("counted_first", type_=Date())
    last = bindparam("counted_last", type_=Date())
    periods = select(Period.id).where(Period.starts_on <= last, Period.ends_on >= first)
    products = []
    if shape.by_sku:
        products.append(SalesLine.sku.in_(bindparam("counted_skus", expanding=True)))
    if shape.by_line:
        products.append(SalesLine.product_line.in_(bindparam("counted_lines", expanding=True)))
    return query.where(
        SalesLine.period_id.in_(periods),  # the index's first column: only the quarters the dates touch are read
        SalesLine.sold_on >= first,
        SalesLine.sold_on <= last,
        or_(*products),
    )


def progress_by_dealer(campaign: Campaign, dealer_ids: Sequence[int] | None = None) -> dict[int, Progress]:
    """Each concerned dealer's net counted sales (one grouped query, whatever the number of dealers)."""
    if not campaign.skus and not campaign.product_lines:
        return {}
    audience = concerned_dealers(campaign).with_only_columns(Dealer.id)
    if dealer_ids is not None:
        audience = audience.where(Dealer.id.in_(sorted(set(dealer_ids))))
    shape = _counted_shape([campaign])
    query = _counted(
        select(
            SalesLine.dealer_id,
            func.coalesce(func.sum(SalesLine.units), 0),
            func.coalesce(func.sum(SalesLine.amount), 0),
            func.count(),
        ).where(SalesLine.dealer_id.in_(audience)),
        shape,
    ).group_by(SalesLine.dealer_id)
    return {
        dealer_id: Progress(int(units), int(amount), int(count))
        for dealer_id, units, amount, count in db.session.execute(query, shape.values).all()
    }


@functools.lru_cache(maxsize=4)
def _dealer_progress_statement(by_sku: bool, by_line: bool) -> Select[str | None, str, date, int, int, int]:
    """One dealer's counted lines grouped by product and day, built once per shape: the dealer's home runs it on
    every visit, and building it afresh (and SQLAlchemy's cache key of it) cost about as much as running it."""
    return _counted(
        select(
            SalesLine.sku,
            SalesLine.product_line,
            SalesLine.sold_on,
            func.coalesce(func.sum(SalesLine.units), 0),
            func.coalesce(func.sum(SalesLine.amount), 0),
            func.count(),
        ).where(SalesLine.dealer_id == bindparam("dealer_id")),
        _CountedShape(by_sku, by_line, {}),
    ).group_by(SalesLine.sku, SalesLine.product_line, SalesLine.sold_on)


def _progress_of_dealer(dealer: Dealer, campaigns: Sequence[Campaign]) -> dict[int, Progress]:
    """One dealer's progress in several campaigns at once: its counted lines grouped by product and day (one
    query), then summed per campaign here."""
    counting = [campaign for campaign in campaigns if campaign.skus or campaign.product_lines]
    if not counting:
        return {}
    shape = _counted_shape(counting)
    groups = read(
        _dealer_progress_statement(shape.by_sku, shape.by_line), shape.values | {"dealer_id": dealer.id}
    ).all()
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for sku, product_line, sold_on, units, amount, count in groups:
        for campaign in counting:
            if campaign.starts_on <= sold_on <= campaign.ends_on and (
                sku in campaign.skus or product_line in campaign.product_lines
            ):
                total = totals[campaign.id]
                total[0] += int(units)
                total[1] += int(amount)
                total[2] += int(count)
    return {campaign_id: Progress(*total) for campaign_id, total in totals.items()}


def results(viewer: User, campaign: Campaign) -> list[ResultRow]:
    """The campaign's results for the dealers the viewer sees: as booked once settled, else as counted now (with
    the budget's share applied over every concerned dealer, so a manager sees what settling would book)."""
    seen = visible_dealers(viewer).with_only_columns(Dealer.id)
    if campaign.status is CampaignStatus.SETTLED:
        settled = db.session.execute(
            select(CampaignResult)
            .where(CampaignResult.campaign_id == campaign.id, CampaignResult.dealer_id.in_(seen))
            .order_by(CampaignResult.reward.desc(), CampaignResult.dealer_id)
        ).scalars()
        return [
            ResultRow(
                result.dealer, Progress(result.units, result.amount, result.line_count), result.earned, result.reward
            )
            for result in settled
        ]
    counted = progress_by_dealer(campaign)
    terms = campaign.terms
    earned = {dealer_id: terms.reward(found.units, found.amount) for dealer_id, found in counted.items()}
    shared = share_budget(earned, campaign.budget)
    dealers = db.session.execute(
        concerned_dealers(campaign).where(Dealer.id.in_(seen), Dealer.id.in_(sorted(counted)))
    ).scalars()
    rows = [ResultRow(dealer, counted[dealer.id], earned[dealer.id], shared.get(dealer.id, 0)) for dealer in dealers]
    return sorted(rows, key=lambda row: (-row.reward, -row.earned, row.dealer.code))


def _progress_of(result: CampaignResult) -> Progress:
    return Progress(result.units, result.amount, result.line_count)


def pending_total(campaign: Campaign) -> tuple[int, int]:
    """(What the terms give every concerned dealer now, what settling would book within the budget)."""
    counted = progress_by_dealer(campaign)
    terms = campaign.terms
    earned = {dealer_id: terms.reward(found.units, found.amount) for dealer_id, found in counted.items()}
    return sum(earned.values()), sum(share_budget(earned, campaign.budget).values())


def dealer_campaigns(dealer: Dealer, today: date | None = None) -> list[DealerCampaign]:
    """The launched campaigns a dealer is in that have not ended yet (and those ended but not settled), each with
    the dealer's progress and what the next reward needs. Counted once per request: the home's section and its
    inbox line both ask."""
    day = today or company_today()
    return list(remembered(("dealer_campaigns", dealer.id, day), lambda: _dealer_campaigns(dealer, day)))


_LAUNCHED = (
    select(Campaign)
    .where(Campaign.status.in_((CampaignStatus.LIVE, CampaignStatus.SETTLEMENT_REQUESTED)))
    .order_by(Campaign.ends_on, Campaign.id)
    .options(lazyload("*"))  # not who asked for or booked the settlement (two users, each with a dealer, joined)
)  # built once: the dealer's home runs it on every visit


def _dealer_campaigns(dealer: Dealer, day: date) -> list[DealerCampaign]:
    launched = [campaign for campaign in db.session.execute(_LAUNCHED).scalars() if _concerns(campaign, dealer)]
    counted = _progress_of_dealer(dealer, [campaign for campaign in launched if campaign.starts_on <= day])
    shown = []
    for campaign in launched:
        found = counted.get(campaign.id, Progress())
        terms = campaign.terms
        shown.append(
            DealerCampaign(
                campaign,
                phase_on(campaign.starts_on, campaign.ends_on, day),
                found,
                terms.reward(found.units, found.amount),
                next_reward(terms, found.units, found.amount),
                (campaign.ends_on - day).days + 1,
            )
        )
    return shown


def dealer_settled(dealer: Dealer) -> list[tuple[Campaign, CampaignResult]]:
    """The dealer's settled campaigns with what each booked for it."""
    return [
        (campaign, result)
        for campaign, result in db.session.execute(
            select(Campaign, CampaignResult)
            .join(CampaignResult, CampaignResult.campaign_id == Campaign.id)
            .where(CampaignResult.dealer_id == dealer.id)
            .order_by(Campaign.ends_on.desc(), Campaign.id.desc())
        ).all()
    ]


# --- Changing ---------------------------------------------------------------------------------------------------------


def _check_audience(kind: AudienceKind, codes: Iterable[str]) -> None:
    unknown = unknown_codes(kind, codes)
    if kind is not AudienceKind.ALL and not list(codes):
        raise InvalidInput("audience_codes", _("Name at least one tier, territory or dealer, or address every dealer."))
    if unknown:
        raise InvalidInput("audience_codes", _("These codes name nothing: %(codes)s", codes=", ".join(unknown)))


def save_draft(actor: User, campaign: Campaign | None, values: dict[str, Any]) -> Campaign:
    """Create a draft, or change one (a launched campaign's terms are what dealers were promised: never changed)."""
    _require_runner(actor)
    if campaign is not None and campaign.status is not CampaignStatus.DRAFT:
        raise IllegalTransition(_("Only a draft campaign can be changed."))
    _check_audience(values["audience_kind"], values["audience"])
    if values["ends_on"] < values["starts_on"]:
        raise InvalidInput("ends_on", _("The campaign ends before it starts."))
    created = campaign is None
    if campaign is None:
        campaign = Campaign(created_by_id=actor.id)
        db.session.add(campaign)
    for field in EDITABLE_FIELDS:
        setattr(campaign, field, values[field])
    db.session.flush()
    record_event(
        "campaign.created" if created else "campaign.changed",
        actor_id=actor.id,
        subject_type="campaign",
        subject_id=campaign.id,
        subject_label=campaign.name_en or campaign.name_zh,
        details={field: _plain(values[field]) for field in EDITABLE_FIELDS},
    )
    return campaign


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value.value if hasattr(value, "value") else value


def _move(actor: User, campaign: Campaign, target: CampaignStatus, action: str, **values: Any) -> None:
    current = campaign.status
    move_checked(
        campaign,
        current,
        target,
        legal=can_move(current, target),
        illegal=_("A campaign that is %(now)s cannot become %(next)s.", now=label(current), next=label(target)),
        raced=_("Someone else changed this campaign at the same time; look at it again."),
        **values,
    )
    record_event(
        action,
        actor_id=actor.id,
        subject_type="campaign",
        subject_id=campaign.id,
        subject_label=campaign.name_en or campaign.name_zh,
        details={"from": current.value, "to": target.value},
    )


def launch(actor: User, campaign: Campaign) -> int:
    """Launch a draft: dealers see it, and its terms no longer change. Returns how many dealers it concerns."""
    _require_runner(actor)
    problems = terms_problems(
        campaign.starts_on, campaign.ends_on, campaign.terms, campaign.budget, campaign.skus, campaign.product_lines
    )
    if campaign.ends_on < company_today():
        problems.append(_("The campaign's last day has passed."))
    if problems:
        raise InvalidInput("", " ".join(problems))
    _check_audience(campaign.audience_kind, campaign.audience)
    _move(actor, campaign, CampaignStatus.LIVE, "campaign.launched", launched_at=utcnow())
    run_after_commit(TELL_DEALERS, campaign.id)  # thousands of owners: told by the worker, not in this request
    return int(
        db.session.execute(concerned_dealers(campaign).with_only_columns(func.count()).order_by(None)).scalar_one()
    )


def cancel(actor: User, campaign: Campaign) -> None:
    _require_runner(actor)
    _move(actor, campaign, CampaignStatus.CANCELLED, "campaign.cancelled")


def request_settlement(actor: User, campaign: Campaign) -> None:
    """After the last day: one person asks for the settlement, a second one confirms it."""
    _require_runner(actor)
    if campaign.status is CampaignStatus.LIVE and company_today() <= campaign.ends_on:
        raise IllegalTransition(_("A campaign is settled after its last day."))
    _move(
        actor,
        campaign,
        CampaignStatus.SETTLEMENT_REQUESTED,
        "campaign.settlement_requested",
        settlement_requested_by_id=actor.id,
        settlement_requested_at=utcnow(),
    )


def send_back(actor: User, campaign: Campaign) -> None:
    """The second person does not confirm: the campaign is launched again, unsettled."""
    _require_runner(actor)
    _move(
        actor,
        campaign,
        CampaignStatus.LIVE,
        "campaign.sent_back",
        settlement_requested_by_id=None,
        settlement_requested_at=None,
    )


def settle(actor: User, campaign: Campaign) -> int:
    """Count, share the budget, keep each dealer's figures and book the rewards, in the open period of today.
    Returns the total booked."""
    _require_runner(actor)
    if campaign.settlement_requested_by_id == actor.id:
        raise IllegalTransition(_("The settlement is confirmed by someone other than the person who asked for it."))
    today = company_today()
    # Today's period: it cannot be closed while today is in it (a close waits for the period's end and its grace
    # days), so the rewards never land in a period whose statements are frozen.
    period = current_period(today)
    if period is None or period.status is not PeriodStatus.OPEN:
        raise IllegalTransition(_("No period is open today to book the rewards in."))
    counted = progress_by_dealer(campaign)
    terms = campaign.terms
    earned = {dealer_id: terms.reward(found.units, found.amount) for dealer_id, found in counted.items()}
    shared = share_budget(earned, campaign.budget)
    total = sum(shared.values())
    # The one status write: of two people confirming at once, the second changes nothing and books nothing.
    _move(
        actor,
        campaign,
        CampaignStatus.SETTLED,
        "campaign.settled",
        settled_by_id=actor.id,
        settled_at=utcnow(),
        settled_total=total,
        settled_period_id=period.id,
    )
    entries = ledger.book_campaign_rewards(
        actor, period, shared, campaign.currency, campaign.source, campaign.name_en or campaign.name_zh
    )
    if counted:  # one statement for all the dealers' figures (a campaign may concern ten thousand)
        db.session.execute(
            insert(CampaignResult),
            [
                {
                    "campaign_id": campaign.id,
                    "dealer_id": dealer_id,
                    "units": found.units,
                    "amount": found.amount,
                    "line_count": found.line_count,
                    "earned": earned[dealer_id],
                    "reward": shared.get(dealer_id, 0),
                    "ledger_entry_id": entries.get(dealer_id),
                }
                for dealer_id, found in sorted(counted.items())
            ],
        )
    run_after_commit(TELL_DEALERS, campaign.id)
    return total


def tell_dealers(campaign_id: int) -> int:
    """The owners hear of a campaign launched for their dealer, or of its reward booked on their account once it
    is settled (the worker runs it after the change committed). Returns how many were told."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    name = campaign.name_en or campaign.name_zh
    if campaign.status is CampaignStatus.SETTLED:
        rewarded = select(CampaignResult.dealer_id).where(
            CampaignResult.campaign_id == campaign.id, CampaignResult.reward > 0
        )
        return notify(
            owners_of_dealers(db.session.execute(rewarded).scalars()),
            "campaign_settled",
            {"name": name},
            link=link("campaigns.dealer_campaigns"),
        )
    if campaign.status is CampaignStatus.LIVE:
        concerned = db.session.execute(concerned_dealers(campaign).with_only_columns(Dealer.id)).scalars()
        return notify(
            owners_of_dealers(concerned),
            "campaign_launched",
            {"name": name, "ends_on": params.day(campaign.ends_on)},
            link=link("campaigns.dealer_campaigns"),
        )
    return 0


# --- Inbox counts -----------------------------------------------------------------------------------------------------
