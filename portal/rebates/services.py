"""Rebate programs, targets, statements, adjustments and payments: the business rules of the partner side.

A statement is derived: recompute_statements runs the pure calculation (rules.calculate) over the stored inputs
and writes its figures, so every page shows exactly what the function says. Closing a period freezes its
statements (final); anything that changes a closed period's money afterwards is booked as an adjustment on the
dealer's statement of the open period, naming the period it corrects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import lazyload

from portal.access import AccessRole, require_role
from portal.accounts.models import DealerRole, User
from portal.audit.services import audit_change, record_event
from portal.database import locked_for_update, rows_changed
from portal.dates import company_today
from portal.dealers.amounts import AmountKind, import_dealer_amounts, set_dealer_amount, write_dealer_amount
from portal.dealers.closing import CloseFact
from portal.dealers.models import Dealer, DealerTier, Period, PeriodStatus
from portal.dealers.services import current_period, dealer_owners, visible_dealers
from portal.dealers.tiers import tiers_on
from portal.extensions import db
from portal.formatting import money
from portal.money import MAX_MONEY, NumberFormat, parse_file_money
from portal.notifications import params
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.outbox import EventKind, emit
from portal.page_cache import writes_for
from portal.rebates import ledger, rules
from portal.rebates.models import (
    Adjustment,
    AdjustmentKind,
    ImportStatus,
    ProgramTier,
    RebateProgram,
    RebateStatement,
    SalesImport,
    SalesLine,
    StatementStatus,
    Target,
    TargetChange,
)
from portal.rebates.rules import TargetChangeStatus, awaits_decision, can_move_statement
from portal.request_locale import gettext as _
from portal.request_memo import remembered
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import label, utcnow

MAX_TIERS = 6


def can_mark_paid(statement: RebateStatement, due: int) -> bool:
    """A final statement with an amount due (portal/rebates/ledger.py: never more than the account's balance)."""
    return can_move_statement(statement.status, StatementStatus.PAID) and due > 0


# --- Percentages in ----------------------------------------------------------------------------------------------


def parse_percent(text: str) -> int:
    """'2.5' -> 250 hundredths of a percent; at most two decimals."""
    cleaned = (text or "").strip().rstrip("%").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation as error:
        raise ValueError("not a number") from error
    if not value.is_finite():
        raise ValueError("not a number")
    scaled = value * 100
    if scaled != scaled.to_integral_value() or abs(scaled) > 10**7:
        raise ValueError("too many decimals")
    return int(scaled)


# --- Programs ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramInput:
    name: str
    method: rules.Method
    eligible: tuple[DealerTier, ...]
    tiers: tuple[tuple[int, int], ...]  # (threshold, rate) in hundredths of a percent


def programs_of(period: Period) -> list[RebateProgram]:
    return list(
        db.session.execute(
            select(RebateProgram).where(RebateProgram.period_id == period.id).order_by(RebateProgram.name)
        ).scalars()
    )


def get_program(program_id: int) -> RebateProgram:
    program = db.session.get(RebateProgram, program_id)
    if program is None:
        raise NotFound()
    return program


def _check_program(period: Period, wanted: ProgramInput, program_id: int | None) -> None:
    if period.status is not PeriodStatus.OPEN:
        raise IllegalTransition(_("Period %(code)s is closed; its programs can no longer change.", code=period.code))
    if not wanted.name.strip():
        raise InvalidInput("name", _("Give the program a name."))
    if not wanted.eligible:
        raise InvalidInput("eligible", _("Choose at least one dealer tier."))
    if not wanted.tiers:
        raise InvalidInput("tiers", _("A program needs at least one tier."))
    if len(wanted.tiers) > MAX_TIERS:
        raise InvalidInput("tiers", _("A program has at most %(count)s tiers.", count=MAX_TIERS))
    try:
        rules.validate_tiers([ProgramTier(threshold_hundredths=t, rate_hundredths=r).rule for t, r in wanted.tiers])
    except rules.InvalidProgram:
        raise InvalidInput(
            "tiers",
            _(
                "Thresholds must be above 0 % and increase from tier to tier; rates must be between 0 % and "
                "100 % and never fall for a higher tier."
            ),
        ) from None
    taken = {
        tier
        for other in programs_of(period)
        if other.id != program_id
        for tier in other.eligible
        if tier in {member.value for member in wanted.eligible}
    }
    if taken:
        names = ", ".join(label(DealerTier(tier)) for tier in sorted(taken))
        raise InvalidInput(
            "eligible", _("Another program of this period already covers these dealer tiers: %(tiers)s.", tiers=names)
        )


def save_program(
    actor: User, period: Period, wanted: ProgramInput, program: RebateProgram | None = None
) -> RebateProgram:
    """Create or change a program of an open period; its dealers' provisional statements follow at once."""
    require_role(actor, AccessRole.ADMIN)
    _check_program(period, wanted, program.id if program else None)
    before = _program_snapshot(program) if program else None
    if program is None:
        program = RebateProgram(period_id=period.id)
        db.session.add(program)
    program.name = wanted.name.strip()
    program.method = wanted.method
    program.eligible_tiers = ",".join(tier.value for tier in DealerTier if tier in wanted.eligible)
    program.tiers.clear()
    db.session.flush()
    for position, (threshold, rate) in enumerate(wanted.tiers):
        program.tiers.append(ProgramTier(position=position, threshold_hundredths=threshold, rate_hundredths=rate))
    db.session.flush()
    audit_change("rebate_program.saved", actor=actor, subject=program, before=before, after=_program_snapshot(program))
    recompute_statements(period)
    db.session.flush()
    return program


def _program_snapshot(program: RebateProgram) -> dict[str, object]:
    return {
        "name": program.name,
        "method": program.method.value,
        "eligible": program.eligible_tiers,
        "tiers": [[tier.threshold_hundredths, tier.rate_hundredths] for tier in program.tiers],
    }


# --- Targets ----------------------------------------------------------------------------------------------------------


def can_set_targets(user: User) -> bool:
    return user.access_role in TARGETS.roles


TARGETS = AmountKind(
    model=Target,
    audit_action="target.set",
    roles=(AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN),
    columns={
        "dealer_code": "dealer_code",
        "dealer": "dealer_code",
        "经销商代码": "dealer_code",
        "经销商编码": "dealer_code",
        "客户编码": "dealer_code",
        "target": "target",
        "amount": "target",
        "目标": "target",
    },
    amount_column="target",
    zero_allowed=False,
    too_low=lambda: _("Enter a target above zero."),
    frozen=lambda period: _("Period %(code)s is closed; its targets are frozen.", code=period.code),
    after_saving=lambda period, dealer_ids: recompute_statements(period, list(dealer_ids)),
    governed=lambda period: target_is_governed(period),
    ask=lambda actor, dealer, period, amount, reason: ask_target_change(actor, dealer, period, amount, reason),
)


def set_target(actor: User, dealer: Dealer, period: Period, amount: int, reason: str = "") -> Target | TargetChange:
    """The dealer's sales target of an open period, its statement recomputed against it; once the period started,
    a change waiting for a senior manager (with the reason)."""
    result: Target | TargetChange = set_dealer_amount(TARGETS, actor, dealer, period, amount, reason)
    return result


@dataclass(frozen=True)
class TargetPut:
    """What a target sent by another system came to: set, asked for (a started period: a senior manager decides),
    or already so (the same value sent again changes nothing and asks nobody twice)."""

    dealer: Dealer
    period: Period
    outcome: str  # "set", "asked", "unchanged", "already_asked"
    amount: int
    current: int | None


def put_target(actor: User, dealer_code: str, period_code: str, amount_text: str, reason: str = "") -> TargetPut:
    """A target by dealer code and period code, the amount as text with a decimal point ("1200000.00"): through
    `set_target`, so a started period's target becomes a change waiting for a senior manager, as on the pages."""
    dealer = db.session.execute(select(Dealer).where(Dealer.code == dealer_code)).scalar_one_or_none()
    period = db.session.execute(select(Period).where(Period.code == period_code)).scalar_one_or_none()
    if dealer is None or period is None:
        raise NotFound()
    try:
        amount = parse_file_money(amount_text, dealer.currency, number_format=NumberFormat.POINT)
    except ValueError:
        raise InvalidInput("amount", _("Write the amount with a decimal point, such as 1200000.00.")) from None
    current = db.session.execute(
        select(Target.amount).where(Target.dealer_id == dealer.id, Target.period_id == period.id)
    ).scalar_one_or_none()
    if current == amount:
        return TargetPut(dealer, period, "unchanged", amount, current)
    waiting = db.session.execute(
        select(TargetChange.new_amount).where(
            TargetChange.dealer_id == dealer.id,
            TargetChange.period_id == period.id,
            TargetChange.status == TargetChangeStatus.PENDING,
        )
    ).scalar_one_or_none()
    if waiting == amount and target_is_governed(period):
        return TargetPut(dealer, period, "already_asked", amount, current)
    result = set_target(actor, dealer, period, amount, reason)
    return TargetPut(dealer, period, "asked" if isinstance(result, TargetChange) else "set", amount, current)


def import_targets(actor: User, period: Period, content: bytes, reason: str = "") -> int:
    """Targets of many dealers from a CSV (dealer_code, target): all of them or, if any line is wrong, none. For a
    period that started, each line becomes a change waiting for a senior manager."""
    return import_dealer_amounts(TARGETS, actor, period, content, reason).count


# --- Target changes once a period started: asked with a reason, decided by a senior manager -----------------------

TARGET_DECIDERS = (AccessRole.SENIOR_MANAGER,)


def target_is_governed(period: Period) -> bool:
    """Until a period starts its targets are set freely; from its first day a change needs an approval."""
    return company_today() >= period.starts_on


def ask_target_change(actor: User, dealer: Dealer, period: Period, amount: int, reason: str) -> TargetChange:
    """Record the change and tell the senior managers. A change still waiting for this dealer and period is
    replaced by the new one (one open question per target)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why the target changes after the period started; the dealer is told."))
    current = db.session.execute(
        select(Target.amount).where(Target.dealer_id == dealer.id, Target.period_id == period.id)
    ).scalar_one_or_none()
    if current == amount:
        raise InvalidInput("amount", _("This is the target already."))
    change = db.session.execute(
        select(TargetChange).where(
            TargetChange.dealer_id == dealer.id,
            TargetChange.period_id == period.id,
            TargetChange.status == TargetChangeStatus.PENDING,
        )
    ).scalar_one_or_none()
    if change is None:
        change = TargetChange(dealer_id=dealer.id, period_id=period.id)
        db.session.add(change)
    change.old_amount, change.new_amount, change.reason = current, amount, reason
    change.requested_by_id, change.requested_at = actor.id, utcnow()
    db.session.flush()
    record_event(
        "target_change.asked",
        actor_id=actor.id,
        subject_type="dealer",
        subject_id=dealer.id,
        subject_label=f"{dealer.code} {period.code}",
        details={"period": period.code, "before": current, "after": amount, "reason": reason},
    )
    seniors = db.session.execute(select(User).where(User.active, User.is_senior, User.id != actor.id)).scalars()
    notify(
        list(seniors),
        "target_change_asked",
        {"dealer": dealer.name, "period": period.code, "amount": params.amount(amount, dealer.currency)},
        link=link("rebates.target_changes"),
    )
    return change


def target_changes_query(user: User, waiting_only: bool) -> Select:
    """The changes of the user's dealers, newest first (all dealers for senior managers and admins)."""
    query = (
        select(TargetChange)
        .where(TargetChange.dealer_id.in_(visible_dealers(user).with_only_columns(Dealer.id)))
        .order_by(TargetChange.requested_at.desc(), TargetChange.id.desc())
    )
    return query.where(TargetChange.status == TargetChangeStatus.PENDING) if waiting_only else query


def get_target_change(user: User, change_id: int) -> TargetChange:
    change = db.session.execute(
        target_changes_query(user, waiting_only=False).where(TargetChange.id == change_id)
    ).scalar_one_or_none()
    if change is None:
        raise NotFound()
    return change


def can_decide_target_change(user: User, change: TargetChange) -> bool:
    return user.access_role in TARGET_DECIDERS and change.requested_by_id != user.id and awaits_decision(change.status)


def _decide(actor: User, change: TargetChange, target: TargetChangeStatus, note: str) -> None:
    require_role(actor, *TARGET_DECIDERS)
    if change.requested_by_id == actor.id:
        raise IllegalTransition(_("A senior manager other than the one who asked decides."))
    with writes_for(dealers=[change.dealer_id]):
        decided = rows_changed(
            db.session.execute(
                update(TargetChange)
                .where(TargetChange.id == change.id, TargetChange.status == TargetChangeStatus.PENDING)
                .values(status=target, decided_by_id=actor.id, decided_at=utcnow(), decision_note=note)
                .execution_options(synchronize_session=False)
            )
        )
    if decided != 1:
        raise IllegalTransition(_("This change was already decided."))
    db.session.expire(change)


def approve_target_change(actor: User, change: TargetChange) -> TargetChange:
    """The target changes, the statement is recomputed, and the dealer hears the old and new target and why."""
    period = change.period
    if period.status is not PeriodStatus.OPEN:
        raise IllegalTransition(_("Period %(code)s is closed; its targets are frozen.", code=period.code))
    _decide(actor, change, TargetChangeStatus.APPROVED, "")
    dealer = change.dealer
    write_dealer_amount(Target, actor, dealer, period, change.new_amount, "target.set")
    recompute_statements(period, [dealer.id])
    told = {
        "dealer": dealer.name,
        "period": period.code,
        "old": params.amount(change.old_amount or 0, dealer.currency),
        "new": params.amount(change.new_amount, dealer.currency),
        "reason": change.reason,
    }
    notify(
        dealer_owners(dealer), "target_changed", told, link=link("rebates.dealer_statement", period_code=period.code)
    )
    notify(
        [change.requested_by],
        "target_change_decided",
        {**told, "decision": params.choice(change.status)},
        link=link("rebates.target_changes"),
    )
    db.session.flush()
    return change


def reject_target_change(actor: User, change: TargetChange, note: str) -> TargetChange:
    require_role(actor, *TARGET_DECIDERS)
    note = note.strip()
    if not note:
        raise InvalidInput("note", _("Say why; the manager who asked is told."))
    _decide(actor, change, TargetChangeStatus.REJECTED, note)
    dealer = change.dealer
    notify(
        [change.requested_by],
        "target_change_decided",
        {
            "dealer": dealer.name,
            "period": change.period.code,
            "old": params.amount(change.old_amount or 0, dealer.currency),
            "new": params.amount(change.new_amount, dealer.currency),
            "reason": note,
            "decision": params.choice(change.status),
        },
        link=link("rebates.target_changes"),
    )
    db.session.flush()
    return change


_TARGET_HISTORY = (
    select(TargetChange)
    .options(lazyload("*"))  # the statement shows the change's own columns: not its dealer, period and people
    .where(
        TargetChange.dealer_id == bindparam("dealer_id"),
        TargetChange.period_id == bindparam("period_id"),
        TargetChange.status == TargetChangeStatus.APPROVED,
    )
    .order_by(TargetChange.decided_at, TargetChange.id)
)  # built once: every statement page runs it


def target_history(dealer: Dealer, period: Period) -> list[TargetChange]:
    """The approved changes of a target, oldest first: what the statement shows as the target's history."""
    return list(db.session.execute(_TARGET_HISTORY, {"dealer_id": dealer.id, "period_id": period.id}).scalars())


def targets_query(user: User, period: Period) -> Select:
    """The user's dealers with their target of the period (None where none is set)."""
    return (
        visible_dealers(user)
        .add_columns(Target.amount)
        .outerjoin(Target, (Target.dealer_id == Dealer.id) & (Target.period_id == period.id))
        .order_by(Dealer.code)
    )


# --- Penalties (recorded by the violations area) ---------------------------------------------------------------------


@dataclass(frozen=True)
class PenaltyLine:
    dealer_id: int
    amount: int  # minor units, positive: deducted from the rebate
    description: str
    link: str = ""
    source: str = ""  # what the penalty is ("violation:3"): its ledger entry names it, and a refund finds it


PenaltySource = Callable[[Period, Sequence[int] | None], Iterable[PenaltyLine]]
_PENALTY_SOURCES: list[PenaltySource] = []


def register_penalty_source(source: PenaltySource) -> None:
    """The violations area registers here: it answers the confirmed penalties of a period for some dealers."""
    if source not in _PENALTY_SOURCES:
        _PENALTY_SOURCES.append(source)


def unregister_penalty_source(source: PenaltySource) -> None:
    if source in _PENALTY_SOURCES:
        _PENALTY_SOURCES.remove(source)


def penalty_lines(period: Period, dealer_ids: Sequence[int] | None) -> list[PenaltyLine]:
    return [line for source in _PENALTY_SOURCES for line in source(period, dealer_ids)]


# --- Statements -------------------------------------------------------------------------------------------------------


def _program_by_tier(period: Period) -> dict[str, RebateProgram]:
    return {tier: program for program in programs_of(period) for tier in program.eligible}


def recompute_statements(period: Period, dealer_ids: Sequence[int] | None = None) -> int:
    """Bring the provisional statements of a period up to date from their inputs; frozen ones are left alone.

    A handful of grouped queries whatever the number of dealers: the figures come from rules.calculate.
    """
    wanted = None if dealer_ids is None else sorted(set(dealer_ids))

    def scoped(query, column):
        return query if wanted is None else query.where(column.in_(wanted))

    targets = dict(
        db.session.execute(
            scoped(select(Target.dealer_id, Target.amount), Target.dealer_id).where(Target.period_id == period.id)
        ).all()
    )
    sales = {
        dealer_id: (int(amount), int(units), int(count))
        for dealer_id, amount, units, count in db.session.execute(
            scoped(
                select(SalesLine.dealer_id, func.sum(SalesLine.amount), func.sum(SalesLine.units), func.count()),
                SalesLine.dealer_id,
            )
            .where(SalesLine.period_id == period.id, SalesLine.booked_period_id == period.id)
            .group_by(SalesLine.dealer_id)
        ).all()
    }
    adjustments = {
        dealer_id: int(amount)
        for dealer_id, amount in db.session.execute(
            scoped(select(Adjustment.dealer_id, func.sum(Adjustment.amount)), Adjustment.dealer_id)
            .where(Adjustment.booked_period_id == period.id)
            .group_by(Adjustment.dealer_id)
        ).all()
    }
    penalties: dict[int, int] = {}
    for line in penalty_lines(period, wanted):
        penalties[line.dealer_id] = penalties.get(line.dealer_id, 0) + line.amount
    statements = {
        statement.dealer_id: statement
        for statement in db.session.execute(
            scoped(select(RebateStatement), RebateStatement.dealer_id).where(RebateStatement.period_id == period.id)
        ).scalars()
    }
    involved = set(targets) | set(sales) | set(adjustments) | set(penalties) | set(statements)
    if not involved:
        return 0
    currencies = dict(
        db.session.execute(select(Dealer.id, Dealer.currency).where(Dealer.id.in_(sorted(involved)))).all()
    )
    tiers = tiers_on(sorted(involved), period.starts_on)  # the tier in force on the period's first day
    programs = _program_by_tier(period)
    now = utcnow()
    changed = 0
    for dealer_id in sorted(involved):
        statement = statements.get(dealer_id)
        if statement is not None and statement.status is not StatementStatus.PROVISIONAL:
            continue
        currency = currencies[dealer_id]
        program = programs.get(tiers[dealer_id].value)
        if statement is None:
            statement = RebateStatement(dealer_id=dealer_id, period_id=period.id, currency=currency)
            db.session.add(statement)
        amount, units, count = sales.get(dealer_id, (0, 0, 0))
        _fill(
            statement,
            program=program,
            currency=currency,
            sales=amount,
            units=units,
            line_count=count,
            target=targets.get(dealer_id, 0),
            penalties=penalties.get(dealer_id, 0),
            adjustments=adjustments.get(dealer_id, 0),
        )
        statement.computed_at = now
        changed += 1
    db.session.flush()
    return changed


def _fill(
    statement: RebateStatement,
    *,
    program: RebateProgram | None,
    currency: str,
    sales: int,
    units: int,
    line_count: int,
    target: int,
    penalties: int,
    adjustments: int,
) -> None:
    statement.program_id = program.id if program else None
    statement.method = program.method if program else None
    statement.tiers = [[tier.threshold_hundredths, tier.rate_hundredths] for tier in program.tiers] if program else []
    statement.currency = currency
    statement.sales, statement.units, statement.line_count, statement.target = sales, units, line_count, target
    statement.penalties, statement.adjustments = penalties, adjustments
    attainment = rules.attainment(sales, target)
    statement.attainment_hundredths = min(int(attainment * 100), 2**31 - 1)
    if program is None or not program.tiers:
        statement.reached_tier, statement.rebate = None, 0
        statement.next_tier_sales, statement.sales_to_next_tier, statement.rebate_at_next_tier = None, 0, 0
    else:
        outcome = rules.calculate(sales, target, program.rule_tiers, program.method)
        statement.reached_tier, statement.rebate = outcome.reached, outcome.rebate
        statement.sales_to_next_tier = outcome.sales_to_next_tier
        statement.rebate_at_next_tier = outcome.rebate_at_next_tier
        statement.next_tier_sales = (
            rules.sales_needed_for(program.rule_tiers[outcome.next_tier].threshold_percent, target)
            if outcome.next_tier is not None
            else None
        )
    statement.net_payable = statement.rebate - penalties + adjustments


def outcome_of(statement: RebateStatement, extra_sales: int = 0) -> rules.Outcome | None:
    """The calculation for a statement's own inputs (plus a what-if amount); None without a program or without a
    target (no target, no tiers to talk about)."""
    if not statement.tiers or statement.method is None or statement.target <= 0:
        return None
    return rules.calculate(statement.sales + extra_sales, statement.target, statement.rule_tiers, statement.method)


def freeze_statements(period: Period) -> int:
    """A last recomputation, every statement of the period final, and its money booked on the dealers' accounts
    (portal/rebates/ledger.py). Returns how many statements were frozen."""
    recompute_statements(period)
    finalised = rows_changed(
        db.session.execute(
            update(RebateStatement)
            .where(RebateStatement.period_id == period.id, RebateStatement.status == StatementStatus.PROVISIONAL)
            .values(status=StatementStatus.FINAL, finalised_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    db.session.expire_all()
    ledger.book_period(
        period,
        [(line.dealer_id, line.amount, line.description, line.source) for line in penalty_lines(period, None)],
    )
    return finalised


def statement_owners(period: Period) -> list[User]:
    """The active owners of the dealers with a statement in the period: who hears when it freezes or reopens."""
    return list(
        db.session.execute(
            select(User)
            .join(RebateStatement, RebateStatement.dealer_id == User.dealer_id)
            .where(RebateStatement.period_id == period.id, User.dealer_role == DealerRole.OWNER, User.active)
        ).scalars()
    )


def finalise_period(actor: User, period: Period) -> int:
    """Called as the period closes: its statements are frozen and booked, and the dealers' owners told."""
    finalised = freeze_statements(period)
    for statement_id, dealer_id in db.session.execute(
        select(RebateStatement.id, RebateStatement.dealer_id).where(
            RebateStatement.period_id == period.id, RebateStatement.status == StatementStatus.FINAL
        )
    ).all():
        emit(EventKind.STATEMENT_FINAL, "rebate_statement", statement_id, dealer_id, period=period.code)
    record_event(
        "rebate_statements.finalised",
        actor_id=actor.id,
        subject_type="period",
        subject_id=period.id,
        subject_label=period.code,
        details={"statements": finalised},
    )
    owners = statement_owners(period)
    notify(
        owners,
        "rebate_statement_final",
        {"period": period.code},
        link=link("rebates.dealer_statement", period_code=period.code),
    )
    return finalised


def mark_paid(actor: User, statement_ids: Sequence[int], reference: str) -> int:
    """Pay final statements, all of them or none: each transfers its amount due (a payment entry on the dealer's
    account), and becomes paid. The dealers' rows are locked first, so two payments of one dealer's statements at
    once take turns and the second sees the first's entry: nothing is paid twice, no payment exceeds the balance."""
    require_role(actor, AccessRole.ADMIN)
    reference = reference.strip()
    if not reference:
        raise InvalidInput("reference", _("Enter the payment reference from the bank transfer."))
    ids = sorted(set(statement_ids))
    if not ids:
        raise InvalidInput("statement_ids", _("Choose at least one statement."))
    refused = _(
        "Some of these statements were already paid, are not final yet or have nothing to pay. Nothing changed."
    )
    chosen = list(db.session.execute(select(RebateStatement).where(RebateStatement.id.in_(ids))).scalars())
    if len(chosen) != len(ids):
        raise IllegalTransition(refused)
    dealer_ids = sorted({statement.dealer_id for statement in chosen})
    db.session.execute(locked_for_update(select(Dealer.id).where(Dealer.id.in_(dealer_ids)))).all()
    now = utcnow()
    paid: list[tuple[RebateStatement, int]] = []
    for statement in sorted(chosen, key=lambda chosen_one: (chosen_one.period.starts_on, chosen_one.id)):
        due = ledger.amounts_due(statement.period, [statement.dealer_id]).get(statement.dealer_id, 0)
        changed = rows_changed(
            db.session.execute(
                update(RebateStatement)
                .where(RebateStatement.id == statement.id, RebateStatement.status == StatementStatus.FINAL)
                .values(
                    status=StatementStatus.PAID,
                    paid_at=now,
                    paid_reference=reference[:120],
                    paid_by_id=actor.id,
                    paid_amount=due,
                )
                .execution_options(synchronize_session=False)
            )
        )
        if changed != 1 or due <= 0:
            raise IllegalTransition(refused)
        ledger.book_payment(actor, statement, due, reference[:120])
        emit(
            EventKind.STATEMENT_PAID,
            "rebate_statement",
            statement.id,
            statement.dealer_id,
            period=statement.period.code,
            amount=due,
            reference=reference[:120],
        )
        paid.append((statement, due))
    db.session.expire_all()
    for statement, due in paid:
        audit_change(
            "rebate_statement.paid",
            actor=actor,
            subject=statement,
            before={"status": "final"},
            after={"status": "paid", "reference": reference, "amount": due},
        )
        notify(
            dealer_owners(statement.dealer),
            "rebate_paid",
            {
                "period": statement.period.code,
                "amount": params.amount(due, statement.currency),
                "reference": reference,
            },
            link=link("rebates.dealer_statement", period_code=statement.period.code),
        )
    db.session.flush()
    return len(paid)


def book_adjustment(
    actor: User | None,
    dealer: Dealer,
    amount: int,
    note: str,
    *,
    kind: AdjustmentKind = AdjustmentKind.MANUAL,
    corrects: Period | None = None,
    source: str | None = None,
) -> Adjustment:
    """Add money to (or take it from) the dealer's open statement. `source` makes an outcome apply only once."""
    note = note.strip()
    if amount == 0:
        raise InvalidInput("amount", _("Enter an amount other than zero."))
    if abs(amount) >= MAX_MONEY:
        raise InvalidInput("amount", _("This amount is too large."))
    if kind is AdjustmentKind.MANUAL and not note:
        raise InvalidInput("note", _("Say why; the dealer sees this on the statement."))
    booked = current_period()
    if booked is None or booked.status is not PeriodStatus.OPEN:
        raise IllegalTransition(_("No period is open today to book the adjustment in."))
    if corrects is not None and corrects.id == booked.id:
        corrects = None
    if source is not None and db.session.execute(select(Adjustment.id).where(Adjustment.source == source)).first():
        raise IllegalTransition(_("This adjustment was already booked."))
    adjustment = Adjustment(
        dealer_id=dealer.id,
        booked_period_id=booked.id,
        corrects_period_id=corrects.id if corrects else None,
        kind=kind,
        amount=amount,
        note=note,
        source=source,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(adjustment)
    db.session.flush()
    record_event(
        "rebate_adjustment.booked",
        actor_id=actor.id if actor else None,
        subject_type="dealer",
        subject_id=dealer.id,
        subject_label=dealer.code,
        details={
            "amount": amount,
            "kind": kind.value,
            "period": booked.code,
            "corrects": corrects.code if corrects else None,
        },
    )
    recompute_statements(booked, [dealer.id])
    return adjustment


def add_manual_adjustment(actor: User, dealer: Dealer, amount: int, note: str, corrects: Period | None) -> Adjustment:
    require_role(actor, AccessRole.ADMIN)
    return book_adjustment(actor, dealer, amount, note, corrects=corrects)


_ADJUSTMENTS_OF = (
    select(Adjustment)
    .where(Adjustment.dealer_id == bindparam("dealer_id"), Adjustment.booked_period_id == bindparam("period_id"))
    .order_by(Adjustment.created_at, Adjustment.id)
)  # built once: every statement page asks


def adjustments_of(statement: RebateStatement) -> list[Adjustment]:
    values = {"dealer_id": statement.dealer_id, "period_id": statement.period_id}
    return list(db.session.execute(_ADJUSTMENTS_OF, values).scalars())


def late_sales_adjustments(booked: Period, touched: Iterable[tuple[int, int]]) -> int:
    """Sales that arrived after their period closed: book the difference they make to its frozen rebate.

    Cumulative and exact: the rebate of all of the period's sales (late ones included), at the frozen target and
    tiers, less the frozen rebate, less what earlier late-sales adjustments for that period already booked.
    """
    booked_count = 0
    for dealer_id, period_id in sorted(set(touched)):
        frozen = db.session.execute(
            select(RebateStatement).where(
                RebateStatement.dealer_id == dealer_id, RebateStatement.period_id == period_id
            )
        ).scalar_one_or_none()
        if frozen is None or frozen.method is None or not frozen.tiers:
            continue  # no program then, so late sales earn nothing
        late_total = db.session.execute(
            select(func.coalesce(func.sum(SalesLine.amount), 0)).where(
                SalesLine.dealer_id == dealer_id,
                SalesLine.period_id == period_id,
                SalesLine.booked_period_id != period_id,
            )
        ).scalar_one()
        already = db.session.execute(
            select(func.coalesce(func.sum(Adjustment.amount), 0)).where(
                Adjustment.dealer_id == dealer_id,
                Adjustment.corrects_period_id == period_id,
                Adjustment.kind == AdjustmentKind.LATE_SALES,
            )
        ).scalar_one()
        owed = rules.rebate(frozen.sales + int(late_total), frozen.target, frozen.rule_tiers, frozen.method)
        difference = owed - frozen.rebate - int(already)
        if difference == 0:
            continue
        db.session.add(
            Adjustment(
                dealer_id=dealer_id,
                booked_period_id=booked.id,
                corrects_period_id=period_id,
                kind=AdjustmentKind.LATE_SALES,
                amount=difference,
                note="",
            )
        )
        booked_count += 1
    db.session.flush()
    return booked_count


# Built once: every start page and statement page runs it. Its dealer and period are not joined: every caller has
# both loaded already (the signed-in dealer, the period it asks about), and the session finds them by id.
_STATEMENT_OF = (
    select(RebateStatement)
    .where(RebateStatement.dealer_id == bindparam("dealer_id"), RebateStatement.period_id == bindparam("period_id"))
    .options(lazyload(RebateStatement.dealer), lazyload(RebateStatement.period))
)


def statement_of(dealer: Dealer | int, period: Period) -> RebateStatement | None:
    """The dealer's statement for the period (read once per request until the next write: the start page's tile
    and its inbox line both show it)."""
    dealer_id = dealer if isinstance(dealer, int) else dealer.id
    return remembered(
        ("statement_of", dealer_id, period.id),
        lambda: db.session.execute(
            _STATEMENT_OF, {"dealer_id": dealer_id, "period_id": period.id}
        ).scalar_one_or_none(),
    )


def statements_of_dealer(dealer: Dealer):
    """Newest period first."""
    return (
        select(RebateStatement)
        .join(Period, Period.id == RebateStatement.period_id)
        .where(RebateStatement.dealer_id == dealer.id)
        .order_by(Period.starts_on.desc())
    )


def get_statement_for_admin(statement_id: int) -> RebateStatement:
    statement = db.session.get(RebateStatement, statement_id)
    if statement is None:
        raise NotFound()
    return statement


def recompute_after_tier_change(dealer: Dealer, effective_from: date) -> int:
    """A tier change rates the open periods that start on or after its day differently: recompute them. Closed
    periods keep their final figures."""
    changed = 0
    for period in db.session.execute(
        select(Period).where(Period.status == PeriodStatus.OPEN, Period.starts_on >= effective_from)
    ).scalars():
        changed += recompute_statements(period, [dealer.id])
    return changed


def holds_money(dealer_id: int) -> bool:
    """Whether any target, sales line, adjustment or statement of the dealer exists (its currency is then fixed)."""
    found = db.session.execute(
        select(
            or_(
                *(
                    exists().where(model.dealer_id == dealer_id)
                    for model in (Target, SalesLine, Adjustment, RebateStatement)
                )
            )
        )
    ).scalar_one()
    return bool(found)


# --- The close preview and reopening (plugged into portal/dealers/closing.py) -----------------------------------


def close_facts(period: Period, requested_at: datetime | None) -> list[CloseFact]:
    """Statements and their totals per currency, dealers whose account would end negative, sales files checked
    but not imported yet, and statements that changed since the close was asked for."""
    facts: list[CloseFact] = []
    totals = db.session.execute(
        select(
            RebateStatement.currency,
            func.count(),
            func.coalesce(func.sum(RebateStatement.rebate), 0),
            func.coalesce(func.sum(RebateStatement.penalties), 0),
            func.coalesce(func.sum(RebateStatement.adjustments), 0),
            func.coalesce(func.sum(RebateStatement.net_payable), 0),
        )
        .where(RebateStatement.period_id == period.id)
        .group_by(RebateStatement.currency)
        .order_by(RebateStatement.currency)
    ).all()
    for currency, count, rebate, penalties, adjustments, net in totals:
        facts.append(
            CloseFact(
                _("Statements in %(currency)s", currency=currency),
                _(
                    "%(count)s dealers: rebates %(rebate)s, penalties %(penalties)s, adjustments %(adjustments)s, "
                    "net %(net)s",
                    count=count,
                    rebate=money(int(rebate), currency),
                    penalties=money(int(penalties), currency),
                    adjustments=money(int(adjustments), currency),
                    net=money(int(net), currency),
                ),
            )
        )
    if not totals:
        facts.append(CloseFact(_("Statements"), _("None: no dealer has a target, sales or adjustments here.")))
    rows = db.session.execute(
        select(Dealer.id, Dealer.code, Dealer.name, RebateStatement.net_payable, RebateStatement.currency)
        .join(Dealer, Dealer.id == RebateStatement.dealer_id)
        .where(RebateStatement.period_id == period.id)
        .order_by(Dealer.code)
    ).all()
    before = ledger.balances_before([row[0] for row in rows], period)
    negative = [
        f"{code} {name}: {money(before.get(dealer_id, 0) + net, currency)}"
        for dealer_id, code, name, net, currency in rows
        if before.get(dealer_id, 0) + net < 0
    ]
    facts.append(
        CloseFact(
            _("Accounts that would end negative (carried to the next period)"),
            str(len(negative)),
            warning=bool(negative),
            items=tuple(negative[:50]),
        )
    )
    waiting = db.session.execute(
        select(func.count()).select_from(SalesImport).where(SalesImport.status == ImportStatus.READY)
    ).scalar_one()
    facts.append(CloseFact(_("Sales files checked but not imported yet"), str(waiting), warning=bool(waiting)))
    if requested_at is not None:
        changed = (
            db.session.execute(
                select(Dealer.code)
                .join(RebateStatement, RebateStatement.dealer_id == Dealer.id)
                .where(RebateStatement.period_id == period.id, RebateStatement.computed_at > requested_at)
                .order_by(Dealer.code)
            )
            .scalars()
            .all()
        )
        facts.append(
            CloseFact(
                _("Statements changed since the close was asked for"),
                str(len(changed)),
                warning=bool(changed),
                items=tuple(changed[:50]),
            )
        )
    return facts


def paid_statements_refuse_reopening(period: Period) -> str | None:
    paid = db.session.execute(
        select(func.count()).where(
            RebateStatement.period_id == period.id, RebateStatement.status == StatementStatus.PAID
        )
    ).scalar_one()
    if paid:
        return _("%(count)s statements of this period are paid: it cannot reopen.", count=paid)
    return None


def reopen_statements(actor: User, period: Period, reason: str) -> int:
    """A reopened period: what its close booked is reversed on the accounts, its statements are provisional
    again and recomputed, and their dealers' owners told why."""
    ledger.reverse_period(actor, period, reason)
    db.session.execute(
        update(RebateStatement)
        .where(RebateStatement.period_id == period.id, RebateStatement.status == StatementStatus.FINAL)
        .values(status=StatementStatus.PROVISIONAL, finalised_at=None, opening_balance=None, closing_balance=None)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    changed = recompute_statements(period)
    owners = statement_owners(period)
    notify(
        owners,
        "rebate_period_reopened",
        {"period": period.code, "reason": reason},
        link=link("rebates.dealer_statement", period_code=period.code),
    )
    return changed
