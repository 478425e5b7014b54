"""The campaigns' pages: the list and a campaign's results (admins, senior managers, managers for their dealers),
the draft form and the decisions (admins and senior managers), and a dealer's own campaigns. Thin: parse, call
one service, commit, redirect or render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.access import allow
from portal.campaigns import services
from portal.campaigns.forms import CampaignForm
from portal.campaigns.models import Campaign
from portal.campaigns.rules import CampaignPhase, CampaignStatus, Measure, RewardKind, phase_on
from portal.dates import company_today
from portal.dealers.audiences import AudienceKind
from portal.extensions import db
from portal.money import to_decimal
from portal.request_locale import gettext as _
from portal.web import finish_action

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
RUNNERS = services.RUNNERS
READERS = services.READERS
DEALER_ROLES = services.DEALER_ROLES


@bp.route("/")
@allow(*READERS)
def campaign_list() -> ResponseReturnValue:
    campaigns = list(
        db.session.execute(
            services.visible_campaigns(current_user).order_by(Campaign.ends_on.desc(), Campaign.id.desc())
        ).scalars()
    )
    return render_template(
        "campaigns/list.html",
        campaigns=campaigns,
        today=company_today(),
        phase_on=phase_on,
        can_run=current_user.access_role in RUNNERS,
    )


def _render_form(form: CampaignForm, campaign: Campaign | None, status: int = 200) -> ResponseReturnValue:
    return render_template("campaigns/form.html", form=form, campaign=campaign), status


def _filled(campaign: Campaign) -> CampaignForm:
    """The draft's values in the form, amounts written as people type them."""
    form = CampaignForm(formdata=None, obj=campaign)
    form.audience_kind.data = campaign.audience_kind.value
    form.measure.data = campaign.measure.value
    form.reward_kind.data = campaign.reward_kind.value
    form.tiers.data = list(campaign.audience) if campaign.audience_kind is AudienceKind.TIERS else []
    codes = campaign.audience if campaign.audience_kind in (AudienceKind.TERRITORIES, AudienceKind.DEALERS) else []
    form.audience_codes.data = "\n".join(codes)
    form.skus.data = "\n".join(campaign.skus)
    form.product_lines.data = "\n".join(campaign.product_lines)

    def money(minor: int | None) -> str:
        return "" if minor is None else f"{to_decimal(minor, campaign.currency):,}"

    form.rate.data = money(campaign.rate)
    form.cap.data = money(campaign.cap)
    form.budget.data = money(campaign.budget)
    lump = campaign.reward_kind is RewardKind.THRESHOLD
    form.threshold_units.data = campaign.threshold if lump and campaign.measure is Measure.UNITS else None
    form.threshold_amount.data = money(campaign.threshold) if lump and campaign.measure is Measure.AMOUNT else ""
    return form


@bp.route("/new", methods=["GET", "POST"])
@allow(*RUNNERS)
def new_campaign() -> ResponseReturnValue:
    form = CampaignForm()
    form.set_currency()
    if request.method == "GET":
        return _render_form(form, None)
    if form.validate_on_submit():
        done = finish_action(
            form,
            lambda: services.save_draft(current_user, None, form.values()),
            lambda campaign: (
                _("The campaign is saved as a draft; launch it when it is right."),
                url_for("campaigns.campaign", campaign_id=campaign.id),
            ),
        )
        if done is not None:
            return done
    return _render_form(form, None, 422)


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@allow(*RUNNERS)
def edit_campaign(campaign_id: int) -> ResponseReturnValue:
    campaign = services.get_visible_campaign(current_user, campaign_id)
    if request.method == "GET":
        return _render_form(_filled(campaign), campaign)
    form = CampaignForm()
    form.set_currency(campaign.currency)
    if form.validate_on_submit():
        done = finish_action(
            form,
            lambda: services.save_draft(current_user, campaign, form.values()),
            lambda saved: (_("The draft is saved."), url_for("campaigns.campaign", campaign_id=saved.id)),
        )
        if done is not None:
            return done
    return _render_form(form, campaign, 422)


@bp.route("/<int:campaign_id>")
@allow(*READERS)
def campaign(campaign_id: int) -> ResponseReturnValue:
    found = services.get_visible_campaign(current_user, campaign_id)
    earned, booked = (0, 0) if found.status is CampaignStatus.SETTLED else services.pending_total(found)
    return render_template(
        "campaigns/campaign.html",
        campaign=found,
        rows=services.results(current_user, found),
        earned_total=earned,
        within_budget=booked,
        today=company_today(),
        phase=phase_on(found.starts_on, found.ends_on, company_today()),
        can_run=current_user.access_role in RUNNERS,
    )


def _decision(campaign_id: int, action: Any, message: str) -> ResponseReturnValue:
    found = services.get_visible_campaign(current_user, campaign_id)
    return finish_action(
        None,
        lambda: action(current_user, found),
        lambda _done: (message, url_for("campaigns.campaign", campaign_id=campaign_id)),
    )


@bp.route("/<int:campaign_id>/launch", methods=["POST"])
@allow(*RUNNERS)
def launch_campaign(campaign_id: int) -> ResponseReturnValue:
    return _decision(campaign_id, services.launch, _("The campaign is launched; its dealers see it on their home."))


@bp.route("/<int:campaign_id>/cancel", methods=["POST"])
@allow(*RUNNERS)
def cancel_campaign(campaign_id: int) -> ResponseReturnValue:
    return _decision(campaign_id, services.cancel, _("The campaign is cancelled."))


@bp.route("/<int:campaign_id>/request-settlement", methods=["POST"])
@allow(*RUNNERS)
def request_settlement(campaign_id: int) -> ResponseReturnValue:
    return _decision(campaign_id, services.request_settlement, _("Settlement requested; a second person confirms it."))


@bp.route("/<int:campaign_id>/send-back", methods=["POST"])
@allow(*RUNNERS)
def send_back(campaign_id: int) -> ResponseReturnValue:
    return _decision(campaign_id, services.send_back, _("The settlement is sent back; the campaign is unsettled."))


@bp.route("/<int:campaign_id>/settle", methods=["POST"])
@allow(*RUNNERS)
def settle_campaign(campaign_id: int) -> ResponseReturnValue:
    return _decision(campaign_id, services.settle, _("The campaign is settled; the rewards are on the accounts."))


@bp.route("/mine")
@allow(*DEALER_ROLES)
def dealer_campaigns() -> ResponseReturnValue:
    dealer = current_user.dealer
    return render_template(
        "campaigns/dealer_campaigns.html",
        dealer=dealer,
        current=services.dealer_campaigns(dealer),
        settled=services.dealer_settled(dealer),
    )


def dealer_home_section(_viewer: Any, dealer: Any) -> dict[str, object]:
    """The dealer's home: the campaigns running now or about to start, with what the next reward needs."""
    shown = [found for found in services.dealer_campaigns(dealer) if found.phase is not CampaignPhase.ENDED]
    return {"campaigns": shown}
