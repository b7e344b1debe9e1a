"""Runs the real CLI many times cheaply: each run is a child of a warm `cli_launcher.Launcher`.

`python -m transcript_cli` spends about a second and a half importing (mostly the Anthropic SDK).
Tests that run the CLI dozens of times, such as the bad-input corpus, send each run here instead.
Every run is still its own process, with its own argv, working folder, environment, stdin
(/dev/null) and captured stdout/stderr, and it exits with whatever the real entry point exits
with (see the launcher). This is the synchronous side: start, wait, collect the `Result`. Where
`os.fork` does not exist, runs fall back to a plain subprocess.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType

from tests.cli_launcher import LAUNCHER_DIED, Launcher
from tests.conftest import Cli, Result


class ForkServer:
    """A `Runner`: `with ForkServer() as run: run(cli, "run", "x.txt")`, from any thread."""

    def __init__(self) -> None:
        self._launch = Launcher()

    def __enter__(self) -> ForkServer:
        self._launch.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._launch.__exit__(exc_type, exc, tb)

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
