"""Runs the real CLI many times cheaply: one warm interpreter imports it, then forks per run.

`python -m transcript_cli` spends about a second and a half importing (mostly the Anthropic SDK).
Tests that run the CLI dozens of times, such as the bad-input corpus, send each run here instead.
Every run is still its own process, with its own argv, working folder, environment, stdin
(/dev/null) and captured stdout/stderr, and it exits with whatever the real entry point exits
with; uncaught exceptions print a traceback and exit 1, as Python does. Only the imports are
shared. Where `os.fork` does not exist, runs fall back to a plain subprocess.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tests.conftest import REPO, Cli, Result


class ForkServer:
    """Client side: `with ForkServer() as run: run(cli, "run", "x.txt")`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def __enter__(self) -> ForkServer:
        if hasattr(os, "fork"):
            # Started with the environment a `Cli` gives its runs, so whatever the CLI sets up at
            # import (consoles, colour, width) matches a plain `python -m transcript_cli`. Its
            # stderr goes to a file: a terminal there would turn colour on.
            self._log = tempfile.TemporaryFile("w+")
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.cli_fork"],
                cwd=REPO,
                env=Cli(REPO, None).env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                text=True,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.close()  # the server's cue to stop
            self._proc.wait(timeout=30)
            self._proc.stdout.close()
        if self._log is not None:
            self._log.close()

    def __call__(
        self, cli: Cli, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> Result:
        """Run the CLI as `cli.subprocess(*args)` would: same folder, same environment."""
        if self._proc is None:
            return cli.subprocess(*args, timeout=timeout, env=env)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        request = {
            "argv": list(args),
            "cwd": str(cli.workdir),
            "env": {**cli.env, **(env or {})},
            "timeout": timeout,
        }
        with self._lock:  # one request at a time on the pipe; tests may call from threads
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise AssertionError(f"fork server died:\n{self._server_log()}")
        answer = json.loads(line)
        return Result(answer["returncode"], answer["stdout"], answer["stderr"])

    def _server_log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()


def _exit_code(entry: Callable[[], object]) -> int:
    """What the interpreter would exit with after running `entry` as a script."""
    try:
        entry()
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _run_child(entry: Callable[[], object], request: dict[str, Any], out: Path, err: Path) -> None:
    """In the forked child: become a fresh CLI process for this request, then exit."""
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, path in ((1, out), (2, err)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["transcript-cli", *request["argv"]]
        code = _exit_code(entry)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _wait(pid: int, timeout: float) -> tuple[int, bool]:
    """The child's exit code (negative: killed by that signal), and whether it timed out."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status), True
        time.sleep(0.002)


def serve() -> None:
    """Server side: one JSON request per stdin line, one JSON result per stdout line."""
    import transcript_cli
    from transcript_cli.cli import main

    # Everything a run may import lazily (the SDK above all), so no child pays for it again. Only
    # a warm-up: a module that fails here fails again, visibly, in the run that needs it.
    for module in pkgutil.walk_packages(transcript_cli.__path__, "transcript_cli."):
        if not module.name.endswith("__main__"):
            with contextlib.suppress(Exception):
                importlib.import_module(module.name)
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        for line in sys.stdin:
            request = json.loads(line)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _run_child(main, request, out, err)
            returncode, timed_out = _wait(pid, float(request["timeout"]))
            stderr = err.read_text(encoding="utf-8", errors="replace")
            if timed_out:
                stderr += "\n[cli_fork: timed out and killed]"
            answer = {
                "returncode": returncode,
                "stdout": out.read_text(encoding="utf-8", errors="replace"),
                "stderr": stderr,
            }
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    serve()
