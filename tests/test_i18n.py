"""English and Simplified Chinese: choice of language, locale formatting, and a complete Chinese catalogue."""

from __future__ import annotations

import html as html_module
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from portal.accounts.models import User
from portal.claims.models import ActivityType
from portal.claims.rules import ClaimStatus
from portal.extensions import db
from portal.formatting import local_date, local_datetime, money, number
from portal.i18n import locale_from_header
from portal.request_locale import in_language, in_reader_language
from tests.factories import Channel, ClaimRecords
from tests.helpers import log_in, logged_in_client

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,zh-CN;q=0.5", "zh_Hans"),
        ("fr-FR", None),
    ],
)
def test_browser_languages_map_to_ours(header: str, expected: str | None) -> None:

    ranked = [value for value, _q in parse_accept_header(header, LanguageAccept)]
    assert locale_from_header(ranked) == expected


def test_a_chinese_browser_gets_chinese_before_anyone_chooses(client: FlaskClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html
    assert "登录" in html and "电子邮箱" in html


def test_an_english_browser_gets_english(client: FlaskClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Log in" in html


def test_a_visitor_can_switch_language_before_logging_in(client: FlaskClient) -> None:
    response = client.post("/language", data={"locale": "zh_Hans", "next": "/login"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "登录" in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_the_choice_is_kept_on_the_account(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["dealer_owner"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/dealer/"})
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == channel.emails["dealer_owner"])).scalar_one()
        assert user.locale == "zh_Hans"
    # a new browser with English headers still gets Chinese once logged in
    other = app.test_client()
    log_in(other, channel.emails["dealer_owner"])
    html = other.get("/dealer/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "本期" in html and "您的渠道经理" in html


def test_unknown_language_is_ignored(app: Flask, client: FlaskClient, channel: Channel) -> None:
    log_in(client, channel.emails["manager"])
    response = client.post("/language", data={"locale": "xx", "next": "/account"})
    assert response.status_code == 303
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == channel.emails["manager"])).scalar_one()
        assert user.locale is None


def test_language_switch_next_stays_on_this_site(client: FlaskClient) -> None:
    response = client.post("/language", data={"locale": "en", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_money_numbers_and_dates_follow_the_locale(app: Flask) -> None:
    with app.test_request_context():
        with force_locale("en"):
            assert money(123450, "CNY") == "CN¥1,234.50"
            assert money(-5, "CNY") == "-CN¥0.05"
            assert money(1000, "JPY") == "¥1,000"
            assert number(1234567) == "1,234,567"
            assert local_date(date(2026, 10, 1)) == "Oct 1, 2026"
        with force_locale("zh_Hans"):
            assert money(123450, "CNY") == "¥1,234.50"
            assert local_date(date(2026, 10, 1)) == "2026年10月1日"


def test_times_are_shown_in_the_users_time_zone(app: Flask, channel: Channel) -> None:
    moment = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    with app.test_request_context(), force_locale("en"):
        # anonymous visitors see the company's zone, Asia/Shanghai (UTC+8)
        assert "8:30\u202fAM" in local_datetime(moment)  # hours and minutes; no seconds
        assert "Jan 1, 2026" in local_datetime(moment)


def test_a_user_in_another_zone_sees_their_own_time(app: Flask, client: FlaskClient, channel: Channel) -> None:
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == channel.emails["mediator"])).scalar_one()
        user.timezone = "Europe/London"
        db.session.commit()
    log_in(client, channel.emails["mediator"])
    html = client.get("/account").get_data(as_text=True)
    assert "Times are shown in British Time (Europe/London)." in html


def _extracted_messages() -> set[str]:
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    messages = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


def test_every_string_in_the_sources_is_translated_to_chinese() -> None:
    with CATALOGUE.open("rb") as po_file:
        catalogue = read_po(po_file, locale="zh_Hans")
    translated = {}
    for message in catalogue:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated[key] = (all(strings), message.fuzzy)
    extracted = _extracted_messages()
    assert len(extracted) > 100
    missing = sorted(text for text in extracted if text not in translated)
    empty = sorted(text for text in extracted if text in translated and not translated[text][0])
    fuzzy = sorted(text for text in extracted if text in translated and translated[text][1])
    assert not missing, f"not in the Chinese catalogue (run make translations): {missing}"
    assert not empty, f"empty Chinese translations: {empty}"
    assert not fuzzy, f"fuzzy Chinese translations: {fuzzy}"


JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.S)
TRANS_BLOCK = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", re.S)
USER_ATTRIBUTES = re.compile(r'\b(aria-label|placeholder|title|alt|data-label)="([^"]*)"')


def _unmarked_text(template: str) -> list[str]:
    source = TRANS_BLOCK.sub(" ", template)
    problems = [
        f"{name}={value!r}"
        for name, value in USER_ATTRIBUTES.findall(source)
        if re.search(r"[A-Za-z]", JINJA.sub("", value))
    ]
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", source, flags=re.S)
    text = JINJA.sub(" ", text)
    text = re.sub(r"<[^>]*>", " ", text)
    text = html_module.unescape(text)
    problems += [word for word in text.split() if re.search(r"[A-Za-z]", word)]
    return problems


def test_templates_have_no_unmarked_text() -> None:
    found = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        problems = _unmarked_text(path.read_text())
        if problems:
            found[str(path.relative_to(ROOT))] = problems
    assert not found, f"text a user reads that is not marked for translation: {found}"


def test_the_unmarked_text_check_catches_plain_text() -> None:
    assert _unmarked_text('<p>Hello {{ _("Hi") }}</p><a aria-label="Close">x</a>') == [
        "aria-label='Close'",
        "Hello",
        "x",
    ]


# Words channel finance does not use, with what it says instead: 报销 is an employee's expense refund (a
# dealer's promotion claim is 费用核销), a training session has places not seats (名额), a dealer's staff
# records are 员工培训档案, and a statement is an estimate (预估) until it is settled (已结算).
NOT_CHANNEL_WORDS = {
    "报销": "核销",
    "剩余座位": "剩余名额",
    "我们人员的培训": "员工培训档案",
    "暂定": "预估",
    "已确定": "已结算",
}


def test_the_chinese_speaks_as_channel_finance_does() -> None:
    with CATALOGUE.open("rb") as po_file:
        catalogue = read_po(po_file)
    found = []
    for message in catalogue:
        texts = [message.string] if isinstance(message.string, str) else list(message.string)
        found += [(message.id, word) for word in NOT_CHANNEL_WORDS for text in texts if word in text]
    assert found == []
    translated = {message.id: message.string for message in catalogue if isinstance(message.id, str)}
    assert translated["Claims"] == "费用核销" and translated["Seats left"] == "剩余名额"
    assert translated["Provisional"] == "预估" and translated["Final"] == "已结算"


def test_every_claim_status_a_reader_acts_on_has_a_colour_of_its_own() -> None:
    """Badges say what a status means for the reader (waiting on you, in review, approved, paid, refused), with the
    status in words beside the colour; only a draft and a withdrawn claim keep the plain grey."""
    stylesheet = (ROOT / "static" / "css" / "portal.css").read_text()
    plain = {ClaimStatus.DRAFT, ClaimStatus.WITHDRAWN}
    assert [
        status for status in ClaimStatus if status not in plain and f".claim-{status.value}" not in stylesheet
    ] == []


def test_choices_of_forms_defined_once_are_shown_in_the_readers_language(client: FlaskClient, channel: Channel) -> None:
    """A form class's choices are built when the portal starts; their labels are translated when shown, so a
    Chinese reader sees the dispute types and invoice types in Chinese, and an English one in English."""
    log_in(client, channel.emails["dealer_owner"])
    client.post("/language", data={"locale": "zh_Hans", "next": "/dealer/"})
    dispute_form = client.get("/disputes/new").get_data(as_text=True)
    assert "价格冲突" in dispute_form and ">Pricing conflict<" not in dispute_form
    claim_form = client.get("/claims/new").get_data(as_text=True)
    assert "增值税专用发票" in claim_form and "VAT special invoice" not in claim_form
    client.post("/language", data={"locale": "en", "next": "/dealer/"})
    assert ">Pricing conflict<" in client.get("/disputes/new").get_data(as_text=True)


@pytest.mark.parametrize(
    ("language", "english", "chinese", "shown"),
    [
        ("zh_Hans", "Window display", "橱窗陈列", "橱窗陈列"),
        ("en", "Window display", "橱窗陈列", "Window display"),
        ("zh_Hans", "Window display", "", "Window display"),  # no Chinese name given: the English one, not nothing
        ("en", "", "橱窗陈列", "橱窗陈列"),
        ("zh", "Window display", "橱窗陈列", "橱窗陈列"),
    ],
)
def test_a_name_kept_in_two_languages_is_read_in_the_readers_else_the_other(
    app: Flask, language: str, english: str, chinese: str, shown: str
) -> None:
    assert in_language(language, english, chinese) == shown
    with app.test_request_context("/"), force_locale(language):
        assert in_reader_language(english, chinese) == shown


def test_a_chinese_reviewer_reads_activity_types_in_chinese_else_in_english(
    app: Flask, channel: Channel, claim_records: ClaimRecords
) -> None:
    """The queue names each claim's activity type through the one rule: the reader's language, else the other."""
    with app.app_context():
        kind = db.session.get(ActivityType, claim_records.activity_type)
        assert kind is not None
        kind.name_en, kind.name_zh = "Window display", "橱窗陈列"
        db.session.execute(sa.update(User).where(User.email == channel.emails["manager"]).values(locale="zh_Hans"))
        db.session.commit()
    reviewer = logged_in_client(app, channel.emails["manager"])
    assert "橱窗陈列" in reviewer.get("/console/claims?status=all").get_data(as_text=True)
    with app.app_context():
        kind = db.session.get(ActivityType, claim_records.activity_type)
        assert kind is not None
        kind.name_zh = ""
        db.session.commit()
    html = reviewer.get("/console/claims?status=all").get_data(as_text=True)
    assert "Window display" in html and "橱窗陈列" not in html
