"""Outputs are never overwritten by surprise: before any request, a file in the way is refused.

A job may replace an output only if it wrote that file itself (an earlier run of the same job,
unchanged since), or if --overwrite was given when the job started (or on resume).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transcript_cli.errors import OutputExistsError, UsageError
from transcript_cli.state import InputState, JobState


def _wrote_it(previous: JobState | None, checkpoint_mtime: float | None, output: Path) -> bool:
    """The same job wrote this file and nobody changed it after (it predates its checkpoint)."""
    if previous is None or checkpoint_mtime is None:
        return False
    for item in previous.inputs:
        if item.written and Path(item.output) == output:
            try:
                return output.stat().st_mtime <= checkpoint_mtime
            except OSError:
                return False
    return False


def check_new_job(
    job_id: str,
    planned: Sequence[InputState],
    *,
    overwrite: bool,
    job_dir: Path,
    previous: JobState | None = None,
    checkpoint_mtime: float | None = None,
) -> None:
    """A job about to start (or start over): refuse outputs that exist and are not its own.

    Outputs inside the job's own folder (`--out -` keeps its text there) are always its own.
    """
    _check_folders(planned)
    if overwrite:
        return
    in_the_way = [
        output
        for output in (Path(item.output) for item in planned)
        if output.exists()
        and not output.resolve().is_relative_to(job_dir.resolve())
        and not _wrote_it(previous, checkpoint_mtime, output)
    ]
    _refuse(in_the_way, f"was not written by job {job_id}")


def _check_folders(planned: Sequence[InputState]) -> None:
    """A file where an output's folder would be: refused now, not after the chunks are paid."""
    for folder in dict.fromkeys(Path(item.output).parent for item in planned):
        existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
        if not existing.is_dir():
            inside = "" if existing == folder else f" to hold {folder}"
            raise UsageError(
                f"{existing}: is a file, not a folder{inside}, so no output can be written "
                "there; nothing was sent. Choose another --out"
            )


def check_resumed_job(state: JobState, *, overwrite: bool) -> None:
    """A job going on: refuse outputs it has not written yet that someone else put there.

    One whose chunks are all done is its own: a run stopped between writing it and recording
    that (the rewrite is byte-identical).
    """
    if overwrite:
        return
    in_the_way = [
        Path(item.output)
        for item in state.inputs
        if not item.written and len(item.done) < item.chunk_count and Path(item.output).exists()
    ]
    _refuse(in_the_way, f"appeared after job {state.job_id} started")


def _refuse(paths: list[Path], why: str) -> None:
    if not paths:
        return
    first = paths[0]
    others = f" (and {len(paths) - 1} other output(s))" if len(paths) > 1 else ""
    raise OutputExistsError(
        f"{first}: output exists and {why}{others}; nothing was sent. Move it away, choose "
        "another --out, or pass --overwrite to replace it",
        paths,
    )
