"""`make login-timing`: does a failed login take as long for an address nobody has as for a real one?

Serves the portal under gunicorn with the production password hash (scrypt, n=2**15) on the demo data, then posts
wrong passwords through the login form, alternating an unknown address and a known one, each request with its own
CSRF token, and compares the two sets of answer times: medians, the difference, and how often the unknown address
was the slower of each pair (about half when nothing tells them apart). Also checks that status and body match,
the CSRF token and the address typed (shown again in the form) aside. Exits 1 when the medians differ by more than
a tenth, or the answers differ.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import CSRF_TOKEN, ROOT, bench_env, flask, served

HEADER_TOKEN = re.compile(r'"X-CSRFToken": "[^"]+"')  # the same token again, in the page's htmx headers


def attempt(base: str, email: str) -> tuple[float, int, str]:
    """One wrong-password login from a fresh browser: seconds taken by the POST, its status, its body."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login").read().decode()
    token = CSRF_TOKEN.search(page)
    assert token, "no CSRF token on the login page"
    form = urllib.parse.urlencode({"csrf_token": token.group(1), "email": email, "password": "not-the-password-9"})
    started = time.perf_counter()
    try:
        response = opener.open(f"{base}/login", data=form.encode())
        status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    body = HEADER_TOKEN.sub("", CSRF_TOKEN.sub("", body))
    return time.perf_counter() - started, status, body.replace(email, "(the address typed)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()
    env = bench_env()
    env["DATABASE_URL"] = f"sqlite:///{ROOT / 'instance' / 'login-timing.db'}"
    flask("db", "upgrade", env=env)
    flask("seed-demo", env=env)
    unknown: list[float] = []
    known: list[float] = []
    unknown_slower = 0
    answers: set[tuple[int, str]] = set()
    with served(env) as base:
        attempt(base, "warm-up@example.test")
        for _pair in range(args.pairs):
            seconds_unknown, status, body = attempt(base, "nobody-here@example.test")
            answers.add((status, body))
            seconds_known, status, body = attempt(base, "manager@demo.test")
            answers.add((status, body))
            unknown.append(seconds_unknown)
            known.append(seconds_known)
            unknown_slower += seconds_unknown > seconds_known
    median_unknown, median_known = statistics.median(unknown), statistics.median(known)
    difference = abs(median_unknown - median_known) / median_known
    alike = len(answers) == 1
    report = {
        "pairs": args.pairs,
        "median_ms_unknown_address": round(median_unknown * 1000, 1),
        "median_ms_known_address": round(median_known * 1000, 1),
        "relative_difference": round(difference, 3),
        "unknown_slower_in_pairs": unknown_slower,
        "same_status_and_body": alike,
    }
    (ROOT / "instance" / "login-timing.json").write_text(json.dumps(report, indent=2))
    print(
        f"{args.pairs} pairs of failed logins: unknown address median {report['median_ms_unknown_address']} ms, "
        f"known address {report['median_ms_known_address']} ms, difference {difference:.1%}; the unknown one "
        f"was slower in {unknown_slower} of {args.pairs} pairs; same status and body: {alike}"
    )
    return 0 if alike and difference <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
