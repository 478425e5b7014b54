"""Dealer pages: the dealer's own home and people, the console's portfolio and dealer pages, the admin directory.

Thin views: validate the form, call one service, commit, redirect or render. Who may do what is decided by the
route declarations and the services; templates only show what the view says the user can do.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.access import CHANNEL_MANAGERS, DEALER_USERS, AccessRole, allow
from portal.dealers import people, services
from portal.dealers.forms import (
    DealerForm,
    DealerStatusForm,
    PeriodForm,
    PortfolioMoveForm,
    ReassignForm,
    StaffForm,
    TerritoryForm,
    TraineeForm,
)
from portal.dealers.models import DealerStatus, DealerTier, Territory
from portal.dealers.rules import STATUS_TRANSITIONS
from portal.extensions import db
from portal.forms_common import optional_int
from portal.service_errors import IllegalTransition, InvalidInput
from portal.web import redirect_to, render_page_or_fragment, show_service_error

bp = Blueprint("dealers", __name__)
CONSOLE = (CHANNEL_MANAGERS, AccessRole.ADMIN)
DIRECTORS = (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


# --- The dealer's own pages ----------------------------------------------------------------------------------------


@bp.route("/dealer/")
@allow(DEALER_USERS)
def dealer_home() -> object:
    dealer = current_user.dealer
    if dealer is None:  # a dealer user always has a dealer; a broken row must not show someone else's data
        abort(404)
    return render_template(
        "dealers/dealer_home.html",
        dealer=dealer,
        manager=dealer.manager,
        people=services.dealer_people(dealer),
        period=services.current_period(),
        today=services.company_today(),
    )


def _render_people(staff_form: StaffForm | None = None, trainee_form: TraineeForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    dealer = current_user.dealer
    return (
        render_template(
            "dealers/people.html",
            dealer=dealer,
            people=services.dealer_people(dealer),
            trainees=people.dealer_trainees(dealer),
            can_manage=people.can_manage_dealer_people(current_user),
            staff_form=staff_form or StaffForm(formdata=None, prefix="staff"),
            trainee_form=trainee_form or TraineeForm(formdata=None, prefix="trainee"),
        ),
        status,
    )


@bp.route("/dealer/people")
@allow(DEALER_USERS)
def dealer_people_page() -> object:
    return _render_people()


@bp.route("/dealer/people/staff", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def add_staff() -> object:
    form = StaffForm(prefix="staff")  # two forms share the page: prefixes keep their field ids apart
    if form.validate_on_submit():
        try:
            person = people.add_staff(
                current_user,
                name=form.name.data or "",
                email=form.email.data or "",
                temporary_password=form.temporary_password.data or "",
            )
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        except IllegalTransition as error:
            abort(409, description=error.message)
        else:
            db.session.commit()
            flash(_("%(name)s can now log in with the temporary password you set.", name=person.name), "success")
            return redirect_to(url_for("dealers.dealer_people_page"))
    return _render_people(staff_form=form, status=422)


def _colleague_action(user_id: int, action: Any, message: str) -> object:
    person = people.get_colleague(current_user, user_id)
    try:
        action(current_user, person)
    except IllegalTransition as error:
        db.session.rollback()
        abort(409, description=error.message)
    db.session.commit()
    flash(message % {"name": person.name}, "success")
    return redirect_to(url_for("dealers.dealer_people_page"))


@bp.route("/dealer/people/staff/<int:user_id>/deactivate", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def deactivate_staff(user_id: int) -> object:
    return _colleague_action(user_id, people.deactivate_colleague, _("%(name)s can no longer log in."))


@bp.route("/dealer/people/staff/<int:user_id>/reactivate", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def reactivate_staff(user_id: int) -> object:
    return _colleague_action(user_id, people.reactivate_colleague, _("%(name)s can log in again."))


@bp.route("/dealer/people/staff/<int:user_id>/make-owner", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def make_owner(user_id: int) -> object:
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
def add_trainee() -> object:
    form = TraineeForm(prefix="trainee")
    if form.validate_on_submit():
        try:
            trainee = people.add_trainee(current_user, _trainee_details(form))
        except IllegalTransition as error:
            abort(409, description=error.message)
        db.session.commit()
        flash(_("%(name)s was added to your trainees.", name=trainee.name), "success")
        return redirect_to(url_for("dealers.dealer_people_page"))
    return _render_people(trainee_form=form, status=422)


@bp.route("/dealer/people/trainees/<int:trainee_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.DEALER_OWNER)
def edit_trainee(trainee_id: int) -> object:
    trainee = people.get_trainee(current_user, trainee_id)
    form = TraineeForm(obj=trainee)
    if form.validate_on_submit():
        try:
            people.update_trainee(current_user, trainee, _trainee_details(form))
        except IllegalTransition as error:
            abort(409, description=error.message)
        db.session.commit()
        flash(_("The trainee's details were saved."), "success")
        return redirect_to(url_for("dealers.dealer_people_page"))
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/trainee_edit.html", form=form, trainee=trainee), status


@bp.route("/dealer/people/trainees/<int:trainee_id>/remove", methods=["POST"])
@allow(AccessRole.DEALER_OWNER)
def remove_trainee(trainee_id: int) -> object:
    trainee = people.get_trainee(current_user, trainee_id)
    try:
        people.remove_trainee(current_user, trainee)
    except IllegalTransition as error:
        abort(409, description=error.message)
    db.session.commit()
    flash(_("%(name)s was removed from your trainees.", name=trainee.name), "success")
    return redirect_to(url_for("dealers.dealer_people_page"))


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
def portfolio() -> object:
    wanted = _portfolio_filter()
    dealers = db.paginate(
        services.search_portfolio(current_user, wanted),
        page=_page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
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


def _render_dealer_page(dealer: Any, status_form: DealerStatusForm | None = None, code: int = 200) -> object:
    can_change_status = services.can_change_dealer_status(current_user)
    can_reassign = services.can_reassign_portfolios(current_user)
    managers = services.active_managers() if can_reassign else []
    if status_form is None:
        status_form = DealerStatusForm(formdata=None, expected=dealer.status.value)
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
            can_change_status=can_change_status and bool(STATUS_TRANSITIONS[dealer.status]),
            can_reassign=can_reassign,
            can_edit=current_user.access_role is AccessRole.ADMIN,
            status_form=status_form,
            reassign_form=ReassignForm(formdata=None, managers=managers, manager_id=dealer.manager_id),
        ),
        code,
    )


@bp.route("/console/dealers/<code>")
@allow(*CONSOLE)
def dealer_detail(code: str) -> object:
    return _render_dealer_page(services.get_visible_dealer(current_user, code))


@bp.route("/console/dealers/<code>/status", methods=["POST"])
@allow(*DIRECTORS)
def change_status(code: str) -> object:
    dealer = services.get_visible_dealer(current_user, code)
    form = DealerStatusForm()
    expected = form.expected.data or ""
    if form.validate_on_submit() and expected in DealerStatus._value2member_map_:
        try:
            services.change_dealer_status(
                current_user,
                dealer,
                expected=DealerStatus(expected),
                target=DealerStatus(form.status.data),
                reason=form.reason.data or "",
            )
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        except IllegalTransition as error:
            db.session.rollback()
            abort(409, description=error.message)
        else:
            db.session.commit()
            flash(_("The status of %(dealer)s was changed.", dealer=dealer.name), "success")
            return redirect_to(url_for("dealers.dealer_detail", code=dealer.code))
    return _render_dealer_page(dealer, status_form=form, code=422)


@bp.route("/console/dealers/<code>/manager", methods=["POST"])
@allow(*DIRECTORS)
def reassign(code: str) -> object:
    dealer = services.get_visible_dealer(current_user, code)
    form = ReassignForm(managers=services.active_managers())
    if not form.validate_on_submit() or form.manager_id.data is None:
        return _render_dealer_page(dealer, code=422)
    try:
        services.reassign_dealer(current_user, dealer, form.manager_id.data)
    except InvalidInput as error:
        abort(422, description=error.message)
    db.session.commit()
    flash(_("%(dealer)s now belongs to a new portfolio.", dealer=dealer.name), "success")
    return redirect_to(url_for("dealers.dealer_detail", code=dealer.code))


@bp.route("/console/portfolios", methods=["GET", "POST"])
@allow(*DIRECTORS)
def portfolios() -> object:
    form = PortfolioMoveForm(managers=services.active_managers())
    status = 200
    if form.validate_on_submit():
        try:
            moved = services.move_portfolio(current_user, form.from_manager_id.data, form.to_manager_id.data)
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            flash(_("%(count)s dealers moved to their new manager.", count=moved), "success")
            return redirect_to(url_for("dealers.portfolios"))
    if request.method == "POST":
        status = 422
    return render_template("dealers/portfolios.html", form=form, sizes=services.portfolio_sizes()), status


# --- Admin directory -------------------------------------------------------------------------------------------


def _dealer_profile(form: DealerForm) -> services.DealerProfile:
    return services.DealerProfile(
        name=(form.name.data or "").strip(),
        territory_id=form.territory_id.data,
        tier=DealerTier(form.tier.data),
        currency=form.currency.data,
        payee_name=(form.payee_name.data or "").strip(),
        payee_bank=(form.payee_bank.data or "").strip(),
        payee_account=(form.payee_account.data or "").strip(),
    )


@bp.route("/admin/dealers/new", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def new_dealer() -> object:
    form = DealerForm(territories=services.all_territories(), managers=services.active_managers())
    if form.validate_on_submit() and form.territory_id.data is not None:
        try:
            dealer = services.create_dealer(
                current_user,
                code=form.code.data or "",
                profile=_dealer_profile(form),
                status=DealerStatus(form.status.data),
                manager_id=form.manager_id.data,
            )
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            flash(_("Dealer %(code)s was created.", code=dealer.code), "success")
            return redirect_to(url_for("dealers.dealer_detail", code=dealer.code))
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/dealer_form.html", form=form, dealer=None), status


@bp.route("/admin/dealers/<code>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_dealer(code: str) -> object:
    dealer = services.get_visible_dealer(current_user, code)
    form = DealerForm(obj=dealer, territories=services.all_territories(), managers=[])
    del form.code, form.status, form.manager_id  # identity, lifecycle and portfolio have their own actions
    if form.validate_on_submit() and form.territory_id.data is not None:
        try:
            services.update_dealer(current_user, dealer, _dealer_profile(form))
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            flash(_("The profile of %(dealer)s was saved.", dealer=dealer.name), "success")
            return redirect_to(url_for("dealers.dealer_detail", code=dealer.code))
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/dealer_form.html", form=form, dealer=dealer), status


@bp.route("/admin/territories", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def territories() -> object:
    form = TerritoryForm()
    if form.validate_on_submit():
        try:
            territory = services.create_territory(current_user, form.code.data or "", form.name.data or "")
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            flash(_("Territory %(name)s was created.", name=territory.name), "success")
            return redirect_to(url_for("dealers.territories"))
    status = 422 if request.method == "POST" else 200
    listing = db.paginate(services.territories_by_name(), page=_page_number(), per_page=50, error_out=False)
    return render_template("dealers/territories.html", form=form, territories=listing), status


@bp.route("/admin/territories/<int:territory_id>/edit", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def edit_territory(territory_id: int) -> object:
    territory = db.session.get(Territory, territory_id) or abort(404)
    form = TerritoryForm(obj=territory)
    if form.validate_on_submit():
        try:
            services.update_territory(current_user, territory, form.code.data or "", form.name.data or "")
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            flash(_("Territory %(name)s was saved.", name=territory.name), "success")
            return redirect_to(url_for("dealers.territories"))
    status = 422 if request.method == "POST" else 200
    return render_template("dealers/territory_edit.html", form=form, territory=territory), status


@bp.route("/admin/periods", methods=["GET", "POST"])
@allow(AccessRole.ADMIN)
def periods() -> object:
    form = PeriodForm()
    if request.method == "GET":
        form.year.data = services.company_today().year
    if form.validate_on_submit() and form.quarter.data in (1, 2, 3, 4):
        try:
            period = services.create_quarter(current_user, form.year.data, form.quarter.data)
        except InvalidInput as error:
            db.session.rollback()
            show_service_error(form, error.field, error.message)
        else:
            db.session.commit()
            flash(_("Period %(code)s was created.", code=period.code), "success")
            return redirect_to(url_for("dealers.periods"))
    status = 422 if request.method == "POST" else 200
    listing = db.paginate(services.periods_newest_first(), page=_page_number(), per_page=20, error_out=False)
    return render_template(
        "dealers/periods.html", form=form, periods=listing, current=services.current_period()
    ), status


@bp.route("/admin/periods/<code>/close", methods=["POST"])
@allow(AccessRole.ADMIN)
def close_period(code: str) -> object:
    period = services.get_period(code)
    try:
        services.close_period(current_user, period)
    except IllegalTransition as error:
        abort(409, description=error.message)
    db.session.commit()
    flash(_("Period %(code)s is closed.", code=period.code), "success")
    return redirect_to(url_for("dealers.periods"))
