"""Pages of a PDF drawn as images on the server, so that every browser shows evidence the same way.

A phone's browser, WeChat's in-app browser and Android Chrome have no PDF viewer, and a PDF shown inline would
rely on the upload check alone to keep scripts out. Drawn by PDFium (the renderer of Chromium) into PNG images, a
PDF reaches the browser as pixels only; the original is served only as a download.

PDFium is not thread-safe, so one page is drawn at a time per process; recently drawn pages are kept in memory.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import pypdfium2 as pdfium

PREVIEW_WIDTH = 1240  # pixels: an A4 page's text stays readable on a desktop and zoomable on a phone
MAX_PREVIEW_PIXELS = 6_000_000  # a poster-sized page is drawn smaller rather than filling memory
CACHED_PAGES = 48

drawing_lock = threading.Lock()  # also taken by fingerprints.py
_recent: OrderedDict[tuple[str, int], bytes] = OrderedDict()


def page_count(pdf_bytes: bytes) -> int:
    with drawing_lock:
        document = pdfium.PdfDocument(pdf_bytes)
        try:
            return len(document)
        finally:
            document.close()


def page_png(cache_key: str, pdf_bytes: bytes, page_number: int) -> bytes | None:
    """Page `page_number` (from 1) as a PNG image, or None when the document has no such page."""
    key = (cache_key, page_number)
    with drawing_lock:
        if key in _recent:
            _recent.move_to_end(key)
            return _recent[key]
        document = pdfium.PdfDocument(pdf_bytes)
        try:
            if not 1 <= page_number <= len(document):
                return None
            page = document[page_number - 1]
            width, height = page.get_size()
            scale = min(PREVIEW_WIDTH / max(width, 1.0), (MAX_PREVIEW_PIXELS / max(width * height, 1.0)) ** 0.5)
            bitmap = page.render(scale=scale, may_draw_forms=False)
            output = io.BytesIO()
            bitmap.to_pil().save(output, format="PNG")
            page.close()
        finally:
            document.close()
        _recent[key] = output.getvalue()
        while len(_recent) > CACHED_PAGES:
            _recent.popitem(last=False)
        return _recent[key]
