"""One amount per dealer and period, set inline or from a CSV: promotion budgets (claims) and sales targets (rebates).
Each area describes its kind of amount once (an `AmountKind`: its table, who may set it, its own rule such as "not
below what claims hold", what to recompute afterwards); setting one amount, reading a file of them and writing the
row with its audit event are here once, for both.

The file is read whole and checked before anything is saved, so a file with one bad line saves nothing and the
page lists every error with its line number. Headers may be English or Chinese, as people export them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from portal.access import AccessRole, require_role
from portal.audit.services import record_event
from portal.csv_io import (
    BrokenTable,
    UnreadableFile,
    extra_cells,
    find_header,
    misread_amount,
    open_table,
    too_many_cells,
    total_line,
    total_word,
)
from portal.dealers.models import Dealer, Period, PeriodStatus
from portal.dealers.services import visible_dealers
from portal.extensions import db
from portal.money import MAX_MONEY, MisreadAmount, NumberFormat, parse_file_money
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput

if TYPE_CHECKING:
    from portal.accounts.models import User


def _no_rule(_dealer: Dealer, _period: Period, _amount: int) -> str | None:
    return None


def _nothing_to_recompute(_period: Period, _dealer_ids: Sequence[int]) -> None:
    return None


@dataclass(frozen=True)
class AmountKind:
    """What differs between targets and budgets; everything else about setting them is the same code.

    `model` is a table with dealer_id, period_id, amount and set_by_id; `columns` maps the CSV headers people
    write (English or Chinese) to "dealer_code" and `amount_column`. `rule` refuses an amount the area forbids
    with the reason; `after_saving` runs once per save with the dealers whose amount was written."""

    model: Any
    audit_action: str
    roles: tuple[AccessRole, ...]
    columns: Mapping[str, str]
    amount_column: str
    zero_allowed: bool
    too_low: Callable[[], str]
    frozen: Callable[[Period], str]
    rule: Callable[[Dealer, Period, int], str | None] = _no_rule
    after_saving: Callable[[Period, Sequence[int]], object] = _nothing_to_recompute
    # A kind whose amounts are governed once their period started (targets) asks instead of writing: `governed`
    # says when, `ask` records the request (actor, dealer, period, amount, reason) and returns it.
    governed: Callable[[Period], bool] = lambda _period: False
    ask: Callable[[User, Dealer, Period, int, str], Any] | None = None


def _check_open(kind: AmountKind, actor: User, period: Period) -> None:
    require_role(actor, *kind.roles)
    if period.status is not PeriodStatus.OPEN:
        raise IllegalTransition(kind.frozen(period))


def set_dealer_amount(
    kind: AmountKind, actor: User, dealer: Dealer, period: Period, amount: int, reason: str = ""
) -> Any:
    """Set one dealer's amount of the period, or (a governed kind, its period started) ask for the change with the
    reason. The dealer must be in the actor's scope (the view found it through get_visible_dealer); the period
    must be open."""
    _check_open(kind, actor, period)
    if amount < (0 if kind.zero_allowed else 1) or amount >= MAX_MONEY:
        raise InvalidInput("amount", kind.too_low())
    refusal = kind.rule(dealer, period, amount)
    if refusal:
        raise InvalidInput("amount", refusal)
    if kind.ask is not None and kind.governed(period):
        return kind.ask(actor, dealer, period, amount, reason)
    row = write_dealer_amount(kind.model, actor, dealer, period, amount, kind.audit_action)
    kind.after_saving(period, [dealer.id])
    db.session.flush()
    return row


@dataclass(frozen=True)
class AmountsImported:
    count: int  # saved, or asked for
    skipped: list[tuple[int, str]]  # (line, why): a title above the header, a total row


def import_dealer_amounts(
    kind: AmountKind,
    actor: User,
    period: Period,
    content: bytes,
    reason: str = "",
    *,
    number_format: NumberFormat = NumberFormat.UNSAID,
    sheet: str = "",
) -> AmountsImported:
    """Amounts of many dealers from a CSV (dealer_code and the amount column): all of them or, if any line is
    wrong, none; for a governed kind whose period started, a request per line with the reason. Returns how many
    were saved (or asked for)."""
    _check_open(kind, actor, period)
    skipped: list[tuple[int, str]] = []
    wanted = read_dealer_amounts(
        actor,
        content,
        dict(kind.columns),
        kind.amount_column,
        zero_allowed=kind.zero_allowed,
        check=lambda dealer, amount: kind.rule(dealer, period, amount),
        skipped=skipped,
        number_format=number_format,
        sheet=sheet,
    )
    if kind.ask is not None and kind.governed(period):
        for dealer, amount, _line in wanted.values():
            kind.ask(actor, dealer, period, amount, reason)
        db.session.flush()
        return AmountsImported(len(wanted), skipped)
    for dealer, amount, _line in wanted.values():
        write_dealer_amount(kind.model, actor, dealer, period, amount, kind.audit_action)
    kind.after_saving(period, [dealer.id for dealer, _amount, _line in wanted.values()])
    db.session.flush()
    return AmountsImported(len(wanted), skipped)


@dataclass(frozen=True)
class LineError:
    line: int
    column: str
    message: str
    found: str = ""  # the value on that line, when one was wrong


class FileRefused(Exception):
    """A file with errors: nothing of it was saved. The errors carry line numbers."""

    def __init__(self, errors: list[LineError], total: int = 0) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors
        self.total = total


def read_dealer_amounts(
    actor: User,
    content: bytes,
    columns: dict[str, str],
    amount_column: str,
    *,
    zero_allowed: bool = False,
    check: Callable[[Dealer, int], str | None] | None = None,
    skipped: list[tuple[int, str]] | None = None,
    number_format: NumberFormat = NumberFormat.UNSAID,
    sheet: str = "",
) -> dict[str, tuple[Dealer, int, int]]:
    """A CSV of one amount per dealer (targets, promotion budgets), read whole: every error with its line number,
    or (dealer, amount, line number) by dealer code. Only dealers the actor may see count; amounts are in each
    dealer's currency. `check` refuses an amount the area's rules forbid, with the reason. Lines skipped on purpose
    (a title above the header, a total row) are added to `skipped` as (line, why). `number_format`: how the
    uploader says the CSV writes amounts (a workbook's numbers are numbers either way); `sheet`: a workbook's
    sheet."""
    skipped = skipped if skipped is not None else []
    try:
        table = open_table(content, sheet)
        found = find_header(table, columns, ("dealer_code", amount_column))
    except UnreadableFile as refused:
        raise FileRefused([LineError(1, "", refused.message())]) from None
    except BrokenTable as broken:
        raise FileRefused([LineError(broken.line, "", broken.message)]) from None
    header = found.header
    if header.problems:
        raise FileRefused([LineError(found.line, "", problem) for problem in header.problems])
    if "dealer_code" not in header.fields or amount_column not in header.fields:
        raise FileRefused(
            [
                LineError(
                    found.line,
                    "",
                    _("The first line must name the columns dealer_code and %(column)s.", column=amount_column),
                )
            ]
        )
    skipped.extend(found.skipped)
    file_format = number_format if table.encoding != "xlsx" else NumberFormat.UNSAID
    dealers = {
        dealer.code: dealer for dealer in db.session.execute(visible_dealers(actor)).unique().scalars()
    }  # a portfolio, or every dealer for admins and senior managers
    errors: list[LineError] = []
    wanted: dict[str, tuple[Dealer, int, int]] = {}
    seen_line: dict[str, int] = {}

    def read_line(line_number: int, cells: dict[str, str]) -> None:
        code = cells.get("dealer_code", "").strip().upper()
        dealer = dealers.get(code)
        if dealer is None:
            errors.append(
                LineError(line_number, "dealer_code", _("Unknown dealer code, or not in your portfolio."), code)
            )
            return
        if code in seen_line:
            errors.append(LineError(line_number, "dealer_code", _("Repeats line %(line)s.", line=seen_line[code])))
            return
        seen_line[code] = line_number
        written = cells.get(amount_column, "")
        try:
            amount = parse_file_money(written, dealer.currency, number_format=file_format)
        except MisreadAmount as refused:
            errors.append(
                LineError(line_number, amount_column, misread_amount(written.strip(), refused.reason), written.strip())
            )
            return
        except ValueError:
            amount = -1
        if amount < 0 or (amount == 0 and not zero_allowed):
            message = _("Enter an amount of zero or more.") if zero_allowed else _("Enter an amount above zero.")
            errors.append(LineError(line_number, amount_column, message, written.strip()))
            return
        refusal = check(dealer, amount) if check else None
        if refusal:
            errors.append(LineError(line_number, amount_column, refusal))
            return
        wanted[code] = (dealer, amount, line_number)

    try:
        for line, row in table.rows:
            if not any(cell.strip() for cell in row):
                continue
            code = row[0].strip().upper() if row else ""
            if code not in dealers and (word := total_word(row)) is not None:
                skipped.append((line, total_line(word)))
                continue
            if extra_cells(row, header.width):  # "D001,1,200,000.00": a target of 1.00 if the extra cells were dropped
                errors.append(LineError(line, "", too_many_cells(len(row), header.width)))
                continue
            read_line(line, dict(zip(header.fields, row, strict=False)))
    except BrokenTable as broken:
        errors.append(LineError(broken.line, "", broken.message))
    if errors or not wanted:
        raise FileRefused(errors or [LineError(1, "", _("The file has no amounts."))])
    return wanted


def write_dealer_amount(model: Any, actor: User, dealer: Dealer, period: Period, amount: int, action: str) -> Any:
    """Create or change the dealer's row (a Target, a FundAllocation: any model with dealer_id, period_id, amount and
    set_by_id) for the period; an audit event (`action`) says before and after when the
    amount changes. The caller has checked the area's rule for the amount."""
    row = db.session.execute(
        select(model).where(model.dealer_id == dealer.id, model.period_id == period.id)
    ).scalar_one_or_none()
    before = row.amount if row is not None else None
    if row is None:
        row = model(dealer_id=dealer.id, period_id=period.id, amount=amount, set_by_id=actor.id)
        db.session.add(row)
    else:
        row.amount, row.set_by_id = amount, actor.id
    if before != amount:
        record_event(
            action,
            actor_id=actor.id,
            subject_type="dealer",
            subject_id=dealer.id,
            subject_label=f"{dealer.code} {period.code}",
            details={"period": period.code, "before": before, "after": amount},
        )
    db.session.flush()
    return row
