"""How a run that did not complete is told: errors saying where it stopped and what to do next.

The next step is a `Command` (data); the CLI spells it, with the flags the user ran it with.
"""

from __future__ import annotations

from pathlib import Path

from transcript_cli.errors import (
    ChunksFailedError,
    Command,
    Paused,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
    Waiting,
)
from transcript_cli.state import JobState
from transcript_cli.work import WorkItem


def located(error: ProviderError, item: WorkItem, state: JobState) -> ProviderError:
    """The same error, its message prefixed with where it happened."""
    total = state.inputs[item.input_index].chunk_count
    where = f"{item.file_name} chunk {item.chunk_index + 1}/{total}: "
    if isinstance(error, TransientProviderError):
        return TransientProviderError(
            where + error.message + " (gave up after the retry budget; resume later)",
            status=error.status,
            retry_after=error.retry_after,
            job_id=state.job_id,
        )
    return PermanentProviderError(where + error.message, status=error.status, job_id=state.job_id)


def chunks_failed(state: JobState) -> ChunksFailedError | None:
    """The error naming every chunk that failed for good, or None if none did."""
    parts = []
    count = 0
    for item in state.inputs:
        for chunk in item.failed:
            count += 1
            note = item.notes[chunk]
            parts.append(
                f"{Path(item.path).name} chunk {chunk + 1}/{item.chunk_count}: {note.error}"
            )
    if not parts:
        return None
    files = sum(1 for item in state.inputs if item.failed)
    return ChunksFailedError(
        f"{count} chunk(s) failed in {files} file(s), which were not written: " + "; ".join(parts),
        job_id=state.job_id,
        hint=(". Try them again: ", Command("resume", state.job_id, ("--retry-failed",))),
    )


def stopped_at(state: JobState) -> str:
    """Where an unfinished job stands: 'Paused at chunk k/n of name.' or 'Paused.'."""
    for item in state.inputs:
        missing = item.done.first_missing(item.chunk_count)
        if missing is not None or not item.written:
            k = (missing if missing is not None else item.chunk_count - 1) + 1
            return f"Paused at chunk {k}/{item.chunk_count} of {Path(item.path).name}."
    return "Paused."


def paused(state: JobState) -> Paused:
    """The error a pause ends a run with: where it stopped, and the command to continue."""
    return Paused(
        stopped_at(state),
        job_id=state.job_id,
        hint=(" Resume: ", Command("resume", state.job_id)),
    )


def waiting(state: JobState, batch_ids: list[str], *, paused: bool) -> Paused | Waiting:
    """How a batch run stops before its batches end: paused (Ctrl-C) or on purpose (--no-wait)."""
    count = len(batch_ids)
    which = f"{count} batch{'es' if count != 1 else ''} ({', '.join(batch_ids)})"
    resume = Command("resume", state.job_id)
    if paused:
        return Paused(
            f"Paused; {which} go on running on Anthropic's side.",
            job_id=state.job_id,
            hint=(" Collect the results: ", resume),
        )
    return Waiting(
        f"Job {state.job_id} is waiting for {which}, {state.chunks_done}/"
        f"{state.chunks_total} chunks done.",
        job_id=state.job_id,
        hint=(" Collect the results when they end: ", resume),
    )
