"""Before `make run` starts anything: every port it needs is free, or one line says which is taken and what to do.

Without this a newcomer whose port 1025 is held by another copy of the portal gets a traceback from the mail server
while the portal quietly sends its emails to the other copy's mail server.

Usage: python scripts/check_ports.py HOST PORT:VARIABLE:what [PORT:VARIABLE:what ...]
"""

import socket
import sys


def taken(host: str, port: int) -> bool:
    """True when something already listens there (SO_REUSEADDR so a port in TIME_WAIT counts as free, as for Flask)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def main(arguments: list[str]) -> int:
    host, *wanted = arguments
    problems = []
    for item in wanted:
        port_text, variable, what = item.split(":", 2)
        port = int(port_text)
        if taken(host, port):
            problems.append(
                f"Port {port} ({what}) is already in use, perhaps by another copy of the portal: "
                f"stop it, or pick another port with `make run {variable}={port + 1}`."
            )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
