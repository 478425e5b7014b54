"""An evidence file: who owns it (any area's object), what it really is, where its bytes are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.evidence.fingerprints import BANDS
from portal.extensions import Model
from portal.page_cache import CHANNEL, RowWrite, WriteScope, dealer_keys, register_write_scope, unseen
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
    # PDFs: a digest of what their pages say and show (fingerprints.py), the same for the same document re-saved.
    content_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # The first QR code found in it (a fapiao's), as read on upload.
    qr_text: Mapped[str] = mapped_column(String(400), default="")
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


class EvidencePicture(Model):
    """A picture's perceptual hash, cut into bands each indexed on its own: the near-duplicates of a picture are
    found by one indexed lookup per band (fingerprints.py), at any number of files."""

    __tablename__ = "evidence_pictures"
    __table_args__ = tuple(Index(f"ix_evidence_pictures_band{band}", f"band{band}") for band in range(BANDS))

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"), index=True)
    picture_hash: Mapped[int] = mapped_column(BigInteger)  # signed: fingerprints.as_signed
    band0: Mapped[int] = mapped_column(Integer)
    band1: Mapped[int] = mapped_column(Integer)
    band2: Mapped[int] = mapped_column(Integer)
    band3: Mapped[int] = mapped_column(Integer)
    band4: Mapped[int] = mapped_column(Integer)


def _evidence_write_scope(write: RowWrite) -> list[str]:
    """An upload belongs to the uploading dealer's pages; an announcement's file, or a manager's, to every page."""
    if write.row.owner_type == "announcement":
        return [CHANNEL]
    return dealer_keys(write.parent_values("users", "uploaded_by_id", ["dealer_id"]), ())


register_write_scope(Evidence, WriteScope("dealer", _evidence_write_scope))
register_write_scope(EvidencePicture, unseen("picture fingerprints are compared on submission, no page shows them"))
