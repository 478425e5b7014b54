"""Pages of the partner side: the dealer's statements and what-if, the console's performance, targets and sales
imports, the admin's programs and payments. Thin: parse, call one service, commit, redirect or render."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, current_app, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from portal.access import CHANNEL_MANAGERS, DEALER_USERS, AccessRole, allow
from portal.accounts.models import User
from portal.csv_io import csv_response, xlsx_response
from portal.dates import company_today, quarter_of
from portal.dealers import services as dealer_services
from portal.dealers.amount_pages import AmountPages, Column
from portal.dealers.models import Dealer, DealerTier, Period, PeriodStatus
from portal.extensions import db
from portal.forms_common import CsvUploadForm, optional_int
from portal.money import parse_money, to_decimal
from portal.page_cache import cached_page
from portal.rebates import charts, imports, ledger, queries, services
from portal.rebates.forms import AdjustmentForm, PayForm, ProgramForm, TargetDecisionForm, VoidImportForm
from portal.rebates.models import ImportStatus, Method, RebateStatement, SalesImport, StatementStatus
from portal.rebates.rules import explain, is_provisional
from portal.request_locale import gettext as _
from portal.request_locale import lazy_gettext as _l
from portal.request_locale import ngettext
from portal.types import label
from portal.web import (
    RowPage,
    finish_action,
    page_number,
    posted_ids,
    render_page_or_fragment,
    show_service_error,
    wants_fragment,
)

bp = Blueprint("rebates", __name__)
CONSOLE = (CHANNEL_MANAGERS, AccessRole.ADMIN)


@bp.app_template_filter("tier_label")
def tier_label(value: str) -> str:
    return label(DealerTier(value)) if value in DealerTier._value2member_map_ else value


def _own_dealer() -> Dealer:
    dealer = current_user.dealer
    if dealer is None:
        abort(404)
    return dealer


def _period_or_404(code: str | None) -> Period:
    return dealer_services.get_period_for_view(code, company_today())


# --- Statements: the dealer's own, and the console's view of a portfolio dealer's ----------------------------------


def _what_if_amount(dealer: Dealer) -> tuple[int, str]:
    """The extra sales typed into the what-if field; anything unparsable is ignored with a message."""
    typed = request.args.get("extra", "")[:30]
    if not typed.strip():
        return 0, ""
    try:
        extra = parse_money(typed, dealer.currency)
    except ValueError:
        return 0, _("Enter an amount such as 50000 or 50,000.00.")
    if extra < 0:
        return 0, _("Enter an amount of zero or more.")
    return extra, ""


def _statement_page(dealer: Dealer, period: Period, *, base_endpoint: str, **urls: Any) -> ResponseReturnValue:
    statement = services.statement_of(dealer, period)
    extra, what_if_error = _what_if_amount(dealer)
    context: dict[str, Any] = {
        "dealer": dealer,
        "period": period,
        "statement": statement,
        "outcome": services.outcome_of(statement) if statement else None,
        "bands": _bands(statement),
        "what_if": services.outcome_of(statement, extra) if statement and extra else None,
        "extra": extra,
        "typed": request.args.get("extra", "")[:30],
        "what_if_error": what_if_error,
        "adjustments": services.adjustments_of(statement) if statement else [],
        "penalties": [line for line in services.penalty_lines(period, [dealer.id]) if line.dealer_id == dealer.id]
        if statement
        else [],
        "base_endpoint": base_endpoint,
        "urls": urls,
        "adjustment_form": None,
        "scale_max": queries.bar_scale(statement),
        "target_history": services.target_history(dealer, period) if statement else [],
    }
    if current_user.access_role is AccessRole.ADMIN and statement is not None:
        context["adjustment_form"] = _adjustment_form(dealer)
    response = make_response(render_page_or_fragment("rebates/statement.html", "rebates/_what_if.html", **context))
    return response


def _bands(statement: RebateStatement | None) -> list[Any]:
    if statement is None or statement.method is None or not statement.tiers:
        return []

    return explain(statement.sales, statement.target, statement.rule_tiers, statement.method)


def _statement_csv(dealer: Dealer, period: Period) -> ResponseReturnValue:
    statement = services.statement_of(dealer, period)
    if statement is None:
        abort(404)

    def money(amount: Any) -> Decimal:
        return to_decimal(amount, statement.currency)

    outcome = services.outcome_of(statement)
    rows: list[list[object]] = [
        [_("Dealer"), dealer.code, dealer.name],
        [_("Period"), period.code, label(period.status)],
        [_("Status"), label(statement.status), ""],
        [_("Currency"), statement.currency, ""],
        [_("Sales"), money(statement.sales), ""],
        [_("Target"), money(statement.target), ""],
        [
            _("Attainment (%)"),
            statement.attainment_shown if statement.has_target else _("no target set"),
            "",
        ],
        [_("Method"), label(statement.method) if statement.method else "", ""],
        [_("Reached tier"), (statement.reached_tier + 1) if statement.reached_tier is not None else "", ""],
    ]
    for band in _bands(statement):
        rows.append(
            [
                _("Tier %(number)s", number=band.tier + 1),
                f"{money(band.lower)} - {money(band.upper)} x {band.rate_percent}%",
                money(band.amount),
            ]
        )
    rows.append([_("Rebate"), money(statement.rebate), ""])
    rows.append([_("Penalties"), money(-statement.penalties), ""])
    for adjustment in services.adjustments_of(statement):
        corrects = adjustment.corrects_period.code if adjustment.corrects_period else ""
        rows.append([label(adjustment.kind), money(adjustment.amount), f"{corrects} {adjustment.note}".strip()])
    rows.append([_("Net payable"), money(statement.net_payable), ""])
    if outcome is not None and outcome.next_tier is not None and is_provisional(statement.status):
        rows.append([_("Sales to the next tier"), money(outcome.sales_to_next_tier), ""])
    if statement.paid_at:
        rows.append([_("Paid"), statement.paid_at.date().isoformat(), statement.paid_reference])
    return csv_response([_("Line"), _("Value"), _("Detail")], rows, f"statement-{dealer.code}-{period.code}.csv")


@bp.route("/dealer/statements")
@allow(DEALER_USERS)
def dealer_statements() -> ResponseReturnValue:
    dealer = _own_dealer()
    statements = db.paginate(services.statements_of_dealer(dealer), page=page_number(), per_page=20, error_out=False)
    return render_template("rebates/statements.html", dealer=dealer, statements=statements)


@bp.route("/dealer/statements/<period_code>")
@allow(DEALER_USERS)
@cached_page
def dealer_statement(period_code: str) -> ResponseReturnValue:
    dealer = _own_dealer()
    period = dealer_services.get_period(period_code)
    return _statement_page(dealer, period, base_endpoint="rebates.dealer_statement", period_code=period.code)


@bp.route("/dealer/statements/<period_code>.csv")
@allow(DEALER_USERS)
def dealer_statement_csv(period_code: str) -> ResponseReturnValue:
    return _statement_csv(_own_dealer(), dealer_services.get_period(period_code))


@bp.route("/console/dealers/<code>/statements/<period_code>")
@allow(*CONSOLE)
def console_statement(code: str, period_code: str) -> ResponseReturnValue:
    dealer = dealer_services.get_visible_dealer(current_user, code)
    period = dealer_services.get_period(period_code)
    return _statement_page(
        dealer, period, base_endpoint="rebates.console_statement", code=dealer.code, period_code=period.code
    )


@bp.route("/console/dealers/<code>/statements/<period_code>.csv")
@allow(*CONSOLE)
def console_statement_csv(code: str, period_code: str) -> ResponseReturnValue:
    dealer = dealer_services.get_visible_dealer(current_user, code)
    return _statement_csv(dealer, dealer_services.get_period(period_code))


# --- The dealer's account (对账单): opening balance, movements, closing balance ------------------------------------


EXPORTS = ("csv", "xlsx")


def _account_range() -> tuple[date, date]:
    """?from=&to= as ISO dates; without them, from the first day of the previous quarter to today."""
    today = company_today()
    default_first = quarter_of(quarter_of(today)[1] - timedelta(days=1))[1]
    try:
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else default_first
        last = date.fromisoformat(request.args["to"]) if request.args.get("to") else today
    except ValueError:
        abort(400, description=_("Enter the dates as year-month-day, such as 2026-10-01."))
    if first > last:
        abort(400, description=_("The first day comes after the last."))
    return first, last


def _account_rows(account: ledger.Account) -> list[list[object]]:
    """The same lines the page shows, amounts exact in the currency's major unit."""

    def major(amount: int) -> Decimal:
        return to_decimal(amount, account.currency)

    rows: list[list[object]] = [["", "", _("Opening balance"), "", "", major(account.opening)]]
    for movement in account.movements:
        entry = movement.entry
        rows.append(
            [
                entry.booked_on,
                entry.period.code,
                label(entry.kind),
                entry.note,
                major(entry.amount),
                major(movement.balance),
            ]
        )
    rows.append(["", "", _("Closing balance"), "", "", major(account.closing)])
    return rows


def _account_answer(dealer: Dealer, export: str | None, endpoint: str, **route: str) -> ResponseReturnValue:
    if export is not None and export not in EXPORTS:
        abort(404)
    first, last = _account_range()
    account = ledger.dated_account(dealer, first, last)
    if export is not None:
        header = [_("Date"), _("Period"), _("Entry"), _("Detail"), _("Amount"), _("Balance")]
        filename = f"account-{dealer.code}-{first.isoformat()}-{last.isoformat()}.{export}"
        if export == "csv":
            return csv_response(header, _account_rows(account), filename)
        return xlsx_response(header, _account_rows(account), filename, _("Account"))
    return render_template(
        "rebates/account.html",
        dealer=dealer,
        account=account,
        first=first,
        last=last,
        endpoint=endpoint,
        route=route,
        due=ledger.balances([dealer.id])[dealer.id],
    )


@bp.route("/dealer/account")
@allow(DEALER_USERS)
def dealer_account() -> ResponseReturnValue:
    return _account_answer(_own_dealer(), None, "rebates.dealer_account")


@bp.route("/dealer/account.<export>")
@allow(DEALER_USERS)
def dealer_account_export(export: str) -> ResponseReturnValue:
    return _account_answer(_own_dealer(), export, "rebates.dealer_account")


@bp.route("/console/dealers/<code>/account")
@allow(*CONSOLE)
def console_account(code: str) -> ResponseReturnValue:
    dealer = dealer_services.get_visible_dealer(current_user, code)
    return _account_answer(dealer, None, "rebates.console_account", code=dealer.code)


@bp.route("/console/dealers/<code>/account.<export>")
@allow(*CONSOLE)
def console_account_export(code: str, export: str) -> ResponseReturnValue:
    dealer = dealer_services.get_visible_dealer(current_user, code)
    return _account_answer(dealer, export, "rebates.console_account", code=dealer.code)


@bp.route("/admin/statements/due.<export>")
@allow(AccessRole.ADMIN)
def balances_due(export: str) -> ResponseReturnValue:
    """Finance's transfer list for a period: each dealer with an amount due, its payee and bank account."""
    if export not in EXPORTS:
        abort(404)
    period = _period_or_404(request.args.get("period") or None)
    due = {dealer_id: amount for dealer_id, amount in ledger.amounts_due(period).items() if amount > 0}
    dealers = db.session.execute(select(Dealer).where(Dealer.id.in_(sorted(due))).order_by(Dealer.code)).scalars()
    header = [_("Dealer code"), _("Dealer"), _("Payee"), _("Bank"), _("Bank account number"), _("Currency"), _("Due")]
    rows: list[list[object]] = [
        [
            dealer.code,
            dealer.name,
            dealer.payee_name,
            dealer.payee_bank,
            dealer.payee_account,
            dealer.currency,
            to_decimal(due[dealer.id], dealer.currency),
        ]
        for dealer in dealers
    ]
    filename = f"balances-due-{period.code}.{export}"
    if export == "csv":
        return csv_response(header, rows, filename)
    return xlsx_response(header, rows, filename, _("Balances due"))


def _adjustment_form(dealer: Dealer, form: AdjustmentForm | None = None) -> AdjustmentForm:
    form = form or AdjustmentForm(formdata=None)
    closed = [period for period in db.session.execute(dealer_services.periods_newest_first()).scalars()]
    form.corrects.choices = [SelectChoice("", _("None: this period"))] + [
        SelectChoice(period.code, period.code) for period in closed if period.status.value == "closed"
    ]
    return form


@bp.route("/console/dealers/<code>/adjustments", methods=["POST"])
@allow(AccessRole.ADMIN)
def add_adjustment(code: str) -> ResponseReturnValue:
    dealer = dealer_services.get_visible_dealer(current_user, code)
    form = _adjustment_form(dealer, AdjustmentForm())
    form.amount.currency = dealer.currency
    booked = dealer_services.current_period()
    if form.validate_on_submit() and form.amount.minor is not None:
        amount = form.amount.minor
        corrects = None
        if form.corrects.data:
            corrects = dealer_services.get_period(form.corrects.data)
        finished = finish_action(
            form,
            lambda: services.add_manual_adjustment(current_user, dealer, amount, form.note.data or "", corrects),
            lambda adjustment: (
                _("The adjustment was booked on the statement of %(code)s.", code=booked.code if booked else ""),
                url_for("rebates.console_statement", code=dealer.code, period_code=booked.code if booked else ""),
            ),
        )
        if finished:
            return finished
    if booked is None:
        abort(409, description=_("No period is open today to book the adjustment in."))
    statement = services.statement_of(dealer, booked)
    return (
        render_template("rebates/adjustment_form.html", dealer=dealer, period=booked, form=form, statement=statement),
        422,
    )


# --- Console: performance and watch list --------------------------------------------------------------------------


def _performance_filter() -> queries.PerformanceFilter:
    args = request.args
    sort = args.get("sort", "attainment")
    return queries.PerformanceFilter(
        text=args.get("q", "")[:100],
        territory_id=optional_int(args.get("territory")),
        watch=args.get("watch", "") if args.get("watch") in ("near_tier", "behind_pace") else "",
        sort=sort if sort in queries.PERFORMANCE_SORTS else "attainment",
        descending=args.get("dir", "desc") != "asc",
    )


@bp.route("/console/performance")
@allow(*CONSOLE)
def performance() -> ResponseReturnValue:
    today = company_today()
    period = _period_or_404(request.args.get("period") or None)
    wanted = _performance_filter()
    rows = RowPage(
        queries.performance_query(current_user, period, wanted, today), page_number(), current_app.config["PAGE_SIZE"]
    )
    near, behind = queries.watch_list(current_user, period, today)
    response = make_response(
        render_page_or_fragment(
            "rebates/performance.html",
            "rebates/_performance_table.html",
            period=period,
            periods=dealer_services.recent_periods(),
            rows=rows,
            wanted=wanted,
            near=near,
            behind=behind,
            today=today,
            territories=dealer_services.all_territories(),
            projected=lambda statement: queries.projected_attainment(statement, period, today),
        )
    )
    return response


# --- Console: targets ---------------------------------------------------------------------------------------------


TARGET_PAGES = AmountPages(
    kind=services.TARGETS,
    list_endpoint="rebates.targets",
    save_endpoint="rebates.set_target",
    import_endpoint="rebates.import_targets",
    rows=services.targets_query,
    columns=[Column(_l("Target"), 1, unset=_l("not set"))],
    periods=lambda: list(
        db.session.execute(dealer_services.periods_newest_first().where(Period.status == PeriodStatus.OPEN)).scalars()
    ),
    title=lambda period: _("Targets %(period)s", period=period.code),
    head_link=lambda period: (url_for("rebates.performance", period=period.code), _("Performance")),
    new_amount_heading=lambda: _("New target"),
    new_amount_label=lambda dealer: _(
        "New target for %(dealer)s (%(currency)s)", dealer=dealer.name, currency=dealer.currency
    ),
    saved=lambda dealer, period: _(
        "The target of %(dealer)s for %(period)s is saved.", dealer=dealer.name, period=period.code
    ),
    imported=lambda count, period: _("%(count)s targets saved for %(period)s.", count=count, period=period.code),
    csv_heading=lambda: _("Set many targets from a CSV file"),
    csv_hint=lambda: _(
        "An Excel workbook or a CSV file with the columns dealer_code and target, one dealer per line; CSV in UTF-8, "
        "UTF-16 or GB18030, separated by commas, "
        'semicolons or tabs; write amounts as 1234.56 or "1,234.56". If any line is wrong, nothing is saved and '
        "every error is listed with its line number."
    ),
    csv_button=lambda: _("Upload targets"),
    empty=lambda: _("No dealers in your portfolio."),
    caption=lambda: _("Targets per dealer"),
    example=lambda: _("Enter an amount such as 1,200,000."),
    asked=lambda dealer, period: _(
        "The new target of %(dealer)s for %(period)s waits for a senior manager's approval.",
        dealer=dealer.name,
        period=period.code,
    ),
    asked_many=lambda count, period: _(
        "%(count)s target changes for %(period)s wait for a senior manager's approval.", count=count, period=period.code
    ),
)


@bp.route("/console/target-changes")
@allow(*CONSOLE)
def target_changes() -> ResponseReturnValue:
    """Senior managers decide the changes waiting; everyone with dealers sees what happened to them."""
    waiting_only = request.args.get("show") != "all"
    listing = db.paginate(
        services.target_changes_query(current_user, waiting_only),
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "rebates/target_changes.html",
        changes=listing,
        waiting_only=waiting_only,
        can_decide=lambda change: services.can_decide_target_change(current_user, change),
        form=TargetDecisionForm(formdata=None),
    )


@bp.route("/console/target-changes/<int:change_id>/<decision>", methods=["POST"])
@allow(*CONSOLE)
def decide_target_change(change_id: int, decision: str) -> ResponseReturnValue:
    change = services.get_target_change(current_user, change_id)
    if decision not in ("approve", "reject"):
        abort(404)
    form = TargetDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    back = url_for("rebates.target_changes")
    if decision == "approve":
        return finish_action(
            None,
            lambda: services.approve_target_change(current_user, change),
            lambda _change: (_("The target of %(dealer)s is changed.", dealer=change.dealer.name), back),
        )
    return finish_action(
        None,
        lambda: services.reject_target_change(current_user, change, form.note.data or ""),
        lambda _change: (_("The change is rejected; the manager who asked is told."), back),
    )


@bp.route("/console/targets")
@allow(*CONSOLE)
def targets() -> ResponseReturnValue:
    return TARGET_PAGES.render(_period_or_404(request.args.get("period") or None))


@bp.route("/console/targets/<period_code>/<code>", methods=["POST"])
@allow(*CONSOLE)
def set_target(period_code: str, code: str) -> ResponseReturnValue:
    return TARGET_PAGES.save(period_code, code)


@bp.route("/console/targets/<period_code>/import", methods=["POST"])
@allow(*CONSOLE)
def import_targets(period_code: str) -> ResponseReturnValue:
    return TARGET_PAGES.upload(period_code)


# --- Console: sales imports ---------------------------------------------------------------------------------------


def _render_imports(form: CsvUploadForm | None = None, status: int = 200) -> ResponseReturnValue:
    listing = db.paginate(imports.visible_imports(current_user), page=page_number(), per_page=20, error_out=False)
    return render_template("rebates/imports.html", form=form or CsvUploadForm(formdata=None), imports=listing), status


@bp.route("/console/sales-imports", methods=["GET", "POST"])
@allow(*CONSOLE)
def sales_imports() -> ResponseReturnValue:
    if request.method == "GET":
        return _render_imports()
    form = CsvUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        content = upload.read()
        if len(content) > current_app.config["SALES_IMPORT_MAX_BYTES"]:
            show_service_error(form, "file", _("This file is too large for the web; use the import-sales command."))
        else:
            finished = finish_action(
                form,
                lambda: imports.start_sales_import(
                    current_user,
                    upload.filename or "sales.csv",
                    content,
                    number_format=form.file_number_format,
                    sheet=form.sheet.data or "",
                ),
                lambda batch: (
                    _("The file is being checked. Nothing is imported until you confirm."),
                    url_for("rebates.sales_import", import_id=batch.id),
                ),
            )
            if finished:
                return finished
    return _render_imports(form, 422)


DEALER_ROWS_SHOWN = 100  # dealers listed in a check report; the totals cover all of them


@bp.route("/console/sales-imports/<int:import_id>")
@allow(*CONSOLE)
def sales_import(import_id: int) -> ResponseReturnValue:
    batch = imports.get_visible_import(current_user, import_id)
    return _render_import(batch)


def _render_import(
    batch: SalesImport,
    *,
    void_form: VoidImportForm | None = None,
    upload_form: CsvUploadForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The import's page: progress while it works, then its report and what can be done with it."""
    working = batch.status in (ImportStatus.VALIDATING, ImportStatus.IMPORTING)
    rejected = batch.status is ImportStatus.REJECTED
    response = make_response(
        render_page_or_fragment(
            "rebates/import.html",
            "rebates/_import_progress.html",
            batch=batch,
            working=working,
            can_confirm=imports.can_confirm(batch),
            can_cancel=imports.can_cancel(batch),
            can_decide=imports.can_decide_conflicts(batch),
            can_void=imports.can_void(current_user, batch),
            undecided=imports.undecided_conflicts(batch),
            dealer_rows=imports.dealer_rows(batch)[:DEALER_ROWS_SHOWN],
            dealer_totals=imports.totals_by_currency(batch),
            currencies={str(row[0]): str(row[1]) for row in batch.dealer_totals},
            errors=imports.report_errors(batch),
            columns=imports.column_choices_for(current_user, batch) if rejected else [],
            fields=imports.FIELDS,
            void_form=void_form or VoidImportForm(formdata=None),
            upload_form=upload_form or CsvUploadForm(formdata=None),
            status=status,
        )
    )
    if wants_fragment() and not working:
        response.headers["HX-Refresh"] = "true"  # finished: show the whole page with its report and actions
    return response


@bp.route("/console/sales-imports/<int:import_id>/errors.csv")
@allow(*CONSOLE)
def sales_import_errors(import_id: int) -> ResponseReturnValue:
    """The check's errors as a spreadsheet, to correct the file line by line."""
    batch = imports.get_visible_import(current_user, import_id)
    return csv_response(
        [_("Line"), _("Column"), _("Value found"), _("Problem")],
        [[line, column, found, message] for line, column, message, found in imports.report_errors(batch)],
        f"errors-{batch.id}.csv",
    )


@bp.route("/console/sales-imports/<int:import_id>/conflicts", methods=["POST"])
@allow(*CONSOLE)
def decide_import_conflicts(import_id: int) -> ResponseReturnValue:
    """Keep or replace each invoice sent again with other values; "keep all" and "replace all" decide the rest."""
    batch = imports.get_visible_import(current_user, import_id)
    every = request.form.get("all", "")
    decisions: dict[int, str] = {}
    for index in range(len(batch.conflicts)):
        chosen = every or request.form.get(f"conflict-{index}", "")
        if chosen:
            decisions[index] = chosen
    return finish_action(
        None,
        lambda: imports.decide_conflicts(current_user, batch, decisions),
        lambda count: (
            ngettext("%(num)s decision saved.", "%(num)s decisions saved.", count),
            url_for("rebates.sales_import", import_id=batch.id),
        ),
    )


@bp.route("/console/sales-imports/<int:import_id>/columns", methods=["POST"])
@allow(*CONSOLE)
def map_import_columns(import_id: int) -> ResponseReturnValue:
    """What the file's unknown columns are: remembered for the manager, and the file checked again."""
    batch = imports.get_visible_import(current_user, import_id)
    choices = {
        header: request.form.get(f"column-{index}", "")
        for index, (header, _field) in enumerate(imports.column_choices_for(current_user, batch))
    }
    return finish_action(
        None,
        lambda: imports.map_columns(current_user, batch, choices),
        lambda again: (
            _("Your choices are remembered; the file is being checked again."),
            url_for("rebates.sales_import", import_id=again.id),
        ),
    )


@bp.route("/console/sales-imports/<int:import_id>/void", methods=["POST"])
@allow(*CONSOLE)
def void_sales_import(import_id: int) -> ResponseReturnValue:
    batch = imports.get_visible_import(current_user, import_id)
    form = VoidImportForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: imports.void_sales_import(current_user, batch, form.reason.data or ""),
            lambda count: (
                ngettext(
                    "The import is voided: %(num)s line reversed, statements recomputed.",
                    "The import is voided: %(num)s lines reversed, statements recomputed.",
                    count,
                ),
                url_for("rebates.sales_import", import_id=batch.id),
            ),
        )
        if finished:
            return finished
    return _render_import(batch, void_form=form, status=422)


@bp.route("/console/sales-imports/template.<export>")
@allow(*CONSOLE)
def sales_import_template(export: str) -> ResponseReturnValue:
    """An empty sales file with one example line, its columns named in the language asked for (?language=zh)."""
    if export not in EXPORTS:
        abort(404)
    chinese = request.args.get("language") == "zh"
    header = list(imports.TEMPLATE_COLUMNS_ZH if chinese else imports.TEMPLATE_COLUMNS)
    example = imports.template_example()
    filename = f"sales-template{'-zh' if chinese else ''}.{export}"
    if export == "csv":
        return csv_response(header, [example], filename)
    return xlsx_response(header, [example], filename, _("Sales"))


@bp.route("/console/sales-imports/<int:import_id>/confirm", methods=["POST"])
@allow(*CONSOLE)
def confirm_sales_import(import_id: int) -> ResponseReturnValue:
    batch = imports.get_visible_import(current_user, import_id)
    return finish_action(
        None,
        lambda: imports.confirm_sales_import(current_user, batch),
        lambda _result: (_("The import has started."), url_for("rebates.sales_import", import_id=batch.id)),
    )


@bp.route("/console/sales-imports/<int:import_id>/cancel", methods=["POST"])
@allow(*CONSOLE)
def cancel_sales_import(import_id: int) -> ResponseReturnValue:
    batch = imports.get_visible_import(current_user, import_id)
    return finish_action(
        None,
        lambda: imports.cancel_sales_import(current_user, batch),
        lambda _result: (_("The import was cancelled; nothing of it was saved."), url_for("rebates.sales_imports")),
    )


# --- Admin: programs and payments ---------------------------------------------------------------------------------


def _program_input(form: ProgramForm) -> services.ProgramInput | None:
    tiers = []
    valid = True
    for row in form.tiers:
        threshold, rate = (row.threshold.data or "").strip(), (row.rate.data or "").strip()
        if not threshold and not rate:
            continue
        try:
            tiers.append((services.parse_percent(threshold), services.parse_percent(rate)))
        except ValueError:
            row.threshold.errors = [_("Enter percentages such as 100 and 2.5 (two decimals at most).")]
            valid = False
    if not valid:
        return None
    return services.ProgramInput(
        name=form.name.data or "",
        method=Method(form.method.data),
        eligible=tuple(
            DealerTier(value) for value in form.eligible.data or [] if value in DealerTier._value2member_map_
        ),
        tiers=tuple(tiers),
    )


def _save_program_view(form: ProgramForm, period: Period, program: Any = None) -> ResponseReturnValue:
    if form.validate_on_submit():
        wanted = _program_input(form)
        if wanted is not None:
            finished = finish_action(
                form,
                lambda: services.save_program(current_user, period, wanted, program),
                lambda saved: (
                    _("Program %(name)s is saved; its dealers' statements are recalculated.", name=saved.name),
                    url_for("rebates.programs", period=period.code),
                ),
            )
            if finished:
                return finished
    status = 422 if request.method == "POST" else 200
    return render_template("rebates/program_form.html", form=form, period=period, program=program), status


@bp.route("/admin/programs")
@allow(AccessRole.ADMIN)
def programs() -> ResponseReturnValue:
    period = _period_or_404(request.args.get("period") or None)
    return render_template(
        "rebates/programs.html",
        period=period,
        periods=list(db.session.execute(dealer_services.periods_newest_first()).scalars()),
        programs=services.programs_of(period),
    )


@bp.route("/admin/programs/new/<period_code>", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def new_program(period_code: str) -> ResponseReturnValue:
    period = dealer_services.get_period(period_code)
    if period.status.value != "open":
        abort(409, description=_("Period %(code)s is closed; its programs can no longer change.", code=period.code))
    form = ProgramForm()
    if request.method == "GET":
        form.method.data = Method.RETROACTIVE.value
    return _save_program_view(form, period)


@bp.route("/admin/programs/<int:program_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_program(program_id: int) -> ResponseReturnValue:
    program = services.get_program(program_id)
    form = ProgramForm(obj=None)
    if request.method == "GET":
        form.name.data = program.name
        form.method.data = program.method.value
        form.eligible.data = program.eligible
        for row, tier in zip(form.tiers, program.tiers, strict=False):
            row.threshold.data = str(tier.rule.threshold_percent.normalize())
            row.rate.data = str(tier.rule.rate_percent.normalize())
    return _save_program_view(form, program.period, program)


@bp.route("/admin/statements")
@allow(AccessRole.ADMIN)
def admin_statements() -> ResponseReturnValue:
    period = _period_or_404(request.args.get("period") or None)
    wanted = request.args.get("status", "")
    status = StatementStatus(wanted) if wanted in StatementStatus._value2member_map_ else None
    query = (
        select(RebateStatement)
        .join(Dealer, Dealer.id == RebateStatement.dealer_id)
        .where(RebateStatement.period_id == period.id)
        .order_by(Dealer.code)
    )
    if status is not None:
        query = query.where(RebateStatement.status == status)
    listing = db.paginate(query, page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    dues = ledger.amounts_due(period, [statement.dealer_id for statement in listing.items])
    return render_template(
        "rebates/admin_statements.html",
        dues=dues,
        period=period,
        periods=list(db.session.execute(dealer_services.periods_newest_first()).scalars()),
        statements=listing,
        status=status,
        statuses=list(StatementStatus),
        form=PayForm(formdata=None),
        can_pay=services.can_mark_paid,
    )


@bp.route("/admin/statements/pay", methods=["POST"])
@allow(AccessRole.ADMIN)
def pay_statements() -> ResponseReturnValue:
    form = PayForm()
    ids = posted_ids("statement_id")
    period_code = request.form.get("period", "")[:16]
    back = url_for("rebates.admin_statements", period=period_code or None)
    if not form.validate_on_submit():
        abort(422, description=_("Enter the payment reference from the bank transfer."))
    return finish_action(
        None,
        lambda: services.mark_paid(current_user, ids, form.reference.data or ""),
        lambda paid: (_("%(count)s statements marked paid.", count=paid), back),
    )


# --- Sections of the dealers' pages -----------------------------------------------------------------------------------


def dealer_home_section(viewer: User, dealer: Dealer) -> dict[str, object]:
    """The dealer's home: where this period's rebate stands and what the next tier needs."""
    today = company_today()
    period = dealer_services.period_for_view(None, today)
    board = queries.dashboard(dealer, period, services.statement_of(dealer, period), today) if period else None
    trend = queries.attainment_trend(dealer)
    return {
        "board": board,
        "trend": trend,
        "monthly_chart": charts.monthly_chart(board.months) if board else None,
        "trend_chart": charts.trend_chart(trend),
    }


def dealer_console_section(viewer: User, dealer: Dealer) -> dict[str, object]:
    """A dealer's page in the console: the last eight statements."""
    return {"statements": list(db.session.execute(services.statements_of_dealer(dealer).limit(8)).scalars())}
