"""The directory's rules: dealer lifecycle, admin user management, owners' people, portfolios, the audit trail."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from portal.accounts.models import DealerRole, UserRole
from portal.audit.models import AuditEvent
from portal.dealers.models import Dealer, DealerEvent, DealerStatus, Trainee
from portal.dealers.rules import STATUS_TRANSITIONS, NewSubmission, can_change_status, can_log_in, can_submit_new
from portal.extensions import db
from tests.factories import PASSWORD, Channel, stored_user
from tests.helpers import log_in


def test_lifecycle_table() -> None:
    assert can_change_status(DealerStatus.ONBOARDING, DealerStatus.ACTIVE)
    assert can_change_status(DealerStatus.ACTIVE, DealerStatus.SUSPENDED)
    assert can_change_status(DealerStatus.SUSPENDED, DealerStatus.ACTIVE)
    assert not can_change_status(DealerStatus.ONBOARDING, DealerStatus.SUSPENDED)
    assert STATUS_TRANSITIONS[DealerStatus.TERMINATED] == frozenset()
    assert [can_log_in(status) for status in DealerStatus] == [True, True, True, False]
    assert [can_submit_new(status, NewSubmission.CLAIM) for status in DealerStatus] == [False, True, False, False]


def test_status_change_needs_a_reason_and_lands_on_the_timeline(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    log_in(client, channel.emails["senior_manager"])
    url = f"/console/dealers/{channel.foreign_dealer}/status"
    refused = client.post(url, data={"expected": "active", "status": "suspended", "reason": "  "})
    assert refused.status_code == 422
    assert "Say why the status changes." in refused.get_data(as_text=True)
    done = client.post(url, data={"expected": "active", "status": "suspended", "reason": "Cross-territory sales."})
    assert done.status_code == 303
    page = client.get(f"/console/dealers/{channel.foreign_dealer}").get_data(as_text=True)
    assert "from Active to Suspended" in page and "Cross-territory sales." in page
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "dealer.status_changed")).scalar_one()
        assert event.details == {
            "before": {"status": "active"},
            "after": {"status": "suspended"},
            "reason": "Cross-territory sales.",
        }
        assert event.subject_label == channel.foreign_dealer and event.ip_address == "127.0.0.1"


def test_an_illegal_or_stale_status_change_is_a_409(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["admin"])
    url = f"/console/dealers/{channel.own_dealer}/status"
    assert client.post(url, data={"expected": "active", "status": "onboarding", "reason": "x"}).status_code == 409
    stale = client.post(url, data={"expected": "suspended", "status": "active", "reason": "x"})
    assert stale.status_code == 409
    assert "Someone else changed this dealer&#39;s status first." in stale.get_data(as_text=True)


def test_terminating_a_dealer_ends_its_users_sessions(app: Flask, channel: Channel) -> None:
    owner = app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    admin = app.test_client()
    log_in(admin, channel.emails["admin"])
    admin.post(
        f"/console/dealers/{channel.own_dealer}/status",
        data={"expected": "active", "status": "terminated", "reason": "Contract ended."},
    )
    assert owner.get("/dealer/").status_code == 302


def test_a_suspended_dealer_keeps_reading_and_managing_people(app: Flask, channel: Channel) -> None:
    admin = app.test_client()
    log_in(admin, channel.emails["admin"])
    admin.post(
        f"/console/dealers/{channel.own_dealer}/status",
        data={"expected": "active", "status": "suspended", "reason": "Late payments."},
    )
    owner = app.test_client()
    log_in(owner, channel.emails["dealer_owner"])
    assert owner.get("/dealer/").status_code == 200
    assert owner.post("/dealer/people/trainees", data={"trainee-name": "Still Here"}).status_code == 303


def test_a_manager_cannot_change_status_or_reassign(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["manager"])
    page = client.get(f"/console/dealers/{channel.own_dealer}").get_data(as_text=True)
    assert "Change status" not in page and "Move to this portfolio" not in page


def test_reassigning_and_moving_portfolios(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["senior_manager"])
    response = client.post(
        f"/console/dealers/{channel.own_dealer}/manager", data={"manager_id": str(channel.people.other_manager)}
    )
    assert response.status_code == 303
    moved = client.post(
        "/console/portfolios",
        data={"from_manager_id": str(channel.people.manager), "to_manager_id": str(channel.people.other_manager)},
    )
    assert moved.status_code == 303
    with app.app_context():
        managers = set(db.session.execute(select(Dealer.manager_id)).scalars())
        events = db.session.execute(select(DealerEvent.kind)).scalars().all()
    assert managers == {channel.people.other_manager}
    assert len(events) == 2  # D001 by hand, D002 with the portfolio; D003 was already there
    manager = app.test_client()
    log_in(manager, channel.emails["manager"])
    assert manager.get(f"/console/dealers/{channel.own_dealer}").status_code == 404


def test_admin_creates_a_user_who_must_change_the_temporary_password(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    log_in(client, channel.emails["admin"])
    form = {
        "email": "New.Person@Example.test",
        "name": "New Person",
        "role": "manager",
        "dealer_code": "",
        "dealer_role": "staff",
        "locale": "zh_Hans",
        "timezone": "Asia/Shanghai",
        "active": "y",
        "temporary_password": "temporary password!",
    }
    assert client.post("/admin/users/new", data=form).status_code == 303
    duplicate = client.post("/admin/users/new", data=form)
    assert duplicate.status_code == 422
    assert "Someone already uses this email address" in duplicate.get_data(as_text=True)
    newcomer = app.test_client()
    log_in(newcomer, "new.person@example.test", "temporary password!")
    assert newcomer.get("/console/").headers["Location"] == "/account"
    # The bell polls on the account page; answering it with a redirect would reload the page under the form.
    assert newcomer.get("/notifications/bell", headers={"HX-Request": "true"}).status_code == 200
    newcomer.post(
        "/account/password",
        data={
            "current_password": "temporary password!",
            "new_password": "my own password now",
            "confirm_password": "my own password now",
        },
    )
    assert newcomer.get("/console/").status_code == 200


def test_admin_user_rules(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["admin"])
    base = {
        "email": channel.emails["manager"],
        "name": "Manager One",
        "role": "mediator",
        "dealer_code": "",
        "dealer_role": "staff",
        "locale": "",
        "timezone": "Asia/Shanghai",
        "active": "y",
    }
    refused = client.post(f"/admin/users/{channel.people.manager}/edit", data=base)
    assert refused.status_code == 422 and "This manager still has dealers." in refused.get_data(as_text=True)
    dealer_without_code = {**base, "email": "x@example.test", "role": "dealer", "temporary_password": "x" * 12}
    refused = client.post("/admin/users/new", data=dealer_without_code)
    assert "enter an existing dealer code" in refused.get_data(as_text=True)
    myself = {**base, "email": channel.emails["admin"], "name": "Admin", "role": "admin", "active": ""}
    refused = client.post(f"/admin/users/{channel.people.admin}/edit", data=myself)
    assert refused.status_code == 422 and "You cannot deactivate your own account" in refused.get_data(as_text=True)


def test_owner_people_rules(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_owner"])
    myself = client.post(f"/dealer/people/staff/{channel.people.owner}/deactivate")
    assert myself.status_code == 409
    assert client.post(f"/dealer/people/staff/{channel.people.staff}/make-owner").status_code == 303
    assert stored_user(app, channel.emails["dealer_staff"]).dealer_role is DealerRole.OWNER
    inactive = client.post(f"/dealer/people/staff/{channel.people.former_staff}/make-owner")
    assert inactive.status_code == 409
    assert client.post(f"/dealer/people/trainees/{channel.people.own_trainee}/remove").status_code == 303
    with app.app_context():
        trainee = db.session.get(Trainee, channel.people.own_trainee)
        assert trainee is not None and trainee.active is False  # kept for its training history


def test_an_owner_cannot_undo_an_administrators_deactivation(app: Flask, client: FlaskClient, channel: Channel) -> None:
    """The administrator turned a colleague off (with a reason): the owner sees "deactivated by the administrator",
    no button, and a forged reactivation is refused. A colleague the owner turned off, the owner turns on again."""
    admin = app.test_client()
    log_in(admin, channel.emails["admin"])
    staff = stored_user(app, channel.emails["dealer_staff"])

    def save_user(**changes: str) -> TestResponse:
        """The administrator's user form for the staff member, as it comes filled in, with `changes`."""
        form = {
            "email": staff.email,
            "name": staff.name,
            "role": "dealer",
            "dealer_code": channel.own_dealer,
            "dealer_role": "staff",
            "locale": "",
            "timezone": "Asia/Shanghai",
            "active": "y",
        }
        return admin.post(f"/admin/users/{staff.id}/edit", data={**form, **changes})

    turned_off = save_user(active="", deactivation_reason="Left the company; HR asked us to close the account.")
    assert turned_off.status_code == 303
    record = stored_user(app, channel.emails["dealer_staff"])
    assert (record.active, record.deactivated_by_id, record.deactivated_by_role) == (
        False,
        channel.people.admin,
        UserRole.ADMIN,
    )
    assert record.deactivation_reason == "Left the company; HR asked us to close the account."
    edit = admin.get(f"/admin/users/{staff.id}/edit").get_data(as_text=True)
    assert "by Admin (Administrator)" in edit and "Left the company" in edit
    log_in(client, channel.emails["dealer_owner"])
    page = client.get("/dealer/people").get_data(as_text=True)
    row = page[page.index("Staff One") :].split("</tr>")[0]
    assert "Deactivated by the administrator" in row and "Reactivate" not in row
    assert "Left the company" not in page  # the reason stays with the administrator
    forged = client.post(f"/dealer/people/staff/{staff.id}/reactivate")
    assert forged.status_code == 409
    assert "only an administrator can reactivate them" in forged.get_data(as_text=True)
    assert stored_user(app, channel.emails["dealer_staff"]).active is False
    # a colleague the owner deactivates is the owner's to bring back
    former = channel.people.former_staff
    assert client.post(f"/dealer/people/staff/{former}/reactivate").status_code == 303
    assert client.post(f"/dealer/people/staff/{former}/deactivate").status_code == 303
    assert stored_user(app, "former@example.test").deactivated_by_role is UserRole.DEALER
    assert client.post(f"/dealer/people/staff/{former}/reactivate").status_code == 303
    assert stored_user(app, "former@example.test").active is True
    # and the administrator's own reactivation clears the record
    turned_on = save_user()
    assert turned_on.status_code == 303
    back = stored_user(app, channel.emails["dealer_staff"])
    assert (back.active, back.deactivated_by_id, back.deactivation_reason) == (True, None, "")


def test_staff_see_people_but_cannot_change_them(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_staff"])
    page = client.get("/dealer/people").get_data(as_text=True)
    assert "Only an owner of your dealer can change this list." in page
    assert "button-danger" not in page and "Add colleague" not in page
    assert "Own Trainee" in page and "Foreign Trainee" not in page


def test_senior_managers_see_the_dealer_side_of_the_audit_trail_only(
    app: Flask, client: FlaskClient, channel: Channel
) -> None:
    admin = app.test_client()
    log_in(admin, channel.emails["admin"])
    admin.post("/admin/territories", data={"code": "CTR", "name": "Central"})
    admin.post(
        f"/console/dealers/{channel.own_dealer}/status",
        data={"expected": "active", "status": "suspended", "reason": "Audit check."},
    )
    log_in(client, channel.emails["senior_manager"])
    senior_view = client.get("/audit/").get_data(as_text=True)
    assert "dealer.status_changed" in senior_view
    assert "territory.created" not in senior_view
    assert "admin@example.test</td>" in senior_view  # the actor of the dealer change
    everything = admin.get("/audit/").get_data(as_text=True)
    assert "territory.created" in everything and "login.succeeded" in everything
    filtered = admin.get("/audit/", query_string={"subject_type": "dealer", "actor": "admin@"}).get_data(as_text=True)
    assert "dealer.status_changed" in filtered and "login.succeeded" not in filtered


def test_portfolio_filters_and_sorting(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["senior_manager"])
    by_name_desc = client.get("/console/", query_string={"sort": "name", "dir": "desc"}).get_data(as_text=True)
    order = [name for name in re.findall(r"<td data-label=\"Name\">([^<]+)</td>", by_name_desc)]
    assert order == sorted(order, reverse=True) and len(order) == 3
    gold = client.get("/console/", query_string={"tier": "gold"}).get_data(as_text=True)
    assert "Eastern Star Trading" in gold and "Northern Light Supply" not in gold
    fragment = client.get("/console/", query_string={"q": "west"}, headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="portfolio-results">') and "Western Wind Retail" in html
    assert "HX-Request" in fragment.headers["Vary"]


def test_pages_have_unique_element_ids(app: Flask, channel: Channel) -> None:
    pages = {
        "admin": [
            "/admin/users/new",
            "/admin/dealers/new",
            "/admin/territories",
            "/admin/periods",
            "/audit/",
            f"/console/dealers/{channel.own_dealer}",
            "/console/portfolios",
            "/console/",
        ],
        "dealer_owner": ["/dealer/people", "/dealer/", "/account"],
    }
    for role, paths in pages.items():
        client = app.test_client()
        log_in(client, channel.emails[role])
        for path in paths:
            ids = re.findall(r'\sid="([^"]+)"', client.get(path).get_data(as_text=True))
            duplicates = {element for element in ids if ids.count(element) > 1}
            assert not duplicates, f"{path}: {duplicates}"


def test_login_with_a_password_still_works_after_the_directory_changes(client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["admin"], PASSWORD)
