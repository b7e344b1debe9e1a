"""Runs the real CLI many times cheaply: each run is a child of a warm `cli_launcher.Launcher`.

`python -m transcript_cli` spends about a second and a half importing (mostly the Anthropic SDK).
Tests that run the CLI dozens of times, such as the bad-input corpus, send each run here instead.
Every run is still its own process, with its own argv, working folder, environment, stdin
(/dev/null) and captured stdout/stderr, and it exits with whatever the real entry point exits
with (see the launcher). This is the synchronous side: start, wait, collect the `Result`; and
`start`, for tests that signal, kill or type at a run while it works (`Started`, used like a
`Popen`). Where `os.fork` does not exist, runs fall back to a plain subprocess.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from tests.cli_launcher import LAUNCHER_DIED, Child, Launcher
from tests.cli_shim import SOCKET_ENV
from tests.conftest import Cli, Result


class Started:
    """A CLI run going on in the background, used like a `Popen` (poll, wait, send_signal, kill).

    A real process of its own, forked warm: signals go to it alone, by pid (a pidfd). Its stdout
    and stderr go to files, readable while it runs (`stdout_text`, `stderr_text`), unless the
    caller gave a terminal for them.
    """

    def __init__(self, child: Child, folder: Path) -> None:
        self.child = child
        self._folder = folder

    @property
    def pid(self) -> int | None:
        return self.child.pid

    @property
    def returncode(self) -> int | None:
        return self.child.returncode

    def poll(self) -> int | None:
        return self.child.poll()

    def wait(self, timeout: float = 60) -> int:
        """Its exit code; past `timeout` it is killed and the test fails."""
        code = self.child.wait(timeout)
        if code == LAUNCHER_DIED:
            raise AssertionError(f"fork server died:\n{self.child.stderr}")
        return code

    def send_signal(self, signum: int) -> None:
        self.child.signal(signum)

    def kill(self) -> None:
        self.child.kill()

    @property
    def stdout_text(self) -> str:
        """What it wrote to stdout so far ("" when stdout is a terminal: read that instead)."""
        return self.child.stdout if self.child.out.parent == self._folder else ""

    @property
    def stderr_text(self) -> str:
        return self.child.stderr if self.child.err.parent == self._folder else ""

    def communicate(self, timeout: float = 60) -> tuple[str, str]:
        self.wait(timeout)
        return self.stdout_text, self.stderr_text

    def close(self) -> None:
        """Kill it if it still runs, and remove its output files."""
        if self.poll() is None:
            self.kill()
            self.child.wait_or_kill(30)
        shutil.rmtree(self._folder, ignore_errors=True)


class ForkServer:
    """A `Runner`: `with ForkServer() as run: run(cli, "run", "x.txt")`, from any thread."""

    def __init__(self) -> None:
        self._launch = Launcher()
        self._bin = Path(tempfile.mkdtemp(prefix="cli_fork-bin-"))

    @property
    def launcher(self) -> Launcher:
        """The launcher that forks its runs, for tests that start children of their own."""
        return self._launch

    def __enter__(self) -> ForkServer:
        self._launch.__enter__()
        # `transcript-cli` for shell command lines: the shim, which has the CLI forked warm on
        # its own stdin/stdout/stderr; without fork, the plain module.
        program = self._bin / "transcript-cli"
        if self._launch.forks:
            target = f"-S {Path(__file__).with_name('cli_shim.py')}"
        else:
            target = "-m transcript_cli"
        program.write_text(f'#!/bin/sh\nexec {sys.executable} {target} "$@"\n', "utf-8")
        program.chmod(0o755)
        return self

    def shell_env(self, env: dict[str, str]) -> dict[str, str]:
        """`env` for a shell whose command lines run `transcript-cli` (see tests/cli_shim.py)."""
        extra = {"PATH": os.pathsep.join([str(self._bin), env.get("PATH", os.defpath)])}
        if self._launch.socket_path is not None:
            extra[SOCKET_ENV] = str(self._launch.socket_path)
        return {**env, **extra}

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._launch.__exit__(exc_type, exc, tb)
        shutil.rmtree(self._bin, ignore_errors=True)

    def start(
        self,
        cli: Cli,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: Path | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
    ) -> Started:
        """Start `cli(*args)` and return at once; stdin/stdout/stderr may name a terminal."""
        folder = Path(tempfile.mkdtemp(prefix="cli_start-"))
        out, err = stdout or folder / "stdout", stderr or folder / "stderr"
        child = self._launch(cli, *args, out=out, err=err, env=env, stdin=stdin)
        return Started(child, folder)

    def __call__(
        self, cli: Cli, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> Result:
        """Run the CLI as `cli.subprocess(*args)` would: same folder, same environment."""
        if not self._launch.forks:
            return cli.subprocess(*args, timeout=timeout, env=env)
        with tempfile.TemporaryDirectory(prefix="cli_fork-") as tmp:
            out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
            child = self._launch(cli, *args, out=out, err=err, env=env)
            in_time = child.wait_or_kill(timeout)
            stderr = child.stderr
            if child.returncode == LAUNCHER_DIED:
                raise AssertionError(f"fork server died:\n{stderr}")
            stdout = child.stdout
        if not in_time:
            stderr += "\n[cli_fork: timed out and killed]"
        assert child.returncode is not None
        return Result(child.returncode, stdout, stderr)
