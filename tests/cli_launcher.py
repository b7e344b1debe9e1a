"""Starts real CLI processes cheaply and in the background, so a test can `kill -9` them.

`python -m transcript_cli run` spends about two seconds importing the Anthropic SDK; crash trials
start a hundred processes. So one warm launcher imports the CLI once and forks a child per start.
Each child is a real process with its own pid, argv, working folder, environment, stdin
(/dev/null) and stdout/stderr files; it exits as the real entry point exits, and SIGKILL kills it
like any other process. A start returns at once: the caller kills or waits for the child while it
runs, and several children may run at a time. `cli_fork.ForkServer` waits for each start, for
tests that only need a command's result.

A kill goes through a pidfd (Linux) or through the launcher, which alone reaps its children: it can
never reach a recycled pid. Where `os.fork` does not exist, children are plain subprocesses.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tests.conftest import REPO, Cli

LAUNCHER_DIED = -1000  # the exit code of a child whose launcher went away


class Child:
    """One CLI process started by a `Launcher`."""

    def __init__(self, launcher: Launcher, key: int, out: Path, err: Path) -> None:
        self._launcher = launcher
        self.key = key
        self.out = out
        self.err = err
        self.pid: int | None = None
        self.returncode: int | None = None
        self._ended = threading.Event()
        self._popen: subprocess.Popen[bytes] | None = None
        self._pidfd: int | None = None  # signals this very process, even if not our child

    def kill(self) -> None:
        """SIGKILL the process if it still runs; harmless once it has ended."""
        self._launcher.signal(self, signal.SIGKILL)

    def signal(self, signum: int) -> None:
        """Send `signum` (SIGINT, SIGTERM, ...) to the process itself; harmless once it ended."""
        self._launcher.signal(self, signum)

    def poll(self) -> int | None:
        """Its exit code if it has ended, else None (as `Popen.poll`)."""
        if self._popen is not None:
            self.returncode = self._popen.poll()
        return self.returncode

    def wait(self, timeout: float) -> int:
        """Its exit code (negative: killed by that signal). Kills it on timeout and raises."""
        if not self.wait_or_kill(timeout):
            raise AssertionError(f"CLI still running after {timeout}s (killed)")
        assert self.returncode is not None
        return self.returncode

    def wait_or_kill(self, timeout: float) -> bool:
        """Whether it ended within `timeout`; if not, it is SIGKILLed and waited for."""
        if self._popen is not None:
            try:
                self.returncode = self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self.returncode = self._popen.wait()
                return False
            return True
        if self._ended.wait(timeout):
            return True
        self.kill()
        if not self._ended.wait(30):
            raise AssertionError(f"CLI still running 30s after its SIGKILL (pid {self.pid})")
        return False

    @property
    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def _ended_with(self, code: int) -> None:
        self.returncode = code
        self._ended.set()


class Launcher:
    """Client side: `with Launcher() as launch: child = launch(cli, "run", ...)`."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._children: dict[int, Child] = {}
        self._next_key = 0
        self._reader: threading.Thread | None = None
        self._log: IO[str] | None = None
        self._folder: Path | None = None
        # Where `tests/cli_shim.py` asks for a CLI on its own stdin/stdout/stderr (pipelines).
        self.socket_path: Path | None = None

    def __enter__(self) -> Launcher:
        if hasattr(os, "fork"):
            # The environment a `Cli` gives its runs, so what the CLI sets up at import (consoles,
            # colour, width) matches a plain `python -m transcript_cli`. Its stderr goes to a file:
            # a terminal there would turn colour on.
            self._log = tempfile.TemporaryFile("w+")
            self._folder = Path(tempfile.mkdtemp(prefix="cli_launcher-"))
            self.socket_path = self._folder / "socket"
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.cli_launcher", str(self.socket_path)],
                cwd=REPO,
                env=Cli(REPO, None).env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                text=True,
                bufsize=1,
            )
            self._reader = threading.Thread(target=self._read_answers, daemon=True)
            self._reader.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            left = list(self._children.values())
        for child in left:
            child.kill()
        if self._proc is not None:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.close()  # the server's cue to stop once its children have ended
            self._proc.wait(timeout=60)
            if self._reader is not None:
                self._reader.join(timeout=10)
            self._proc.stdout.close()
        if self._log is not None:
            self._log.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def server_pid(self) -> int | None:
        """The warm launcher's own pid (None without fork): tests of the launcher stop it."""
        return self._proc.pid if self._proc is not None else None

    @property
    def forks(self) -> bool:
        """Whether children fork from the warm launcher (else they are plain subprocesses)."""
        return self._proc is not None

    def __call__(
        self,
        cli: Cli,
        *args: str,
        out: Path,
        err: Path,
        env: dict[str, str] | None = None,
        stdin: Path | None = None,
    ) -> Child:
        """Start `cli(*args)` in the background, its output going to the files `out` and `err`.

        `stdin` is a path to read from instead of /dev/null; any of the three may be a terminal
        (a pty's follower, /dev/pts/N), opened by the child as a terminal is.
        """
        run_env = {**cli.env, **(env or {})}
        for path in (out, err):
            # Created here, before the child exists (as `Popen` opens its files first), so they
            # can be read at once: a child killed before it got to open them wrote "".
            if not _is_terminal_path(path):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        with self._lock:
            key = self._next_key
            self._next_key += 1
            child = Child(self, key, out, err)
            if self._proc is None:
                with contextlib.ExitStack() as files:
                    stdout, stderr = (files.enter_context(open(p, "wb")) for p in (out, err))
                    source = files.enter_context(open(stdin, "rb")) if stdin else None
                    child._popen = subprocess.Popen(
                        cli.command(*args),
                        cwd=cli.workdir,
                        env=run_env,
                        stdin=source or subprocess.DEVNULL,
                        stdout=stdout,
                        stderr=stderr,
                    )
                child.pid = child._popen.pid
                return child
            self._children[key] = child
            self._send(
                {
                    "op": "start",
                    "key": key,
                    "argv": list(args),
                    "cwd": str(cli.workdir),
                    "env": run_env,
                    "out": str(out),
                    "err": str(err),
                    "stdin": str(stdin or os.devnull),
                }
            )
        return child

    def signal(self, child: Child, signum: int) -> None:
        if child._popen is not None:
            if child._popen.poll() is None:
                child._popen.send_signal(signum)
            return
        with self._lock:
            if child.key not in self._children:
                return  # ended and reaped
            if child._pidfd is None:  # no pidfd here, or no pid yet: the server signals it
                self._send({"op": "signal", "key": child.key, "signum": int(signum)})
                return
            # Directly, not through the server: microseconds sooner, for kills timed to a write.
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(child._pidfd, signum)

    def _send(self, request: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()

    def _read_answers(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            answer = json.loads(line)
            with self._lock:
                child = self._children.get(answer["key"])
                if child is None:
                    continue
                if "pid" in answer:
                    child.pid = answer["pid"]
                    # If it has already ended, its end is the next answer for it, and kills wait
                    # for this lock: a pidfd of a recycled pid is closed before any kill uses it.
                    with contextlib.suppress(AttributeError, OSError):
                        child._pidfd = os.pidfd_open(child.pid)
                if "returncode" in answer:
                    del self._children[answer["key"]]
                    if child._pidfd is not None:
                        os.close(child._pidfd)
                        child._pidfd = None
                    child._ended_with(answer["returncode"])
        # The server is gone: whatever it did not report will never be reported.
        with self._lock:
            for child in self._children.values():
                child.err.write_text(f"[cli_launcher died]\n{self.server_log()}", encoding="utf-8")
                child._ended_with(LAUNCHER_DIED)
            self._children.clear()

    def server_log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()


def _is_terminal_path(path: Path) -> bool:
    """Whether `path` is a device such as a pty's follower (/dev/pts/N): opened, never created."""
    return path.parts[:2] == ("/", "dev")


# --- server side: `python -m tests.cli_launcher` ---


def _become_cli(
    request: dict[str, Any], server_fds: list[int], given: list[int] | None = None
) -> None:
    """In the forked child: set up this run's process state, run the entry point, exit.

    `given`: stdin, stdout and stderr handed over by a shim (its pipes), else the request's paths.
    """
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in server_fds:
            os.close(fd)
        if given is not None:
            for fd, source in enumerate(given):
                os.dup2(source, fd)
            for source in set(given) - {0, 1, 2}:
                os.close(source)
        else:
            _open_stdio(request)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["transcript-cli", *request["argv"]]
        if any(os.isatty(fd) for fd in (0, 1, 2)):
            # The CLI's consoles decided at import (in the server, on a log file, with the
            # server's environment) that there is no terminal: import the CLI layer afresh, as
            # a new interpreter would, so they see this one. The engine stays warm.
            for name in [n for n in sys.modules if n.split(".")[:2] == ["transcript_cli", "cli"]]:
                del sys.modules[name]
        from transcript_cli.cli import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if code == 1 and not isinstance(exc.code, int):  # as the interpreter does
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _open_stdio(request: dict[str, Any]) -> None:
    source = os.open(request.get("stdin", os.devnull), os.O_RDONLY | os.O_NOCTTY)
    os.dup2(source, 0)
    os.close(source)
    for fd, path in ((1, request["out"]), (2, request["err"])):
        # The client created (and emptied) the files; this is only in case they went away since.
        flags = os.O_WRONLY | os.O_NOCTTY
        if not _is_terminal_path(Path(path)):
            flags |= os.O_CREAT
        target = os.open(path, flags, 0o600)
        os.dup2(target, fd)
        os.close(target)


def serve(socket_path: str | None = None) -> None:
    """Reads one JSON request per line; answers `{key, pid}`, then `{key, returncode}` at exit."""
    import transcript_cli

    # Everything a run may import lazily (the SDK above all), so no child pays for it again. Only
    # a warm-up: a module that fails here fails again, visibly, in the run that needs it.
    for module in pkgutil.walk_packages(transcript_cli.__path__, "transcript_cli."):
        if not module.name.endswith("__main__"):
            with contextlib.suppress(Exception):
                importlib.import_module(module.name)

    # A child's exit wakes the loop through this pipe, so exits are reported at once.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    listener: socket.socket | None = None
    if socket_path is not None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(socket_path)
        listener.listen(16)
        selector.register(listener, selectors.EVENT_READ)
    running: dict[int, int] = {}  # pid -> key; only this loop reaps, so a pid here is ours
    shims: dict[int, socket.socket] = {}  # pid -> the shim that asked for it, told its end
    pending = b""
    open_input = True

    def server_fds() -> list[int]:
        fds = [wake_r, wake_w, *(c.fileno() for c in shims.values())]
        return fds + ([listener.fileno()] if listener is not None else [])

    def start_for_shim() -> None:
        assert listener is not None
        conn, _ = listener.accept()
        data, given, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        try:
            request = json.loads(data)
        except ValueError:
            request = None
        if request is None or len(given) != 3:  # a shim that died before it asked
            for fd in given:
                os.close(fd)
            conn.close()
            return
        pid = os.fork()
        if pid == 0:
            _become_cli(request, [*server_fds(), conn.fileno()], given)
        for fd in given:
            os.close(fd)
        running[pid] = -1
        shims[pid] = conn
        conn.send(json.dumps({"pid": pid}).encode())

    def answer(payload: dict[str, Any]) -> None:
        data = (json.dumps(payload) + "\n").encode()
        while data:
            data = data[os.write(1, data) :]

    while open_input or running:
        for key_, _ in selector.select(timeout=0.5):
            if key_.fd == wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                continue
            if listener is not None and key_.fd == listener.fileno():
                start_for_shim()
                continue
            chunk = os.read(0, 65536)
            if not chunk:  # the client is gone: nobody will wait for what still runs
                open_input = False
                selector.unregister(0)
                for pid in running:
                    os.kill(pid, signal.SIGKILL)
                continue
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                if request["op"] == "signal":
                    for pid, key in running.items():
                        if key == request["key"]:
                            os.kill(pid, request["signum"])
                    continue
                pid = os.fork()
                if pid == 0:
                    _become_cli(request, server_fds())
                running[pid] = request["key"]
                answer({"key": request["key"], "pid": pid})
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            key = running.pop(pid, None)
            code = os.waitstatus_to_exitcode(status)
            if pid in shims:
                conn = shims.pop(pid)
                with contextlib.suppress(OSError):  # the shim may be gone (its pipeline killed)
                    conn.send(json.dumps({"returncode": code}).encode())
                conn.close()
            elif key is not None:
                answer({"key": key, "returncode": code})
    if listener is not None:
        listener.close()


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else None)
