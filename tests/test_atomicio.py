"""Crash-safe writes: the temp files a killed writer leaves are swept, a live writer's are not;
a file written in place is private, and removed when its write fails."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from transcript_cli.atomicio import atomic_write, remove_stale_temps, write_in_place
from transcript_cli.errors import StorageError


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_remove_stale_temps_keeps_live_writers_and_other_files(tmp_path: Path) -> None:
    gone, alive = dead_pid(), os.getpid()
    names = [
        f".a.md.{gone}.tmp",  # a killed writer's: swept
        f".a.md.{alive}.tmp",  # a live writer's: kept
        f".b.md.{gone}.tmp",  # not asked about: kept
        "a.md",
        ".a.md.notapid.tmp",
        "notes.tmp",
    ]
    for name in names:
        (tmp_path / name).write_text("x", encoding="utf-8")

    remove_stale_temps(tmp_path, {"a.md"})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])

    remove_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[1], *names[3:]])


def test_remove_stale_temps_matches_what_atomic_write_names(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    atomic_write(target, b"done")
    leftover = tmp_path / f".out.md.{dead_pid()}.tmp"  # as atomic_write names it, mid-write
    leftover.write_bytes(b"do")
    remove_stale_temps(tmp_path, [target.name])
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]
    assert target.read_bytes() == b"done"


def test_remove_stale_temps_tolerates_a_missing_folder(tmp_path: Path) -> None:
    remove_stale_temps(tmp_path / "absent")


def test_write_in_place_is_private_and_leaves_nothing_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "3.json"
    write_in_place(target, b"whole")
    assert target.read_bytes() == b"whole"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["3.json"]  # no temp file on the way

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError) as caught:
        write_in_place(tmp_path / "4.json", b"never durable")
    assert caught.value.message.startswith(f"{tmp_path / '4.json'}: cannot write: disk full;")
    assert [p.name for p in tmp_path.iterdir()] == ["3.json"]  # not left half-written
