"""News and policies: who reads an announcement (audiences, a manager's portfolio, expiry, drafts), in which
language, what Markdown may become on a dealer's page, the policy library's versions, acknowledgements through the
mechanism price lists share, the report, reminders, the inbox and the notices."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.accounts.models import DealerRole, User, UserRole
from portal.dealers.audiences import AudienceKind
from portal.dealers.models import Acknowledgement, DealerStatus
from portal.evidence.models import Evidence
from portal.extensions import db
from portal.news import services
from portal.news.models import Announcement
from portal.news.rules import AnnouncementKind, AnnouncementStatus, Texts, render_markdown
from portal.notifications.models import Notification
from portal.service_errors import Forbidden, InvalidInput, NotFound
from portal.types import utcnow
from tests.evidence_files import pdf, pdf_with_javascript
from tests.factories import Channel, dealer_of, make_announcement, make_user, today, user
from tests.helpers import logged_in_client

PUBLISHED = AnnouncementStatus.PUBLISHED
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    "<iframe src=//evil.example></iframe>",
    '<p style="position:fixed">x</p>',
    "![pixel](https://evil.example/p.png)",
    "<svg onload=alert(1)>",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
]
SAFE_TAGS = {"p", "br", "hr", "h2", "h3", "h4", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
SAFE_TAGS |= {"table", "thead", "tbody", "tr", "th", "td", "del"}
SAFE_ATTRIBUTES = {"href", "title", "rel", "align", "start"}


class Elements(HTMLParser):
    """Every element and attribute the browser would build from the HTML (text is only text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _runs_nothing(html: str) -> bool:
    """Only allowed elements and attributes; links only to http, https or mailto."""
    parsed = Elements()
    parsed.feed(html)
    for tag, attrs in parsed.found:
        if tag not in SAFE_TAGS:
            return False
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES:
                return False
            if name == "href" and not re.match(r"(https?:|mailto:)", (value or "").strip(), re.I):
                return False
    return True


@pytest.mark.parametrize("written", HOSTILE)
def test_markdown_never_carries_scripts_images_or_handlers(written: str) -> None:
    assert _runs_nothing(str(render_markdown(written)))


def test_the_checker_catches_what_it_looks_for() -> None:
    assert not _runs_nothing('<a href="javascript:alert(1)">x</a>')
    assert not _runs_nothing('<p onclick="x">x</p>') and not _runs_nothing("<img src=x>")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*HOSTILE, "**b**", "- item", "| a |\n|---|\n| 1 |", "[ok](https://e.com)", "\n"])).map(
        "".join
    )
    | st.text()
)
def test_whatever_is_written_renders_without_anything_that_runs(written: str) -> None:
    assert _runs_nothing(str(render_markdown(written)))


def test_markdown_keeps_what_a_policy_needs() -> None:
    html = str(render_markdown("**Bold**\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[rules](https://e.com)"))
    assert "<strong>Bold</strong>" in html and "<li>one</li>" in html and "<td>2</td>" in html
    assert '<a href="https://e.com" rel="noopener noreferrer nofollow">rules</a>' in html


def test_the_reader_sees_their_language_else_the_other() -> None:
    both = Texts("Rules", "规则", "English text", "中文内容")
    assert (both.title_in("zh_Hans"), both.body_in("zh_Hans"), both.title_in("en")) == ("规则", "中文内容", "Rules")
    english_only = Texts("Rules", "", "English text", "")
    assert (english_only.title_in("zh_Hans"), english_only.body_in("zh_Hans")) == ("Rules", "English text")
    chinese_only = Texts("", "规则", "", "中文内容")
    assert (chinese_only.title_in("en"), chinese_only.body_in("en")) == ("规则", "中文内容")


def _second_owner(channel: Channel) -> User:
    """D002's owner (the channel gives D002 none)."""
    return make_user(
        UserRole.DEALER,
        email="owner2@example.test",
        dealer=dealer_of(channel.second_dealer),
        dealer_role=DealerRole.OWNER,
    )


def _titles(person: User) -> list[str]:
    return [found.title_en for found in services.readable(person)]


def test_who_reads_an_announcement(app: Flask, channel: Channel) -> None:
    with app.app_context():
        admin, manager, other = user(channel, "admin"), user(channel, "manager"), user(channel, "other_manager")
        make_announcement(admin, title_en="All", status=PUBLISHED)
        make_announcement(admin, title_en="Pinned", status=PUBLISHED, pinned=True)
        make_announcement(admin, title_en="Gold", status=PUBLISHED, audience_kind=AudienceKind.TIERS, audience=["gold"])
        make_announcement(
            admin, title_en="North", status=PUBLISHED, audience_kind=AudienceKind.TERRITORIES, audience=["NORTH"]
        )
        make_announcement(admin, title_en="Expired", status=PUBLISHED, expires_on=today() - timedelta(days=1))
        make_announcement(admin, title_en="Until today", status=PUBLISHED, expires_on=today())
        make_announcement(admin, title_en="Draft")
        make_announcement(admin, title_en="Withdrawn", status=AnnouncementStatus.WITHDRAWN)
        # A manager's announcement for every dealer reaches their portfolio only (D001, D002; not D003).
        make_announcement(manager, title_en="Portfolio", status=PUBLISHED, manager_id=manager.id)
        make_announcement(other, title_en="Other portfolio", status=PUBLISHED, manager_id=other.id)
        db.session.flush()
        own, foreign, second = user(channel, "dealer_owner"), user(channel, "foreign_owner"), _second_owner(channel)
        assert _titles(own)[0] == "Pinned"
        assert set(_titles(own)) == {"All", "Pinned", "Gold", "Until today", "Portfolio"}
        assert set(_titles(second)) == {"All", "Pinned", "North", "Until today", "Portfolio"}
        assert set(_titles(foreign)) == {"All", "Pinned", "North", "Until today", "Other portfolio"}
        gold = db.session.execute(select(Announcement).where(Announcement.title_en == "Gold")).scalar_one()
        with pytest.raises(NotFound):
            services.get_readable(second, gold.id)
        dealer_of(channel.own_dealer).status = DealerStatus.TERMINATED
        db.session.flush()
        assert _titles(own) == []  # a dealer that left the channel is in no audience
        db.session.rollback()


def test_a_manager_writes_for_their_portfolio_only(app: Flask, channel: Channel) -> None:
    client = logged_in_client(app, channel.emails["manager"])
    form = {"kind": "news", "title_en": "Hello", "audience_kind": "dealers", "audience_codes": "D001, D003"}
    refused = client.post("/news/manage/new", data=form)
    assert refused.status_code == 422 and "D003" in refused.get_data(as_text=True)
    assert client.post("/news/manage/new", data={**form, "audience_codes": "d001，D002"}).status_code == 303
    with app.app_context():
        saved = db.session.execute(select(Announcement).where(Announcement.title_en == "Hello")).scalar_one()
        assert (saved.audience, saved.manager_id) == (["D001", "D002"], user(channel, "manager").id)


def test_a_policy_s_versions_replace_each_other_in_the_library(app: Flask, channel: Channel) -> None:
    with app.app_context():
        admin, owner = user(channel, "admin"), user(channel, "dealer_owner")
        values = {"kind": AnnouncementKind.POLICY, "policy_key": "penalty-schedule"}
        first = make_announcement(admin, title_en="Penalties", **values)
        services.publish(admin, first)
        second = make_announcement(admin, title_en="Penalties, revised", **values)
        services.publish(admin, second)
        db.session.flush()
        db.session.refresh(first)
        assert (first.version, second.version, first.replaced_by_id) == (1, 2, second.id)
        library = services.policies_in_force(owner)
        assert [(policy.title_en, [old.version for old in earlier]) for policy, earlier in library] == [
            ("Penalties, revised", [1])
        ]
        assert services.get_readable(owner, first.id) is first  # the earlier version stays readable
        assert [found.title_en for found in services.readable(owner)][:2] == ["Penalties, revised", "Penalties"]
        db.session.rollback()


def test_acknowledgements_are_shared_with_price_lists_reported_and_leave_the_inbox(
    app: Flask, channel: Channel
) -> None:
    with app.app_context():
        admin = user(channel, "admin")
        notice = make_announcement(admin, title_en="Read me", status=PUBLISHED, must_acknowledge=True)
        db.session.commit()
        notice_id = notice.id
    owner = logged_in_client(app, channel.emails["dealer_owner"])
    home = owner.get("/dealer/").get_data(as_text=True)
    assert "1 announcement to read and acknowledge" in home
    staff = logged_in_client(app, channel.emails["dealer_staff"])
    assert staff.post(f"/news/{notice_id}/acknowledge").status_code == 403
    assert owner.post(f"/news/{notice_id}/acknowledge").status_code == 303
    assert owner.post(f"/news/{notice_id}/acknowledge").status_code == 303  # a second press changes nothing
    assert "announcement to read and acknowledge" not in owner.get("/dealer/").get_data(as_text=True)
    page = owner.get(f"/news/{notice_id}").get_data(as_text=True)
    assert "Acknowledged by Owner One" in page
    with app.app_context():
        rows = db.session.execute(
            select(Acknowledgement.subject_type, Acknowledgement.subject_id, Acknowledgement.dealer_id)
        ).all()
        assert rows == [("announcement", notice_id, dealer_of(channel.own_dealer).id)]
        found = db.session.get(Announcement, notice_id)
        assert found is not None
        total, done, waiting = services.report(found)
        assert (total, done) == (3, 1)
        assert [dealer.code for dealer in waiting] == [channel.second_dealer, channel.foreign_dealer]
        with pytest.raises(Forbidden):
            services.acknowledge(user(channel, "dealer_staff"), found)
    report = logged_in_client(app, channel.emails["admin"]).get(f"/news/manage/{notice_id}").get_data(as_text=True)
    assert "1 of 3 dealers addressed have acknowledged." in report and "Northern Light Supply" in report


def test_owners_who_have_not_acknowledged_are_reminded_after_three_days_then_weekly(
    app: Flask, channel: Channel
) -> None:
    with app.app_context():
        admin = user(channel, "admin")
        _second_owner(channel)
        now = utcnow()
        notice = make_announcement(
            admin, title_en="Policy", status=PUBLISHED, must_acknowledge=True, published_at=now - timedelta(days=4)
        )
        make_announcement(admin, title_en="New", status=PUBLISHED, must_acknowledge=True, published_at=now)
        services.acknowledge(user(channel, "dealer_owner"), notice)
        assert services.remind_unacknowledged(now) == 2  # D002 and D003; D001 acknowledged; "New" is too new
        assert services.remind_unacknowledged(now + timedelta(days=1)) == 0  # reminded less than a week ago
        # A week on: "Policy" again for D002 and D003, and "New", three days old by then, for all three dealers.
        assert services.remind_unacknowledged(now + timedelta(days=7)) == 5
        reminded = db.session.execute(
            select(User.email)
            .join(Notification, Notification.user_id == User.id)
            .where(Notification.kind == "announcement_reminder")
        ).scalars()
        everyone = {"owner2@example.test", channel.emails["foreign_owner"], channel.emails["dealer_owner"]}
        assert sorted(set(reminded)) == sorted(everyone)  # D001's owner only for "New", which it did not acknowledge
        db.session.rollback()


def test_the_people_of_the_dealers_addressed_are_told(app: Flask, channel: Channel) -> None:
    with app.app_context():
        admin = user(channel, "admin")
        notice = make_announcement(admin, audience_kind=AudienceKind.DEALERS, audience=[channel.own_dealer])
        services.publish(admin, notice)
        assert services.tell_readers(notice.id) == 2  # D001's owner and staff (active), no one else
        told = set(
            db.session.execute(
                select(User.email)
                .join(Notification, Notification.user_id == User.id)
                .where(Notification.kind == "announcement_published")
            ).scalars()
        )
        assert told == {channel.emails["dealer_owner"], channel.emails["dealer_staff"]}
        db.session.rollback()


def test_a_published_announcement_is_not_edited(app: Flask, channel: Channel) -> None:
    with app.app_context():
        admin = user(channel, "admin")
        notice = make_announcement(admin, status=PUBLISHED)
        db.session.commit()
        notice_id = notice.id
    client = logged_in_client(app, channel.emails["admin"])
    answer = client.post(f"/news/manage/{notice_id}/edit", data={"kind": "news", "title_en": "Changed"})
    assert answer.status_code == 409
    with app.app_context():
        assert db.session.get(Announcement, notice_id).title_en == "New claim rules"  # type: ignore[union-attr]
        with pytest.raises(InvalidInput):
            services.save_draft(
                admin,
                None,
                {
                    "kind": AnnouncementKind.NEWS,
                    "title_en": "x",
                    "title_zh": "",
                    "body_en": "",
                    "body_zh": "",
                    "audience_kind": AudienceKind.TERRITORIES,
                    "audience": ["ATLANTIS"],
                    "pinned": False,
                    "must_acknowledge": False,
                    "expires_on": None,
                    "policy_key": None,
                },
            )


def test_pages_show_the_reader_s_language(app: Flask, channel: Channel) -> None:
    with app.app_context():
        notice = make_announcement(user(channel, "admin"), status=PUBLISHED)
        db.session.commit()
        notice_id = notice.id
    owner = logged_in_client(app, channel.emails["dealer_owner"])
    assert "<strong>next month</strong>" in owner.get(f"/news/{notice_id}").get_data(as_text=True)
    owner.post("/language", data={"locale": "zh_Hans", "next": "/news/"})
    page = owner.get(f"/news/{notice_id}").get_data(as_text=True)
    assert "新的报销规则" in page and "<strong>下月</strong>" in page


def test_an_attachment_goes_with_the_draft_and_is_read_once_published(app: Flask, channel: Channel) -> None:
    """A PDF with a Chinese name attached to a draft, a PDF that runs scripts refused; once published the dealer
    opens it and nobody adds or removes files any more."""
    with app.app_context():
        draft = make_announcement(user(channel, "admin"), title_en="2027 prices")
        db.session.commit()
        draft_id = draft.id
    admin = logged_in_client(app, channel.emails["admin"])
    base = f"/news/manage/{draft_id}"
    refused = admin.post(f"{base}/attachments", data={"file": (io.BytesIO(pdf_with_javascript()), "x.pdf")})
    assert refused.status_code == 422 and "scripts" in refused.get_data(as_text=True)
    sent = admin.post(f"{base}/attachments", data={"file": (io.BytesIO(pdf(text="Prices")), "价格表 2027.pdf")})
    assert sent.status_code == 303
    assert "价格表 2027.pdf" in admin.get(base).get_data(as_text=True)
    with app.app_context():
        (attachment_id,) = db.session.execute(
            select(Evidence.id).where(Evidence.owner_type == "announcement", Evidence.owner_id == draft_id)
        ).one()
    owner = logged_in_client(app, channel.emails["dealer_owner"])
    assert owner.get(f"/evidence/{attachment_id}/download").status_code == 404  # a draft: not for dealers yet
    assert admin.post(f"{base}/publish").status_code == 303
    assert "价格表 2027.pdf" in owner.get(f"/news/{draft_id}").get_data(as_text=True)
    download = owner.get(f"/evidence/{attachment_id}/download")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    again = admin.post(f"{base}/attachments", data={"file": (io.BytesIO(pdf()), "late.pdf")})
    assert again.status_code == 404
    assert admin.post(f"{base}/attachments/{attachment_id}/remove").status_code == 404
