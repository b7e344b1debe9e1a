"""Shared fixtures: the fake Messages API, a sandboxed CLI runner, transcript makers."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

import pytest

from tests.fake_anthropic import FakeAnthropic

FAKE_KEY = "sk-ant-test-DO-NOT-LEAK-0123456789"
REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as api:
        yield api


def sentences(count: int, start: int = 0) -> str:
    """Distinct, numbered sentences: each chunk's text (and the fake's reply) is unique."""
    return " ".join(
        f"Sentence number {n} says um something about topic {n % 7}."
        for n in range(start, start + count)
    )


def write_transcript(path: Path, count: int, start: int = 0) -> Path:
    """A .txt transcript of `count` sentences (about 55 characters each)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sentences(count, start) + "\n", encoding="utf-8")
    return path


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Started(Protocol):
    """A CLI run going on in the background, forked warm (see cli_fork.Started)."""

    pid: int | None
    returncode: int | None
    stdout_text: str
    stderr_text: str

    def poll(self) -> int | None: ...
    def wait(self, timeout: float = 60) -> int: ...
    def send_signal(self, signum: int) -> None: ...
    def kill(self) -> None: ...
    def communicate(self, timeout: float = 60) -> tuple[str, str]: ...
    def close(self) -> None: ...


class Runner(Protocol):
    """Runs one CLI command to its end, as `Cli.subprocess` does (see cli_fork.ForkServer)."""

    def __call__(
        self, cli: Cli, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> Result: ...

    def start(
        self,
        cli: Cli,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: Path | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
    ) -> Started: ...

    def shell_env(self, env: dict[str, str]) -> dict[str, str]: ...


class Cli:
    """Runs the real CLI in a subprocess, sandboxed to a temp folder and the fake API.

    With a `runner`, commands run in processes forked from a warm interpreter that has the CLI
    imported: real processes with their own pid, signals and exit code, two seconds of start-up
    less each. `start` runs one in the background for tests that signal or kill it.
    """

    def __init__(self, workdir: Path, base_url: str | None, runner: Runner | None = None) -> None:
        self.workdir = workdir
        self.runner = runner
        self.state_dir = workdir / "state"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "TRANSCRIPT_CLI_"))
        }
        self.env.update(
            {
                "TRANSCRIPT_CLI_STATE_DIR": str(self.state_dir),
                "ANTHROPIC_API_KEY": FAKE_KEY,
                "PYTHONUNBUFFERED": "1",
                "COLUMNS": "200",
                "NO_COLOR": "1",
                # The user's own transcript-cli.toml must not leak into tests.
                "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
            }
        )
        if base_url:
            self.env["ANTHROPIC_BASE_URL"] = base_url

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "transcript_cli", *args]

    def __call__(
        self, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> Result:
        if self.runner is not None:
            return self.runner(self, *args, timeout=timeout, env=env)
        return self.subprocess(*args, timeout=timeout, env=env)

    def subprocess(
        self, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> Result:
        """`python -m transcript_cli ARGS` in a fresh interpreter."""
        done = subprocess.run(
            self.command(*args),
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def start(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: Path | None = None,
        stdout: Path | None = None,
        stderr: Path | None = None,
    ) -> subprocess.Popen[str] | Started:
        """Start the CLI without waiting, for signal, crash and terminal tests.

        `stdin`, `stdout` and `stderr` may name a terminal (`os.ttyname` of a pty's follower)
        instead of /dev/null and files. Forked warm with a runner; else a fresh interpreter.
        """
        if self.runner is not None:
            return self.runner.start(
                self, *args, env=env, stdin=stdin, stdout=stdout, stderr=stderr
            )
        if stdin is not None or stdout is not None or stderr is not None:
            raise NotImplementedError("terminals need a runner")
        return self.start_fresh(*args, env=env)

    def shell_env(self) -> dict[str, str]:
        """The environment for a shell whose command lines run `transcript-cli` (a pipeline).

        With a runner, `transcript-cli` there is a shim that has the CLI forked warm on the
        shim's own stdin, stdout and stderr (tests/cli_shim.py); else `python -m transcript_cli`.
        """
        if self.runner is None:
            raise NotImplementedError("shell pipelines need a runner")
        return self.runner.shell_env(self.env)

    def on_a_terminal(self, term: str = "xterm") -> Cli:
        """This CLI with a terminal's environment for its runs: TERM set, NO_COLOR unset."""
        twin = copy.copy(self)
        twin.env = {k: v for k, v in self.env.items() if k != "NO_COLOR"} | {"TERM": term}
        return twin

    def start_fresh(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start `python -m transcript_cli ARGS` in a new interpreter, without waiting."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture(scope="session")
def warm_runner() -> Iterator[Runner]:
    """One warm fork server for the whole session (imported here: it imports this module)."""
    from tests.cli_fork import ForkServer

    with ForkServer() as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path, fake_api: FakeAnthropic, warm_runner: Runner) -> Cli:
    return Cli(tmp_path, fake_api.url, warm_runner)


def wait_for(condition: object, timeout: float = 20.0, interval: float = 0.02) -> None:
    """Poll `condition()` until true; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def interrupt(proc: subprocess.Popen[str], times: int = 1) -> tuple[int, str, str]:
    """Send SIGINT `times` times (a little apart) and collect how the process ended."""
    for n in range(times):
        if n:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr


class Running:
    """A CLI process in the background whose stdout and stderr are collected as they arrive."""

    def __init__(self, proc: subprocess.Popen[str] | Started) -> None:
        self.proc = proc
        self._out: list[str] = []
        self._err: list[str] = []
        self._pumps: list[threading.Thread] = []
        self._files_open = False  # a warm fork's output files, read until it is closed
        if not isinstance(proc, subprocess.Popen):
            self._files_open = True
        else:
            self._pumps = [
                threading.Thread(target=self._pump, args=(proc.stdout, self._out), daemon=True),
                threading.Thread(target=self._pump, args=(proc.stderr, self._err), daemon=True),
            ]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str] | None, sink: list[str]) -> None:
        assert stream is not None
        for line in stream:  # line by line, so a test can watch for a message
            sink.append(line)

    @property
    def stdout(self) -> str:
        if not isinstance(self.proc, subprocess.Popen) and self._files_open:
            return self.proc.stdout_text
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        if not isinstance(self.proc, subprocess.Popen) and self._files_open:
            return self.proc.stderr_text
        return "".join(self._err)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 60) -> int:
        """Wait for the process to end and for its output to be read; its exit code."""
        code = self.proc.wait(timeout=timeout)
        for pump in self._pumps:
            pump.join(timeout=10)
        return code

    def __enter__(self) -> Running:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:  # the test failed midway: leave no process behind
            self.proc.kill()
        self.finish()
        if not isinstance(self.proc, subprocess.Popen):
            # What it wrote stays readable once its files are gone.
            self._out, self._err = [self.proc.stdout_text], [self.proc.stderr_text]
            self._files_open = False
            self.proc.close()
            return
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
