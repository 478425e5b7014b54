"""A crawler logged in as D001's owner follows every link, fragment and file it can reach; D003's owner then asks
for each of those URLs that names an object, and must get 404 (the object is not theirs to know about).

The matrix in test_access_matrix.py is what we meant; this is what a dealer can actually find by clicking.
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from portal.accounts.models import DealerRole, UserRole
from portal.dealers.models import Dealer
from portal.extensions import db
from tests.factories import World, make_user
from tests.helpers import log_in

# Arguments that name one dealer's object. Period codes are not objects: every dealer has a statement for each.
OBJECT_ARGUMENTS = frozenset(
    {
        "claim_id",
        "dispute_id",
        "enrollment_id",
        "evidence_id",
        "import_id",
        "number",
        "code",
        "trainee_id",
        "violation_id",
        "user_id",
        "program_id",
        "course_id",
        "territory_id",
        "session_id",
    }
)
# Objects every dealer may open, with the reason.
SHARED_OBJECTS = {
    "training.session_page": "a training session is in the catalogue every dealer enrols from",
}
NEVER_FOLLOW = ("/logout", "/static/")


def shared_files(world: World) -> set[str]:
    """Files every dealer may open: the attachment of the notice addressed to every dealer."""
    number = world.news.notice_attachment
    return {f"/evidence/{number}", f"/evidence/{number}/download", f"/evidence/{number}/preview"}


MAX_PAGES = 600
MAX_VARIANTS_PER_PATH = 4  # filter and page links: a few of each path show the pattern


class LinkCollector(HTMLParser):
    """href of links, hx-get of anything, src of images and frames (evidence previews)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (
                (name == "href" and tag in ("a", "link"))
                or name == "hx-get"
                or (name == "src" and tag in ("img", "iframe", "embed"))
            ):
                self.links.append(value)


def crawl(client: FlaskClient) -> dict[str, int]:
    """Every same-site URL reachable from the home page by GET, with the status each answered."""
    seen: dict[str, int] = {}
    variants: dict[str, int] = {}
    queue = deque(["/"])
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url, headers={"HX-Request": "true"} if url.endswith("#fragment") else {})
        seen[url] = response.status_code
        found: list[str] = []
        if response.status_code in (301, 302, 303) and "Location" in response.headers:
            found.append(response.headers["Location"])
        elif response.status_code == 200 and response.mimetype == "text/html":
            collector = LinkCollector()
            collector.feed(response.get_data(as_text=True))
            found.extend(collector.links)
        for link in found:
            target = urlsplit(urljoin(f"http://localhost{url}", link))
            if target.netloc not in ("", "localhost") or target.scheme not in ("http", "https", ""):
                continue
            if target.path.startswith(NEVER_FOLLOW):
                continue
            address = target.path + (f"?{target.query}" if target.query else "")
            if address in seen or address in queue:
                continue
            variants[target.path] = variants.get(target.path, 0) + 1
            if variants[target.path] <= MAX_VARIANTS_PER_PATH:
                queue.append(address)
    return seen


def object_endpoint(app: Flask, url: str) -> str | None:
    """The endpoint of a URL that names an object (None for lists, forms and the dealer's own pages)."""
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, arguments = adapter.match(urlsplit(url).path, method="GET")
    except HTTPException:
        return None
    return endpoint if OBJECT_ARGUMENTS & set(arguments) else None


def crawled_objects(app: Flask, world: World) -> dict[str, str]:
    """The object URLs D001's owner reaches by following links, with their endpoints."""
    owner = app.test_client()
    log_in(owner, world.emails["dealer_owner"])
    reached = crawl(owner)
    assert all(status < 500 for status in reached.values()), {url: s for url, s in reached.items() if s >= 500}
    objects = {url: endpoint for url in reached if (endpoint := object_endpoint(app, url)) and reached[url] == 200}
    # The crawl must really get around: these are among what D001's owner can open from the pages.
    assert {
        "claims.claim_page",
        "claims.edit_claim",
        "evidence.view",
        "evidence.preview",
        "evidence.download",
        "disputes.dispute_page",
        "disputes.dealer_violation",
        "training.certificate",
        "training.calendar_file",
        "dealers.edit_trainee",
    } <= set(objects.values()), sorted(set(objects.values()))
    return objects


def answers_of(app: Flask, email: str, urls: list[str]) -> dict[str, int]:
    intruder = app.test_client()
    log_in(intruder, email)
    return {url: intruder.get(url).status_code for url in urls}


def test_a_neighbouring_dealer_gets_404_on_every_object_the_first_can_reach(app: Flask, world: World) -> None:
    """D002 is in the same manager's portfolio and shares nothing with D001."""
    with app.app_context():
        neighbour = db.session.execute(select(Dealer).where(Dealer.code == world.second_dealer)).scalar_one()
        make_user(UserRole.DEALER, email="owner2@example.test", dealer=neighbour, dealer_role=DealerRole.OWNER)
        db.session.commit()
    objects = crawled_objects(app, world)
    checked = [
        url for url, endpoint in objects.items() if endpoint not in SHARED_OBJECTS and url not in shared_files(world)
    ]
    answers = answers_of(app, "owner2@example.test", checked)
    assert len(answers) >= 20 and all(status == 404 for status in answers.values()), {
        url: status for url, status in answers.items() if status != 404
    }


def test_the_other_party_of_a_dispute_sees_that_dispute_and_its_files_and_nothing_else(
    app: Flask, world: World
) -> None:
    """D003 is the respondent in D001's pricing dispute: that dispute and the files on it, and no other object."""
    objects = crawled_objects(app, world)
    dispute, dispute_file = world.disputes.cross_dispute, world.disputes.cross_dispute_file
    shared_with_them = {f"/disputes/{dispute}"} | {
        url for url, endpoint in objects.items() if endpoint.startswith("evidence.") and f"/{dispute_file}" in url
    }
    checked = [
        url for url, endpoint in objects.items() if endpoint not in SHARED_OBJECTS and url not in shared_files(world)
    ]
    answers = answers_of(app, world.emails["foreign_owner"], checked)
    assert {url for url, status in answers.items() if status == 200} == shared_with_them & set(checked)
    assert all(status == 404 for url, status in answers.items() if url not in shared_with_them), answers
