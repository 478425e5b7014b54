"""The referee's pages: the suspicion queue and a suspicion's evidence (channel managers), price lists, the
catalogue and the territories' regions (kept by senior managers and admins, read by managers), and a dealer's
prices with its acknowledgement. Thin: parse, call one service, commit, redirect or render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from portal.access import CHANNEL_MANAGERS, AccessRole, allow
from portal.dates import company_today
from portal.dealers import acknowledgements
from portal.dealers import services as dealer_services
from portal.dealers.amounts import FileRefused
from portal.dealers.models import Dealer, Territory
from portal.extensions import db
from portal.forms_common import CsvUploadForm
from portal.money import to_decimal
from portal.referee import catalogue, codes, detection, queries, suspicions
from portal.referee.forms import (
    DismissSuspicionForm,
    PriceListForm,
    RegionsForm,
    SightingForm,
    SuspicionViolationForm,
)
from portal.referee.models import PRICE_LIST_ACKNOWLEDGED, PriceList, Sighting
from portal.referee.rules import PriceListStatus, SightingOutcome, SuspicionRule
from portal.regions import search as search_regions
from portal.request_locale import gettext as _
from portal.security import CONTENT_SECURITY_POLICY
from portal.service_errors import NotFound
from portal.web import RowPage, finish_action, page_number, redirect_to

bp = Blueprint("referee", __name__, url_prefix="/referee")
DECIDERS = (CHANNEL_MANAGERS, AccessRole.ADMIN)
KEEPERS = (AccessRole.SENIOR_MANAGER, AccessRole.ADMIN)
OWNERS_AND_STAFF = (AccessRole.DEALER_OWNER, AccessRole.DEALER_STAFF)


# --- Suspicions -------------------------------------------------------------------------------------------------------


@bp.route("/suspicions")
@allow(*DECIDERS)
def suspicion_queue() -> ResponseReturnValue:
    rows = RowPage(suspicions.queued(current_user), page_number(), 50)
    found = [row[0] for row in rows.items]
    return render_template(
        "referee/suspicions.html",
        rows=rows,
        suspicions=found,
        offences=suspicions.offences(sorted({suspicion.dealer_id for suspicion in found})),
    )


def _render_suspicion(suspicion_id: int, **forms: Any) -> ResponseReturnValue:
    suspicion = suspicions.get_visible_suspicion(current_user, suspicion_id)
    status = forms.pop("status", 200)
    lines = queries.evidence_lines(suspicion.id)
    sightings = queries.sightings_of(suspicion.id)
    record = suspicions.offences_by_rule(suspicion.dealer_id)
    proposed = suspicions.proposed_penalty(suspicion.dealer_id, suspicion.rule, record=record)
    violation_form = forms.get("violation_form")
    if violation_form is None:
        violation_form = SuspicionViolationForm(formdata=None)
        violation_form.penalty.data = f"{to_decimal(proposed, suspicion.dealer.currency):,}"
    violation_form.penalty.currency = suspicion.dealer.currency
    return render_template(
        "referee/suspicion.html",
        suspicion=suspicion,
        lines=lines,
        products=queries.products_named({line.sku for _evidence, line in lines if line.sku}),
        regions=queries.region_names(
            {line.ship_to_region for _evidence, line in lines if line.ship_to_region}
            | {sighting.region_code for _link, sighting in sightings}
        ),
        sightings=sightings,
        photos=queries.photos_of([sighting.id for _link, sighting in sightings]),
        offences=sum(record.values()),
        proposed=proposed,
        dismiss_form=forms.get("dismiss_form") or DismissSuspicionForm(formdata=None),
        violation_form=violation_form,
        below_floor=suspicion.rule is SuspicionRule.BELOW_FLOOR,
    ), status


@bp.route("/suspicions/<int:suspicion_id>")
@allow(*DECIDERS)
def suspicion(suspicion_id: int) -> ResponseReturnValue:
    return _render_suspicion(suspicion_id)


@bp.route("/suspicions/<int:suspicion_id>/dismiss", methods=["POST"])
@allow(*DECIDERS)
def dismiss_suspicion(suspicion_id: int) -> ResponseReturnValue:
    found = suspicions.get_visible_suspicion(current_user, suspicion_id)
    form = DismissSuspicionForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: suspicions.dismiss_suspicion(current_user, found, form.reason.data or ""),
            lambda _done: (_("The suspicion is dismissed."), url_for("referee.suspicion_queue")),
        )
        if finished:
            return finished
    return _render_suspicion(suspicion_id, dismiss_form=form, status=422)


@bp.route("/suspicions/<int:suspicion_id>/violation", methods=["POST"])
@allow(*DECIDERS)
def suspicion_violation(suspicion_id: int) -> ResponseReturnValue:
    found = suspicions.get_visible_suspicion(current_user, suspicion_id)
    form = SuspicionViolationForm()
    form.penalty.currency = found.dealer.currency
    if form.validate_on_submit() and form.penalty.minor is not None:
        penalty = form.penalty.minor
        finished = finish_action(
            form,
            lambda: suspicions.make_violation(
                current_user, found, form.description.data or "", penalty, form.change_reason.data or ""
            ),
            lambda violation: (
                _("The violation is recorded; a senior manager or admin confirms it before it counts."),
                url_for("disputes.console_violation", violation_id=violation.id),
            ),
        )
        if finished:
            return finished
    return _render_suspicion(suspicion_id, violation_form=form, status=422)


# --- Price lists ------------------------------------------------------------------------------------------------------


def _render_price_lists(form: PriceListForm, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "referee/price_lists.html",
        lists=queries.all_price_lists(),
        form=form,
        can_keep=current_user.access_role in KEEPERS,
    ), status


@bp.route("/price-lists")
@allow(*DECIDERS)
def price_lists() -> ResponseReturnValue:
    return _render_price_lists(PriceListForm(formdata=None))


@bp.route("/price-lists", methods=["POST"])
@allow(*KEEPERS)
def create_price_list() -> ResponseReturnValue:
    form = PriceListForm()
    if form.validate_on_submit() and form.effective_from.data is not None:
        effective_from = form.effective_from.data
        finished = finish_action(
            form,
            lambda: catalogue.create_price_list(current_user, form.name.data or "", effective_from),
            lambda created: (
                _("Draft version %(version)s is made; import its prices.", version=created.version),
                url_for("referee.price_list", price_list_id=created.id),
            ),
        )
        if finished:
            return finished
    return _render_price_lists(form, 422)


def _render_price_list(price_list: PriceList, **extra: Any) -> ResponseReturnValue:
    status = extra.pop("status", 200)
    done, waiting = queries.receipts_report(price_list, dealer_services.visible_dealers(current_user))
    return render_template(
        "referee/price_list.html",
        price_list=price_list,
        prices=queries.prices_for(price_list, None),
        upload=extra.pop("upload", None) or CsvUploadForm(formdata=None),
        file_errors=extra.pop("file_errors", None),
        can_keep=current_user.access_role in KEEPERS,
        acknowledged=done,
        waiting=waiting,
        **extra,
    ), status


@bp.route("/price-lists/<int:price_list_id>")
@allow(*DECIDERS)
def price_list(price_list_id: int) -> ResponseReturnValue:
    return _render_price_list(catalogue.get_price_list(price_list_id))


@bp.route("/price-lists/<int:price_list_id>/prices", methods=["POST"])
@allow(*KEEPERS)
def price_list_prices(price_list_id: int) -> ResponseReturnValue:
    found = catalogue.get_price_list(price_list_id)
    form = CsvUploadForm()
    if not form.validate_on_submit():
        return _render_price_list(found, upload=form, status=422)
    try:
        count = catalogue.import_price_items(
            current_user,
            found,
            form.file.data.read(),
            number_format=form.file_number_format,
            sheet=form.sheet.data or "",
        )
    except FileRefused as refused:
        db.session.rollback()
        return _render_price_list(found, upload=form, file_errors=refused.errors, status=422)
    db.session.commit()
    flash(_("%(count)s prices imported.", count=count), "success")
    return redirect_to(url_for("referee.price_list", price_list_id=price_list_id))


@bp.route("/price-lists/<int:price_list_id>/publish", methods=["POST"])
@allow(*KEEPERS)
def publish_price_list(price_list_id: int) -> ResponseReturnValue:
    found = catalogue.get_price_list(price_list_id)
    return finish_action(
        None,
        lambda: catalogue.publish_price_list(current_user, found),
        lambda _done: (
            _("The price list is published; the dealers' owners are asked to acknowledge it."),
            url_for("referee.price_list", price_list_id=price_list_id),
        ),
    )


# --- The catalogue and the territories --------------------------------------------------------------------------------


def _render_products(**extra: Any) -> ResponseReturnValue:
    status = extra.pop("status", 200)
    return render_template(
        "referee/products.html",
        products=queries.all_products(),
        upload=extra.pop("upload", None) or CsvUploadForm(formdata=None),
        file_errors=extra.pop("file_errors", None),
        can_keep=current_user.access_role in KEEPERS,
    ), status


@bp.route("/products")
@allow(*DECIDERS)
def products() -> ResponseReturnValue:
    return _render_products()


@bp.route("/products", methods=["POST"])
@allow(*KEEPERS)
def import_products() -> ResponseReturnValue:
    form = CsvUploadForm()
    if not form.validate_on_submit():
        return _render_products(upload=form, status=422)
    try:
        imported = catalogue.import_products(current_user, form.file.data.read(), form.sheet.data or "")
    except FileRefused as refused:
        db.session.rollback()
        return _render_products(upload=form, file_errors=refused.errors, status=422)
    db.session.commit()
    flash(
        _("%(created)s products added, %(changed)s changed.", created=imported.created, changed=imported.changed),
        "success",
    )
    return redirect_to(url_for("referee.products"))


@bp.route("/territories")
@allow(*DECIDERS)
def territories() -> ResponseReturnValue:
    return render_template(
        "referee/territories.html",
        territories=queries.territories_with_regions(),
        names=queries.region_names,
        can_keep=current_user.access_role in KEEPERS,
    )


def _territory(code: str) -> Territory:
    found = db.session.execute(select(Territory).where(Territory.code == code)).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


@bp.route("/territories/<code>", methods=["GET", "POST"])
@allow(*KEEPERS)
def territory_regions(code: str) -> ResponseReturnValue:
    territory = _territory(code)
    form = RegionsForm()
    if form.validate_on_submit():
        finished = finish_action(
            form,
            lambda: catalogue.set_territory_regions(current_user, territory, form.regions.data or ""),
            lambda codes: (
                _("%(territory)s now holds %(count)s regions.", territory=territory.name, count=len(codes)),
                url_for("referee.territories"),
            ),
        )
        if finished:
            return finished
    held = sorted(detection.territory_regions(territory.id))
    if not form.is_submitted():
        form.regions.data = "\n".join(held)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "referee/territory.html", territory=territory, form=form, held=held, names=queries.region_names(set(held))
    ), status


# --- Coded goods: shipments and the field check ---------------------------------------------------------------------


FIELD_CHECK_ROLES = (CHANNEL_MANAGERS, AccessRole.ADMIN, AccessRole.INSPECTOR, AccessRole.DEALER_OWNER)
FIELD_CHECK_CURRENCY = "CNY"  # a price in a shop is read in yuan
# The camera's fallback decoder is WebAssembly, which the page may compile; no other page may.
FIELD_CHECK_POLICY = CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")


def _render_field_check(form: SightingForm, status: int = 200) -> ResponseReturnValue:
    form.price_seen.currency = FIELD_CHECK_CURRENCY
    mine = db.session.execute(
        codes.visible_sightings(current_user)
        .where(Sighting.reported_by_id == current_user.id)
        .order_by(Sighting.id.desc())
        .limit(20)
    ).scalars()
    response = make_response(render_template("referee/field_check.html", form=form, sightings=list(mine)), status)
    response.headers["Content-Security-Policy"] = FIELD_CHECK_POLICY
    return response


@bp.route("/field-check")
@allow(*FIELD_CHECK_ROLES)
def field_check() -> ResponseReturnValue:
    form = SightingForm(formdata=None)
    form.seen_on.data = company_today()
    return _render_field_check(form)


def _outcome_message(sighting: Sighting) -> str:
    name = sighting.shipped_to.name if sighting.shipped_to else ""
    messages = {
        SightingOutcome.UNKNOWN_CODE: _("This code was shipped to no dealer we know of; the sighting is kept."),
        SightingOutcome.IN_ORDER: _("Shipped to %(dealer)s, and seen in order: in its territory at an allowed price."),
        SightingOutcome.OUTSIDE_TERRITORY: _(
            "Shipped to %(dealer)s and seen outside its territory: its channel manager looks into it."
        ),
        SightingOutcome.BELOW_FLOOR: _(
            "Shipped to %(dealer)s and seen below the floor price: its channel manager looks into it."
        ),
        SightingOutcome.OUTSIDE_AND_BELOW: _(
            "Shipped to %(dealer)s and seen outside its territory below the floor price: its channel manager looks "
            "into it."
        ),
    }
    return messages[sighting.outcome].replace("%(dealer)s", name)


@bp.route("/field-check/regions")
@allow(*FIELD_CHECK_ROLES)
def region_choices() -> ResponseReturnValue:
    """The regions matching what was typed in the field check's region, as the options of its list: picked with a
    tap on a phone, and read back by their full name."""
    written = request.args.get("region", "")[:60]
    return render_template("referee/_region_choices.html", choices=search_regions(written))


@bp.route("/field-check", methods=["POST"])
@allow(*FIELD_CHECK_ROLES)
def record_sighting() -> ResponseReturnValue:
    form = SightingForm()
    form.price_seen.currency = FIELD_CHECK_CURRENCY
    if form.validate_on_submit() and form.seen_on.data is not None:
        report = codes.SightingReport(
            code=form.code.data or "",
            region=form.region.data or "",
            shop=form.shop.data or "",
            price_seen=form.price_seen.minor,
            seen_on=form.seen_on.data,
        )
        photos = [photo for photo in request.files.getlist("photos") if photo and photo.filename]
        finished = finish_action(
            form,
            lambda: codes.record_sighting(current_user, report, photos),
            lambda sighting: (_outcome_message(sighting), url_for("referee.field_check")),
        )
        if finished:
            return finished
    return _render_field_check(form, 422)


def _render_shipments(**extra: Any) -> ResponseReturnValue:
    status = extra.pop("status", 200)
    return render_template(
        "referee/shipments.html",
        shipments=queries.latest_shipments(),
        upload=extra.pop("upload", None) or CsvUploadForm(formdata=None),
        file_errors=extra.pop("file_errors", None),
        can_keep=current_user.access_role in KEEPERS,
    ), status


@bp.route("/shipments")
@allow(*DECIDERS)
def shipments() -> ResponseReturnValue:
    return _render_shipments()


@bp.route("/shipments", methods=["POST"])
@allow(*KEEPERS)
def import_shipments() -> ResponseReturnValue:
    form = CsvUploadForm()
    if not form.validate_on_submit():
        return _render_shipments(upload=form, status=422)
    try:
        imported = codes.import_shipments(current_user, form.file.data.read(), form.sheet.data or "")
    except FileRefused as refused:
        db.session.rollback()
        return _render_shipments(upload=form, file_errors=refused.errors, status=422)
    db.session.commit()
    flash(
        _(
            "%(created)s codes added, %(moved)s moved to another dealer, %(unchanged)s already known.",
            created=imported.created,
            moved=imported.moved,
            unchanged=imported.unchanged,
        ),
        "success",
    )
    return redirect_to(url_for("referee.shipments"))


# --- A dealer's prices ------------------------------------------------------------------------------------------------


def _own_dealer() -> Dealer:
    dealer = db.session.get(Dealer, current_user.dealer_id)
    if dealer is None:
        raise NotFound()
    return dealer


@bp.route("/prices")
@allow(*OWNERS_AND_STAFF)
def dealer_prices() -> ResponseReturnValue:
    dealer = _own_dealer()
    lists = queries.lists_for_dealer(company_today(), dealer.currency)
    shown = [found for found in (lists.current, lists.upcoming) if found is not None]
    return render_template(
        "referee/dealer_prices.html",
        dealer=dealer,
        lists=lists,
        prices={found.id: queries.prices_for(found, dealer.territory_id) for found in shown},
        receipts=acknowledgements.acknowledgements_of(
            PRICE_LIST_ACKNOWLEDGED, [found.id for found in shown], dealer.id
        ),
        can_acknowledge=current_user.access_role is AccessRole.DEALER_OWNER,
        standing=suspicions.standing_of(dealer.id),
        violations=suspicions.dealer_violations(dealer.id),
        acknowledged=queries.receipts_of(dealer.id),
    )


@bp.route("/prices/<int:price_list_id>/acknowledge", methods=["POST"])
@allow(*OWNERS_AND_STAFF)
def acknowledge_prices(price_list_id: int) -> ResponseReturnValue:
    dealer = _own_dealer()
    found = catalogue.get_price_list(price_list_id)
    if found.status is not PriceListStatus.PUBLISHED:
        raise NotFound()
    return finish_action(
        None,
        lambda: catalogue.acknowledge_price_list(current_user, dealer, found),
        lambda _done: (_("Thank you: your acknowledgement is kept."), url_for("referee.dealer_prices")),
    )
