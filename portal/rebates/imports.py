"""Sales imports: a CSV is checked completely (a report with line numbers), and only a clean file is imported.

Both steps run as background jobs and report progress as rows done out of total. An invoice reference already
imported for a dealer is skipped, never counted twice: the unique (dealer, invoice) constraint and an
INSERT ... ON CONFLICT DO NOTHING decide it, even when two imports of the same lines run at once. A sale dated in a
closed period is booked in today's open period, with an adjustment for the difference it makes to the frozen rebate.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from portal.access import AccessRole, require_role
from portal.accounts.models import User
from portal.audit.services import audit_change
from portal.dates import company_today
from portal.extensions import db
from portal.jobs import forget_after_commit, run_after_commit
from portal.rebates.models import ImportStatus, SalesImport
from portal.rebates.rules import IMPORT_TRANSITIONS
from portal.rebates.sales_jobs import check_sales_import, move_import, run_sales_import
from portal.service_errors import IllegalTransition, InvalidInput, NotFound
from portal.types import utcnow


def can_import_sales(user: User) -> bool:
    return user.access_role in (AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


def can_confirm(batch: SalesImport) -> bool:
    return ImportStatus.IMPORTING in IMPORT_TRANSITIONS[batch.status]


def can_cancel(batch: SalesImport) -> bool:
    return ImportStatus.CANCELLED in IMPORT_TRANSITIONS[batch.status]


# --- Services -------------------------------------------------------------------------------------------------------


def start_sales_import(actor: User, filename: str, content: bytes) -> SalesImport:
    """Keep the file and queue its check; nothing of it counts until the check passes and someone confirms."""
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
    )
    db.session.add(batch)
    db.session.flush()
    audit_change("sales_import.uploaded", actor=actor, subject=batch, after={"size": len(content)})
    run_after_commit("check_sales_import", batch.id)
    return batch


def confirm_sales_import(actor: User, batch: SalesImport) -> None:
    require_role(actor, AccessRole.MANAGER, AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
    current = batch.status
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


# Literal SQL, so that nothing but these words can ever reach the server; the columns are SALES_LINE_COLUMNS
# (tests/test_rebate_rules.py checks that they agree).


def visible_imports(user: User):
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


def import_file(actor: User, filename: str, content: bytes) -> SalesImport:
    """`flask import-sales`: the same checks and import, run in this process instead of by a worker."""
    batch = start_sales_import(actor, filename, content)
    forget_after_commit("check_sales_import")  # run here, not by a worker
    db.session.commit()
    check_sales_import(batch.id)
    db.session.refresh(batch)
    if batch.status is ImportStatus.READY:
        confirm_sales_import(actor, batch)
        forget_after_commit("run_sales_import")
        db.session.commit()
        run_sales_import(batch.id)
        db.session.refresh(batch)
    return batch


TEMPLATE_COLUMNS = ("dealer_code", "date", "amount", "units", "product_line", "invoice_ref")
TEMPLATE_COLUMNS_ZH = ("经销商代码", "销售日期", "金额", "数量", "产品线", "发票号")


def template_example() -> list[object]:
    """The template's example line: a real-looking sale dated today, to be overwritten."""
    return ["D001", company_today(), Decimal("12345.67"), 2, "Split units", "INV-0001"]


def totals_by_currency(batch: SalesImport) -> list[list[object]]:
    """The per-dealer findings added up per currency: [currency, lines, new lines, new amount, already]."""
    totals: dict[str, list[int]] = {}
    for _code, currency, *counts in batch.dealer_totals:
        summed = totals.setdefault(str(currency), [0, 0, 0, 0])
        for index, value in enumerate(counts):
            summed[index] += int(value)
    return [[currency, *counts] for currency, counts in sorted(totals.items())]
