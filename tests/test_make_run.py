"""`make run` on a machine where its ports are taken says so in one line instead of a traceback."""

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port some other program listens on, as another copy of the portal would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check(*wanted: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_ports.py"), "127.0.0.1", *wanted],
        capture_output=True,
        text=True,
        check=False,
    )


def test_free_ports_pass_silently() -> None:
    result = check(f"{free_port()}:PORT:the web server", f"{free_port()}:SMTP_PORT:the local mail server")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_taken_mail_port_is_named_with_the_variable_that_moves_it(listening_port: int) -> None:
    result = check(f"{free_port()}:PORT:the web server", f"{listening_port}:SMTP_PORT:the local mail server")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines == [
        f"Port {listening_port} (the local mail server) is already in use, perhaps by another copy of the portal: "
        f"stop it, or pick another port with `make run SMTP_PORT={listening_port + 1}`."
    ]


def test_make_run_stops_before_starting_anything_when_the_web_port_is_taken(listening_port: int) -> None:
    """The real command: one line, no traceback, and nothing migrated or served."""
    result = subprocess.run(
        ["make", "--no-print-directory", "run", f"PORT={listening_port}", f"SMTP_PORT={free_port()}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"Port {listening_port} (the web server) is already in use" in result.stderr
    assert f"make run PORT={listening_port + 1}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "Serving the portal" not in result.stdout


def test_make_run_hands_the_mail_port_to_the_server_the_worker_and_the_portal() -> None:
    """`make -n` prints the commands: the SMTP server listens where the portal and the worker send."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "SMTP_PORT=2525", "PORT=5055"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    commands = result.stdout
    assert "aiosmtpd -n -l 127.0.0.1:2525" in commands
    assert commands.count("MAIL_SMTP_PORT=2525") == 2
    assert "--port 5055" in commands
    assert commands.index("check_ports.py") < commands.index("db upgrade")
