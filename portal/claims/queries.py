"""What the claim pages read: the review queue and its "next claim", a dealer's claim history, spend against budget,
the approval turnaround and the claims waiting for payment. Each page costs a fixed number of queries."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, Integer, Row, Select, and_, any_, bindparam, case, exists, func, select, tuple_
from sqlalchemy.orm import aliased, joinedload, lazyload

from portal.access import AccessRole, Viewer
from portal.accounts.models import User
from portal.claims.models import Claim, ClaimFlag, FundAllocation, FundRequest, FundRequestStatus
from portal.claims.reviewers import SECOND_APPROVERS
from portal.claims.rules import APPROVED, PENDING, ClaimStatus, Flag
from portal.claims.services import visible_claims
from portal.database import read
from portal.dealers.models import Dealer, Period
from portal.dealers.services import as_listed, dealers_shown_to, visible_dealers
from portal.extensions import db
from portal.inbox import CountsQuery, InboxReader, reader_values
from portal.web import PAGE_LIMIT, PAGE_OFFSET, StatementPage, page_of_statement

TO_DECIDE = "to_decide"
EVERY_STATUS = "all"


@dataclass(frozen=True)
class QueueFilter:
    status: str = TO_DECIDE  # TO_DECIDE, EVERY_STATUS or a ClaimStatus value
    dealer: str = ""  # dealer code
    period: str = ""  # period code
    flag: str = ""  # a Flag value, or "none" for unflagged claims

    def as_args(self) -> dict[str, str]:
        """The filter as query arguments, so the review page's "next claim" walks the same queue."""
        values = {"status": self.status, "dealer": self.dealer, "period": self.period, "flag": self.flag}
        return {name: value for name, value in values.items() if value and (name, value) != ("status", TO_DECIDE)}


def queue_filter(args: dict[str, str]) -> QueueFilter:
    status = args.get("status", TO_DECIDE)
    if status not in (TO_DECIDE, EVERY_STATUS) and status not in ClaimStatus._value2member_map_:
        status = TO_DECIDE
    flag = args.get("flag", "")
    if flag != "none" and flag not in Flag._value2member_map_:
        flag = ""
    return QueueFilter(
        status=status,
        dealer=args.get("dealer", "")[:32].strip().upper(),
        period=args.get("period", "")[:16].strip(),
        flag=flag,
    )


def statuses_to_decide(user: Viewer) -> tuple[ClaimStatus, ...]:
    """A manager decides submitted claims; senior managers and admins also give second approvals."""
    if user.access_role in SECOND_APPROVERS:
        return ClaimStatus.SUBMITTED, ClaimStatus.AWAITING_SECOND_APPROVAL
    return (ClaimStatus.SUBMITTED,)


def listed(query: Select[Claim], *, dealer_known: bool = False) -> Select[Claim]:
    """A page of claims as a list shows them: of the dealer only its code, name and currency (not its payee, contacts
    and territory, which the model's joined loading brings), and nothing of it at all when the list is one dealer's
    own (it is already loaded: the signed-in user's)."""
    if dealer_known:
        return query.options(lazyload(Claim.dealer))
    return query.options(joinedload(Claim.dealer).options(*as_listed(Dealer.currency)))


@dataclass(frozen=True)
class _QueueShape:
    """One shape's statements: the queue, a page of it as the list shows it, and its count."""

    queue: Select[Claim]
    page: Select[Claim]
    count: Select[Any]


@dataclass(frozen=True)
class QueueStatement:
    """The reviewer's queue as a statement built once for its shape, and the request's values for its parameters."""

    shape: _QueueShape
    values: dict[str, Any]


@functools.lru_cache(maxsize=256)
def _queue_of_shape(
    role: AccessRole, portfolio_listed: bool, status: str, dealer: bool, period: bool, flag: str
) -> _QueueShape:
    """The queue of one shape (the role, and which filters are set), its user and filter values left as parameters.

    Built once per shape and kept: SQLAlchemy caches a statement's SQL by a key it computes from the whole statement,
    and building this one and computing its key cost more than running it (1.1 ms on SQLite, on the scale data).
    """
    reader = InboxReader(role)
    query = visible_claims(reader)
    if portfolio_listed:
        # One array parameter, not one parameter per dealer: the statement's text stays the same for every manager
        # and portfolio size, so neither SQLAlchemy nor psycopg renders and parses ~200 placeholders per request.
        query = query.where(Claim.dealer_id == any_(bindparam("queue_portfolio", type_=ARRAY(Integer))))
    if status == TO_DECIDE:
        query = query.where(Claim.status.in_(statuses_to_decide(reader)))
    elif status != EVERY_STATUS:
        query = query.where(Claim.status == bindparam("queue_status", type_=Claim.status.type))
    if dealer:
        query = query.where(Claim.dealer_id.in_(select(Dealer.id).where(Dealer.code == bindparam("queue_dealer"))))
    if period:
        query = query.where(Claim.period_id.in_(select(Period.id).where(Period.code == bindparam("queue_period"))))
    if flag == "none":
        query = query.where(~Claim.id.in_(select(ClaimFlag.claim_id)))
    elif flag:
        flagged = select(ClaimFlag.claim_id).where(ClaimFlag.flag == bindparam("queue_flag", type_=ClaimFlag.flag.type))
        query = query.where(Claim.id.in_(flagged))
    queue = query.order_by(Claim.submitted_at, Claim.id)
    # The page's claims are picked first and only they are joined to their dealers, periods and activity types:
    # joined before the limit, every claim of the queue was (273 claims for 25 rows, 1.9 ms against 1.25 ms of
    # PostgreSQL execution at the scale data).
    picked = queue.with_only_columns(Claim.id, Claim.submitted_at).limit(PAGE_LIMIT).offset(PAGE_OFFSET).subquery()
    page = listed(select(Claim).join(picked, Claim.id == picked.c.id).order_by(picked.c.submitted_at, picked.c.id))
    return _QueueShape(queue, page, select(func.count()).select_from(query.options(lazyload("*")).subquery()))


def queue_statement(user: User, wanted: QueueFilter) -> QueueStatement:
    """The reviewer's claims, oldest submission first: the one waiting longest is at the top."""
    # On PostgreSQL a manager's portfolio is named again, as its dealers' ids: PostgreSQL then reads each dealer's
    # claims by index, instead of walking every claim of the channel in the queue's order to find the portfolio's
    # (6.3 ms, now 2.4 ms of SQL at the scale data; the page cache has read the ids already). SQLite plans the
    # subquery well, and binding the ids would cost it more than it saves; it has no arrays either.
    portfolio_listed = user.access_role is AccessRole.MANAGER and db.session.get_bind().dialect.name == "postgresql"
    shape = _queue_of_shape(
        user.access_role,
        portfolio_listed,
        wanted.status,
        bool(wanted.dealer),
        bool(wanted.period),
        "none" if wanted.flag == "none" else "one" if wanted.flag else "",
    )
    values = reader_values(user)
    if portfolio_listed:
        values["queue_portfolio"] = sorted(dealers_shown_to(user) or ())
    if wanted.status not in (TO_DECIDE, EVERY_STATUS):
        values["queue_status"] = ClaimStatus(wanted.status)
    if wanted.dealer:
        values["queue_dealer"] = wanted.dealer
    if wanted.period:
        values["queue_period"] = wanted.period
    if wanted.flag and wanted.flag != "none":
        values["queue_flag"] = Flag(wanted.flag)
    return QueueStatement(shape, values)


@functools.lru_cache(maxsize=32)
def _dealer_choices_of_role(role: AccessRole, up_to: int) -> Select[str, str]:
    return (
        visible_dealers(InboxReader(role))
        .with_only_columns(Dealer.code, Dealer.name)
        .order_by(Dealer.code)
        .limit(up_to)
    )


def dealer_choices(user: User, up_to: int) -> Sequence[Row[str, str]]:
    """Code and name of the first `up_to` dealers the user sees, by code (the queue's dealer filter)."""
    return read(_dealer_choices_of_role(user.access_role, up_to), reader_values(user)).all()


def queue_page(user: User, wanted: QueueFilter, total: int | None = None) -> StatementPage:
    """The asked-for page of the queue; `total` when the page has counted it already (the unfiltered queue)."""
    found = queue_statement(user, wanted)
    return page_of_statement(found.shape.page, found.values, total=total, count=found.shape.count)


def next_in_queue(user: User, wanted: QueueFilter, claim: Claim) -> int | None:
    """The claim after this one in the same queue; past the end, the first one still waiting. One query."""
    found = queue_statement(user, wanted)
    queue = found.shape.queue.where(Claim.id != claim.id)
    if claim.submitted_at is not None:
        later = tuple_(Claim.submitted_at, Claim.id) > tuple_(claim.submitted_at, claim.id)
        queue = queue.order_by(None).order_by(case((later, 0), else_=1), Claim.submitted_at, Claim.id)
    return db.session.execute(queue.with_only_columns(Claim.id).limit(1), found.values).scalar_one_or_none()


def previous_in_queue(user: User, wanted: QueueFilter, claim: Claim) -> int | None:
    """The claim before this one in the same queue (the reviewer's "back" key), or none at its start. One query."""
    if claim.submitted_at is None:
        return None
    earlier = tuple_(Claim.submitted_at, Claim.id) < tuple_(claim.submitted_at, claim.id)
    found = queue_statement(user, wanted)
    queue = found.shape.queue.where(earlier).order_by(None).order_by(Claim.submitted_at.desc(), Claim.id.desc())
    return db.session.execute(queue.with_only_columns(Claim.id).limit(1), found.values).scalar_one_or_none()


@dataclass(frozen=True)
class Backlog:
    """What waits for a reviewer's decision: the queue's counts and the start page's inbox line, one query."""

    submitted: int
    awaiting_second: int
    oldest_submitted_at: datetime | None
    flagged: int


def backlog_counts(user: Viewer) -> CountsQuery:
    """The user's claims to decide counted in one row (the queue's header and the reviewer's inbox line)."""
    flagged = exists().where(ClaimFlag.claim_id == Claim.id)
    return (
        visible_claims(user)
        .where(Claim.status.in_(statuses_to_decide(user)))
        .with_only_columns(
            func.coalesce(func.sum(case((Claim.status == ClaimStatus.SUBMITTED, 1), else_=0)), 0).label("submitted"),
            func.coalesce(func.sum(case((Claim.status == ClaimStatus.AWAITING_SECOND_APPROVAL, 1), else_=0)), 0).label(
                "awaiting_second"
            ),
            func.min(Claim.submitted_at).label("oldest_submitted_at"),
            func.coalesce(func.sum(case((flagged, 1), else_=0)), 0).label("flagged"),
        )
        .order_by(None)
    )


def backlog_of(counts: Mapping[Any, Any]) -> Backlog:
    """The backlog from the row of `backlog_counts` (SQLite gives the oldest day without its zone: it is UTC)."""
    oldest = counts["oldest_submitted_at"]
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return Backlog(int(counts["submitted"]), int(counts["awaiting_second"]), oldest, int(counts["flagged"]))


@functools.lru_cache(maxsize=32)
def _backlog_of_role(role: AccessRole) -> CountsQuery:
    return backlog_counts(InboxReader(role))


def backlog(user: User) -> Backlog:
    """The queue's counts, from a statement built once per role (the same the inbox asks for within its own)."""
    counts = read(_backlog_of_role(user.access_role), reader_values(user)).one()
    return backlog_of(counts._mapping)


_FLAGS_OF_CLAIMS = (
    select(ClaimFlag.claim_id, ClaimFlag.flag)
    .where(ClaimFlag.claim_id.in_(bindparam("claim_ids", expanding=True)))
    .order_by(ClaimFlag.id)
)


def flags_by_claim(claim_ids: list[int]) -> dict[int, list[Flag]]:
    found: dict[int, list[Flag]] = defaultdict(list)
    if claim_ids:
        rows = read(_FLAGS_OF_CLAIMS, {"claim_ids": claim_ids})
        for claim_id, flag in rows:
            found[claim_id].append(flag)
    return found


def related_claims(user: User, claim_ids: set[int]) -> dict[int, Claim]:
    """The claims a flag points to that this user may open, by id, in one query (the others stay numbers)."""
    if not claim_ids:
        return {}
    return {
        found.id: found
        for found in db.session.execute(visible_claims(user).where(Claim.id.in_(claim_ids))).unique().scalars()
    }


# --- The dealer's side ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _dealer_claims_of_shape(by_status: bool) -> tuple[Select[Claim], Select[Any]]:
    """A page of the dealer's own claims, newest first, and their count; built once per shape (a status asked for
    or not), the dealer and the status being parameters. The dealer is the signed-in user's, already loaded."""
    query = select(Claim).where(Claim.dealer_id == bindparam("claims_dealer_id"))
    if by_status:
        query = query.where(Claim.status == bindparam("claims_status", type_=Claim.status.type))
    page = listed(query.order_by(Claim.created_at.desc(), Claim.id.desc()), dealer_known=True)
    return page.limit(PAGE_LIMIT).offset(PAGE_OFFSET), select(func.count()).select_from(
        query.options(lazyload("*")).subquery()
    )


def dealer_claims_page(dealer_id: int, status: str = "") -> StatementPage:
    """The asked-for page of a dealer's own claims, of one status when `status` names one."""
    by_status = status in ClaimStatus._value2member_map_
    page, count = _dealer_claims_of_shape(by_status)
    values: dict[str, Any] = {"claims_dealer_id": dealer_id}
    if by_status:
        values["claims_status"] = ClaimStatus(status)
    return page_of_statement(page, values, count=count)


def dealer_history(claim: Claim, limit: int = 10) -> tuple[list[Claim], dict[ClaimStatus, int]]:
    """The dealer's other submitted claims, newest first, and how many ended in each status."""
    others = (
        select(Claim)
        .where(Claim.dealer_id == claim.dealer_id, Claim.id != claim.id, Claim.submission_count > 0)
        .order_by(Claim.submitted_at.desc(), Claim.id.desc())
    )
    recent = list(db.session.execute(others.limit(limit)).scalars())
    counts = db.session.execute(
        others.order_by(None).with_only_columns(Claim.status, func.count()).group_by(Claim.status)
    ).all()
    return recent, {ClaimStatus(status): count for status, count in counts}


def dealer_requests_query(dealer_id: int) -> Select[FundRequest]:
    return select(FundRequest).where(FundRequest.dealer_id == dealer_id).order_by(FundRequest.id.desc())


def pending_requests_query(user: User) -> Select[FundRequest, Dealer]:
    dealers = visible_dealers(user).with_only_columns(Dealer.id)
    return (
        select(FundRequest, Dealer)
        .join(Dealer, Dealer.id == FundRequest.dealer_id)
        .where(FundRequest.status == FundRequestStatus.SUBMITTED, FundRequest.dealer_id.in_(dealers))
        .order_by(FundRequest.created_at, FundRequest.id)
    )


# --- Budgets, spend and turnaround ------------------------------------------------------------------------------------


def budget_rows(user: User, period: Period) -> Select[Dealer, int | None, int, int]:
    """Each dealer the user sees with its allocation (None if unset), approved and pending amounts in the period."""
    sums = (
        select(
            Claim.dealer_id.label("dealer_id"),
            func.sum(case((Claim.status.in_(APPROVED), Claim.amount_approved), else_=0)).label("approved"),
            func.sum(case((Claim.status.in_(PENDING), Claim.budget_held), else_=0)).label("pending"),
        )
        .where(Claim.period_id == period.id)
        .group_by(Claim.dealer_id)
        .subquery()
    )
    allocation = aliased(FundAllocation)
    return (
        visible_dealers(user)
        .add_columns(allocation.amount, func.coalesce(sums.c.approved, 0), func.coalesce(sums.c.pending, 0))
        .outerjoin(allocation, and_(allocation.dealer_id == Dealer.id, allocation.period_id == period.id))
        .outerjoin(sums, sums.c.dealer_id == Dealer.id)
        .order_by(Dealer.code)
    )


def median_turnaround_days(user: User, period: Period) -> tuple[float | None, int]:
    """Median days from (last) submission to the final decision over the user's decided claims of the period, and
    how many claims it is taken over. Sorted in the database, so only the middle one or two rows are read."""
    decided = visible_claims(user).where(Claim.period_id == period.id, Claim.turnaround_seconds.is_not(None))
    count = db.session.execute(decided.with_only_columns(func.count()).order_by(None)).scalar_one()
    if count == 0:
        return None, 0
    middle = db.session.execute(
        decided.with_only_columns(Claim.turnaround_seconds)
        .order_by(Claim.turnaround_seconds)
        .offset((count - 1) // 2)
        .limit(2 if count % 2 == 0 else 1)
    ).scalars()
    values = [int(seconds) for seconds in middle if seconds is not None]
    return sum(values) / len(values) / 86_400, count


# --- Payment ---------------------------------------------------------------------------------------------------------


def unpaid_query() -> Select[Claim]:
    """Approved claims finance has not paid yet, the oldest decision first."""
    return (
        select(Claim)
        .where(Claim.status.in_((ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)))
        .order_by(Claim.decided_at, Claim.id)
    )


def reviewer_can_decide(user: User, claim: Claim) -> bool:
    if claim.status is ClaimStatus.SUBMITTED:
        return True
    return (
        claim.status is ClaimStatus.AWAITING_SECOND_APPROVAL
        and user.access_role in (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
        and user.id != claim.first_approver_id
    )
