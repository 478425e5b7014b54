"""Scoped page-cache invalidation, with real commits on a file SQLite database and on PostgreSQL: a write makes
stale exactly the cached pages that can show it (a write for one dealer leaves another dealer's pages cached), a
write whose scope is not known makes every page stale, and every page served from memory is the page a fresh render
would show."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.claims.models import Claim
from portal.claims.rules import ClaimStatus
from portal.dealers.models import Dealer, Trainee
from portal.disputes.models import Dispute
from portal.extensions import db
from portal.notifications.models import Notification
from portal.page_cache import declared_scopes, stale_generations, writes_for, wrote_directly
from portal.training.models import CourseSession, Enrollment
from portal.training.rules import EnrollmentStatus
from portal.training.services import enrol
from portal.types import utcnow
from portal.workflow import move_if_still
from tests.factories import World, make_world
from tests.helpers import BACKENDS, build_app, dispose_app, log_in, migrated_database_url

DEALER_PAGES = ("/dealer/", "/claims/", "/training/", "/dealer/statements/{current_period}")
MANAGER_PAGES = ("/console/", "/console/claims")
# Who reads what: D001 and D002 are `manager`'s, D003 is `other_manager`'s; the mediator reads every dealer.
READERS = {
    "dealer_owner": DEALER_PAGES,  # D001
    "foreign_owner": DEALER_PAGES,  # D003
    "manager": MANAGER_PAGES,
    "other_manager": MANAGER_PAGES,
    "mediator": ("/mediation/",),
}
EVERYONE = frozenset(READERS)
SIGNED_CSRF_TOKEN = re.compile(r"[\w-]{20,}\.[\w-]{6}\.[\w-]{27}")  # signed with the time: differs each render


def without_csrf_tokens(body: str) -> str:
    return SIGNED_CSRF_TOKEN.sub("<csrf token>", body)


@dataclass
class Cached:
    app: Flask
    world: World
    clients: dict[str, FlaskClient]

    def pages(self) -> Iterator[tuple[str, str]]:
        for persona, paths in READERS.items():
            for path in paths:
                yield persona, path.format(current_period=self.world.current_period)

    def fetch(self, persona: str, path: str) -> tuple[str | None, str]:
        response = self.clients[persona].get(path)
        assert response.status_code == 200, (persona, path, response.status_code)
        return response.headers.get("X-Page-Cache"), response.get_data(as_text=True)

    def prime(self) -> None:
        for persona, path in self.pages():
            self.fetch(persona, path)
            assert self.fetch(persona, path)[0] == "hit", (persona, path)

    def served_after_write(self) -> dict[tuple[str, str], tuple[str | None, str]]:
        return {(persona, path): self.fetch(persona, path) for persona, path in self.pages()}

    def fresh(self, persona: str, path: str) -> str:
        self.app.extensions["page_cache"].clear()
        state, body = self.fetch(persona, path)
        assert state == "miss"
        return body


@pytest.fixture(params=BACKENDS)
def cached(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cached]:
    url = migrated_database_url(request.param, "page_scopes", tmp_path_factory)
    app = build_app(url, PAGE_CACHE_ENTRIES=200, PAGE_CACHE_SECONDS=600)
    with app.app_context():
        world = make_world()
        db.session.commit()
    clients = {}
    for persona in READERS:
        clients[persona] = app.test_client()
        log_in(clients[persona], world.emails[persona])
    try:
        yield Cached(app, world, clients)
    finally:
        dispose_app(app)


def dealer_id(code: str) -> int:
    return db.session.execute(select(Dealer.id).where(Dealer.code == code)).scalar_one()


def user_named(world: World, persona: str) -> User:
    return db.session.execute(select(User).where(User.email == world.emails[persona])).scalar_one()


# Each write, run in its own app context and committed; the personas whose pages it must make stale, and single
# pages besides (the seats topic reaches every dealer's catalogue).
Write = Callable[[World], None]


def rename_own_claim(world: World) -> None:
    db.session.get_one(Claim, world.claims.own_claim).title = "Renamed in the test"


def cancel_foreign_enrolment(world: World) -> None:
    db.session.get_one(Enrollment, world.training.foreign_enrollment).status = EnrollmentStatus.CANCELLED


def move_a_d001_claims_status(world: World) -> None:
    """The one status write (workflow.move_if_still): a Core UPDATE, scoped by the row it moves."""
    assert move_if_still(Claim, world.claims.own_draft, ClaimStatus.DRAFT, ClaimStatus.WITHDRAWN)


def take_a_seat_as_d003(world: World) -> None:
    """Through the service: the enrolment row and the session's seat counter (a Core UPDATE declared as the topic)."""
    owner = user_named(world, "foreign_owner")
    trainee = db.session.execute(select(Trainee.id).where(Trainee.dealer_id == owner.dealer_id)).scalars().first()
    session = db.session.get_one(CourseSession, world.training.upcoming_session)
    enrol(owner, session, f"t{trainee}")


def read_owners_notification(world: World) -> None:
    db.session.get_one(Notification, world.notifications["dealer_owner"]).read_at = utcnow()


def move_a_session(world: World) -> None:
    db.session.get_one(CourseSession, world.training.upcoming_session).place = "Hall 2"


def bulk_update_claims_undeclared(world: World) -> None:
    db.session.execute(update(Claim).where(Claim.id == world.claims.foreign_claim).values(vendor="Bulk Co"))


def bulk_update_claims_declared(world: World) -> None:
    foreign = dealer_id(world.foreign_dealer)
    with writes_for(dealers=[foreign]):
        db.session.execute(update(Claim).where(Claim.dealer_id == foreign).values(vendor="Bulk Co"))


def copy_lines_past_the_events(world: World) -> None:
    """What a raw cursor's COPY of sales lines records (no SQLAlchemy event sees it): its dealers, declared."""
    wrote_directly(db.session.connection(), dealers=[dealer_id(world.foreign_dealer)])


def write_an_audit_row(world: World) -> None:
    db.session.add(AuditEvent(action="test.noted", subject_label="nothing any cached page shows"))


def rename_the_manager(world: World) -> None:
    user_named(world, "manager").name = "Manager Renamed"


def the_manager_logs_in(world: World) -> None:
    user_named(world, "manager").last_login_at = utcnow()


def write_to_the_cross_dispute(world: World) -> None:
    dispute = db.session.get_one(Dispute, world.disputes.cross_dispute)
    dispute.title = "Renamed dispute"


WRITES: dict[str, tuple[Write, frozenset[str], frozenset[tuple[str, str]]]] = {
    "a claim of D001 (ORM)": (rename_own_claim, frozenset({"dealer_owner", "manager", "mediator"}), frozenset()),
    "an enrolment of D003 (ORM)": (
        cancel_foreign_enrolment,
        frozenset({"foreign_owner", "other_manager", "mediator"}),
        frozenset({("dealer_owner", "/training/")}),  # the seats left are shown to every dealer
    ),
    "a D001 claim's status moved (conditional UPDATE)": (
        move_a_d001_claims_status,
        frozenset({"dealer_owner", "manager", "mediator"}),
        frozenset(),
    ),
    "a seat taken by D003 (the service)": (
        take_a_seat_as_d003,
        frozenset({"foreign_owner", "other_manager", "mediator"}),
        frozenset({("dealer_owner", "/training/")}),
    ),
    "the D001 owner's notification read": (read_owners_notification, frozenset({"dealer_owner"}), frozenset()),
    "a training session moved (channel-wide)": (move_a_session, EVERYONE, frozenset()),
    "a bulk UPDATE nobody declared": (bulk_update_claims_undeclared, EVERYONE, frozenset()),
    "a bulk UPDATE declared for D003": (
        bulk_update_claims_declared,
        frozenset({"foreign_owner", "other_manager", "mediator"}),
        frozenset(),
    ),
    "lines written past SQLAlchemy for D003 (COPY)": (
        copy_lines_past_the_events,
        frozenset({"foreign_owner", "other_manager", "mediator"}),
        frozenset(),
    ),
    "an audit row (no cached page shows it)": (write_an_audit_row, frozenset(), frozenset()),
    "the manager renamed (shown to every dealer)": (rename_the_manager, EVERYONE, frozenset()),
    "the manager signs in (only theirs)": (the_manager_logs_in, frozenset({"manager"}), frozenset()),
    "a dispute between D001 and D003": (
        write_to_the_cross_dispute,
        frozenset({"dealer_owner", "foreign_owner", "manager", "other_manager", "mediator"}),
        frozenset(),
    ),
}


@pytest.mark.parametrize("write_name", WRITES)
def test_a_write_makes_stale_exactly_the_pages_that_can_show_it(cached: Cached, write_name: str) -> None:
    write, stale_personas, stale_pages = WRITES[write_name]
    cached.prime()
    with cached.app.app_context():
        write(cached.world)
        db.session.commit()
        db.session.remove()
    served = cached.served_after_write()
    expected = {page: "miss" if page[0] in stale_personas or page in stale_pages else "hit" for page in cached.pages()}
    assert {page: state for page, (state, _body) in served.items()} == expected
    for (persona, path), (state, body) in served.items():  # a page from memory is what a fresh render shows
        if state == "hit":
            assert without_csrf_tokens(body) == without_csrf_tokens(cached.fresh(persona, path)), (persona, path)


def test_a_dispute_message_is_scoped_through_its_dispute(cached: Cached) -> None:
    """A child row names no dealer itself: its parent's dealers are looked up, here without a loaded parent."""
    with cached.app.app_context():
        dispute = db.session.get_one(Dispute, cached.world.disputes.cross_dispute)
        dispute.title = "Changed"
        db.session.flush()
        assert {"d:" + str(dispute.raised_by_dealer_id), "dealers"} <= stale_generations(db.session.connection())
        db.session.rollback()
        db.session.remove()


def test_an_autoflush_inside_a_declared_write_keeps_the_rows_own_scope(cached: Cached) -> None:
    """writes_for covers its own bulk statement, never the pending rows the ORM flushes in front of it."""
    with cached.app.app_context():
        owner = user_named(cached.world, "dealer_owner")
        own = dealer_id(cached.world.own_dealer)
        db.session.get_one(Claim, cached.world.claims.own_claim).title = "Pending until the autoflush"
        with writes_for(users=[owner.id]):
            db.session.execute(update(Notification).where(Notification.user_id == owner.id).values(read_at=utcnow()))
        assert stale_generations(db.session.connection()) == {f"d:{own}", "dealers", f"u:{owner.id}"}
        db.session.rollback()
        db.session.remove()


def test_a_table_without_a_declared_scope_makes_every_page_stale(
    cached: Cached, monkeypatch: pytest.MonkeyPatch
) -> None:
    scopes = declared_scopes()
    del scopes["claims"]
    monkeypatch.setattr("portal.page_cache._scopes", scopes)
    cached.prime()
    with cached.app.app_context():
        rename_own_claim(cached.world)
        db.session.commit()
        db.session.remove()
    assert {state for state, _body in cached.served_after_write().values()} == {"miss"}


def test_every_table_declares_what_writing_it_makes_stale() -> None:
    declared = declared_scopes()
    missing = sorted(set(db.metadata.tables) - set(declared))
    assert missing == [], f"declare these tables' scope with register_write_scope next to their models: {missing}"
    unseen = {name: scope.reason for name, scope in declared.items() if scope.kind == "unseen"}
    assert all(reason.strip() for reason in unseen.values()), "say why no cached page shows the table"
    assert set(unseen) == {
        "api_idempotency_keys",
        "api_tokens",
        "audit_events",
        "audit_seals",
        "evidence_pictures",
        "integration_clients",
        "job_failures",
        "outbox_emails",
        "outbox_events",
        "page_generations",
        "webhook_deliveries",
        "webhook_subscriptions",
    }


def test_a_burst_after_a_write_renders_the_page_once(cached: Cached) -> None:
    """Eight requests for one stale page at once: one renders it, the others wait and are served what it stored."""
    cached.prime()
    with cached.app.app_context():
        rename_own_claim(cached.world)
        db.session.commit()
        db.session.remove()
    name = cached.app.config["SESSION_COOKIE_NAME"]
    cookie = cached.clients["dealer_owner"].get_cookie(name)
    assert cookie is not None
    clients = []
    for _ in range(8):
        client = cached.app.test_client()
        client.set_cookie(name, cookie.value)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    states: list[str | None] = []
    lock = threading.Lock()

    def ask(client: FlaskClient) -> None:
        barrier.wait()
        response = client.get("/dealer/")
        with lock:
            states.append(response.headers.get("X-Page-Cache") if response.status_code == 200 else "error")

    threads = [threading.Thread(target=ask, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(states, key=str) == ["hit"] * 7 + ["miss"]
