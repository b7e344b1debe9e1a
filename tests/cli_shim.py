"""Stands in for `python -m transcript_cli` in the tests' shell pipelines, without its start-up.

A shell pipeline needs a program for the CLI's place in it. This one starts in milliseconds: it
hands its own stdin, stdout and stderr (the pipes and redirections the shell set up), its
arguments, folder and environment to the warm launcher (tests/cli_launcher.py) over a Unix
socket, and the launcher forks the real CLI on exactly those file descriptors. It then waits,
passes on SIGINT, SIGTERM and SIGHUP (the CLI is not in the pipeline's process group, so a
Ctrl-C reaches it through here), and exits as the CLI exited. Standard library only: it runs
under `python -S`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

SOCKET_ENV = "TRANSCRIPT_CLI_TEST_LAUNCHER"


def main() -> None:
    env = dict(os.environ)
    path = env.pop(SOCKET_ENV)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    deadline = time.monotonic() + 60
    while True:  # the launcher listens once it has imported the CLI, a second or two after start
        try:
            sock.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    request = {"argv": sys.argv[1:], "cwd": str(Path.cwd()), "env": env}
    socket.send_fds(sock, [json.dumps(request).encode()], [0, 1, 2])
    pid = json.loads(sock.recv(65536))["pid"]

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    code = json.loads(sock.recv(65536))["returncode"]
    if code < 0:  # killed by a signal: end the same way, so the shell sees what it would
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
