"""Judging an upload by its content: PDF, JPEG and PNG only; images re-encoded, PDFs parsed and searched.

Nothing here trusts the file's name or the browser's Content-Type. Each refusal carries a message for the user.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import IO, Any

from flask_babel import lazy_gettext as _l

ALLOWED_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
CHUNK = 64 * 1024
# Raw markers of active content or a second format hidden in a PDF; names are also checked structurally below.
PDF_ACTIVE_MARKERS = re.compile(
    rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|SubmitForm|ImportData|GoToR)\b|<\s*(script|html|iframe)\b",
    re.IGNORECASE,
)


class RejectedFile(Exception):
    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = str(message)


@dataclass(frozen=True)
class CleanFile:
    data: bytes  # what is stored: the re-encoded image, or the PDF as uploaded
    content_type: str
    sha256: str  # of the upload as received
    display_name: str


def display_name(raw: str | None) -> str:
    """The name shown to people: no folders, no control characters, NFC Unicode, at most 200 characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = name.strip().strip(".") or "file"
    return name[:200]


def _size(byte_count: int) -> str:
    from flask_babel import format_decimal

    if byte_count >= 1024 * 1024:
        return f"{format_decimal(round(byte_count / (1024 * 1024), 1))} MB"
    return f"{format_decimal(round(byte_count / 1024, 1))} KB"


def read_limited(stream: IO[bytes], max_bytes: int) -> tuple[bytes, str]:
    """Read in chunks, hashing as we go; refuse as soon as the file passes the limit."""
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    while chunk := stream.read(CHUNK):
        buffer.write(chunk)
        digest.update(chunk)
        if buffer.tell() > max_bytes:
            raise RejectedFile(_l("The file is larger than %(limit)s. Send a smaller file.", limit=_size(max_bytes)))
    if buffer.tell() == 0:
        raise RejectedFile(_l("The file is empty."))
    return buffer.getvalue(), digest.hexdigest()


def sniff(data: bytes) -> str:
    import magic

    return str(magic.from_buffer(data[:8192], mime=True))


def inspect_upload(stream: IO[bytes], raw_name: str | None, *, max_bytes: int, max_pixels: int) -> CleanFile:
    data, sha256 = read_limited(stream, max_bytes)
    content_type = sniff(data)
    if content_type not in ALLOWED_TYPES:
        raise RejectedFile(_l("Only PDF, JPEG and PNG files are accepted; this file is something else."))
    if content_type == "application/pdf":
        checked = _checked_pdf(data)
    else:
        checked = _reencoded_image(data, content_type, max_pixels)
    return CleanFile(data=checked, content_type=content_type, sha256=sha256, display_name=display_name(raw_name))


def _reencoded_image(data: bytes, content_type: str, max_pixels: int) -> bytes:
    """Verify, then draw the pixels into a new file: metadata and anything appended to the image are left behind."""
    from PIL import Image, UnidentifiedImageError

    broken = _l("The image cannot be read. Send it again, or as a PDF.")
    expected = "JPEG" if content_type == "image/jpeg" else "PNG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != expected:
                    raise RejectedFile(broken)
                width, height = probe.size
                if width * height > max_pixels:
                    raise RejectedFile(_l("The image has too many pixels. Send a smaller image."))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                output = io.BytesIO()
                if expected == "JPEG":
                    image.convert("RGB").save(output, format="JPEG", quality=90, optimize=True)
                else:
                    keep = image.mode if image.mode in ("RGB", "RGBA", "L", "LA", "P") else "RGBA"
                    image.convert(keep).save(output, format="PNG", optimize=True)
    except RejectedFile:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RejectedFile(_l("The image has too many pixels. Send a smaller image.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise RejectedFile(broken) from error
    return output.getvalue()


def _checked_pdf(data: bytes) -> bytes:
    """Parse leniently (phone scanners write imperfect PDFs); refuse what cannot be parsed or can act."""
    import pypdf

    active = _l(
        "The PDF contains scripts, forms that send data, or embedded files. Print it to a new PDF and send that."
    )
    if PDF_ACTIVE_MARKERS.search(data):
        raise RejectedFile(active)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise RejectedFile(_l("The PDF is protected by a password. Send it without the password."))
            pages = len(reader.pages)
            root = reader.trailer["/Root"]
            seen: set[int] = set()
            if _has_active_content(root, 0, seen) or any(_has_active_content(page, 0, seen) for page in reader.pages):
                raise RejectedFile(active)
            for page in reader.pages:
                page.get_contents()
    except RejectedFile:
        raise
    except Exception as error:  # pypdf raises many kinds on hostile input; none of them may become a 500
        raise RejectedFile(_l("The PDF cannot be read. Send it again, or scan it to a new PDF.")) from error
    if pages == 0:
        raise RejectedFile(_l("The PDF has no pages."))
    return data


ACTIVE_KEYS = {"/JS", "/JavaScript", "/Launch", "/EmbeddedFiles", "/EmbeddedFile", "/RichMedia", "/XFA", "/AA"}


def _has_active_content(node: Any, depth: int, seen: set[int]) -> bool:
    """Walk the object tree once (bounded) looking for actions and attachments that decoded names reveal."""
    if depth > 12:
        return False
    reference = getattr(node, "idnum", None)
    if reference is not None:
        if reference in seen:
            return False
        seen.add(reference)
    if hasattr(node, "get_object"):
        node = node.get_object()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ACTIVE_KEYS or (key == "/S" and str(value) in {"/JavaScript", "/Launch", "/SubmitForm"}):
                return True
            if key in {"/Parent", "/P", "/Contents", "/Resources"}:
                continue
            if _has_active_content(value, depth + 1, seen):
                return True
    elif isinstance(node, list):
        return any(_has_active_content(item, depth + 1, seen) for item in node[:500])
    return False
