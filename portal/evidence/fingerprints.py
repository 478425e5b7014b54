"""What an evidence file shows, as opposed to its bytes: the same photo forwarded through WeChat (re-encoded at
another size and quality) or the same PDF saved again with other metadata is still the same evidence.

- A photo gets a 64-bit perceptual hash (DCT hash, imagehash.phash). Two photos within NEAR_PICTURE_DISTANCE bits
  of each other show the same picture. To find them without comparing with every stored hash, each hash is cut
  into BANDS bands stored in indexed columns: two hashes within NEAR_PICTURE_DISTANCE bits agree exactly on at
  least one band (pigeonhole), so one indexed lookup per band finds every candidate, and the distance decides.
- A PDF gets a digest of its pages' text (NFKC, without white space) and of the pictures on them (their perceptual
  hashes): metadata, object order and compression do not change it. A PDF with neither text nor pictures (vector
  drawings only) is drawn and hashed like a photo. Pictures inside a PDF (a vendor's seal on every invoice) are part
  of its digest only, never compared alone.
- Both kinds are searched for QR codes (the fapiao's), read on the server by zxing-cpp.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import imagehash
import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

from portal.evidence.previews import drawing_lock

NEAR_PICTURE_DISTANCE = 4
BAND_BITS = (13, 13, 13, 13, 12)  # NEAR_PICTURE_DISTANCE + 1 bands covering the 64 bits
BANDS = len(BAND_BITS)
PDF_PAGES_COMPARED = 20
QR_READ_MAX_SIDE = 2000  # a 12-megapixel photo is read at this size: a fapiao's QR code stays legible
PDF_QR_SCALE = 2.0  # the first page drawn at 144 dpi to read its QR code
MAX_CODES = 4
MIN_PICTURE_SIDE = 32
FPDF_PAGEOBJ_IMAGE = 3  # PDFium's page object type of an image (fpdf_edit.h)


@dataclass(frozen=True)
class Fingerprint:
    pictures: tuple[int, ...] = ()  # perceptual hashes, unsigned 64-bit
    content_digest: str | None = None  # PDFs: their pages' text and pictures
    codes: tuple[str, ...] = ()  # the texts of QR codes found


def bands_of(picture: int) -> tuple[int, ...]:
    """The hash cut into BANDS integers, most significant bits first."""
    bands, shift = [], 64
    for bits in BAND_BITS:
        shift -= bits
        bands.append((picture >> shift) & ((1 << bits) - 1))
    return tuple(bands)


def distance(first: int, second: int) -> int:
    return (first ^ second).bit_count()


def as_signed(picture: int) -> int:
    """Stored in a signed 64-bit column."""
    return picture - (1 << 64) if picture >= 1 << 63 else picture


def as_unsigned(stored: int) -> int:
    return stored + (1 << 64) if stored < 0 else stored


def picture_hash(image: Image.Image) -> int:
    return int(str(imagehash.phash(image.convert("RGB"))), 16)


def qr_codes(image: Image.Image) -> tuple[str, ...]:
    """The texts of the QR codes in the image (at most MAX_CODES); none when there are none or none is legible."""
    if max(image.size) > QR_READ_MAX_SIDE:
        image = image.copy()
        image.thumbnail((QR_READ_MAX_SIDE, QR_READ_MAX_SIDE))
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return tuple(code.text for code in found if code.valid and code.text)[:MAX_CODES]


def fingerprint(content_type: str, data: bytes) -> Fingerprint:
    """What the file shows; a file that cannot be read this way (it passed the upload checks) has no fingerprint."""
    if content_type.startswith("image/"):
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return Fingerprint(pictures=(picture_hash(image),), codes=qr_codes(image))
    if content_type == "application/pdf":
        return _pdf_fingerprint(data)
    return Fingerprint()


def _normalised_text(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _pdf_fingerprint(data: bytes) -> Fingerprint:
    """PDFium is not thread-safe: one document at a time per process, like the previews."""
    pages: list[dict[str, object]] = []
    with drawing_lock:
        document = pdfium.PdfDocument(data)
        try:
            for index in range(min(len(document), PDF_PAGES_COMPARED)):
                page = document[index]
                text_page = page.get_textpage()
                text = _normalised_text(text_page.get_text_range())
                text_page.close()
                pictures = [str(picture) for picture in _page_pictures(page.get_objects(filter=(FPDF_PAGEOBJ_IMAGE,)))]
                pages.append({"text": text, "pictures": sorted(pictures)})
                page.close()
            first = document[0] if len(document) else None
            drawn = first.render(scale=PDF_QR_SCALE, may_draw_forms=False).to_pil() if first is not None else None
            if first is not None:
                first.close()
        finally:
            document.close()
    codes = qr_codes(drawn) if drawn is not None else ()
    if not any(page["text"] or page["pictures"] for page in pages):
        return Fingerprint(pictures=(picture_hash(drawn),) if drawn is not None else (), codes=codes)
    digest = hashlib.sha256(json.dumps(pages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Fingerprint(content_digest=digest, codes=codes)


def _page_pictures(objects: Iterable[object]) -> list[int]:
    pictures = []
    for found in objects:
        assert isinstance(found, pdfium.PdfImage)
        try:
            image = found.get_bitmap(render=False).to_pil()
        except pdfium.PdfiumError:
            continue
        if min(image.size) >= MIN_PICTURE_SIDE:
            pictures.append(picture_hash(image))
    return pictures
