"""Claim forms. Amounts are text parsed with Decimal in the dealer's currency by the views, never floats."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired, MultipleFileField
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.claims.invoices import InvoiceType
from portal.claims.rules import RejectionReason
from portal.claims.services import Decision
from portal.forms_common import enum_choices, optional_int
from portal.money import MoneyField
from portal.request_locale import lazy_gettext as _l


class ClaimForm(FlaskForm):
    period = SelectField(_l("Budget period"), choices=[], validators=[DataRequired()])
    activity_type_id = SelectField(_l("Activity"), choices=[], coerce=optional_int, validators=[DataRequired()])
    # Not checked against the offered list here: a pre-approval taken by another claim since the page loaded gets
    # the service's message naming that claim, not "not a valid choice".
    fund_request_id = SelectField(_l("Pre-approval request"), choices=[], coerce=optional_int, validate_choice=False)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("What was done"), validators=[Optional(), Length(max=4000)])
    activity_start = DateField(_l("Activity started"), validators=[DataRequired()])
    activity_end = DateField(_l("Activity ended"), validators=[DataRequired()])
    vendor = StringField(_l("Vendor"), validators=[Optional(), Length(max=200)])
    vendor_tax_id = StringField(_l("Vendor tax id"), validators=[Optional(), Length(max=32)])
    invoice_type = SelectField(
        _l("Invoice type"), choices=enum_choices(InvoiceType, blank=_l("Not given")), default="", validate_choice=False
    )
    invoice_code = StringField(_l("Invoice code (发票代码)"), validators=[Optional(), Length(max=40)])
    invoice_number = StringField(_l("Invoice (fapiao) number"), validators=[Optional(), Length(max=64)])
    invoice_date = DateField(_l("Invoice date"), validators=[Optional()])
    invoice_amount_before_tax = MoneyField(_l("Invoice amount before tax"), validators=[Optional(), Length(max=30)])
    invoice_tax = MoneyField(_l("Invoice tax"), validators=[Optional(), Length(max=30)])
    invoice_total = MoneyField(_l("Invoice total with tax"), validators=[Optional(), Length(max=30)])
    amount = MoneyField(_l("Amount claimed"), validators=[DataRequired(), Length(max=30)])
    over_pre_approval_reason = TextAreaField(
        _l("Why it costs more than pre-approved (if it does)"), validators=[Optional(), Length(max=2000)]
    )


class QuickClaimForm(FlaskForm):
    """The phone's claim: the files, the amount and the activity; the dates default to today, the title to the
    activity and the date, the budget to the period the activity ended in. The invoice number is optional, for the
    duplicate check as the dealer types; a fapiao's QR code in a photo fills it anyway."""

    files = MultipleFileField(
        _l("Photos or PDFs: the invoice and the activity"),
        validators=[FileRequired(_l("Add a photo or a PDF of the invoice."))],
        render_kw={"accept": "image/*,application/pdf", "multiple": True},
    )
    amount = MoneyField(_l("Amount claimed"), validators=[DataRequired(), Length(max=30)])
    activity_type_id = SelectField(_l("Activity"), choices=[], coerce=optional_int, validators=[DataRequired()])
    activity_start = DateField(_l("Activity started"), validators=[DataRequired()])
    activity_end = DateField(_l("Activity ended"), validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    invoice_number = StringField(_l("Invoice (fapiao) number"), validators=[Optional(), Length(max=64)])
    fund_request_id = SelectField(_l("Pre-approval request"), choices=[], coerce=optional_int, validate_choice=False)


class CommentForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=4000)])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why (optional)"), validators=[Optional(), Length(max=1000)])


class _Decision(FlaskForm):
    """What both steps of a review share: the decision, one button each, none chosen before the reviewer presses
    one; the flags ticked as looked at; a rejection's reason code."""

    reason_code = SelectField(
        _l("Reason for a rejection"),
        choices=enum_choices(RejectionReason, blank=_l("Choose a reason")),
        default="",
    )
    # The service compares the ticks with the flags the claim carries when it decides; unknown values are ignored.
    checked = SelectMultipleField(_l("Flags looked at"), choices=[], validate_choice=False)


class DecisionForm(_Decision):
    decision = SelectField(
        _l("Decision"),
        choices=[
            SelectChoice(Decision.APPROVE.value, _l("Approve the amount claimed")),
            SelectChoice(Decision.APPROVE_PART.value, _l("Approve a lower amount")),
            SelectChoice(Decision.REJECT.value, _l("Reject")),
            SelectChoice(Decision.REQUEST_INFO.value, _l("Ask the dealer for information")),
        ],
        validators=[DataRequired(_l("Press one of the decision buttons."))],
    )
    amount = MoneyField(_l("Amount to approve (for a lower amount)"), validators=[Optional(), Length(max=30)])
    reason = TextAreaField(_l("Reason or message the dealer sees"), validators=[Optional(), Length(max=2000)])


class SecondDecisionForm(_Decision):
    """At the second step: approve what the first reviewer proposed, reject, or send it back to them."""

    decision = SelectField(
        _l("Decision"),
        choices=[
            SelectChoice(Decision.APPROVE.value, _l("Give the second approval")),
            SelectChoice(Decision.REJECT.value, _l("Reject")),
            SelectChoice(Decision.REQUEST_INFO.value, _l("Send back to the first reviewer")),
        ],
        validators=[DataRequired(_l("Press one of the decision buttons."))],
    )
    reason = TextAreaField(_l("Reason or note"), validators=[Optional(), Length(max=2000)])


class ClaimIdsField(SelectMultipleField):
    """Checked claim ids; which of them may be acted on is the service's decision, not the form's."""

    def pre_validate(self, form: object) -> None:
        if any(value is None for value in self.data or []):
            raise ValidationError(_l("Choose claims from the list."))


class BulkApproveForm(FlaskForm):
    claim_ids = ClaimIdsField(_l("Claims"), coerce=optional_int, choices=[], validate_choice=False)


class PaymentForm(FlaskForm):
    claim_ids = ClaimIdsField(_l("Claims"), coerce=optional_int, choices=[], validate_choice=False)
    reference = StringField(_l("Payment reference"), validators=[DataRequired(), Length(max=120)])


class FundRequestForm(FlaskForm):
    period = SelectField(_l("Budget period"), choices=[], validators=[DataRequired()])
    activity_type_id = SelectField(_l("Activity"), choices=[], coerce=optional_int, validators=[DataRequired()])
    title = StringField(_l("What is planned"), validators=[DataRequired(), Length(max=200)])
    planned_start = DateField(_l("Starts"), validators=[DataRequired()])
    planned_end = DateField(_l("Ends"), validators=[DataRequired()])
    estimated_cost = MoneyField(_l("Estimated cost"), validators=[DataRequired(), Length(max=30)])


class AskBudgetForm(FlaskForm):
    note = TextAreaField(_l("Note for the admins (optional)"), validators=[Optional(), Length(max=1000)])


class RequestDecisionForm(FlaskForm):
    decision = SelectField(
        _l("Decision"),
        choices=[SelectChoice("approve", _l("Approve")), SelectChoice("reject", _l("Reject"))],
        validators=[DataRequired()],
    )
    note = TextAreaField(_l("Note the dealer sees (needed to reject)"), validators=[Optional(), Length(max=2000)])
