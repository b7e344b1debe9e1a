"""Watch folder trees for files being created, renamed into place or closed after writing, as it
happens (Linux).

Crash trials kill the CLI right after it stores a chunk result, saves a checkpoint or starts
writing an output: moments too short to hit by sleeping. inotify reports them within
microseconds. Only `IN_CREATE`, `IN_MOVED_TO` and `IN_CLOSE_WRITE` are watched; new sub-folders
are watched as they appear (a file created in one before its watch is added goes unseen, which
only shifts a trial's kill to a later event). Elsewhere `available()` is False and callers pick
other triggers.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Literal

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
_MASK = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1  # noqa: B018 - probing for the symbol
    except (OSError, AttributeError):
        return None
    return libc


def available() -> bool:
    return _libc() is not None


# What happened to a file: created, renamed into the folder, or closed after being written.
Change = Literal["created", "moved", "closed"]


class FolderWatch:
    """Calls `on_event(folder, name, change)` for each file created, renamed in or closed after
    writing (a file created and written gives "created", then "closed").

    The callback runs on the watcher's thread: keep it short.
    """

    def __init__(self, roots: list[Path], on_event: Callable[[Path, str, Change], None]) -> None:
        libc = _libc()
        if libc is None:
            raise OSError("inotify is not available here")
        self._libc = libc
        self._on_event = on_event
        self._fd = libc.inotify_init1(os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._stop_r, self._stop_w = os.pipe()
        self._folders: dict[int, Path] = {}
        for root in roots:
            self._watch_tree(root)
        self._thread = threading.Thread(target=self._loop, name="fs-events", daemon=True)

    def __enter__(self) -> FolderWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=10)
        for fd in (self._fd, self._stop_r, self._stop_w):
            os.close(fd)

    def _watch_tree(self, folder: Path) -> None:
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), _MASK)
        if wd < 0:
            return  # gone again already (e.g. a results folder just dropped)
        self._folders[wd] = folder
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if entry.is_dir(follow_symlinks=False):
                    self._watch_tree(Path(entry.path))

    def _loop(self) -> None:
        while True:
            ready, _, _ = select.select([self._fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            data = os.read(self._fd, 65536)
            offset = 0
            while offset < len(data):
                wd, mask, _, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                name = data[offset : offset + length].rstrip(b"\0").decode()
                offset += length
                folder = self._folders.get(wd)
                if mask & IN_IGNORED:
                    self._folders.pop(wd, None)
                elif folder is None:
                    continue
                elif mask & IN_ISDIR:
                    if mask & (IN_CREATE | IN_MOVED_TO):
                        self._watch_tree(folder / name)
                else:
                    change: Change = (
                        "created"
                        if mask & IN_CREATE
                        else "moved"
                        if mask & IN_MOVED_TO
                        else "closed"
                    )
                    self._on_event(folder, name, change)
