"""`make bench-batch`: the two batch jobs of issue 10 on the scale data, timed.

On a copy of the benchmark database (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), so the
page benchmark keeps its data: writes a sales CSV of 1,000,000 lines dated in the current quarter for the scale
dealers, imports it through its two jobs (the check, then the import after confirmation), each timed, twice with
different invoices so that the quarter holds more than 2,000,000 lines, then times recomputing every statement of
that quarter. The lines carry SKUs, unit prices and regions; after the first import the referee's detection runs
over its new lines, timed. Targets: an import (check and import together) under 60 s, the recompute under 10 s,
the detection over a million lines under 30 s. Then a sales campaign over the quarter is counted for every dealer
(target under 10 s) and settled. Then a
200,000-line .xlsx workbook goes through the same jobs (its time reported). Writes
instance/bench-batch-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, bench_env, dealer_count, flask

from portal.regions import provinces as all_provinces

IMPORT = """
import sys, time
from pathlib import Path
import sqlalchemy as sa
from portal.rebates import sales_jobs
from portal import create_app
from portal.accounts.models import User
from portal.extensions import db
from portal.rebates import imports
from portal.jobs import JOBS_PENDING
from portal.rebates.models import ImportStatus
app = create_app()
with app.app_context():
    actor = db.session.execute(sa.select(User).where(User.email == "admin@demo.test")).scalar_one()
    started = time.monotonic()
    batch = imports.start_sales_import(actor, Path(sys.argv[1]).name, Path(sys.argv[1]).read_bytes())
    db.session.info.pop(JOBS_PENDING, None)  # the jobs run here, one after the other, timed
    db.session.commit()
    sales_jobs.check_sales_import(batch.id)
    checked = time.monotonic()
    db.session.refresh(batch)
    imports.confirm_sales_import(actor, batch)
    db.session.info.pop(JOBS_PENDING, None)
    db.session.commit()
    confirmed = time.monotonic()
    sales_jobs.run_sales_import(batch.id)
    db.session.refresh(batch)
    assert batch.status is ImportStatus.IMPORTED, batch.status
    print(
        f"RESULT {batch.imported_rows or batch.new_rows} {checked - started:.2f} {time.monotonic() - confirmed:.2f} "
        f"{batch.id}"
    )
"""
DETECT = """
import sys, time
from datetime import date
import sqlalchemy as sa
from portal import create_app
from portal.dealers.models import Dealer, DealerStatus
from portal.dealers.services import current_period
from portal.extensions import db
from portal.rebates.models import SalesLine
from portal.referee import detection
from portal.referee.models import PriceList, PriceListItem, Product, Suspicion, SuspicionLine, TerritoryRegion
from portal.referee.rules import PriceListStatus
from portal.regions import provinces
app = create_app()
with app.app_context():
    # Untimed: the catalogue, a price list in force since the quarter began, each territory a province.
    period = current_period()
    db.session.add_all(Product(sku=f"SKU-{number:02d}", name_en=f"Product {number}") for number in range(20))
    prices = PriceList(version=900, name="Bench", effective_from=period.starts_on, status=PriceListStatus.PUBLISHED)
    db.session.add(prices)
    db.session.flush()
    db.session.add_all(
        PriceListItem(price_list_id=prices.id, sku=f"SKU-{number:02d}", list_price=120_000, floor_price=100_000)
        for number in range(20)
    )
    codes = [province.code for province in provinces()]
    db.session.execute(sa.delete(TerritoryRegion))  # the demo's regions: each territory gets one province here
    active = sa.select(Dealer.territory_id).where(Dealer.status == DealerStatus.ACTIVE)
    territories = db.session.execute(active.distinct().order_by(Dealer.territory_id)).scalars().all()
    db.session.add_all(
        TerritoryRegion(territory_id=territory, region_code=codes[index % len(codes)])
        for index, territory in enumerate(territories)
    )
    db.session.commit()
    import_id = int(sys.argv[1])
    lines = db.session.execute(sa.select(sa.func.count()).where(SalesLine.import_id == import_id)).scalar_one()
    started = time.monotonic()
    evidence = detection.detect_import(import_id)
    db.session.commit()
    seconds = time.monotonic() - started
    suspicions = db.session.execute(sa.select(sa.func.count()).select_from(Suspicion)).scalar_one()
    print(f"RESULT {lines} {evidence} {suspicions} {seconds:.2f}")
"""
RECOMPUTE = """
import time
from portal import create_app
from portal.dealers.services import current_period
from portal.extensions import db
from portal.rebates.models import SalesLine
from portal.rebates.services import recompute_statements
import sqlalchemy as sa
app = create_app()
with app.app_context():
    period = current_period()
    lines = db.session.execute(sa.select(sa.func.count()).where(SalesLine.period_id == period.id)).scalar_one()
    started = time.monotonic()
    statements = recompute_statements(period)
    db.session.commit()
    print(f"RESULT {lines} {statements} {time.monotonic() - started:.2f}")
"""

CAMPAIGN = """
import time
from datetime import timedelta
import sqlalchemy as sa
from portal import create_app
from portal.accounts.models import User
from portal.campaigns import services
from portal.campaigns.models import Campaign
from portal.campaigns.rules import CampaignStatus, Measure, RewardKind
from portal.dates import company_today
from portal.dealers.audiences import AudienceKind
from portal.dealers.services import current_period
from portal.extensions import db
from portal.rebates.models import SalesLine
app = create_app()
with app.app_context():
    # Untimed: a campaign over the quarter so far for every dealer, on half the SKUs and the compressors line,
    # 5.00 a unit up to 500.00 a dealer, within a budget the rewards exceed (so the budget is shared).
    period = current_period()
    admin = db.session.execute(sa.select(User).where(User.email == "admin@demo.test")).scalar_one()
    senior = db.session.execute(sa.select(User).where(User.is_senior.is_(True)).limit(1)).scalar_one()
    campaign = Campaign(
        name_en="Bench campaign", starts_on=period.starts_on, ends_on=company_today() - timedelta(days=1),
        audience_kind=AudienceKind.ALL, audience=[], skus=[f"SKU-{number:02d}" for number in range(10)],
        product_lines=["Compressors"], currency="CNY", measure=Measure.UNITS, reward_kind=RewardKind.PER_UNIT,
        rate=500, threshold=0, cap=50_000, budget=100_000_000, status=CampaignStatus.SETTLEMENT_REQUESTED,
        settlement_requested_by_id=admin.id,
    )
    db.session.add(campaign)
    db.session.commit()
    lines = db.session.execute(sa.select(sa.func.count()).where(SalesLine.period_id == period.id)).scalar_one()
    started = time.monotonic()
    rows = services.results(admin, campaign)  # what the campaign's page counts, every dealer
    counted = time.monotonic() - started
    db.session.rollback()
    started = time.monotonic()
    total = services.settle(senior, db.session.get(Campaign, campaign.id))
    db.session.commit()
    settled = time.monotonic() - started
    print(f"RESULT {lines} {len(rows)} {total} {counted:.2f} {settled:.2f}")
"""


def quarter_days(today: date) -> tuple[date, int]:
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return first, max((today - first).days, 0) + 1


def write_sales_csv(path: Path, dealers: list[tuple[str, int]], lines: int, batch: str) -> None:
    """Every line names its SKU, unit price and the region shipped to, as an ERP's export would: one line in 50 is
    sold below the floor of 1,000.00 and one in 97 shipped to a province outside the dealer's territory (the
    detection phase gives each territory, in id order, one province in code order)."""
    first, days = quarter_days(date.today())
    products = ("Split units", "Air handlers", "Compressors", "Controls", "Spare parts")
    provinces = [province.code for province in all_provinces()]
    territory_order = {territory: index for index, territory in enumerate(sorted({tid for _code, tid in dealers}))}
    with path.open("w", encoding="utf-8") as out:
        out.write("dealer_code,date,amount,units,product_line,invoice_ref,sku,unit_price,ship_to_region\n")
        for number in range(lines):
            code, territory = dealers[number % len(dealers)]
            home = territory_order[territory]
            region = provinces[(home + (1 if number % 97 == 0 else 0)) % len(provinces)]
            units = 1 + number % 7
            price = 990 if number % 50 == 0 else 1000 + number % 200
            sold_on = first + timedelta(days=number % days)
            out.write(
                f"{code},{sold_on.isoformat()},{price * units}.00,{units},{products[number % 5]},"
                f"BATCH-{batch}-{number:07d},SKU-{number % 20:02d},{price}.00,{region}\n"
            )


def write_sales_xlsx(path: Path, dealers: list[tuple[str, int]], lines: int, batch: str) -> None:
    """The same lines as a workbook (dates and amounts as cells), written as Excel users send them."""
    first, days = quarter_days(date.today())
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("销售")
    sheet.append(["经销商代码", "销售日期", "金额", "数量", "产品线", "发票号"])
    for number in range(lines):
        sheet.append(
            [
                dealers[number % len(dealers)][0],
                first + timedelta(days=number % days),
                float(f"{1000 + number % 9000}.{number % 100:02d}"),
                1 + number % 7,
                "Controls",
                f"XLSX-{batch}-{number:07d}",
            ]
        )
    workbook.save(path)


def copy_database(env: dict[str, str]) -> tuple[dict[str, str], object]:
    """A throw-away copy of the benchmark database and a function that removes it."""
    url = sa.engine.make_url(env["DATABASE_URL"])
    copy_env = dict(env)
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "")
        target = source.with_name("bench-batch.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, target)
        copy_env["DATABASE_URL"] = f"sqlite:///{target}"
        return copy_env, lambda: target.unlink(missing_ok=True)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    copy_name = f"{url.database}_batch"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{copy_name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{copy_name}" TEMPLATE "{url.database}"'))
    copy_env["DATABASE_URL"] = url.set(database=copy_name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)'))

    return copy_env, drop


def run_timed(script: str, env: dict[str, str], *args: str) -> str:
    """Run one timed step in its own process; its output, or its error shown in full when it fails."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"a timed step failed (exit code {done.returncode}); its output is above")
    return done.stdout


def dealer_codes(env: dict[str, str]) -> list[tuple[str, int]]:
    """The active dealers' codes, each with its territory's id."""
    engine = sa.create_engine(env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        dealers = [
            (code, territory)
            for code, territory in connection.execute(
                sa.text("SELECT code, territory_id FROM dealers WHERE status = 'active' ORDER BY code")
            ).all()
        ]
    engine.dispose()
    return dealers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=int(os.environ.get("BENCH_IMPORT_LINES", "1000000")))
    parser.add_argument("--imports", type=int, default=2)
    parser.add_argument("--xlsx-lines", type=int, default=200_000, help="lines of the workbook import (0: none)")
    args = parser.parse_args()
    env = bench_env()
    backend = "postgresql" if env["DATABASE_URL"].startswith("postgresql") else "sqlite"
    flask("db", "upgrade", env=env)
    if dealer_count(env) < 10000:
        flask("seed-scale", env=env)
    copy_env, remove_copy = copy_database(env)
    report: dict[str, object] = {"backend": backend, "imports": [], "machine": {"cpus": os.cpu_count()}}
    try:
        codes = dealer_codes(copy_env)
        with tempfile.TemporaryDirectory() as folder:
            for number in range(args.imports):
                csv_path = Path(folder) / f"sales-{number}.csv"
                write_sales_csv(csv_path, codes, args.lines, str(number))
                out = run_timed(IMPORT, copy_env, str(csv_path))
                rows, checked, imported, import_id = out.split("RESULT ")[1].split()
                size = csv_path.stat().st_size
                total = round(float(checked) + float(imported), 1)
                row = {
                    "lines": args.lines,
                    "imported": int(rows),
                    "bytes": size,
                    "check_seconds": float(checked),
                    "import_seconds": float(imported),
                    "seconds": total,
                }
                report["imports"].append(row)  # type: ignore[attr-defined]
                print(
                    f"{args.lines:,} lines ({size / 1e6:.0f} MB): checked in {row['check_seconds']:.1f} s, "
                    f"imported in {row['import_seconds']:.1f} s after confirmation, {row['seconds']:.1f} s in all "
                    "(target < 60 s)"
                )
                if number == 0:  # the referee's detection over the first import's new lines
                    lines, evidence, found, seconds = run_timed(DETECT, copy_env, import_id).split("RESULT ")[1].split()
                    report["detection"] = {
                        "lines": int(lines),
                        "evidence_lines": int(evidence),
                        "suspicions": int(found),
                        "seconds": float(seconds),
                    }
                    print(
                        f"detection over {int(lines):,} new lines: {int(evidence):,} lines of evidence in "
                        f"{int(found):,} suspicions, {float(seconds):.1f} s (target < 30 s)"
                    )
            if args.xlsx_lines:
                xlsx_path = Path(folder) / "sales.xlsx"
                write_sales_xlsx(xlsx_path, codes, args.xlsx_lines, "x")
                rows, checked, imported, _id = run_timed(IMPORT, copy_env, str(xlsx_path)).split("RESULT ")[1].split()
                report["xlsx_import"] = {
                    "lines": args.xlsx_lines,
                    "imported": int(rows),
                    "bytes": xlsx_path.stat().st_size,
                    "check_seconds": float(checked),
                    "import_seconds": float(imported),
                }
                print(
                    f"{args.xlsx_lines:,} lines as .xlsx ({xlsx_path.stat().st_size / 1e6:.0f} MB): checked in "
                    f"{float(checked):.1f} s, imported in {float(imported):.1f} s after confirmation (reported)"
                )
        out = run_timed(RECOMPUTE, copy_env)
        lines, statements, seconds = out.split("RESULT ")[1].split()
        report["recompute"] = {"period_lines": int(lines), "statements": int(statements), "seconds": float(seconds)}
        print(
            f"recompute of the quarter ({int(lines):,} sales lines, {int(statements):,} statements changed): "
            f"{float(seconds):.1f} s (target < 10 s)"
        )
        out = run_timed(CAMPAIGN, copy_env)
        lines, dealers, total, counted, settled = out.split("RESULT ")[1].split()
        report["campaign"] = {
            "period_lines": int(lines),
            "dealers": int(dealers),
            "booked": int(total),
            "count_seconds": float(counted),
            "settle_seconds": float(settled),
        }
        print(
            f"campaign over the quarter ({int(lines):,} sales lines, {int(dealers):,} dealers with counted sales): "
            f"counted in {float(counted):.1f} s (target < 10 s), settled and booked in {float(settled):.1f} s"
        )
    finally:
        remove_copy()  # type: ignore[operator]
    met = (
        all(row["seconds"] < 60 for row in report["imports"])  # type: ignore[attr-defined]
        and report["recompute"]["seconds"] < 10  # type: ignore[index]
        and report.get("detection", {"seconds": 0})["seconds"] < 30  # type: ignore[index]
        and report["campaign"]["count_seconds"] < 10  # type: ignore[index]
    )
    report["meets_targets"] = met
    output = ROOT / "instance" / f"bench-batch-{backend}.json"
    output.write_text(json.dumps(report, indent=2))
    print(f"written to {output}; targets {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
