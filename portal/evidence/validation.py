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

import pikepdf
from flask_babel import format_decimal
from PIL import Image, UnidentifiedImageError

from portal.request_locale import lazy_gettext as _l

ALLOWED_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
CHUNK = 64 * 1024


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
    page_count: int | None = None  # PDFs only


def display_name(raw: str | None) -> str:
    """The name shown to people: no folders, no control characters, NFC Unicode, at most 200 characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = name.strip().strip(".") or "file"
    return name[:200]


def _size(byte_count: int) -> str:

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
    import magic  # noqa: PLC0415 - loads libmagic: a machine without it still starts and says what is missing

    return str(magic.from_buffer(data[:8192], mime=True))


def inspect_upload(stream: IO[bytes], raw_name: str | None, *, max_bytes: int, max_pixels: int) -> CleanFile:
    data, sha256 = read_limited(stream, max_bytes)
    content_type = sniff(data)
    if content_type not in ALLOWED_TYPES:
        raise RejectedFile(_l("Only PDF, JPEG and PNG files are accepted; this file is something else."))
    name = display_name(raw_name)
    if content_type == "application/pdf":
        pdf = _checked_pdf(data)
        return CleanFile(pdf.data, content_type, sha256, name, page_count=pdf.pages)
    return CleanFile(_reencoded_image(data, content_type, max_pixels), content_type, sha256, name)


def _reencoded_image(data: bytes, content_type: str, max_pixels: int) -> bytes:
    """Verify, then draw the pixels into a new file: metadata and anything appended to the image are left behind."""

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


def _checked_pdf(data: bytes) -> CheckedPdf:
    """Parse with qpdf (through pikepdf), which reads broken files the way viewers do, and refuse what cannot be
    parsed, is encrypted, or can act: every object of the file is looked at once, however deep it sits."""
    active = _l(
        "The PDF contains scripts, forms that send data, or embedded files. Print it to a new PDF and send that."
    )
    if POLYGLOT_MARKERS.search(data) or _raw_names(data) & ACTIVE_NAMES:
        raise RejectedFile(active)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if pdf.is_encrypted:
                raise RejectedFile(_l("The PDF is protected by a password. Send it without the password."))
            pages = len(pdf.pages)
            if any(active_content(item) for item in [pdf.trailer, *pdf.objects]):
                raise RejectedFile(active)
    except RejectedFile:
        raise
    except pikepdf.PasswordError:
        raise RejectedFile(_l("The PDF is protected by a password. Send it without the password.")) from None
    except Exception as error:  # qpdf raises many kinds on hostile input; none of them may become a 500
        raise RejectedFile(_l("The PDF cannot be read. Send it again, or scan it to a new PDF.")) from error
    if pages == 0:
        raise RejectedFile(_l("The PDF has no pages."))
    return CheckedPdf(data, pages)


@dataclass(frozen=True)
class CheckedPdf:
    data: bytes
    pages: int


# Keys that carry or start active content wherever they appear: scripts, additional-action triggers, attached
# files, XML forms, rich media.
ACTIVE_KEYS = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/AA",
        "/EmbeddedFiles",
        "/EmbeddedFile",
        "/EF",
        "/XFA",
        "/RichMediaContent",
        "/RichMediaSettings",
    }
)
# Action types (an action dictionary's /S) that run code, open or send files, or play media. Links inside the
# document (/GoTo), to web pages (/URI) and viewer commands (/Named) stay allowed: invoices carry them.
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/ResetForm",
        "/GoToR",
        "/GoToE",
        "/RichMediaExecute",
        "/Rendition",
        "/Movie",
        "/Sound",
    }
)
# Annotation and object types that embed files, media or 3D scenes (which carry scripts of their own).
ACTIVE_TYPES = frozenset({"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D", "/EmbeddedFile"})
ACTIVE_NAMES = ACTIVE_KEYS | ACTIVE_ACTIONS | frozenset({"/Launch", "/FileAttachment", "/RichMedia"})
# A web page hidden in the PDF's bytes (a PDF/HTML polyglot): refused, though the portal never serves a PDF as a page.
POLYGLOT_MARKERS = re.compile(rb"<\s*(script|html|iframe)\b", re.IGNORECASE)
NAME_TOKEN = re.compile(rb"/[^\s/<>\[\]()%{}\x00]+")
ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _raw_names(data: bytes) -> set[str]:
    """Every name written in the file's bytes outside compressed streams, with #xx escapes decoded, as a viewer
    reads them: a script in an object qpdf does not reach (a second body after a broken cross-reference table)
    is still seen. Names inside compressed object streams are found by the structural walk."""
    names = set()
    for token in NAME_TOKEN.findall(data):
        decoded = ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), token)
        names.add(decoded.decode("latin-1"))
    return names


def active_content(top: Any) -> bool:
    """Whether this object, or anything written inside it, is active content. References to other objects are not
    followed: every object of the file is looked at by itself, so a chain of references, however long, and a cycle
    are each walked once. Nesting inside one object is walked with a stack, never recursion."""
    stack = [top]
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Stream):
            node = node.stream_dict
        if isinstance(node, pikepdf.Dictionary):
            for key, value in node.items():
                if key in ACTIVE_KEYS:
                    return True
                if key in ("/S", "/Subtype", "/Type") and isinstance(value, pikepdf.Name):
                    name = str(value)
                    if (key == "/S" and name in ACTIVE_ACTIONS) or (key != "/S" and name in ACTIVE_TYPES):
                        return True
                if _is_direct_container(value):
                    stack.append(value)
        elif isinstance(node, pikepdf.Array):
            stack.extend(item for item in node if _is_direct_container(item))
    return False


def _is_direct_container(value: Any) -> bool:
    return isinstance(value, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream) and not value.is_indirect
