"""Crash-safe file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from transcript_cli.errors import StorageError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_TEMP_SUFFIX = ".tmp"


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) as 0700; existing folders keep their mode."""
    # Not mkdir(parents=True): that creates the parents with the default mode (0755 here).
    if path.is_dir():
        return
    if path.parent != path:
        ensure_private_dir(path.parent)
    try:
        path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    except OSError as exc:
        raise _storage_error(path, "cannot create folder", exc) from exc


def ensure_dir(path: Path) -> None:
    """Create `path` and its parents with the default mode (for outputs, which are not private)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage_error(path, "cannot create folder", exc) from exc


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable; some filesystems refuse, which is harmless."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | Iterable[bytes], mode: int = PRIVATE_FILE) -> None:
    """Write to a temp file in the same folder, fsync, `os.replace`, fsync the folder.

    On any failure the temp file is removed and the previous `path` is left untouched. An OSError
    becomes a StorageError; anything else (such as from producing `data`) passes through as is.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}{_TEMP_SUFFIX}")
    _write_synced(tmp, data, mode, path, then=lambda: os.replace(tmp, path))
    fsync_dir(path.parent)


def write_in_place(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write `path` itself, fsync it, fsync the folder: only for files that check themselves.

    Not atomic: a crash mid-write leaves the file cut short under its own name. So only for a
    file written once, whose reader verifies it (a checksum) and takes a damaged one as absent,
    and that nothing relies on before this returns. It saves `atomic_write`'s rename and the
    second journal commit that makes the rename durable (on ext4 the file's fsync commits its
    name too, so the folder's fsync then finds nothing left to do).

    On any failure the file is removed. An OSError becomes a StorageError.
    """
    _write_synced(path, data, mode, path)
    fsync_dir(path.parent)


def _write_synced(
    target: Path,
    data: bytes | Iterable[bytes],
    mode: int,
    named: Path,
    then: Callable[[], None] | None = None,
) -> None:
    """Write and fsync `target`, then run `then`; on any failure remove `target`.

    An OSError becomes a StorageError naming `named` (the file the user knows of).
    """
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                for piece in data:
                    handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        if then is not None:
            then()
    except BaseException as exc:
        with contextlib.suppress(OSError):
            target.unlink()
        if isinstance(exc, OSError):
            raise _storage_error(named, "cannot write", exc) from exc
        raise


def remove_stale_temps(folder: Path, names: Iterable[str] | None = None) -> None:
    """Delete the temp files `atomic_write` left in `folder` when its process was killed.

    Only those of `names`, if given. A temp file is named for its writer's pid: one whose writer
    still runs is kept, so this is safe beside other processes writing there.
    """
    wanted = None if names is None else set(names)
    try:
        entries = [e.name for e in os.scandir(folder)]
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(".") and entry.endswith(_TEMP_SUFFIX)):
            continue
        name, _, pid = entry[1 : -len(_TEMP_SUFFIX)].rpartition(".")
        if not pid.isdigit() or (wanted is not None and name not in wanted) or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            (folder / entry).unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. another user's process
    return True


def rename_aside(path: Path, suffix: str) -> Path:
    """Keep `path` under a new name beside it (never over another file) and return that name."""
    target = path.with_name(f"{path.name}{suffix}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{suffix}-{n}")
    try:
        path.rename(target)
    except OSError as exc:
        raise _storage_error(path, f"cannot rename to {target.name}", exc) from exc
    fsync_dir(path.parent)
    return target


def _storage_error(path: Path, action: str, exc: OSError) -> StorageError:
    reason = {
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk quota exceeded",
        errno.EFBIG: "file too large (a file size limit was reached)",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return StorageError(
        f"{path}: {action}: {reason}; the previous checkpoint is intact, "
        "free the problem and run resume",
        path=path,
        reason=reason,
    )
