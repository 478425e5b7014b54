"""The repository's gunicorn settings: read wherever gunicorn starts in the project, and a worker that has built the
application has its long-lived objects frozen out of the cyclic collector's reach, without keeping any garbage.

Each check runs in a process of its own: freezing the test process would keep every test's objects for ever.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# What a worker does: build the application, serve a first page, then run the repository's hook. Before the hook it
# leaves a reference cycle that is already garbage; afterwards it reports what the collector still tracks, how many
# objects are frozen, and whether the garbage was freed rather than frozen for ever.
WORKER = """
import gc, runpy, sys, weakref
from portal import create_app

class Node:
    pass

app = create_app("test")
with app.test_client() as client:
    assert client.get("/login").status_code == 200
before = len(gc.get_objects())
cycle = Node()
cycle.partner = Node()
cycle.partner.partner = cycle
left = weakref.ref(cycle)
del cycle
gc.disable()  # so that only the hook can free the cycle
runpy.run_path(sys.argv[1])["post_worker_init"](None)
print(before, gc.get_freeze_count(), len(gc.get_objects()), left() is None)
"""


def test_a_worker_freezes_what_it_built_and_keeps_no_garbage() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WORKER, str(ROOT / "gunicorn.conf.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": str(BIN), "PORTAL_CONFIG": "test", "DATABASE_URL": "sqlite://"},
    )
    before, frozen, tracked, garbage_freed = result.stdout.split()
    assert int(before) > 100_000  # the application's models, templates, translations and routes
    assert int(frozen) >= int(before) * 0.99  # all of it frozen, less what the first page left as garbage
    assert int(tracked) < 100  # a full collection now walks next to nothing
    assert garbage_freed == "True"


def test_gunicorn_started_in_the_project_reads_the_settings() -> None:
    result = subprocess.run(
        [str(BIN / "gunicorn"), "--print-config", "portal:create_app()"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    settings = {
        name.strip(): value.strip()
        for name, value in (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    }
    assert settings["config"] == "./gunicorn.conf.py"
    assert settings["post_worker_init"] == "<post_worker_init()>"
