"""`make soak`: mixed traffic from every role for ten minutes at 16 connections, then the books are checked.

Serves the portal under gunicorn (2 workers x 4 threads) on a fresh copy of the demo data, and runs 16 simulated
users at once, each with its own login session and keep-alive connection: dealer owners and staff read their
dashboard, statement, claims and training pages and save claim drafts (each with a title of its own), managers read
their claim queue, portfolio and dealers, senior managers the violations, the mediator the mediation queue, the
admin the payments export. Every answer must be 200, or the 303 a saved draft answers with. Afterwards every draft
a user was told was saved must be in the database, exactly once. The workers' resident memory is sampled every
10 s: the figure reported is the growth between the first and the last minute. Writes instance/soak.json; exits 1
on any error, lost draft, or memory growth above 20 %.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sqlite3
import statistics
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import CSRF_TOKEN, PASSWORD, ROOT, bench_env, flask, served_process

OPTION = re.compile(r'<select[^>]*name="{name}"[^>]*>.*?<option[^>]*value="([^"]+)"', re.S)

ROLES = [  # (email, pages, writes claims?) x how many users
    ("dealer@demo.test", ["/dealer/", "/claims/", "/training/", "/dealer/statements", "/dealer/violations"], True),
    ("dealer2@demo.test", ["/dealer/", "/claims/", "/training/", "/dealer/documents", "/disputes/directory"], True),
    ("staff@demo.test", ["/dealer/", "/claims/", "/training/", "/dealer/training"], True),
    ("manager@demo.test", ["/console/claims", "/console/", "/console/performance", "/console/sales-imports"], False),
    ("manager2@demo.test", ["/console/violations", "/console/claims", "/console/claims/report"], False),
    ("mediator@demo.test", ["/mediation/", "/account", "/notifications/"], False),
    ("admin@demo.test", ["/admin/claims/payments.csv", "/admin/users", "/admin/statements", "/admin/jobs"], False),
]


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    saved_titles: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Browser:
    """One user's keep-alive connection with its session cookie."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("portal_session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, text, response.getheader("Location") or ""

    def log_in(self, email: str) -> None:
        status, page, _ = self.request("GET", "/login")
        token = CSRF_TOKEN.search(page)
        assert status == 200 and token, "no login form"
        status, _, _ = self.request(
            "POST", "/login", {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
        )
        assert status == 303, f"login of {email} answered {status}"


def save_draft(browser: Browser, title: str) -> tuple[int, str]:
    status, page, _ = browser.request("GET", "/claims/new")
    if status != 200:
        return status, "the new-claim form"
    token = CSRF_TOKEN.search(page)
    period = re.search(OPTION.pattern.format(name="period"), page, re.S)
    activity = re.search(OPTION.pattern.format(name="activity_type_id"), page, re.S)
    if not (token and period and activity):
        return 0, "the new-claim form lacks a token, a period or an activity"
    day = date.today() - timedelta(days=1)
    form = {
        "csrf_token": token.group(1),
        "period": period.group(1),
        "activity_type_id": activity.group(1),
        "fund_request_id": "",
        "title": title,
        "description": "Soak test",
        "activity_start": day.isoformat(),
        "activity_end": day.isoformat(),
        "vendor": "Print Co",
        "vendor_tax_id": "91310000X",
        "invoice_number": title,
        "amount": "123.45",
    }
    status, _page, location = browser.request("POST", "/claims/new", form)
    return status, location


def user_loop(port: int, number: int, email: str, pages: list[str], writes: bool, until: float, tally: Tally) -> None:
    browser = Browser(port)
    browser.log_in(email)
    step = 0
    while time.monotonic() < until:
        step += 1
        if writes and step % 5 == 0:
            title = f"SOAK-{number}-{step}"
            status, where = save_draft(browser, title)
            with tally.lock:
                tally.requests["claim draft saved"] += 1
                if status == 303 and "/claims/" in where:
                    tally.saved_titles.append(title)
                else:
                    tally.errors.append(f"{email} saving {title}: {status} {where}")
            continue
        path = pages[step % len(pages)]
        try:
            status, _page, _ = browser.request("GET", path)
        except (OSError, http.client.HTTPException) as error:
            status = 0
            browser = Browser(port)
            browser.log_in(email)
            with tally.lock:
                tally.errors.append(f"{email} GET {path}: {error!r}")
        with tally.lock:
            tally.requests[path] += 1
            if status != 200:
                tally.errors.append(f"{email} GET {path}: {status}")


def worker_memory(master_pid: int) -> list[int]:
    """Resident memory of gunicorn's workers (the master's children), in KiB."""
    sizes = []
    for child in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split():
        status = Path(f"/proc/{child}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            sizes.append(int(match.group(1)))
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", "600")))
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    database = ROOT / "instance" / "soak.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    env = bench_env()
    env["DATABASE_URL"] = f"sqlite:///{database}"
    flask("db", "upgrade", env=env)
    flask("seed-demo", env=env)
    tally = Tally()
    memory: list[tuple[float, int]] = []
    with served_process(env) as (base, server):
        port = int(base.rsplit(":", 1)[1])
        started = time.monotonic()
        until = started + args.seconds
        users = [ROLES[number % len(ROLES)] for number in range(args.connections)]
        threads = [
            threading.Thread(target=user_loop, args=(port, number, email, pages, writes, until, tally))
            for number, (email, pages, writes) in enumerate(users)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            memory.append((time.monotonic() - started, sum(worker_memory(server.pid))))
            time.sleep(10)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    connection = sqlite3.connect(database)
    stored = Counter(
        title for (title,) in connection.execute("SELECT title FROM claims WHERE title LIKE 'SOAK-%'").fetchall()
    )
    connection.close()
    lost = [title for title in tally.saved_titles if stored[title] != 1]
    first = [kib for at, kib in memory if at <= 60] or [memory[0][1]]
    last = [kib for at, kib in memory if at >= elapsed - 60] or [memory[-1][1]]
    growth = (statistics.mean(last) - statistics.mean(first)) / statistics.mean(first)
    total = sum(tally.requests.values())
    report = {
        "seconds": round(elapsed),
        "connections": args.connections,
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "by_page": dict(tally.requests),
        "errors": len(tally.errors),
        "first_errors": tally.errors[:20],
        "drafts_saved": len(tally.saved_titles),
        "drafts_lost": len(lost),
        "worker_memory_mib_first_minute": round(statistics.mean(first) / 1024, 1),
        "worker_memory_mib_last_minute": round(statistics.mean(last) / 1024, 1),
        "worker_memory_growth": round(growth, 3),
    }
    (ROOT / "instance" / "soak.json").write_text(json.dumps(report, indent=2))
    print(
        f"{report['seconds']} s at {args.connections} connections: {total:,} requests "
        f"({report['requests_per_second']}/s), {report['errors']} errors; {report['drafts_saved']} drafts saved, "
        f"{report['drafts_lost']} lost; workers' memory {report['worker_memory_mib_first_minute']} MiB in the first "
        f"minute, {report['worker_memory_mib_last_minute']} MiB in the last ({growth:+.1%})"
    )
    for error in tally.errors[:20]:
        print("  ", error)
    return 0 if not tally.errors and not lost and growth <= 0.20 else 1


if __name__ == "__main__":
    sys.exit(main())
