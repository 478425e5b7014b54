"""The portal on more than one machine (`make cluster`, scripts/cluster.py): two app servers behind nginx sharing
PostgreSQL, Redis and an S3 store, with two job workers, driven over HTTP as users would.

A write through one server is seen through the other at once (each server's page cache checks the shared
generations), login limits count across both, a job is run once by one of the workers, a file uploaded through one
downloads through the other, and a server killed mid-traffic loses no request that was answered with success.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from PIL import Image
from time_machine import escape_hatch

from tests.helpers import free_port, postgres_url

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "demo-password-1"
CSRF_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
FIRST_CHOICE = r'name="{name}"[^>]*>\s*<option[^>]*value="([^"]+)"'  # the period offered first, the first activity


class MailSink:
    """An SMTP server on loopback keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[bytes]:
        return [content for recipients, content in self.messages if address in recipients]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = postgres_url(f"portal_cluster{os.environ.get('PYTEST_XDIST_WORKER', '')}")
    if url is None:
        pytest.skip("the cluster shares PostgreSQL: set TEST_POSTGRES_URL")
    sink = MailSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    folder = tmp_path_factory.mktemp("cluster")
    folder.chmod(0o755)  # nginx's workers run as nobody when root starts it
    ready = folder / "ready.json"
    log = (folder / "cluster.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "cluster.py"),
            "--database-url",
            url,
            "--smtp-port",
            str(smtp.port),
            "--ready-file",
            str(ready),
            "--run-folder",
            str(folder / "run"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                logs = "\n".join(path.read_text(errors="replace")[-2000:] for path in folder.rglob("*.log"))
                pytest.fail(f"the cluster did not start: {logs}")
            time.sleep(0.5)
        addresses = json.loads(ready.read_text())
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        yield {**addresses, "mail": sink, "engine": engine}
        engine.dispose()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()
        smtp.stop()


def token_on(client: requests.Session, url: str) -> str:
    response = client.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code)
    found = CSRF_TOKEN.search(response.text)
    assert found, f"no CSRF token on {url}"
    return found.group(1)


def logged_in(base: str, email: str) -> requests.Session:
    client = requests.Session()
    token = token_on(client, f"{base}/login")
    response = client.post(
        f"{base}/login",
        data={"csrf_token": token, "email": email, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, f"login as {email} through {base}: {response.status_code}"
    return client


def real_today() -> str:
    """The company's today on the servers' real clock (this test process runs under the suite's fixed clock)."""
    real = escape_hatch.time.time() if escape_hatch.is_travelling() else time.time()
    now = datetime.fromtimestamp(real, UTC)
    return (now + timedelta(hours=8)).date().isoformat()  # Asia/Shanghai, the company's day


def draft_claim(client: requests.Session, base: str, title: str) -> int:
    form = client.get(f"{base}/claims/new", timeout=30).text
    period = re.search(FIRST_CHOICE.format(name="period"), form)
    activity = re.search(FIRST_CHOICE.format(name="activity_type_id"), form)
    assert period and activity, "the claim form offers no period or activity"
    today = real_today()
    response = client.post(
        f"{base}/claims/new",
        data={
            "csrf_token": CSRF_TOKEN.search(form).group(1),  # type: ignore[union-attr]
            "period": period.group(1),
            "activity_type_id": activity.group(1),
            "title": title,
            "activity_start": today,
            "activity_end": today,
            "amount": "860.00",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, (response.status_code, response.text[-2000:])
    found = re.search(r"/claims/(\d+)$", response.headers["Location"])
    assert found
    return int(found.group(1))


def test_a_write_through_one_server_is_seen_through_the_other_on_the_next_request(cluster: dict[str, Any]) -> None:
    first, second = cluster["servers"]
    dealer = logged_in(first, "dealer@demo.test")  # a signed cookie: good on either server
    assert dealer.get(f"{second}/claims/", timeout=30).status_code == 200
    cached = dealer.get(f"{second}/claims/", timeout=30)
    assert cached.headers.get("X-Page-Cache") == "hit"

    claim_id = draft_claim(dealer, first, "Shop window in Hangzhou, written through the first server")
    assert dealer.get(f"{first}/claims/{claim_id}", timeout=30).status_code == 200  # where the saved message shows
    seen = dealer.get(f"{second}/claims/", timeout=30)
    assert seen.status_code == 200 and seen.headers.get("X-Page-Cache") == "miss"
    assert "Shop window in Hangzhou, written through the first server" in seen.text


def test_login_limits_count_across_both_servers(cluster: dict[str, Any]) -> None:
    """Eight wrong passwords per account and client in ten minutes, wherever they were tried: the ninth is refused
    by both servers, though each saw only four."""
    statuses = []
    for attempt in range(8):
        base = cluster["servers"][attempt % 2]
        client = requests.Session()
        token = token_on(client, f"{base}/login")
        response = client.post(
            f"{base}/login",
            data={"csrf_token": token, "email": "manager2@demo.test", "password": "not the password"},
            allow_redirects=False,
            timeout=30,
        )
        statuses.append(response.status_code)
    assert 429 not in statuses and 303 not in statuses
    for base in cluster["servers"]:
        client = requests.Session()
        token = token_on(client, f"{base}/login")
        response = client.post(
            f"{base}/login",
            data={"csrf_token": token, "email": "manager2@demo.test", "password": PASSWORD},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 429, base


def test_a_job_enqueued_by_one_server_is_run_once(cluster: dict[str, Any]) -> None:
    """The reset e-mail is queued by the first server; one of the two workers sends it, once."""
    first, _second = cluster["servers"]
    client = requests.Session()
    token = token_on(client, f"{first}/password/forgot")
    response = client.post(
        f"{first}/password/forgot",
        data={"csrf_token": token, "email": "staff@demo.test"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303
    sink: MailSink = cluster["mail"]

    def reset_mails() -> list[bytes]:  # the demo data's own notices go to the same person: only the reset counts
        return [mail for mail in sink.to("staff@demo.test") if b"/password/reset/" in mail.replace(b"=\r\n", b"")]

    deadline = time.monotonic() + 60
    while not reset_mails() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # both workers have had time to take it again, were it taken twice
    mails = reset_mails()
    assert len(mails) == 1
    assert "/password/reset/" in message_from_bytes(mails[0]).get_payload(0).get_payload(decode=True).decode()
    with cluster["engine"].connect() as connection:
        sent = connection.execute(
            sa.text(
                "SELECT status, attempts FROM outbox_emails "
                "WHERE to_address = 'staff@demo.test' AND text_body LIKE '%/password/reset/%'"
            )
        ).all()
    assert [(status, attempts) for status, attempts in sent] == [("sent", 1)]


def test_a_file_uploaded_through_one_server_downloads_through_the_other(cluster: dict[str, Any]) -> None:
    first, second = cluster["servers"]
    dealer = logged_in(first, "dealer@demo.test")
    claim_id = draft_claim(dealer, first, "Counter display with a photo")
    photo = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(photo, "JPEG", quality=85)
    token = token_on(dealer, f"{first}/claims/{claim_id}")
    response = dealer.post(
        f"{first}/claims/{claim_id}/evidence",
        data={"csrf_token": token},
        files={"file": ("IMG_0042.jpg", photo.getvalue(), "image/jpeg")},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 303, response.status_code
    page = dealer.get(f"{second}/claims/{claim_id}", timeout=30).text
    found = re.search(r'/evidence/(\d+)"', page)
    assert found, "the second server does not list the file"
    through_second = dealer.get(f"{second}/evidence/{found.group(1)}/download", timeout=30)
    through_first = dealer.get(f"{first}/evidence/{found.group(1)}/download", timeout=30)
    assert through_second.status_code == 200 and through_second.headers["Content-Type"].startswith("image/jpeg")
    assert through_second.content == through_first.content and len(through_second.content) > 1000
    assert Image.open(io.BytesIO(through_second.content)).size == (640, 480)


def test_a_server_killed_mid_traffic_loses_no_request_answered_with_success(cluster: dict[str, Any]) -> None:
    """Notifications marked read one by one through nginx while the first server is killed: every request answered
    with success is in the database, and the second server answers the rest. (Last in this module: it kills.)"""
    engine = cluster["engine"]
    with engine.begin() as connection:
        user_id = connection.execute(sa.text("SELECT id FROM users WHERE email = 'dealer2@demo.test'")).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO notifications (user_id, kind, params, link, created_at) "
                "VALUES (:user, 'account_changed', '{}', '/account', now())"
            ),
            [{"user": user_id}] * 300,
        )
        ids = list(
            connection.execute(
                sa.text("SELECT id FROM notifications WHERE user_id = :user AND read_at IS NULL ORDER BY id"),
                {"user": user_id},
            ).scalars()
        )
    proxy = cluster["proxy"]
    dealer = logged_in(proxy, "dealer2@demo.test")
    token = token_on(dealer, f"{proxy}/notifications/")
    answered: list[tuple[int, int, float]] = []
    started = threading.Event()

    def mark_read() -> None:
        for number, notification_id in enumerate(ids):
            if number == len(ids) // 3:
                started.set()
            try:
                response = dealer.post(
                    f"{proxy}/notifications/{notification_id}/read",
                    data={"csrf_token": token},
                    allow_redirects=False,
                    timeout=30,
                )
                answered.append((notification_id, response.status_code, time.monotonic()))
            except requests.RequestException:
                answered.append((notification_id, 0, time.monotonic()))

    traffic = threading.Thread(target=mark_read)
    traffic.start()
    assert started.wait(120)
    os.killpg(cluster["server_pids"][0], signal.SIGKILL)
    killed_at = time.monotonic()
    traffic.join(300)
    succeeded = {notification_id for notification_id, status, _at in answered if status in (200, 204, 303)}
    with engine.connect() as connection:
        read = set(
            connection.execute(
                sa.text("SELECT id FROM notifications WHERE user_id = :user AND read_at IS NOT NULL"),
                {"user": user_id},
            ).scalars()
        )
    assert succeeded and succeeded <= read, sorted(succeeded - read)[:10]
    after_kill = [status for _id, status, at in answered if at > killed_at + 1]
    assert after_kill and all(status in (200, 204, 303) for status in after_kill)  # the second server took over
    failed = len(answered) - len(succeeded)
    assert failed <= 2, f"{failed} requests failed around the kill"  # at most those in flight on the killed server
