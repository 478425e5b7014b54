"""The API's sales push timed: 100,000 lines in 10 batches of 10,000, through a running server over HTTP, as an
ERP's nightly job sends them. Part of `make bench` (against its server, on the scale data); alone, it starts its
own gunicorn on the database DATABASE_URL names:

    .venv/bin/python scripts/api_push.py [--base http://127.0.0.1:8000] [--batches 10] [--lines 10000]

Creates an integration client with sales:write (as admin@demo.test), pushes lines dated today for the channel's
dealers with invoice numbers unique to the run, checks that each batch answers 201 with every line imported, and
prints one JSON line: the total time, each batch's time and the target (under 15 s)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import nullcontext
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from portal import create_app
from portal.accounts.models import User
from portal.api import clients
from portal.dealers.models import Dealer
from portal.extensions import db

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import bench_env, served

TARGET_SECONDS = 15.0


def client_token(dealers: int) -> tuple[str, list[str]]:
    """A new client's token and the codes of up to `dealers` active dealers, from the application itself."""
    app = create_app()
    with app.app_context():
        admin = db.session.execute(sa.select(User).where(User.email == "admin@demo.test")).scalar_one()
        _client, token = clients.create_client(admin, f"Bench ERP {uuid.uuid4().hex[:8]}", ["sales:write"], [])
        codes = list(
            db.session.execute(
                sa.select(Dealer.code).where(Dealer.status == "active").order_by(Dealer.id).limit(dealers)
            ).scalars()
        )
        db.session.commit()
    return token, codes


def push(base: str, token: str, lines: list[dict[str, str]], key: str) -> tuple[int, dict[str, object], float]:
    body = json.dumps({"lines": lines}).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the loopback server this script measures
        f"{base}/api/v1/sales-batches",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:  # noqa: S310
            status, result = answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        status, result = refused.code, json.loads(refused.read() or b"{}")
    return status, result, time.monotonic() - started


def run(base: str, batches: int, lines_per_batch: int) -> dict[str, object]:
    token, codes = client_token(1000)
    run_id = uuid.uuid4().hex[:10]
    today = date.today().isoformat()
    times: list[float] = []
    for batch in range(batches):
        lines = [
            {
                "dealer_code": codes[(batch * lines_per_batch + number) % len(codes)],
                "date": today,
                "amount": f"{100 + number % 900}.{number % 100:02d}",
                "units": str(1 + number % 5),
                "invoice_ref": f"API-{run_id}-{batch}-{number}",
            }
            for number in range(lines_per_batch)
        ]
        status, result, seconds = push(base, token, lines, f"bench-{run_id}-{batch}")
        if status != 201 or result.get("imported") != lines_per_batch:
            raise SystemExit(f"batch {batch}: {status} {str(result)[:500]}")
        times.append(round(seconds, 2))
    total = round(sum(times), 2)
    return {
        "lines": batches * lines_per_batch,
        "batches": batches,
        "seconds_total": total,
        "seconds_per_batch": times,
        "lines_per_second": round(batches * lines_per_batch / total) if total else 0,
        "target_s": TARGET_SECONDS,
        "meets_target": total < TARGET_SECONDS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="", help="a running server's URL; without it, one is started")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    env = bench_env()
    os.environ.update(env)  # the client is created in this process, on the database the server uses
    with nullcontext(args.base) if args.base else served(env) as base:
        result = run(base, args.batches, args.lines)
    print(json.dumps(result))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
