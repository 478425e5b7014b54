"""`scripts/page_times.py`: what each benchmarked page costs in the application when it is rendered (page cache off), on
the scale data of `make bench` (build it with `make bench` first), with no network and no other traffic.

Each page is asked for through Flask's test client as its user, a few times to warm up and then `--times` times;
prints the median and the slowest, the median of this process's own CPU time (on PostgreSQL the rest of the time
is the database server's work and the round trips), and the number of SQL statements of one render.
The last column is the page's median over that of the bare `/ping` asked for in turns with it: this machine's speed
varies by half within minutes and differs between machines, and the ratio stays put where milliseconds do not.
`--profile NAME` (a page's name or part of it) prints where one page's time goes (cProfile, the 30 costliest
functions by their own time).
DATABASE_URL picks the database, as for `make bench`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app
from portal.extensions import db
from scripts.bench import PAGES, PASSWORD, bench_env

TARGET_MS = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--profile", default="")
    parser.add_argument("--sort", default="tottime", help="cProfile order: tottime, cumulative")
    parser.add_argument("--lines", type=int, default=30)
    args = parser.parse_args()
    env = bench_env()
    app = create_app(
        "development",
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "PAGE_CACHE_ENTRIES": 0,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        },
    )
    quarter = f"{date.today().year}-Q{(date.today().month - 1) // 3 + 1}"
    statements = [0]
    with app.app_context():
        engine = db.engine

    def count(*_args: object) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    clients = {}
    print(
        f"{'page':<22}{'median ms':>11}{'slowest ms':>12}{'CPU ms':>8}{'statements':>12}  under {TARGET_MS:.0f} ms"
        f"{'x /ping':>9}"
    )
    bare = app.test_client()
    missed = 0
    for name, email, path in PAGES:
        if email is None:
            continue
        if email not in clients:
            clients[email] = app.test_client()
            response = clients[email].post("/login", data={"email": email, "password": PASSWORD})
            assert response.status_code == 303, f"login as {email}: {response.status_code}"
        client = clients[email]
        url = path.format(period=quarter)
        for _ in range(3):
            assert client.get(url).status_code == 200, url
        statements[0] = 0
        client.get(url)
        per_render = statements[0]
        times, cpu_times, pings = [], [], []
        for _ in range(args.times):
            started = time.perf_counter()
            bare.get("/ping")
            pings.append((time.perf_counter() - started) * 1000)
            started, cpu_started = time.perf_counter(), time.process_time()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu_times.append((time.process_time() - cpu_started) * 1000)
        median, cpu = statistics.median(times), statistics.median(cpu_times)
        missed += median >= TARGET_MS
        verdict = "yes" if median < TARGET_MS else "NO"
        ratio = median / statistics.median(pings)
        print(f"{name:<22}{median:>11.1f}{max(times):>12.1f}{cpu:>8.1f}{per_render:>12}  {verdict:<9}{ratio:>8.1f}")
        if args.profile and args.profile in name:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(10):
                client.get(url)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
