"""Announcements: the workflow table, who reads one, and the Markdown they are written in. Pure: no database.

The workflow (docs/design.md): draft -> published -> withdrawn; draft -> withdrawn (dropped). A published
announcement is read until its expiry day (included) or its withdrawal; pinned ones come first. A policy is an
announcement kept in the library: a new version of a policy (the same key) replaces the one before it there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from portal.request_locale import in_language
from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class AnnouncementStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class AnnouncementKind(enum.StrEnum):
    NEWS = "news"
    POLICY = "policy"


S = AnnouncementStatus
TRANSITIONS: dict[AnnouncementStatus, frozenset[AnnouncementStatus]] = {
    S.DRAFT: frozenset({S.PUBLISHED, S.WITHDRAWN}),
    S.PUBLISHED: frozenset({S.WITHDRAWN}),
    S.WITHDRAWN: frozenset(),
}

register_labels(
    {
        AnnouncementStatus.DRAFT: _l("Draft"),
        AnnouncementStatus.PUBLISHED: _l("Published"),
        AnnouncementStatus.WITHDRAWN: _l("Withdrawn"),
        AnnouncementKind.NEWS: _l("News"),
        AnnouncementKind.POLICY: _l("Policy"),
    }
)


def can_move(current: AnnouncementStatus, target: AnnouncementStatus) -> bool:
    return target in TRANSITIONS[current]


# The guards pages ask (template globals, registered by the plugin): a page never compares a status itself.
def is_draft(status: AnnouncementStatus) -> bool:
    return status is S.DRAFT


def is_published(status: AnnouncementStatus) -> bool:
    return status is S.PUBLISHED


def can_withdraw(status: AnnouncementStatus) -> bool:
    return can_move(status, S.WITHDRAWN)


def is_current(status: AnnouncementStatus, expires_on: date | None, today: date) -> bool:
    """Dealers read it: published, and not past its expiry day."""
    return status is AnnouncementStatus.PUBLISHED and (expires_on is None or today <= expires_on)


@dataclass(frozen=True)
class Texts:
    """The two languages' title and body; the reader sees their own, else the other one."""

    title_en: str
    title_zh: str
    body_en: str
    body_zh: str

    def title_in(self, language: str) -> str:
        return in_language(language, self.title_en, self.title_zh)

    def body_in(self, language: str) -> str:
        """The body of the language whose title is shown, so a reader never gets one language's title over the
        other's text (unless that language has a title and no body)."""
        chinese = language.startswith("zh")
        if (chinese and self.title_zh) or (not chinese and not self.title_en):
            return self.body_zh or self.body_en
        return self.body_en or self.body_zh


# What a body may keep once rendered: text structure, emphasis, lists, tables, links. No images (a dealer's page
# loads nothing from elsewhere), no scripts, styles, frames, forms or event attributes.
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h2", "h3", "h4", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
        "a", "table", "thead", "tbody", "tr", "th", "td", "del",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def render_markdown(text: str) -> Markup:
    """The body as safe HTML: Markdown rendered (raw HTML in it is shown as text), then cleaned by an allow-list;
    links may only be http, https or mailto and open nothing with the portal's window."""
    html = _MARKDOWN.render(text or "")
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704 - cleaned by nh3's allow-list just above
