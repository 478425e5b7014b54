"""Hostile and ordinary files for the evidence tests, made in memory."""

from __future__ import annotations

import io
import zlib

from PIL import Image
from pypdf import PdfWriter


def jpeg(width: int = 64, height: int = 48, exif: bool = False) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), "teal")
    if exif:
        tags = Image.Exif()
        tags[0x8825] = {2: (31.0, 14.0, 0.0)}  # GPS position: where the photo was taken
        tags[0x010F] = "SecretCam"
        image.save(buffer, "JPEG", exif=tags)
    else:
        image.save(buffer, "JPEG")
    return buffer.getvalue()


def png(width: int = 32, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 10, 10, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_with_javascript() -> bytes:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    action = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('hello');")}
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_with_hidden_javascript() -> bytes:
    """The same action with its names written in #hex escapes, which a plain byte search does not see."""
    return pdf_with_javascript().replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/J#53 ")


def pdf_with_attachment() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_attachment("payload.exe", b"MZ fake program")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_with_html() -> bytes:
    """A PDF that is also an HTML page: a browser sniffing it would run the script."""
    return pdf().replace(b"%PDF-1.3", b"%PDF-1.3\n%<html><script>alert(document.cookie)</script>", 1)


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_with_broken_xref() -> bytes:
    """What phone scanners write: the cross-reference offsets are wrong; a lenient reader rebuilds them."""
    good = pdf()
    return good.replace(b"startxref\n", b"startxref\n9", 1)


def broken_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> garbage garbage\n%%EOF"


def jpeg_with_html_appended() -> bytes:
    return jpeg() + b"<html><script>alert(1)</script></html>"


def decompression_bomb() -> bytes:
    """A PNG of 20,000 x 20,000 pixels that weighs a few hundred kilobytes."""
    width = height = 20_000
    raw_row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
ZIP = b"PK\x03\x04" + b"\x00" * 60
