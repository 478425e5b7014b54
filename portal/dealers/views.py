"""Dealer pages: the dealer's own home and people, the console's portfolio and dealer pages, the admin directory.

Thin views: validate the form, call one service, commit, redirect or render. Who may do what is decided by the
route declarations and the services; templates only show what the view says the user can do.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from wtforms import SelectChoice

from portal.access import CHANNEL_MANAGERS, DEALER_USERS, AccessRole, allow
from portal.dates import company_today
from portal.dealers import closing, documents, people, sections, services, tiers
from portal.dealers.forms import (
    DealerForm,
    DealerStatusForm,
    PeriodForm,
    PortfolioMoveForm,
    ReassignForm,
    ReopenForm,
    StaffForm,
    TerritoryForm,
    TierChangeForm,
    TraineeForm,
)
from portal.dealers.models import DealerStatus, DealerTier, PeriodStatus, Territory
from portal.dealers.rules import STATUS_TRANSITIONS, NewSubmission
from portal.evidence import services as evidence_services
from portal.evidence.forms import UploadForm
from portal.evidence.validation import RejectedFile
from portal.extensions import db
from portal.formatting import local_date
from portal.forms_common import optional_int
from portal.page_cache import cached_page
from portal.request_locale import gettext as _
from portal.types import label
from portal.web import finish_action, page_number, redirect_to, render_page_or_fragment

bp = Blueprint("dealers", __name__)


@bp.app_template_global()
def new_submission_refusal(what: str) -> str | None:
    """For pages that offer something new (a claim, a pre-approval request, an enrolment): why the signed-in
    dealer user's dealer may not submit it now, shown instead of the form; None for everyone else."""
    dealer = current_user.dealer if current_user.is_authenticated else None
    return services.new_submission_refusal(dealer, NewSubmission(what)) if dealer is not None else None


CONSOLE = (CHANNEL_MANAGERS, AccessRole.ADMIN)
DIRECTORS = (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


# --- The dealer's own pages ----------------------------------------------------------------------------------------


@bp.route("/dealer/")
@allow(DEALER_USERS)
@cached_page
def dealer_home() -> ResponseReturnValue:
    dealer = current_user.dealer
    if dealer is None:  # a dealer user always has a dealer; a broken row must not show someone else's data
        abort(404)
    manager, dealer_people = services.dealer_contacts(dealer)
    return render_template(
        "dealers/dealer_home.html",
        dealer=dealer,
        manager=manager,
        people=dealer_people,
        period=services.current_period(),
        today=company_today(),
        **sections.home_sections(current_user, dealer),
    )


def _render_people(staff_form: StaffForm | None = None, trainee_form: TraineeForm | None = None, status: int = 200):
    dealer = current_user.dealer
    return (
        render_template(
            "dealers/people.html",
            dealer=dealer,
            people=services.dealer_people(dealer),
            trainees=people.dealer_trainees(dealer),
            can_manage=people.can_manage_dealer_people(current_user),
            staff_form=staff_form or StaffForm(formdata=None, **SHARED_PAGE_FORM["staff"]),
            trainee_form=trainee_form or TraineeForm(formdata=None, **SHARED_PAGE_FORM["trainee"]),
        ),
        status,
    )


# Two forms share the people page: prefixes keep their field ids apart. The CSRF token keeps its usual name
# (`csrf_token`, checked for every POST by CSRFProtect) instead of a prefixed one that scanners and proxies miss.
SHARED_PAGE_FORM: dict[str, dict[str, Any]] = {
    "staff": {"prefix": "staff", "meta": {"csrf": False}},
    "trainee": {"prefix": "trainee", "meta": {"csrf": False}},
}


@bp.route("/dealer/people")
@allow(DEALER_USERS)
def dealer_people_page() -> ResponseReturnValue:
    return _render_people()


@bp.route("/dealer/people/staff", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def add_staff() -> ResponseReturnValue:
    form = StaffForm(**SHARED_PAGE_FORM["staff"])
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: people.add_staff(
                current_user,
                name=form.name.data or "",
                email=form.email.data or "",
                temporary_password=form.temporary_password.data or "",
            ),
            lambda person: (
                _("%(name)s can now log in with the temporary password you set.", name=person.name)
                if form.temporary_password.data
                else _("We emailed %(name)s an invitation to choose a password.", name=person.name),
                url_for("dealers.dealer_people_page"),
            ),
        )
        if finished:
            return finished
    return _render_people(staff_form=form, status=422)


def _colleague_action(user_id: int, action: Any, message: str) -> ResponseReturnValue:
    person = people.get_colleague(current_user, user_id)
    return finish_action(
        None,
        lambda: action(current_user, person),
        lambda _result: (message % {"name": person.name}, url_for("dealers.dealer_people_page")),
    )


@bp.route("/dealer/people/staff/<int:user_id>/deactivate", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def deactivate_staff(user_id: int) -> ResponseReturnValue:
    return _colleague_action(user_id, people.deactivate_colleague, _("%(name)s can no longer log in."))


@bp.route("/dealer/people/staff/<int:user_id>/reactivate", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def reactivate_staff(user_id: int) -> ResponseReturnValue:
    return _colleague_action(user_id, people.reactivate_colleague, _("%(name)s can log in again."))


@bp.route("/dealer/people/staff/<int:user_id>/make-owner", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def make_owner(user_id: int) -> ResponseReturnValue:
    return _colleague_action(user_id, people.make_owner, _("%(name)s is now an owner of this dealer."))


def _trainee_details(form: TraineeForm) -> people.TraineeDetails:
    return people.TraineeDetails(
        name=form.name.data or "",
        job_title=form.job_title.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
    )


@bp.route("/dealer/people/trainees", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def add_trainee() -> ResponseReturnValue:
    form = TraineeForm(**SHARED_PAGE_FORM["trainee"])
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: people.add_trainee(current_user, _trainee_details(form)),
            lambda trainee: (
                _("%(name)s was added to your trainees.", name=trainee.name),
                url_for("dealers.dealer_people_page"),
            ),
        )
        if finished:
            return finished
    return _render_people(trainee_form=form, status=422)


@bp.route("/dealer/people/trainees/<int:trainee_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.DEALER_OWNER)
def edit_trainee(trainee_id: int) -> ResponseReturnValue:
    trainee = people.get_trainee(current_user, trainee_id)
    form = TraineeForm(obj=trainee)
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: people.update_trainee(current_user, trainee, _trainee_details(form)),
            lambda _result: (_("The trainee's details were saved."), url_for("dealers.dealer_people_page")),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/trainee_edit.html", form=form, trainee=trainee), status


@bp.route("/dealer/people/trainees/<int:trainee_id>/remove", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def remove_trainee(trainee_id: int) -> ResponseReturnValue:
    trainee = people.get_trainee(current_user, trainee_id)
    return finish_action(
        None,
        lambda: people.remove_trainee(current_user, trainee),
        lambda _result: (
            _("%(name)s was removed from your trainees.", name=trainee.name),
            url_for("dealers.dealer_people_page"),
        ),
    )


# --- Console: portfolio and dealer pages ---------------------------------------------------------------------------


def _portfolio_filter() -> services.PortfolioFilter:
    args = request.args
    tier = args.get("tier", "")
    status = args.get("status", "")
    return services.PortfolioFilter(
        text=args.get("q", "")[:100],
        tier=DealerTier(tier) if tier in DealerTier._value2member_map_ else None,
        status=DealerStatus(status) if status in DealerStatus._value2member_map_ else None,
        territory_id=optional_int(args.get("territory")),
        sort=args.get("sort", "code") if args.get("sort") in services.PORTFOLIO_SORTS else "code",
        descending=args.get("dir") == "desc",
    )


@bp.route("/console/")
@allow(*CONSOLE)
@cached_page
def portfolio() -> ResponseReturnValue:
    wanted = _portfolio_filter()
    dealers = services.portfolio_page(current_user, wanted)
    return render_page_or_fragment(
        "dealers/portfolio.html",
        "dealers/_portfolio_table.html",
        heading=_("My portfolio") if current_user.access_role is AccessRole.MANAGER else _("All dealers"),
        dealers=dealers,
        wanted=wanted,
        territories=services.all_territories(),
        tiers=list(DealerTier),
        statuses=list(DealerStatus),
        period=services.current_period(),
        can_create=current_user.access_role is AccessRole.ADMIN,
    )


def _tier_form(formdata: Any = None) -> TierChangeForm:
    """The effective days offered: the next period's start (the default) and, backdated, the starts of open
    periods that began."""
    days = tiers.effective_days(company_today())
    form = TierChangeForm() if formdata is not None else TierChangeForm(formdata=None)
    upcoming = days.next_period
    form.effective_from.choices = [
        SelectChoice(upcoming.isoformat(), _("%(day)s: the next period", day=local_date(upcoming)))
    ] + [
        SelectChoice(
            period.starts_on.isoformat(),
            _("%(day)s: backdated to the start of %(period)s", day=local_date(period.starts_on), period=period.code),
        )
        for period in days.backdatable
    ]
    if formdata is None:
        form.effective_from.data = upcoming.isoformat()
    return form


def _render_dealer_page(
    dealer: Any,
    status_form: DealerStatusForm | None = None,
    code: int = 200,
    tier_form: TierChangeForm | None = None,
) -> ResponseReturnValue:
    can_change_status = services.can_change_dealer_status(current_user)
    can_reassign = services.can_reassign_portfolios(current_user)
    managers = services.active_managers() if can_reassign else []
    if status_form is None:
        status_form = DealerStatusForm(formdata=None, expected=dealer.status.value)
    found_documents = evidence_services.evidence_of(documents.OWNER_TYPE, dealer.id)
    allowed = STATUS_TRANSITIONS[dealer.status]
    status_form.status.choices = [
        choice for choice in status_form.status.choices if DealerStatus(choice.value) in allowed
    ]
    return (
        render_template(
            "dealers/dealer_detail.html",
            dealer=dealer,
            people=services.dealer_people(dealer),
            trainees=people.dealer_trainees(dealer),
            timeline=services.dealer_timeline(dealer),
            **sections.console_sections(current_user, dealer),
            documents=found_documents,
            uploaders=documents.uploaders(found_documents),
            removable=None,
            can_change_status=can_change_status and bool(STATUS_TRANSITIONS[dealer.status]),
            can_reassign=can_reassign,
            can_edit=current_user.access_role is AccessRole.ADMIN,
            status_form=status_form,
            reassign_form=ReassignForm(formdata=None, managers=managers, manager_id=dealer.manager_id),
            tier_history=tiers.tier_history(dealer),
            today=company_today(),
            tier_form=(tier_form or _tier_form()) if tiers.can_change_tiers(current_user) else None,
        ),
        code,
    )


@bp.route("/console/dealers/<code>/tier", methods=["POST"])
@allow(AccessRole.ADMIN)
def change_tier(code: str) -> ResponseReturnValue:
    dealer = services.get_visible_dealer(current_user, code)
    form = _tier_form(formdata=request.form)
    if form.validate_on_submit():
        change = tiers.TierChange(
            tier=DealerTier(form.tier.data),
            effective_from=date.fromisoformat(form.effective_from.data),
            reason=form.why.data or "",
        )
        finished = finish_action(
            form,
            lambda: tiers.change_tier(current_user, dealer, change),
            lambda _row: (
                _(
                    "%(dealer)s is %(tier)s from %(day)s.",
                    dealer=dealer.name,
                    tier=label(change.tier),
                    day=local_date(change.effective_from),
                ),
                url_for("dealers.dealer_detail", code=dealer.code),
            ),
        )
        if finished:
            return finished
    return _render_dealer_page(dealer, code=422, tier_form=form)


@bp.route("/console/dealers/<code>")
@allow(*CONSOLE)
def dealer_detail(code: str) -> ResponseReturnValue:
    return _render_dealer_page(services.get_visible_dealer(current_user, code))


@bp.route("/console/dealers/<code>/status", methods=["POST"])
@allow(*DIRECTORS)
def change_status(code: str) -> ResponseReturnValue:
    dealer = services.get_visible_dealer(current_user, code)
    form = DealerStatusForm()
    expected = form.expected.data or ""
    if form.validate_on_submit() and expected in DealerStatus._value2member_map_:
        finished = finish_action(
            form,
            lambda: services.change_dealer_status(
                current_user,
                dealer,
                expected=DealerStatus(expected),
                target=DealerStatus(form.status.data),
                reason=form.reason.data or "",
            ),
            lambda _result: (
                _("The status of %(dealer)s was changed.", dealer=dealer.name),
                url_for("dealers.dealer_detail", code=dealer.code),
            ),
        )
        if finished:
            return finished
    return _render_dealer_page(dealer, status_form=form, code=422)


@bp.route("/console/dealers/<code>/manager", methods=["POST"])
@allow(*DIRECTORS)
def reassign(code: str) -> ResponseReturnValue:
    dealer = services.get_visible_dealer(current_user, code)
    form = ReassignForm(managers=services.active_managers())
    if not form.validate_on_submit() or form.manager_id.data is None:
        return _render_dealer_page(dealer, code=422)
    manager_id = form.manager_id.data
    return finish_action(
        None,
        lambda: services.reassign_dealer(current_user, dealer, manager_id),
        lambda _result: (
            _("%(dealer)s now belongs to a new portfolio.", dealer=dealer.name),
            url_for("dealers.dealer_detail", code=dealer.code),
        ),
    )


@bp.route("/console/portfolios", methods=["GET", "POST"])
@allow(*DIRECTORS)
def portfolios() -> ResponseReturnValue:
    form = PortfolioMoveForm(managers=services.active_managers())
    status = 200
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.move_portfolio(current_user, form.from_manager_id.data, form.to_manager_id.data),
            lambda moved: (
                _("%(count)s dealers moved to their new manager.", count=moved),
                url_for("dealers.portfolios"),
            ),
        )
        if finished:
            return finished
    if request.method == "POST":
        status = 422
    return render_template("dealers/portfolios.html", form=form, sizes=services.portfolio_sizes()), status


# --- Admin directory -------------------------------------------------------------------------------------------


def _dealer_profile(form: DealerForm, tier: DealerTier | None = None) -> services.DealerProfile:
    return services.DealerProfile(
        name=(form.name.data or "").strip(),
        territory_id=form.territory_id.data,
        tier=tier or DealerTier(form.tier.data),
        currency=form.currency.data,
        payee_name=(form.payee_name.data or "").strip(),
        payee_bank=(form.payee_bank.data or "").strip(),
        payee_account=(form.payee_account.data or "").strip(),
    )


@bp.route("/admin/dealers/new", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def new_dealer() -> ResponseReturnValue:
    form = DealerForm(territories=services.all_territories(), managers=services.active_managers())
    if form.validate_on_submit() and form.territory_id.data is not None:
        finished = finish_action(
            form,
            lambda: services.create_dealer(
                current_user,
                code=form.code.data or "",
                profile=_dealer_profile(form),
                status=DealerStatus(form.status.data),
                manager_id=form.manager_id.data,
            ),
            lambda dealer: (
                _("Dealer %(code)s was created.", code=dealer.code),
                url_for("dealers.dealer_detail", code=dealer.code),
            ),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/dealer_form.html", form=form, dealer=None), status


@bp.route("/admin/dealers/<code>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_dealer(code: str) -> ResponseReturnValue:
    dealer = services.get_visible_dealer(current_user, code)
    form = DealerForm(obj=dealer, territories=services.all_territories(), managers=[])
    del form.code, form.status, form.manager_id, form.tier  # identity, lifecycle, portfolio, tier: their own actions
    currency_fixed = services.currency_is_fixed(dealer)
    if currency_fixed:  # shown, not posted: the posted form keeps the dealer's currency (obj=dealer)
        form.currency.render_kw = {"disabled": True}
    if form.validate_on_submit() and form.territory_id.data is not None:
        finished = finish_action(
            form,
            lambda: services.update_dealer(current_user, dealer, _dealer_profile(form, dealer.tier)),
            lambda _result: (
                _("The profile of %(dealer)s was saved.", dealer=dealer.name),
                url_for("dealers.dealer_detail", code=dealer.code),
            ),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/dealer_form.html", form=form, dealer=dealer, currency_fixed=currency_fixed), status


@bp.route("/admin/territories", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def territories() -> ResponseReturnValue:
    form = TerritoryForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.create_territory(current_user, form.code.data or "", form.name.data or ""),
            lambda territory: (
                _("Territory %(name)s was created.", name=territory.name),
                url_for("dealers.territories"),
            ),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    listing = db.paginate(services.territories_by_name(), page=page_number(), per_page=50, error_out=False)
    return render_template("dealers/territories.html", form=form, territories=listing), status


@bp.route("/admin/territories/<int:territory_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_territory(territory_id: int) -> ResponseReturnValue:
    territory = db.session.get(Territory, territory_id) or abort(404)
    form = TerritoryForm(obj=territory)
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: services.update_territory(current_user, territory, form.code.data or "", form.name.data or ""),
            lambda _result: (
                _("Territory %(name)s was saved.", name=territory.name),
                url_for("dealers.territories"),
            ),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/territory_edit.html", form=form, territory=territory), status


@bp.route("/admin/periods", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def periods() -> ResponseReturnValue:
    form = PeriodForm()
    if request.method == "GET":
        form.year.data = company_today().year
    if form.validate_on_submit() and form.quarter.data in (1, 2, 3, 4):
        finished = finish_action(
            form,
            lambda: services.create_quarter(current_user, form.year.data, form.quarter.data),
            lambda period: (_("Period %(code)s was created.", code=period.code), url_for("dealers.periods")),
        )
        if finished:
            return finished
    status = 422 if request.method == "POST" else 200
    listing = db.paginate(services.periods_newest_first(), page=page_number(), per_page=20, error_out=False)
    return render_template(
        "dealers/periods.html", form=form, periods=listing, current=services.current_period()
    ), status


def _render_close(period: Any, reopen_form: ReopenForm | None = None, code: int = 200) -> ResponseReturnValue:
    may_reopen = current_user.access_role is AccessRole.ADMIN
    return render_template(
        "dealers/close.html",
        period=period,
        facts=closing.close_preview(period) if period.status is not PeriodStatus.CLOSED else [],
        earliest=closing.earliest_close(period),
        today=company_today(),
        can_request=closing.can_request_close(current_user),
        can_confirm=closing.can_confirm_close(current_user, period),
        reopen_form=(reopen_form or ReopenForm(formdata=None)) if may_reopen else None,
    ), code


@bp.route("/admin/periods/<code>/close")
@allow(*closing.CLOSERS)
def close_preview(code: str) -> ResponseReturnValue:
    """What closing would freeze: the preview an admin reads before asking, and the second person before confirming."""
    return _render_close(services.get_period(code))


@bp.route("/admin/periods/<code>/close", methods=["POST"])
@allow(AccessRole.ADMIN)
def close_period(code: str) -> ResponseReturnValue:
    period = services.get_period(code)
    return finish_action(
        None,
        lambda: closing.request_close(current_user, period),
        lambda _result: (
            _("The close of %(code)s waits for a second person to confirm it.", code=period.code),
            url_for("dealers.close_preview", code=period.code),
        ),
    )


@bp.route("/admin/periods/<code>/close/confirm", methods=["POST"])
@allow(*closing.CLOSERS)
def confirm_close(code: str) -> ResponseReturnValue:
    period = services.get_period(code)
    return finish_action(
        None,
        lambda: closing.confirm_close(current_user, period),
        lambda _result: (_("Period %(code)s is closed.", code=period.code), url_for("dealers.periods")),
    )


@bp.route("/admin/periods/<code>/close/withdraw", methods=["POST"])
@allow(AccessRole.ADMIN)
def withdraw_close(code: str) -> ResponseReturnValue:
    period = services.get_period(code)
    return finish_action(
        None,
        lambda: closing.withdraw_close_request(current_user, period),
        lambda _result: (
            _("The close of %(code)s is no longer asked for.", code=period.code),
            url_for("dealers.close_preview", code=period.code),
        ),
    )


@bp.route("/admin/periods/<code>/reopen", methods=["POST"])
@allow(AccessRole.ADMIN)
def reopen_period(code: str) -> ResponseReturnValue:
    period = services.get_period(code)
    form = ReopenForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: closing.reopen_period(current_user, period, form.reason.data or ""),
            lambda _result: (
                _("Period %(code)s is open again; its statements are recomputed.", code=period.code),
                url_for("dealers.periods"),
            ),
        )
        if finished:
            return finished
    return _render_close(period, reopen_form=form, code=422)


# --- Dealer documents (evidence files) -------------------------------------------------------------------------


def _render_documents(form: UploadForm | None = None, upload_error: str = "", status: int = 200) -> ResponseReturnValue:
    dealer = current_user.dealer
    found = evidence_services.evidence_of(documents.OWNER_TYPE, dealer.id)
    return render_template(
        "dealers/documents.html",
        dealer=dealer,
        documents=found,
        uploaders=documents.uploaders(found),
        removable=lambda document: documents.can_remove(current_user, document),
        can_add=documents.can_add(current_user, dealer.id),
        form=form or UploadForm(formdata=None),
        upload_error=upload_error,
    ), status


@bp.route("/dealer/documents", methods=["GET", "POST"])
@allow(DEALER_USERS)
def documents_page() -> ResponseReturnValue:
    if request.method == "GET":
        return _render_documents()
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_documents(form, status=422)
    upload = form.file.data
    try:
        evidence = evidence_services.add_evidence(
            current_user, documents.OWNER_TYPE, current_user.dealer_id, upload.stream, upload.filename
        )
    except RejectedFile as refusal:
        db.session.rollback()
        return _render_documents(form, upload_error=refusal.message, status=422)
    db.session.commit()
    flash(_("%(name)s was added.", name=evidence.original_name), "success")
    return redirect_to(url_for("dealers.documents_page"))


@bp.route("/dealer/documents/<int:evidence_id>/remove", methods=["POST"])
@allow(DEALER_USERS)
def remove_document(evidence_id: int) -> ResponseReturnValue:
    evidence = evidence_services.get_viewable(current_user, evidence_id)
    return finish_action(
        None,
        lambda: evidence_services.remove_evidence(current_user, evidence),
        lambda _result: (
            _("%(name)s was removed.", name=evidence.original_name),
            url_for("dealers.documents_page"),
        ),
    )
