"""Which dealers a user may see, and the periods in the company's time zone.

Object scope is decided here and only here: views ask for a dealer through get_visible_dealer, which answers 404
for a dealer outside the user's scope, exactly as for one that does not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, String, bindparam, case, false, func, or_, select, update
from sqlalchemy.orm import joinedload, lazyload, load_only

from portal.access import AccessRole, Viewer, require_role
from portal.accounts.models import DealerRole, User, UserRole
from portal.audit.services import audit_change, snapshot
from portal.database import contains_pattern, rows_changed
from portal.dates import company_today, quarter_of
from portal.dealers.models import (
    SINCE_JOINING,
    Dealer,
    DealerEvent,
    DealerEventKind,
    DealerStatus,
    DealerTier,
    DealerTierChange,
    Period,
    PeriodStatus,
    Territory,
)
from portal.dealers.rules import NewSubmission, can_change_status, can_submit_new
from portal.extensions import db
from portal.inbox import InboxReader, reader_values
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.outbox import EventKind, emit
from portal.request_locale import gettext as _
from portal.request_memo import remembered
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import label
from portal.web import PAGE_LIMIT, PAGE_OFFSET, StatementPage, page_of_statement


def visible_dealers(user: Viewer) -> Select[Dealer]:
    """Admins and senior managers see every dealer, managers their portfolio, dealer users their own dealer."""
    query = select(Dealer).options(joinedload(Dealer.manager))
    role = user.access_role
    if role in (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER):
        return query
    if role is AccessRole.MANAGER:
        return query.where(Dealer.manager_id == user.id)
    if role in (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF):
        return query.where(Dealer.id == user.dealer_id)
    return query.where(false())  # mediators reach dealers only through the disputes they handle


def as_listed(*columns: Any) -> tuple[Any, ...]:
    """Loader options for a dealer a list row names: its code and name (and any columns given), never its territory,
    payee and contacts, which the model's joined loading would bring to every row. Use with
    `joinedload(Claim.dealer).options(*as_listed(...))`."""
    return load_only(Dealer.code, Dealer.name, *columns), lazyload(Dealer.territory)


def dealers_shown_to(user: User) -> frozenset[int] | None:
    """Whose writes can change this user's cached pages: their own dealer, a manager's portfolio, or (None) every
    dealer for those who read them all. Kept beside visible_dealers: the two must agree."""
    role = user.access_role
    if role in (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF):
        return frozenset({user.dealer_id}) if user.dealer_id is not None else frozenset()
    if role is AccessRole.MANAGER:  # read once per request: the page cache and the claim queue both ask
        return remembered(
            ("dealers_shown_to", user.id),
            lambda: frozenset(db.session.scalars(select(Dealer.id).where(Dealer.manager_id == user.id))),
        )
    return None


def get_visible_dealer(user: User, code: str) -> Dealer:
    dealer = db.session.execute(visible_dealers(user).where(Dealer.code == code)).unique().scalar_one_or_none()
    if dealer is None:
        raise NotFound()
    return dealer


TIER_ORDER = case({tier: rank for rank, tier in enumerate(DealerTier)}, value=Dealer.tier)
STATUS_ORDER = case({status: rank for rank, status in enumerate(DealerStatus)}, value=Dealer.status)
PORTFOLIO_SORTS = {
    "code": Dealer.code,
    "name": Dealer.name,
    "territory": Territory.name,
    "tier": TIER_ORDER,
    "status": STATUS_ORDER,
}


@dataclass(frozen=True)
class PortfolioFilter:
    text: str = ""
    tier: DealerTier | None = None
    status: DealerStatus | None = None
    territory_id: int | None = None
    sort: str = "code"
    descending: bool = False


def matching_code_or_name(query: Select, text: str) -> Select:
    """Dealers whose code or name contains the text (wildcards typed by the user are taken literally away)."""
    text = text.strip()
    if not text:
        return query
    pattern = contains_pattern(text)
    return query.where(or_(Dealer.code.ilike(pattern), Dealer.name.ilike(pattern)))


@dataclass(frozen=True)
class _PortfolioShape:
    page: Select[Dealer]
    count: Select[Any]


@functools.lru_cache(maxsize=256)
def _portfolio_of_shape(
    role: AccessRole, text: bool, tier: bool, status: bool, territory: bool, sort: str, descending: bool
) -> _PortfolioShape:
    """The portfolio's page and count statements of one shape (the role, which filters are set, the order), the
    user's and the filters' values left as parameters: built once and kept, as building them and computing
    SQLAlchemy's cache key for them cost more than running them."""
    query = visible_dealers(InboxReader(role)).join(Territory, Territory.id == Dealer.territory_id)
    if text:
        pattern = bindparam("portfolio_pattern", type_=String())
        query = query.where(or_(Dealer.code.ilike(pattern), Dealer.name.ilike(pattern)))
    if tier:
        query = query.where(Dealer.tier == bindparam("portfolio_tier", type_=Dealer.tier.type))
    if status:
        query = query.where(Dealer.status == bindparam("portfolio_status", type_=Dealer.status.type))
    if territory:
        query = query.where(Dealer.territory_id == bindparam("portfolio_territory"))
    column = PORTFOLIO_SORTS.get(sort, Dealer.code)
    ordered = query.order_by(column.desc() if descending else column.asc(), Dealer.code)
    return _PortfolioShape(
        ordered.limit(PAGE_LIMIT).offset(PAGE_OFFSET),
        select(func.count()).select_from(query.options(lazyload("*")).subquery()),
    )


def portfolio_page(user: User, wanted: PortfolioFilter) -> StatementPage:
    """The asked-for page of the user's visible dealers, filtered and sorted; `code` breaks ties so pages never
    overlap."""
    text = wanted.text.strip()
    shape = _portfolio_of_shape(
        user.access_role,
        bool(text),
        wanted.tier is not None,
        wanted.status is not None,
        wanted.territory_id is not None,
        wanted.sort,
        wanted.descending,
    )
    values = reader_values(user) | {
        "portfolio_pattern": contains_pattern(text),
        "portfolio_tier": wanted.tier,
        "portfolio_status": wanted.status,
        "portfolio_territory": wanted.territory_id,
    }
    return page_of_statement(shape.page, values, count=shape.count)


def dealer_owners(dealer: Dealer) -> list[User]:
    return owners_of_dealers([dealer.id])


def owners_of_dealers(dealer_ids: Iterable[int]) -> list[User]:
    """The active owners of these dealers, in one query however many dealers (a void may concern thousands)."""
    return list(
        db.session.execute(
            select(User).where(
                User.dealer_id.in_(sorted(set(dealer_ids))), User.dealer_role == DealerRole.OWNER, User.active
            )
        ).scalars()
    )


# Built once, like every statement a start page runs on each visit: building one costs more than running it.
# Built once (the dealer's home asks on every visit). Their dealer is not joined: it is the dealer asked about,
# already loaded, and the manager has none.
_USERS_LISTED = select(User).order_by(User.dealer_role, User.name).options(lazyload(User.dealer))
_PEOPLE = _USERS_LISTED.where(User.dealer_id == bindparam("dealer_id"))
_PEOPLE_AND_MANAGER = _USERS_LISTED.where(
    or_(User.dealer_id == bindparam("dealer_id"), User.id == bindparam("manager_id"))
)
_PERIOD_OF_DAY = select(Period).where(Period.starts_on <= bindparam("day"), Period.ends_on >= bindparam("day"))


def dealer_people(dealer: Dealer) -> list[User]:
    return list(db.session.execute(_PEOPLE, {"dealer_id": dealer.id}).scalars())


def dealer_contacts(dealer: Dealer) -> tuple[User | None, list[User]]:
    """The dealer's channel manager and its people, in one statement: the dealer's home shows both."""
    manager, people = None, []
    for user in db.session.execute(
        _PEOPLE_AND_MANAGER, {"dealer_id": dealer.id, "manager_id": dealer.manager_id}
    ).scalars():
        if user.dealer_id == dealer.id:
            people.append(user)
        else:
            manager = user
    return manager, people


def current_period(today: date | None = None) -> Period | None:
    """The period containing the company's today (or the day given)."""
    day = today or company_today()
    return remembered(
        ("current_period", day),  # a start page asks from five areas
        lambda: db.session.execute(_PERIOD_OF_DAY, {"day": day}).scalar_one_or_none(),
    )


def period_for_view(code: str | None, today: date | None = None) -> Period | None:
    """What a page about one period shows: the period asked for, else the current one, else the latest open one."""
    if code:
        return db.session.execute(select(Period).where(Period.code == code)).scalar_one_or_none()
    found = current_period(today)
    if found is not None:
        return found
    return db.session.execute(
        select(Period).where(Period.status == PeriodStatus.OPEN).order_by(Period.starts_on.desc()).limit(1)
    ).scalar_one_or_none()


def get_period_for_view(code: str | None, today: date | None = None) -> Period:
    """period_for_view for a page that needs one: NotFound (404) when there is none."""
    period = period_for_view(code, today)
    if period is None:
        raise NotFound()
    return period


def dealer_counts_by_status() -> dict[str, int]:
    rows = db.session.execute(select(Dealer.status, func.count()).group_by(Dealer.status)).all()
    return {status.value: count for status, count in rows}


# --- Administration of the directory -------------------------------------------------------------------------------

DEALER_PROFILE_FIELDS = (
    "name",
    "territory_id",
    "tier",
    "currency",
    "payee_name",
    "payee_bank",
    "payee_account",
)


@dataclass(frozen=True)
class DealerProfile:
    name: str
    territory_id: int
    tier: DealerTier
    currency: str
    payee_name: str = ""
    payee_bank: str = ""
    payee_account: str = ""


def active_managers() -> list[User]:
    return list(
        db.session.execute(select(User).where(User.role == UserRole.MANAGER, User.active).order_by(User.name)).scalars()
    )


_TERRITORIES_BY_NAME = select(Territory).order_by(Territory.name, Territory.id)


def territories_by_name() -> Select[Territory]:
    return _TERRITORIES_BY_NAME


def all_territories() -> list[Territory]:
    return list(db.session.execute(_TERRITORIES_BY_NAME).scalars())


def _valid_manager(manager_id: int | None) -> User | None:
    if manager_id is None:
        return None
    manager = db.session.get(User, manager_id)
    if manager is None or manager.role is not UserRole.MANAGER or not manager.active:
        raise InvalidInput("manager_id", _("Choose an active channel manager."))
    return manager


def _valid_territory(territory_id: int) -> Territory:
    territory = db.session.get(Territory, territory_id)
    if territory is None:
        raise InvalidInput("territory_id", _("Choose a territory."))
    return territory


def _record_dealer_event(
    dealer: Dealer,
    kind: DealerEventKind,
    actor: User,
    *,
    from_value: str | None = None,
    to_value: str | None = None,
    reason: str = "",
) -> None:
    emit(EventKind.DEALER_CHANGED, "dealer", dealer.id, dealer.id, change=kind.value, code=dealer.code)
    db.session.add(
        DealerEvent(
            dealer_id=dealer.id,
            kind=kind,
            from_value=from_value,
            to_value=to_value,
            reason=reason,
            actor_id=actor.id,
        )
    )


def create_dealer(
    actor: User, *, code: str, profile: DealerProfile, status: DealerStatus, manager_id: int | None
) -> Dealer:
    require_role(actor, AccessRole.ADMIN)
    code = code.strip().upper()
    if db.session.execute(select(Dealer.id).where(Dealer.code == code)).first():
        raise InvalidInput("code", _("A dealer with this code already exists."))
    if status not in (DealerStatus.ONBOARDING, DealerStatus.ACTIVE):
        raise InvalidInput("status", _("A new dealer starts as onboarding or active."))
    _valid_territory(profile.territory_id)
    _valid_manager(manager_id)
    dealer = Dealer(code=code, status=status, manager_id=manager_id, **vars(profile))
    db.session.add(dealer)
    db.session.flush()
    db.session.add(  # the tier history starts with the tier it joins with (portal/dealers/tiers.py)
        DealerTierChange(dealer_id=dealer.id, tier=dealer.tier, effective_from=SINCE_JOINING, changed_by_id=actor.id)
    )
    _record_dealer_event(dealer, DealerEventKind.CREATED, actor, to_value=status.value)
    audit_change(
        "dealer.created",
        actor=actor,
        subject=dealer,
        after=snapshot(dealer, ("code", "status", "manager_id", *DEALER_PROFILE_FIELDS)),
    )
    db.session.flush()
    return dealer


MoneyHolder = Callable[[int], bool]  # a dealer's id -> whether the area stores money of the dealer
_MONEY_HOLDERS: list[MoneyHolder] = []


def register_money_holder(holder: MoneyHolder) -> None:
    """Areas that store amounts in a dealer's currency (targets, sales, statements, budgets, claims, penalties)
    register here; amounts are minor units of that currency, so a dealer holding any of them keeps its currency."""
    if holder not in _MONEY_HOLDERS:
        _MONEY_HOLDERS.append(holder)


def currency_is_fixed(dealer: Dealer) -> bool:
    """Once money exists in the dealer's currency it cannot change: CN¥1,000,000.00 stored as 100,000,000 fen would
    read as ¥100,000,000 (yen have no minor unit) or US$1,000,000.00."""
    return any(holder(dealer.id) for holder in _MONEY_HOLDERS)


def update_dealer(actor: User, dealer: Dealer, profile: DealerProfile) -> None:
    """The profile; the tier is not part of it: it changes from a period on (portal/dealers/tiers.py)."""
    require_role(actor, AccessRole.ADMIN)
    _valid_territory(profile.territory_id)
    if profile.currency != dealer.currency and currency_is_fixed(dealer):
        raise InvalidInput(
            "currency",
            _(
                "The currency cannot change: this dealer already has targets, sales, budgets, claims or statements "
                "in %(currency)s.",
                currency=dealer.currency,
            ),
        )
    before = snapshot(dealer, DEALER_PROFILE_FIELDS)
    for field, value in vars(profile).items():
        if field != "tier":
            setattr(dealer, field, value)
    after = snapshot(dealer, DEALER_PROFILE_FIELDS)
    changed = sorted(key for key in after if before[key] != after[key])
    if not changed:
        return
    _record_dealer_event(dealer, DealerEventKind.PROFILE_UPDATED, actor, to_value=", ".join(changed))
    audit_change("dealer.updated", actor=actor, subject=dealer, before=before, after=after)
    db.session.flush()


CONTACT_FIELDS = ("name", "role", "phone", "email")


def set_dealer_contacts(actor: User, dealer: Dealer, contacts: list[dict[str, str]]) -> bool:
    """The dealer's contact people, replaced by the list given (each: name, role, phone, email); True when they
    changed. Recorded on the dealer's timeline and audited as a profile change."""
    require_role(actor, AccessRole.ADMIN)
    cleaned = [{field: str(contact.get(field, "")).strip()[:200] for field in CONTACT_FIELDS} for contact in contacts]
    if any(not contact["name"] for contact in cleaned):
        raise InvalidInput("contacts", _("Give each contact's name."))
    if cleaned == (dealer.contacts or []):
        return False
    before = list(dealer.contacts or [])
    dealer.contacts = cleaned
    _record_dealer_event(dealer, DealerEventKind.PROFILE_UPDATED, actor, to_value="contacts")
    audit_change(
        "dealer.updated", actor=actor, subject=dealer, before={"contacts": before}, after={"contacts": cleaned}
    )
    db.session.flush()
    return True


def can_change_dealer_status(user: User) -> bool:
    return user.access_role in (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)


def can_reassign_portfolios(user: User) -> bool:
    return user.access_role in (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)


def change_dealer_status(
    actor: User, dealer: Dealer, *, expected: DealerStatus, target: DealerStatus, reason: str
) -> None:
    """Move a dealer through its lifecycle. A conditional UPDATE makes two simultaneous decisions end with one."""
    require_role(actor, AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why the status changes; the dealer's timeline shows it."))
    if not can_change_status(expected, target):
        raise IllegalTransition(
            _(
                "A dealer cannot go from %(current)s to %(target)s.",
                current=label(expected),
                target=label(target),
            )
        )
    changed = rows_changed(
        db.session.execute(
            update(Dealer)
            .where(Dealer.id == dealer.id, Dealer.status == expected)
            .values(status=target)
            .execution_options(synchronize_session=False)
        )
    )
    if changed != 1:
        raise IllegalTransition(_("Someone else changed this dealer's status first. Reload the page and check."))
    db.session.expire(dealer, ["status"])
    _record_dealer_event(
        dealer, DealerEventKind.STATUS_CHANGED, actor, from_value=expected.value, to_value=target.value, reason=reason
    )
    audit_change(
        "dealer.status_changed",
        actor=actor,
        subject=dealer,
        before={"status": expected.value},
        after={"status": target.value},
        reason=reason,
    )
    told = {"dealer": dealer.name, "old": params.choice(expected), "new": params.choice(target), "reason": reason}
    notify(dealer_owners(dealer), "dealer_status_changed", told, link=link("dealers.dealer_home"))
    notify(
        [dealer.manager] if dealer.manager else [],
        "dealer_status_changed",
        told,
        link=link("dealers.dealer_detail", code=dealer.code),
    )
    db.session.flush()


def reassign_dealer(actor: User, dealer: Dealer, manager_id: int) -> None:
    require_role(actor, AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)
    new_manager = _valid_manager(manager_id)
    assert new_manager is not None
    if dealer.manager_id == new_manager.id:
        return
    old_manager = dealer.manager
    _record_dealer_event(
        dealer,
        DealerEventKind.MANAGER_CHANGED,
        actor,
        from_value=old_manager.name if old_manager else None,
        to_value=new_manager.name,
    )
    audit_change(
        "dealer.manager_changed",
        actor=actor,
        subject=dealer,
        before={"manager_id": dealer.manager_id},
        after={"manager_id": new_manager.id},
    )
    dealer.manager_id = new_manager.id
    notify(
        [new_manager],
        "portfolio_changed",
        {"dealer": dealer.name},
        link=link("dealers.dealer_detail", code=dealer.code),
    )
    db.session.flush()


def move_portfolio(actor: User, from_manager_id: int, to_manager_id: int) -> int:
    """Hand every dealer of one manager to another (a manager leaving, a territory reorganised)."""
    require_role(actor, AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)
    if from_manager_id == to_manager_id:
        raise InvalidInput("to_manager_id", _("Choose a different manager to receive the dealers."))
    _valid_manager(to_manager_id)
    dealers = db.session.execute(
        select(Dealer).where(Dealer.manager_id == from_manager_id).options(joinedload(Dealer.manager))
    ).scalars()
    moved = 0
    for dealer in dealers:
        reassign_dealer(actor, dealer, to_manager_id)
        moved += 1
    return moved


def portfolio_sizes() -> list[tuple[User, int]]:
    counts = select(Dealer.manager_id, func.count().label("dealers")).group_by(Dealer.manager_id).subquery()
    rows = db.session.execute(
        select(User, func.coalesce(counts.c.dealers, 0))
        .outerjoin(counts, counts.c.manager_id == User.id)
        .where(User.role == UserRole.MANAGER)
        .order_by(User.name)
    ).all()
    return [(manager, int(count)) for manager, count in rows]


def dealer_timeline(dealer: Dealer, limit: int = 50) -> list[DealerEvent]:
    return list(
        db.session.execute(
            select(DealerEvent)
            .where(DealerEvent.dealer_id == dealer.id)
            .order_by(DealerEvent.occurred_at.desc(), DealerEvent.id.desc())
            .limit(limit)
        ).scalars()
    )


def create_territory(actor: User, code: str, name: str) -> Territory:
    require_role(actor, AccessRole.ADMIN)
    code = code.strip().upper()
    if db.session.execute(select(Territory.id).where(Territory.code == code)).first():
        raise InvalidInput("code", _("A territory with this code already exists."))
    territory = Territory(code=code, name=name.strip())
    db.session.add(territory)
    db.session.flush()
    audit_change("territory.created", actor=actor, subject=territory, after=snapshot(territory, ("code", "name")))
    db.session.flush()
    return territory


def update_territory(actor: User, territory: Territory, code: str, name: str) -> None:
    require_role(actor, AccessRole.ADMIN)
    code = code.strip().upper()
    clash = db.session.execute(select(Territory.id).where(Territory.code == code, Territory.id != territory.id))
    if clash.first():
        raise InvalidInput("code", _("A territory with this code already exists."))
    before = snapshot(territory, ("code", "name"))
    territory.code, territory.name = code, name.strip()
    audit_change(
        "territory.updated", actor=actor, subject=territory, before=before, after=snapshot(territory, ("code", "name"))
    )
    db.session.flush()


def create_quarter(actor: User, year: int, quarter: int) -> Period:
    require_role(actor, AccessRole.ADMIN)
    code, start, end = quarter_of(date(year, (quarter - 1) * 3 + 1, 1))
    if db.session.execute(select(Period.id).where(Period.code == code)).first():
        raise InvalidInput("quarter", _("This quarter already exists."))
    period = Period(code=code, starts_on=start, ends_on=end, status=PeriodStatus.OPEN)
    db.session.add(period)
    db.session.flush()
    audit_change(
        "period.created", actor=actor, subject=period, after=snapshot(period, ("code", "starts_on", "ends_on"))
    )
    db.session.flush()
    return period


PeriodCloseStep = Callable[[User, Period], object]
_PERIOD_CLOSE_STEPS: list[PeriodCloseStep] = []


def register_period_close_step(step: PeriodCloseStep) -> None:
    """An area that owns money of a period finishes it when the period closes, in the same transaction (rebates
    make the period's statements final). Areas stand on dealers, so they plug in here rather than being called."""
    if step not in _PERIOD_CLOSE_STEPS:
        _PERIOD_CLOSE_STEPS.append(step)


def close_period_now(actor: User, period: Period, *, requested_by_id: int) -> None:
    """The close itself, once confirmed (portal/dealers/closing.py decides who and when): the period freezes and
    the areas finish its money; later changes to it become adjustments in an open period (docs/design.md). The
    conditional UPDATE lets one of two simultaneous confirmations through."""
    require_role(actor, AccessRole.ADMIN, AccessRole.SENIOR_MANAGER)
    changed = rows_changed(
        db.session.execute(
            update(Period)
            .where(
                Period.id == period.id,
                Period.status == PeriodStatus.OPEN,
                Period.close_requested_by_id == requested_by_id,
            )
            .values(status=PeriodStatus.CLOSED)
            .execution_options(synchronize_session=False)
        )
    )
    if changed != 1:
        raise IllegalTransition(_("This period is already closed."))
    db.session.expire(period)
    for step in _PERIOD_CLOSE_STEPS:
        step(actor, period)
    emit(EventKind.PERIOD_CLOSED, "period", period.id, period=period.code)
    audit_change(
        "period.closed",
        actor=actor,
        subject=period,
        before={"status": "open"},
        after={"status": "closed", "requested_by": requested_by_id},
    )
    db.session.flush()


def new_submission_refusal(dealer: Dealer, what: NewSubmission) -> str | None:
    """Why this dealer may not submit this kind of new thing now (None when it may): for the page that offers it,
    and for the service that refuses it (refuse_new_submission)."""
    if can_submit_new(dealer.status, what):
        return None
    if dealer.status is DealerStatus.SUSPENDED:
        return _(
            "Your dealer is suspended, so it cannot start new claims, pre-approval requests or enrolments until it is "
            "active again. You can still read everything, answer requests for information and appeal."
        )
    if dealer.status is DealerStatus.ONBOARDING:
        return _("Your dealer is still being set up: claims and pre-approval requests open once it is active.")
    return _("Your dealer no longer works with us, so it cannot start anything new.")


def refuse_new_submission(dealer: Dealer, what: NewSubmission) -> None:
    """Every service that starts something new for a dealer asks this first (one rule: dealers.rules)."""
    refusal = new_submission_refusal(dealer, what)
    if refusal is not None:
        raise IllegalTransition(refusal)


_PERIOD_BY_CODE = select(Period).where(Period.code == bindparam("code", type_=String()))


def get_period(code: str) -> Period:
    period = db.session.execute(_PERIOD_BY_CODE, {"code": code}).scalar_one_or_none()
    if period is None:
        raise NotFound()
    return period


def periods_newest_first() -> Select[Period]:
    return select(Period).order_by(Period.starts_on.desc())


_RECENT_PERIODS = periods_newest_first().limit(12)


def recent_periods() -> list[Period]:
    """The last twelve periods, newest first: what a period filter offers."""
    return list(db.session.execute(_RECENT_PERIODS).scalars())


# --- What the user administration asks of dealers (registered by the dealers plugin) ---------------------------------


def dealer_id_by_code(code: str) -> int | None:
    return db.session.execute(select(Dealer.id).where(Dealer.code == code)).scalar_one_or_none()


def refuse_if_manager_keeps_dealers(user: User, role: UserRole, active: bool) -> None:
    """A channel manager who still has dealers can be neither deactivated nor given another role: the dealers
    would have nobody to review their claims."""
    if user.role is not UserRole.MANAGER or (role is UserRole.MANAGER and active):
        return
    if db.session.execute(select(Dealer.id).where(Dealer.manager_id == user.id).limit(1)).first():
        raise InvalidInput(
            "role", _("This manager still has dealers. Move them to another manager first (Portfolios).")
        )
