"""Hostile and ordinary files for the evidence tests, made in memory."""

from __future__ import annotations

import io
import itertools
import random
import zlib

import pikepdf
import qrcode
from PIL import Image, ImageDraw, ImageFilter
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from portal.demo import add_text_page


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


def pdf(pages: int = 1, text: str = "", metadata: dict[str, str] | None = None) -> bytes:
    """Blank pages, or pages saying `text` (the portal compares PDFs by what their pages say and show)."""
    writer = PdfWriter()
    for _ in range(pages):
        if text:
            add_text_page(writer, text)
        else:
            writer.add_blank_page(width=595, height=842)
    if metadata:
        writer.add_metadata(metadata)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_with_javascript() -> bytes:

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


# --- Hostile PDFs built with pikepdf: each hides an action, a script or a file somewhere a shallow walk misses ---


def _saved(pdf: pikepdf.Pdf, *, compress_objects: bool = False) -> bytes:
    buffer = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if compress_objects else pikepdf.ObjectStreamMode.disable
    pdf.save(buffer, object_stream_mode=mode, compress_streams=True)
    return buffer.getvalue()


def _page_pdf() -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    return pdf


def _script(pdf: pikepdf.Pdf) -> pikepdf.Object:
    return pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))


def pdf_with_deep_action_chain(depth: int = 40) -> bytes:
    """The document opens with a harmless jump whose /Next chain runs `depth` actions deep, the last a script."""
    pdf = _page_pdf()
    action = _script(pdf)
    for _ in range(depth):
        action = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=pikepdf.Array([0]), Next=action))
    pdf.Root.OpenAction = action
    return _saved(pdf, compress_objects=True)


def pdf_with_escaped_names_in_object_streams() -> bytes:
    """The script action inside a compressed object stream, where no byte search sees its names."""
    pdf = _page_pdf()
    pdf.Root.OpenAction = _script(pdf)
    return _saved(pdf, compress_objects=True)


def pdf_with_annotation_action() -> bytes:
    """A link on the page whose action is a script."""
    pdf = _page_pdf()
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 100, 100]), A=_script(pdf)
    )
    pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))
    return _saved(pdf, compress_objects=True)


def pdf_with_page_open_trigger() -> bytes:
    """An additional action (/AA) that runs when the page opens, under the page's /Resources branch."""
    pdf = _page_pdf()
    form = pikepdf.Stream(
        pdf, b"q Q", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=pikepdf.Array([0, 0, 10, 10])
    )
    form.AA = pikepdf.Dictionary(O=_script(pdf))
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(X1=pdf.make_indirect(form)))
    return _saved(pdf, compress_objects=True)


def pdf_with_outline_script(depth: int = 30) -> bytes:
    """A bookmark deep down a /Next chain of the outline runs a script when clicked."""
    pdf = _page_pdf()
    items = [pdf.make_indirect(pikepdf.Dictionary(Title=pikepdf.String(f"Item {number}"))) for number in range(depth)]
    for earlier, later in itertools.pairwise(items):
        earlier.Next = later
    items[depth * 2 // 3].A = _script(pdf)  # reached only through the /Next chain, 20 deep
    pdf.Root.Outlines = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Outlines, First=items[0], Last=items[-1], Count=depth)
    )
    return _saved(pdf, compress_objects=True)


def pdf_with_embedded_file_annotation() -> bytes:
    """A file attachment annotation carrying a program."""
    pdf = _page_pdf()
    payload = pikepdf.Stream(pdf, b"MZ fake program", Type=pikepdf.Name.EmbeddedFile)
    spec = pikepdf.Dictionary(
        Type=pikepdf.Name.Filespec, F=pikepdf.String("invoice.exe"), EF=pikepdf.Dictionary(F=pdf.make_indirect(payload))
    )
    note = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment, Rect=pikepdf.Array([0, 0, 10, 10]), FS=spec
    )
    pdf.pages[0].Annots = pikepdf.Array([pdf.make_indirect(note)])
    return _saved(pdf, compress_objects=True)


def pdf_with_launch_action() -> bytes:
    pdf = _page_pdf()
    pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe")))
    return _saved(pdf, compress_objects=True)


def pdf_with_xfa_form() -> bytes:
    pdf = _page_pdf()
    xfa = pdf.make_indirect(pikepdf.Stream(pdf, b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>"))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([]), XFA=xfa)
    return _saved(pdf, compress_objects=True)


def pdf_with_cycle_and_links() -> bytes:
    """An ordinary invoice: a link to the vendor's site, a bookmark, a tagged structure (/S /P) and an action chain
    that loops back on itself. Nothing here acts, and the walk must finish."""
    pdf = _page_pdf()
    web = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://vendor.example/invoice/1"))
    link = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 100, 20]), A=web
    )
    pdf.pages[0].Annots = pikepdf.Array([pdf.make_indirect(link)])
    jump = pdf.make_indirect(
        pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit]))
    )
    jump.Next = jump  # a cycle
    pdf.Root.OpenAction = jump
    paragraph = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name.P))
    pdf.Root.StructTreeRoot = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot, K=paragraph))
    return _saved(pdf, compress_objects=True)


def pdf_with_text(pages: int = 3) -> bytes:
    """Pages that say which page they are, for the previews."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    )
    for number in range(1, pages + 1):
        pdf.add_blank_page(page_size=(595, 842))
        page = pdf.pages[-1]
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.Contents = pdf.make_stream(f"BT /F1 48 Tf 72 700 Td (Page {number}) Tj ET".encode())
    return _saved(pdf)


def shop_photo(seed: int, width: int = 1600, height: int = 1200) -> Image.Image:
    """A photo-like picture of a shop display: coloured shapes, blurred as a lens would; another seed is another
    scene."""
    chooser = random.Random(seed)
    image = Image.new("RGB", (width, height), tuple(chooser.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        left, top = chooser.randrange(width), chooser.randrange(height)
        box = (left, top, left + chooser.randrange(50, 600), top + chooser.randrange(50, 400))
        draw.ellipse(box, fill=tuple(chooser.randrange(256) for _ in range(3)))
    return image.filter(ImageFilter.GaussianBlur(3))


def as_jpeg(image: Image.Image, quality: int = 92, scale: float = 1.0) -> bytes:
    """Saved as a camera would (quality 92), or forwarded as WeChat does: smaller and at a lower quality."""
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def fapiao_qr_text(
    *,
    type_code: str = "04",
    code: str = "3100204130",
    number: str = "12345678",
    amount: str = "1000.00",
    issued: str = "20261120",
) -> str:
    """The text of a fapiao's QR code: version, type, code, number, amount before tax, date, check code, checksum."""
    return f"01,{type_code},{code},{number},{amount},{issued},12345678901234567890,A1B2"


def fapiao_image(qr_text: str, *, blur: float = 0.0) -> Image.Image:
    """A photo of a printed invoice: lines of text and the QR code in its top left corner, as on a real fapiao."""
    page = Image.new("RGB", (1400, 900), (250, 248, 240))
    draw = ImageDraw.Draw(page)
    for line in range(12):
        draw.text((420, 80 + line * 55), f"Item {line + 1}   Promotion material   {100 + line * 7}.00", fill="black")
    code = qrcode.make(qr_text, border=2).get_image().convert("RGB").resize((300, 300), Image.Resampling.NEAREST)
    page.paste(code, (60, 60))
    return page.filter(ImageFilter.GaussianBlur(blur)) if blur else page


def image_as_pdf(image: Image.Image) -> bytes:
    """An invoice scanned to PDF: the page is one image (as scanners and many e-invoice printers make them)."""
    buffer = io.BytesIO()
    image.save(buffer, "PDF", resolution=150)
    return buffer.getvalue()


def resaved_pdf(data: bytes) -> bytes:
    """The same document saved again by another program: new metadata, new document id, objects in streams."""
    output = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as document:
        with document.open_metadata(set_pikepdf_as_editor=True) as metadata:
            metadata["dc:title"] = "Scanned again"
        document.docinfo["/Producer"] = "WPS Office"
        document.save(output, object_stream_mode=pikepdf.ObjectStreamMode.generate, deterministic_id=False)
    return output.getvalue()
