"""Who holds a job: the lock a run keeps for its whole length, the gate that makes looking at
that lock harmless, and who owns a job's folder.

A run (or resume, repair, clear) holds `<job>/job.lock` while it works, and a second one is
refused at once. Finding out whether a job runs means trying that lock, and a try that succeeds
holds it for an instant, so a run starting in that instant would be refused, and two lookers
would each see the other as a run. So every try happens inside the state folder's gate, a second
lock held for microseconds that runs and lookers alike wait for (never refused). `status` never
holds a running job's lock, and holds an idle job's only inside the gate, where nobody can be
refused by it.

In a shared state folder (sticky bit, writable by others) anyone can create a folder named like
our next job; every job folder must therefore be a real folder owned by us.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from transcript_cli.atomicio import PRIVATE_FILE
from transcript_cli.errors import JobLockedError, StateError

LOCK_NAME = "job.lock"
GATE_PREFIX = ".gate-"
# Holders keep the gate for microseconds (a clear: the time to delete one job's folder).
GATE_TIMEOUT = 30.0


def _uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def gate_path(root: Path) -> Path:
    """One gate per user: in a shared folder each user's jobs are only ever touched by them."""
    return root / f"{GATE_PREFIX}{_uid()}.lock"


@contextmanager
def gate(root: Path) -> Iterator[None]:
    """Hold the state folder's gate: tries of job locks inside it refuse nobody."""
    path = gate_path(root)
    lock = FileLock(path, mode=PRIVATE_FILE)
    try:
        lock.acquire(timeout=GATE_TIMEOUT)
    except Timeout:
        raise StateError(
            f"{path}: held for over {GATE_TIMEOUT:.0f}s by another transcript-cli process "
            "(a stopped one? `fg` it, or end it)"
        ) from None
    try:
        yield
    finally:
        lock.release()


def is_shared(root: Path) -> bool:
    """A sticky folder others may write to, like /tmp: a place several users keep jobs."""
    try:
        mode = root.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_ISVTX and mode & (stat.S_IWGRP | stat.S_IWOTH))


def foreign_owner(folder: Path) -> str | None:
    """Why `folder` may not be used as our job folder (None: it is ours, or does not exist)."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link, not a job folder; remove it or choose another --name"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder; remove it or choose another --name"
    if info.st_uid != _uid():
        return f"belongs to another user (uid {info.st_uid}); choose another --name or --state-dir"
    return None


def check_owned(folder: Path, job_id: str) -> None:
    """Refuse a job folder that is a link, or someone else's."""
    problem = foreign_owner(folder)
    if problem is not None:
        raise StateError(f"{folder}: job folder {problem}", job_id=job_id)


def take(folder: Path, job_id: str) -> FileLock:
    """Take a job's lock at once or fail; the caller is inside the gate."""
    lock = FileLock(folder / LOCK_NAME, mode=PRIVATE_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise JobLockedError(
            f"job '{job_id}' is being processed by another transcript-cli process; "
            "wait for it, or stop it with Ctrl-C",
            job_id=job_id,
        ) from None
    return lock


def is_held(folder: Path) -> bool:
    """True while some process holds the job's lock; the caller is inside the gate."""
    path = folder / LOCK_NAME
    if not path.exists():
        return False
    lock = FileLock(path, mode=PRIVATE_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:
        return False  # e.g. a read-only copy of a state folder: nobody can be running there
    lock.release()
    return False
