"""The test launcher itself (tests/cli_launcher.py): what a test reads of a child it just started.

Crash trials kill children milliseconds after their start; a kill can land before the forked
child has set up its stdout and stderr. Those reads must still work.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_fork import ForkServer
from tests.cli_launcher import Launcher
from tests.conftest import Cli, Runner


@pytest.fixture
def launch(warm_runner: Runner) -> Launcher:
    assert isinstance(warm_runner, ForkServer)
    if not warm_runner.launcher.forks:
        pytest.skip("children are plain subprocesses here: no fork")
    return warm_runner.launcher


@contextlib.contextmanager
def launcher_stopped(launch: Launcher) -> Iterator[None]:
    """The launcher's server frozen (SIGSTOP): whatever is asked of it meanwhile waits."""
    pid = launch.server_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_child_not_yet_forked_has_empty_output(launch: Launcher, tmp_path: Path) -> None:
    cli = Cli(tmp_path, None)
    out, err = tmp_path / "out", tmp_path / "err"
    with launcher_stopped(launch):
        child = launch(cli, "--version", out=out, err=err)
        assert (child.stdout, child.stderr) == ("", "")
    assert child.wait(60) == 0
    assert child.stdout.strip() and child.stderr == ""


def test_a_child_killed_before_it_opened_its_files_wrote_nothing(
    launch: Launcher, tmp_path: Path
) -> None:
    cli = Cli(tmp_path, None)
    out, err = tmp_path / "out", tmp_path / "err"
    # Its start and its kill reach the server together: the kill follows the fork at once.
    with launcher_stopped(launch):
        child = launch(cli, "--version", out=out, err=err)
        child.kill()
    assert child.wait(60) == -signal.SIGKILL
    assert (child.stdout, child.stderr) == ("", "")


def test_a_reused_output_file_starts_empty(launch: Launcher, tmp_path: Path) -> None:
    cli = Cli(tmp_path, None)
    out, err = tmp_path / "out", tmp_path / "err"
    out.write_text("an earlier run's output, much longer than this one's\n" * 50)
    err.write_text("an earlier run's complaint\n")
    child = launch(cli, "--version", out=out, err=err)
    assert child.wait(60) == 0
    assert child.stdout.count("\n") == 1 and child.stderr == ""
