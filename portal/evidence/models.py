"""An evidence file: who owns it (any area's object), what it really is, where its bytes are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.types import UTCDateTime, utcnow

# Pages of a PDF the portal shows as images; the rest are in the download.
PREVIEW_PAGE_LIMIT = 20


class Evidence(Model):
    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_owner", "owner_type", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column()
    # Display text only: never used to build a path or choose how the file is served.
    original_name: Mapped[str] = mapped_column(String(200))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))  # judged from the content
    size: Mapped[int] = mapped_column(BigInteger)  # of the stored (re-encoded) file
    # Of the file as uploaded, so the same file used twice is recognised whatever was done to it here.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # PDFs: how many pages the previews can show (None for images, and for PDFs stored before it was kept).
    page_count: Mapped[int | None] = mapped_column()
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def preview_pages(self) -> list[int]:
        """The page numbers a portal page shows: every page of a short PDF, the first ones of a long one (a PDF
        stored before page counts were kept shows its first page); an image is one page."""
        if self.is_image:
            return [1]
        return list(range(1, min(self.page_count or 1, PREVIEW_PAGE_LIMIT) + 1))

    @property
    def pages_not_previewed(self) -> int:
        return max((self.page_count or 1) - PREVIEW_PAGE_LIMIT, 0) if not self.is_image else 0
