"""Job locks, the gate, and job folder ownership (transcript_cli/joblock.py via JobStore).

Looking at a job (`status`, and `run` deciding what to do) must never make a run starting at
that moment fail, and two lookers must never see each other as a run: that was the cause of
test_status_of_a_failed_then_completed_job failing about once in six (three `status` commands
at once, one saw another's look as "running").
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_jobs import cli_all, run_args
from transcript_cli import joblock
from transcript_cli.errors import JobLockedError, StateError
from transcript_cli.job import LOCK_NAME, JobStore

NOBODY = 65534


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    store = JobStore(tmp_path / "state")
    with store.locked("talk"):  # leaves an idle job folder with its lock file
        pass
    return store


def test_a_run_starting_while_someone_looks_waits_instead_of_failing(store: JobStore) -> None:
    outcome: list[str] = []

    def start_run() -> None:
        try:
            with store.locked("talk"):
                outcome.append("ran")
        except JobLockedError:
            outcome.append("refused")

    # Mid-look, exactly as `status` holds an idle job: the gate, then the job's lock.
    with joblock.gate(store.root):
        look = FileLock(store.job_dir("talk") / LOCK_NAME)
        look.acquire(timeout=0)
        runner = threading.Thread(target=start_run)
        runner.start()
        time.sleep(0.3)
        assert outcome == []  # waiting at the gate, not refused
        look.release()
    runner.join(10)
    assert outcome == ["ran"]


def test_lookers_never_see_each_other_as_running(store: JobStore) -> None:
    seen: list[bool] = []

    def look() -> None:
        seen.extend(store.is_running("talk") for _ in range(150))

    lookers = [threading.Thread(target=look) for _ in range(4)]
    for thread in lookers:
        thread.start()
    for thread in lookers:
        thread.join(30)
    assert len(seen) == 600 and not any(seen)


def test_a_held_job_is_running_and_clear_refuses_it(store: JobStore) -> None:
    with store.locked("talk"):
        answers: list[bool] = []
        thread = threading.Thread(target=lambda: answers.append(store.is_running("talk")))
        thread.start()
        thread.join(10)
        assert answers == [True]
        with pytest.raises(JobLockedError):
            store.remove_unless_running("talk")
        assert store.job_dir("talk").is_dir()
    assert not store.is_running("talk")
    store.remove_unless_running("talk")
    assert not store.job_dir("talk").exists()


def test_a_linked_job_folder_is_refused(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "state")
    store.root.mkdir(mode=0o700)
    elsewhere = tmp_path / "victim"
    elsewhere.mkdir()
    (store.root / "talk").symlink_to(elsewhere)
    with pytest.raises(StateError, match="is a symbolic link"), store.locked("talk"):
        pass
    with pytest.raises(StateError, match="is a symbolic link"):
        store.load("talk")
    assert list(elsewhere.iterdir()) == []


needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown"
)


def _foreign_job(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(mode=0o700)
    (folder / "checkpoint.json").write_text("{}")
    os.chown(folder, NOBODY, NOBODY)
    return folder


@needs_root
def test_someone_elses_job_folder_in_a_shared_folder_is_refused(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "shared")
    store.root.mkdir()
    store.root.chmod(0o1777)  # like /tmp: sticky, everyone may write
    theirs = _foreign_job(store.root, "talk")
    with store.locked("mine"):
        pass
    foreign = r"belongs to another user \(uid 65534\)"
    with pytest.raises(StateError, match=foreign), store.locked("talk"):
        pass
    with pytest.raises(StateError, match="belongs to another user"):
        store.load("talk")
    with pytest.raises(StateError, match="belongs to another user"):
        store.remove_unless_running("talk")
    assert sorted(p.name for p in theirs.iterdir()) == ["checkpoint.json"]  # untouched
    assert store.ids() == []  # theirs is not listed; "mine" has no checkpoint


def test_a_look_at_a_failed_job_never_says_running(cli: Cli, fake_api: FakeAnthropic) -> None:
    """Six `status` at once on a failed job: every one says failed (once flaky, see above)."""
    src = write_transcript(cli.workdir / "talk.txt", 20)
    fake_api.fail_when("Sentence number 12 ", Fault(status=401))
    assert cli(*run_args(src, "--name", "talk")).returncode == 1
    results = cli_all(cli, *[["status", "talk", "--json"]] * 6)
    states = [result.stdout for result in results]
    assert all('"state": "failed"' in state for state in states), states


@needs_root
def test_run_refuses_a_foreign_job_folder_in_a_shared_state_dir(cli: Cli) -> None:
    cli.state_dir.mkdir()
    cli.state_dir.chmod(0o1777)
    theirs = _foreign_job(cli.state_dir, "talk")
    src = write_transcript(cli.workdir / "talk.txt", 10)
    args = ["run", str(src), "--name", "talk", "--provider", "offline", "--timeout", "60"]
    refused = cli(*args)
    assert refused.returncode == 1, refused.stderr
    [line] = refused.stderr.splitlines()
    assert line == (
        f"error: {theirs}: job folder belongs to another user (uid {NOBODY}); "
        "choose another --name or --state-dir"
    )
    assert sorted(p.name for p in theirs.iterdir()) == ["checkpoint.json"]
    assert not (cli.workdir / "cleaned").exists()
    mine = cli(*["mine" if arg == "talk" else arg for arg in args])
    assert mine.returncode == 0, mine.stderr
