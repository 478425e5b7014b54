"""An announcement to dealers: news, or a policy kept in the library with its versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.dealers.audiences import AudienceKind
from portal.extensions import Model
from portal.news.rules import AnnouncementKind, AnnouncementStatus, Texts
from portal.page_cache import CHANNEL_WIDE, register_write_scope
from portal.types import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from portal.accounts.models import User

ACKNOWLEDGED = "announcement"  # how the acknowledgements (dealers.acknowledgements) name an announcement


class Announcement(Model):
    """Written in both languages (Markdown), addressed to an audience (`dealers.audiences`); a manager's reaches
    the dealers of the audience in their portfolio only (`manager_id`). A policy has a key shared by its versions;
    publishing a version replaces the one before it in the library (`replaced_by_id`), which stays readable."""

    __tablename__ = "announcements"
    __table_args__ = (
        Index("ix_announcements_status_published", "status", "published_at"),
        UniqueConstraint("policy_key", "version", name="uq_announcements_policy_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AnnouncementKind] = mapped_column(str_enum(AnnouncementKind), default=AnnouncementKind.NEWS)
    status: Mapped[AnnouncementStatus] = mapped_column(str_enum(AnnouncementStatus), default=AnnouncementStatus.DRAFT)
    title_en: Mapped[str] = mapped_column(String(200), default="")
    title_zh: Mapped[str] = mapped_column(String(200), default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    body_zh: Mapped[str] = mapped_column(Text, default="")
    audience_kind: Mapped[AudienceKind] = mapped_column(str_enum(AudienceKind), default=AudienceKind.ALL)
    audience: Mapped[list[str]] = mapped_column(JSON, default=list)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # a manager's: their portfolio only
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    must_acknowledge: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_on: Mapped[date | None] = mapped_column(Date)
    policy_key: Mapped[str | None] = mapped_column(String(60))
    version: Mapped[int | None] = mapped_column(Integer)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="joined")

    @property
    def texts(self) -> Texts:
        return Texts(self.title_en, self.title_zh, self.body_en, self.body_zh)

    def audit_subject(self) -> tuple[str, int, str]:
        return "announcement", self.id, self.title_en or self.title_zh


register_write_scope(Announcement, CHANNEL_WIDE)
