"""The console page of one amount per dealer and period (targets, promotion budgets): a table with an inline form
per dealer and a CSV upload. Both areas' pages are this one helper and the one template `dealers/amounts.html`;
each area gives its kind of amount, its texts, its rows and its endpoints, and keeps only its routes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.dealers import services as dealer_services
from portal.dealers.amounts import AmountKind, FileRefused, LineError, import_dealer_amounts, set_dealer_amount
from portal.dealers.models import Period, PeriodStatus
from portal.extensions import db
from portal.forms_common import CsvUploadForm
from portal.money import MoneyField
from portal.request_locale import gettext as _
from portal.request_locale import lazy_gettext as _l
from portal.service_errors import InvalidInput
from portal.web import RowPage, finish_action, page_number, redirect_to


class DealerAmountForm(FlaskForm):
    """The inline form of one table row; the view sets `amount.currency` to the dealer's before validating."""

    amount = MoneyField(_l("Amount"), validators=[DataRequired(), Length(max=30)])
    reason = StringField(_l("Why"), validators=[Optional(), Length(max=1000)])


@dataclass(frozen=True)
class Column:
    """A money column of the table after the dealer: its heading and the row's value at `index`."""

    heading: str
    index: int
    unset: str | None = None  # shown where the value is None ("not set")


@dataclass(frozen=True)
class AmountPages:
    kind: AmountKind
    list_endpoint: str
    save_endpoint: str
    import_endpoint: str
    rows: Callable[[Any, Period], Any]  # (user, period) -> a select of (dealer, *money columns)
    columns: Sequence[Column]
    periods: Callable[[], list[Period]]  # the period picker's choices
    title: Callable[[Period], str]
    new_amount_heading: Callable[[], str]
    new_amount_label: Callable[[Any], str]  # (dealer) -> the inline field's label
    saved: Callable[[Any, Period], str]  # (dealer, period) -> the message after one save
    imported: Callable[[int, Period], str]  # (count, period) -> the message after an upload
    csv_heading: Callable[[], str]
    csv_hint: Callable[[], str]
    csv_button: Callable[[], str]
    empty: Callable[[], str]
    caption: Callable[[], str]
    example: Callable[[], str]  # the error for text that is not an amount, with an example of one
    asked: Callable[[Any, Period], str] = lambda _dealer, _period: ""  # a governed kind: the change waits
    asked_many: Callable[[int, Period], str] = lambda _count, _period: ""
    breadcrumb: Callable[[], tuple[str, str] | None] = lambda: None  # (url, label) above the heading
    head_link: Callable[[Period], tuple[str, str] | None] = lambda _period: None  # (url, label) beside it

    def render(
        self,
        period: Period,
        *,
        csv_form: CsvUploadForm | None = None,
        csv_errors: list[Any] | None = None,
        failed: dict[str, Any] | None = None,
        status: int = 200,
    ) -> ResponseReturnValue:
        return render_template(
            "dealers/amounts.html",
            pages=self,
            period=period,
            periods=self.periods(),
            rows=RowPage(self.rows(current_user, period), page_number(), current_app.config["PAGE_SIZE"]),
            csv_form=csv_form or CsvUploadForm(formdata=None),
            csv_errors=csv_errors or [],
            failed=failed or {},
            editable=period.status is PeriodStatus.OPEN,
            governed=self.kind.ask is not None and self.kind.governed(period),
        ), status

    def save(self, period_code: str, code: str) -> ResponseReturnValue:
        """One dealer's amount from the inline form: saved and back to the same page of the table, or the table
        again with the error beside that dealer's field."""
        period = dealer_services.get_period(period_code)
        dealer = dealer_services.get_visible_dealer(current_user, code)
        form = DealerAmountForm()
        form.amount.currency = dealer.currency
        form.amount.message = self.example()
        if form.validate_on_submit() and form.amount.minor is not None:
            amount, reason = form.amount.minor, form.reason.data or ""
            finished = finish_action(
                form,
                lambda: set_dealer_amount(self.kind, current_user, dealer, period, amount, reason),
                lambda row: (
                    self.saved(dealer, period) if isinstance(row, self.kind.model) else self.asked(dealer, period),
                    url_for(self.list_endpoint, period=period.code, page=request.args.get("page", type=int)),
                ),
            )
            if finished:
                return finished
        return self.render(
            period, failed={"code": dealer.code, "form": form, "typed": form.amount.data or ""}, status=422
        )

    def upload(self, period_code: str) -> ResponseReturnValue:
        """A CSV of amounts: all saved, or none and every error listed with its line number. A closed period's
        IllegalTransition reaches the one error handler (rolled back, 409)."""
        period = dealer_services.get_period(period_code)
        form = CsvUploadForm()
        if not form.validate_on_submit():
            return self.render(period, csv_form=form, status=422)
        governed = self.kind.ask is not None and self.kind.governed(period)
        reason = (request.form.get("reason") or "").strip()[:1000]
        try:
            imported = import_dealer_amounts(
                self.kind,
                current_user,
                period,
                form.file.data.read(),
                reason,
                number_format=form.file_number_format,
                sheet=form.sheet.data or "",
            )
        except FileRefused as refused:
            db.session.rollback()
            return self.render(period, csv_form=form, csv_errors=refused.errors, status=422)
        except InvalidInput as refused_input:  # a clean file for a started period, sent without a reason
            db.session.rollback()
            errors = [LineError(1, refused_input.field, refused_input.message)]
            return self.render(period, csv_form=form, csv_errors=errors, status=422)
        db.session.commit()
        count = imported.count
        flash(self.asked_many(count, period) if governed else self.imported(count, period), "success")
        for line, why in imported.skipped[:10]:  # a title, a total row: said, not silently dropped
            flash(_("Line %(line)s: %(why)s", line=line, why=why), "info")
        return redirect_to(url_for(self.list_endpoint, period=period.code))
