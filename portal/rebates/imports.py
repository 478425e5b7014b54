"""Sales imports: a CSV is checked completely (a report with line numbers), and only a clean file is imported.

Both steps run as background jobs and report progress as rows done out of total. An invoice reference already
imported for a dealer is skipped, never counted twice: the unique (dealer, invoice) constraint and an
INSERT ... ON CONFLICT DO NOTHING decide it, even when two imports of the same lines run at once. A sale dated in a
closed period is booked in today's open period, with an adjustment for the difference it makes to the frozen rebate.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy import Select, select

from portal.access import AccessRole, Viewer, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.database import begin_write
from portal.dates import company_today
from portal.dealers.services import owners_of_dealers
from portal.extensions import db
from portal.jobs import forget_after_commit, run_after_commit
from portal.money import NumberFormat
from portal.notifications.links import link
from portal.notifications.services import notify
from portal.rebates.models import ImportColumnChoice, ImportStatus, SalesImport
from portal.rebates.rules import IMPORT_TRANSITIONS
from portal.rebates.sales_jobs import (
    C_DECISION,
    FIELDS,
    KEEP,
    REPLACE,
    REQUIRED,
    check_sales_import,
    file_columns,
    lock_periods,
    move_import,
    recompute_touched,
    reverse_import_lines,
    run_sales_import,
    run_void_hooks,
)
from portal.request_locale import gettext as _
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import utcnow


def can_import_sales(user: User) -> bool:
    return user.access_role in (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


def can_confirm(batch: SalesImport) -> bool:
    return ImportStatus.IMPORTING in IMPORT_TRANSITIONS[batch.status] and not undecided_conflicts(batch)


def undecided_conflicts(batch: SalesImport) -> int:
    return sum(1 for conflict in batch.conflicts if conflict[C_DECISION] not in (KEEP, REPLACE))


def can_decide_conflicts(batch: SalesImport) -> bool:
    return batch.status is ImportStatus.READY and bool(batch.conflicts)


def can_void(user: User, batch: SalesImport) -> bool:
    """Whether the page offers the void; the service decides with the lines in hand (a closed period needs a senior
    manager)."""
    return batch.status is ImportStatus.IMPORTED and can_import_sales(user)


def can_cancel(batch: SalesImport) -> bool:
    return ImportStatus.CANCELLED in IMPORT_TRANSITIONS[batch.status]


# --- Services -------------------------------------------------------------------------------------------------------


def start_sales_import(
    actor: User,
    filename: str,
    content: bytes,
    *,
    number_format: NumberFormat = NumberFormat.UNSAID,
    sheet: str = "",
) -> SalesImport:
    """Keep the file and queue its check; nothing of it counts until the check passes and someone confirms.
    `number_format`: how the uploader says the file writes amounts; `sheet`: a workbook's sheet other than the
    first."""
    require_role(actor, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    if not content.strip():
        raise InvalidInput("file", _("The file is empty."))
    batch = SalesImport(
        filename=(filename or "sales.csv")[-200:],
        content=content,
        size=len(content),
        uploaded_by_id=actor.id,
        status=ImportStatus.VALIDATING,
        errors=[],
        number_format=number_format.value,
        sheet=sheet.strip()[:100],
    )
    db.session.add(batch)
    db.session.flush()
    audit_change("sales_import.uploaded", actor=actor, subject=batch, after={"size": len(content)})
    run_after_commit("check_sales_import", batch.id)
    return batch


def confirm_sales_import(actor: User, batch: SalesImport) -> None:
    require_role(actor, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    current = batch.status
    if undecided := undecided_conflicts(batch):
        raise InvalidInput(
            "conflicts",
            _(
                "Decide the %(count)s invoices that came again with other values first: keep or replace.",
                count=undecided,
            ),
        )
    if not can_confirm(batch) or not move_import(batch, current, ImportStatus.IMPORTING):
        raise IllegalTransition(_("This import cannot start now: it is %(status)s.", status=batch.status.value))
    batch.rows_done = 0
    audit_change(
        "sales_import.confirmed",
        actor=actor,
        subject=batch,
        before={"status": current.value},
        after={"status": "importing"},
    )
    run_after_commit("run_sales_import", batch.id)
    db.session.flush()


def cancel_sales_import(actor: User, batch: SalesImport) -> None:
    require_role(actor, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    if not move_import(batch, batch.status, ImportStatus.CANCELLED):
        raise IllegalTransition(_("Only a checked import that has not started can be cancelled."))
    batch.finished_at = utcnow()
    audit_change("sales_import.cancelled", actor=actor, subject=batch, after={"status": "cancelled"})
    db.session.flush()


def decide_conflicts(actor: User, batch: SalesImport, decisions: dict[int, str]) -> int:
    """Keep or replace, per conflict (by its position in the list). The decisions are what the import books; it
    refuses a conflict whose booked line changed since. Returns how many were decided."""
    require_role(actor, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    if not can_decide_conflicts(batch):
        raise IllegalTransition(_("Only a checked import that has not started has conflicts to decide."))
    conflicts = [list(conflict) for conflict in batch.conflicts]
    decided = 0
    for index, decision in decisions.items():
        if decision not in (KEEP, REPLACE) or not 0 <= index < len(conflicts):
            raise InvalidInput("conflicts", _("Choose keep or replace."))
        if conflicts[index][C_DECISION] != decision:
            conflicts[index][C_DECISION] = decision
            decided += 1
    batch.conflicts = conflicts  # a new list: the JSON column sees the change
    audit_change(
        "sales_import.conflicts_decided",
        actor=actor,
        subject=batch,
        after={
            "keep": sum(c[C_DECISION] == KEEP for c in conflicts),
            "replace": sum(c[C_DECISION] == REPLACE for c in conflicts),
        },
    )
    db.session.flush()
    return decided


def void_sales_import(actor: User, batch: SalesImport, reason: str) -> int:
    """Undo an imported file: each of its lines still counting is reversed (a negated line, never a deletion),
    the values it replaced are booked again, the statements are recomputed and the dealers told. Once a period of
    its lines has closed, only a senior manager or an admin may (the reversal becomes a prior-period adjustment).
    Returns the number of lines reversed."""
    require_role(actor, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("reason", _("Say why; the dealers whose sales change are told."))
    lock_periods()  # an import booking the same invoices, or a close, waits for this (or this for it)
    db.session.refresh(batch)
    if batch.status is not ImportStatus.IMPORTED:
        raise IllegalTransition(
            _("Only an imported file can be voided; this one is %(status)s.", status=batch.status.value)
        )
    reversed_lines = reverse_import_lines(
        batch, senior=actor.access_role in (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    )
    if not move_import(batch, ImportStatus.IMPORTED, ImportStatus.VOIDED):
        raise IllegalTransition(_("This import was voided meanwhile."))
    batch.voided_at = utcnow()
    batch.voided_by_id = actor.id
    batch.void_reason = reason
    recompute_touched(reversed_lines.touched)
    run_void_hooks(actor, batch.id)
    audit_change(
        "sales_import.voided",
        actor=actor,
        subject=batch,
        before={"status": "imported"},
        after={"status": "voided", "reversed": reversed_lines.count, "reason": reason},
    )
    notify(  # one call for every dealer concerned: the same words and link for each owner
        owners_of_dealers(reversed_lines.dealers),
        "sales_import_voided",
        {"file": batch.filename, "reason": reason},
        link=link("rebates.dealer_statements"),
    )
    db.session.flush()
    return reversed_lines.count


def visible_imports(user: Viewer) -> Select[SalesImport]:
    """Admins and senior managers see every import; a manager sees their own."""
    query = select(SalesImport).order_by(SalesImport.created_at.desc(), SalesImport.id.desc())
    if user.access_role in (AccessRole.ADMIN, AccessRole.SENIOR_MANAGER):
        return query
    return query.where(SalesImport.uploaded_by_id == user.id)


def get_visible_import(user: User, import_id: int) -> SalesImport:
    batch = db.session.execute(visible_imports(user).where(SalesImport.id == import_id)).scalar_one_or_none()
    if batch is None:
        raise NotFound()
    return batch


def import_file(
    actor: User,
    filename: str,
    content: bytes,
    *,
    number_format: NumberFormat = NumberFormat.UNSAID,
    sheet: str = "",
    conflicts: str | None = None,
) -> SalesImport:
    """`flask import-sales`: the same checks and import, run in this process instead of by a worker. Conflicts are
    all kept or all replaced as `conflicts` says; without it, an import with conflicts stops, ready, undecided."""
    batch = start_sales_import(actor, filename, content, number_format=number_format, sheet=sheet)
    forget_after_commit("check_sales_import")  # run here, not by a worker
    db.session.commit()
    check_sales_import(batch.id)
    begin_write()  # SQLite: what follows reads then writes; under the write lock from its start, never upgraded
    db.session.refresh(batch)
    if batch.status is ImportStatus.READY and batch.conflicts and conflicts is not None:
        decide_conflicts(actor, batch, dict.fromkeys(range(len(batch.conflicts)), conflicts))
        db.session.commit()
        begin_write()
    if batch.status is ImportStatus.READY and not undecided_conflicts(batch):
        confirm_sales_import(actor, batch)
        forget_after_commit("run_sales_import")
        db.session.commit()
        run_sales_import(batch.id)
        db.session.refresh(batch)
    return batch


def import_sales_lines(actor: User, lines: list[dict[str, str]], *, conflicts: str | None = None) -> SalesImport:
    """Sales lines and credit notes sent by an integration (the API's nightly push), imported by exactly the file
    import's code: written as the template's CSV, checked and imported in this process, with the same report, the
    same duplicate and conflict rules and the same audit. Amounts are written with a decimal point. An import that
    stops with undecided conflicts is cancelled: the sender decides them by sending again with `conflicts`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    writer.writerows([line.get(name, "") for name in FIELDS] for line in lines)
    batch = import_file(
        actor,
        f"api-{company_today().isoformat()}.csv",
        buffer.getvalue().encode("utf-8"),
        number_format=NumberFormat.POINT,
        conflicts=conflicts,
    )
    if batch.status is ImportStatus.READY and undecided_conflicts(batch):
        begin_write()
        cancel_sales_import(actor, batch)
        db.session.commit()
    return batch


TEMPLATE_COLUMNS = FIELDS  # the template names every column the import reads, in its order
TEMPLATE_COLUMNS_ZH = (
    "经销商代码",
    "销售日期",
    "金额",
    "数量",
    "产品线",
    "发票号",
    "行号",
    "原发票号",
    "物料编码",
    "单价",
    "收货地区编码",
)


def template_example() -> list[object]:
    """The template's example line: a real-looking sale dated today, to be overwritten (a credit note would have a
    negative amount and the invoice it corrects in original_invoice_ref; the product's SKU, unit price and the
    region shipped to are optional, for the referee's checks)."""
    return [
        "D001",
        company_today(),
        Decimal("12345.67"),
        2,
        "Split units",
        "INV-0001",
        1,
        "",
        "AC-1200",
        Decimal("6172.83"),
        "440305",
    ]


DEALER_COUNTS = 7  # lines, new sales lines, new sales amount, already imported, returns, returns amount, conflicts


def dealer_rows(batch: SalesImport) -> list[list[object]]:
    """The check's findings per dealer: [code, currency, *DEALER_COUNTS] (a report from before returns and
    conflicts were counted reads them as zero)."""
    return [
        [code, currency, *counts, *[0] * (DEALER_COUNTS - len(counts))]
        for code, currency, *counts in batch.dealer_totals
    ]


def totals_by_currency(batch: SalesImport) -> list[list[object]]:
    """The per-dealer findings added up per currency: [currency, *DEALER_COUNTS]."""
    totals: dict[str, list[int]] = {}
    for _code, currency, *counts in dealer_rows(batch):
        summed = totals.setdefault(str(currency), [0] * DEALER_COUNTS)
        for index, value in enumerate(counts):
            summed[index] += int(str(value))
    return [[currency, *counts] for currency, counts in sorted(totals.items())]


def report_errors(batch: SalesImport) -> list[list[object]]:
    """Each error as [line, column, problem, value found] (reports from before the value was kept show none)."""
    return [[*error, *[""] * (4 - len(error))] for error in batch.errors]


def column_choices_for(actor: User, batch: SalesImport) -> list[tuple[str, str]]:
    """The file's column names and the field each means now (a synonym, or the manager's earlier answer)."""
    return file_columns(batch, actor.id)


def map_columns(actor: User, batch: SalesImport, choices: dict[str, str]) -> SalesImport:
    """The manager says what the file's unknown columns are; the answers are remembered for their next files, and
    the same file is checked again as a new import (the rejected one stays as it was)."""
    require_role(actor, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    if batch.status is not ImportStatus.REJECTED:
        raise IllegalTransition(_("Columns are chosen for a file the check refused."))
    chosen = {header.strip().lower()[:120]: field for header, field in choices.items() if header.strip()}
    if any(field not in ("", *FIELDS) for field in chosen.values()):
        raise InvalidInput("columns", _("Choose one of the fields for each column."))
    named = [field for field in chosen.values() if field]
    if len(named) != len(set(named)):
        raise InvalidInput("columns", _("Two columns cannot give the same field."))
    if missing := [field for field in REQUIRED if field not in named]:
        raise InvalidInput("columns", _("Still missing: %(columns)s.", columns=", ".join(missing)))
    existing = {
        choice.header: choice
        for choice in db.session.execute(
            select(ImportColumnChoice).where(
                ImportColumnChoice.user_id == actor.id, ImportColumnChoice.header.in_(chosen)
            )
        ).scalars()
    }
    for header, field in chosen.items():
        if header in existing:
            existing[header].field = field
        else:
            db.session.add(ImportColumnChoice(user_id=actor.id, header=header, field=field))
    db.session.flush()
    return start_sales_import(
        actor, batch.filename, batch.content, number_format=NumberFormat(batch.number_format), sheet=batch.sheet
    )
