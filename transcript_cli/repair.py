"""Rebuilding a job's checkpoint from its manifest and the chunk results stored beside it.

For a checkpoint that is lost, damaged, or out of step with the results on disk. Every stored
result whose checksum, settings hash and source hash verify is kept, because it was paid for;
every other chunk is left for `resume` to redo. A damaged checkpoint is kept under another name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from transcript_cli import checkpoint, manifest
from transcript_cli.atomicio import rename_aside
from transcript_cli.checkpoint import CHECKPOINT_NAME
from transcript_cli.chunk_results import ChunkResult, ResultStore, text_sha256
from transcript_cli.chunkset import ChunkSet
from transcript_cli.errors import CheckpointError, Command, InputError, StateError, UsageError
from transcript_cli.job import JobStore
from transcript_cli.manifest import MANIFEST_NAME, Manifest
from transcript_cli.sources import load_source
from transcript_cli.state import InputState, JobState, utc_now

Previous = Literal["intact", "damaged", "missing"]


@dataclass(frozen=True)
class RepairReport:
    """What `repair` found and rebuilt."""

    state: JobState  # as saved
    previous: Previous  # what the old checkpoint was
    damaged_copy: Path | None  # where a damaged checkpoint was moved
    rejected: int  # stored results that failed a check: their chunks will be redone
    lost: int  # chunks the old checkpoint counted as done that will be redone
    totals_complete: bool  # False when tokens and cost of already written files are unknown
    unverified: tuple[str, ...]  # inputs gone or changed: their results could not be checked


@dataclass
class _Tally:
    rejected: int = 0
    lost: int = 0
    totals_complete: bool = True
    unverified: list[str] = field(default_factory=list)


def repair(store: JobStore, job_id: str) -> RepairReport:
    """Rebuild and save the checkpoint of `job_id`; refused while a process runs the job."""
    if not store.job_dir(job_id).is_dir():
        raise UsageError(f"no job named '{job_id}' in {store.root}")
    with store.locked(job_id) as job_dir:
        old, previous = _read_old(job_dir, job_id)
        plan = manifest.load(job_dir)
        write_manifest = plan is None
        if plan is None:
            if old is None:
                raise StateError(
                    f"{job_dir / MANIFEST_NAME}: no job manifest, and the checkpoint is "
                    f"{previous}, so there is nothing to rebuild the job from",
                    job_id=job_id,
                    state_dir=store.root,
                    hint=("; `", Command("clear", job_id), "` and run it again"),
                )
            plan = Manifest.of(old)  # an older job with a good checkpoint: describe it anew
        if plan.job_id != job_id:
            raise CheckpointError(
                job_dir / MANIFEST_NAME,
                f"belongs to job '{plan.job_id}', not '{job_id}'",
                "a job folder was copied or renamed; rename it back or `clear` it",
            )
        if old is not None and (
            old.settings != plan.settings or Manifest.of(old).inputs != plan.inputs
        ):
            old, previous = None, "damaged"  # it describes some other job: do not trust it

        tally = _Tally()
        state = _rebuild(plan, old, ResultStore(job_dir), job_dir / MANIFEST_NAME, tally)
        damaged_copy = None
        if previous == "damaged" and (job_dir / CHECKPOINT_NAME).exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            damaged_copy = rename_aside(job_dir / CHECKPOINT_NAME, f".damaged-{stamp}")
        if write_manifest:
            manifest.save(plan, job_dir)
        store.save(state)
    return RepairReport(
        state=state,
        previous=previous,
        damaged_copy=damaged_copy,
        rejected=tally.rejected,
        lost=tally.lost,
        totals_complete=tally.totals_complete,
        unverified=tuple(tally.unverified),
    )


def _read_old(job_dir: Path, job_id: str) -> tuple[JobState | None, Previous]:
    """The current checkpoint if it is sound, else why not."""
    path = job_dir / CHECKPOINT_NAME
    if not path.exists():
        return None, "missing"
    try:
        old = checkpoint.load(job_dir)
    except CheckpointError:
        if _is_newer(path):
            raise  # not damage: a newer transcript-cli wrote it; it says to upgrade
        return None, "damaged"
    if old.job_id != job_id:
        return None, "damaged"
    return old, "intact"


def _is_newer(path: Path) -> bool:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    version = data.get("schema_version") if isinstance(data, dict) else None
    return (
        isinstance(version, int)
        and data.get("schema") == checkpoint.SCHEMA
        and version > checkpoint.SCHEMA_VERSION
    )


def _rebuild(
    plan: Manifest, old: JobState | None, results: ResultStore, manifest_path: Path, tally: _Tally
) -> JobState:
    state = plan.fresh_state()
    if old is not None:
        # Counters and totals are what was spent; keep them. Chunks redone later add to them.
        state.options = old.options
        state.resume_count = old.resume_count
        state.retry_count = old.retry_count
        state.active_seconds = old.active_seconds
        state.last_error = old.last_error
        state.input_tokens = old.input_tokens
        state.output_tokens = old.output_tokens
        state.cost_usd = old.cost_usd
        state.cost_unknown_chunks = old.cost_unknown_chunks
    settings_hash = plan.settings.digest()
    for index, item in enumerate(state.inputs):
        before = old.inputs[index] if old is not None else None
        stored = results.stored_indices(index)
        tally.rejected += sum(1 for i in stored if i >= item.chunk_count)
        stored = {i for i in stored if i < item.chunk_count}
        if _was_written(item, before, stored, manifest_path):
            item.written = True
            item.done = ChunkSet.from_ranges([[0, item.chunk_count]])
            if before is None:
                tally.totals_complete = False  # its results, and their tokens, are gone
            continue
        if before is not None and before.written:
            tally.lost += item.chunk_count  # the output file is gone, and its results with it
            continue
        shas = _source_shas(item, plan) if stored else []
        if shas is None:
            tally.unverified.append(item.path)
            if before is not None:
                item.done = before.done  # cannot check: leave it as it was
            continue
        for chunk_index in sorted(stored):
            result = results.get(index, chunk_index)
            if (
                result is None
                or result.settings_hash != settings_hash
                or result.source_sha256 != shas[chunk_index]
            ):
                tally.rejected += 1
                continue
            item.done.add(chunk_index)
            if before is None or chunk_index not in before.done:
                _count(state, result)
        if before is not None:
            tally.lost += sum(1 for i in before.done if i not in item.done)
    if all(i.written for i in state.inputs):
        state.status = "completed"
        state.completed_at = (old.completed_at if old else None) or utc_now()
        state.last_error = None
    else:
        state.status = "paused"
    return state


def _was_written(
    item: InputState, before: InputState | None, stored: set[int], manifest_path: Path
) -> bool:
    """Whether the output file is this job's finished output.

    With a sound checkpoint it says so. Without one: the bookkeeper deletes an input's results
    right after writing its output, so an output with no results left, written after the job was
    created, is taken as written. An older output (from before `--restart`, or another job) is
    not, and the input is redone.
    """
    output = Path(item.output)
    try:
        written_at = output.stat().st_mtime_ns
    except OSError:
        return False
    if before is not None:
        return before.written
    return not stored and written_at >= manifest_path.stat().st_mtime_ns


def _source_shas(item: InputState, plan: Manifest) -> list[str] | None:
    """Each chunk's source hash, re-chunked as the job did; None if the input is gone or changed."""
    settings = plan.settings
    try:
        source = load_source(
            Path(item.path),
            settings.chunk_chars,
            settings.context_chars,
            encoding=item.encoding or settings.encoding,
        )
    except InputError:
        return None
    if source.sha256 != item.sha256 or len(source.chunks) != item.chunk_count:
        return None
    return [text_sha256(c.text) for c in source.chunks]


def _count(state: JobState, result: ChunkResult) -> None:
    state.input_tokens += result.input_tokens
    state.output_tokens += result.output_tokens
    if result.cost_usd is None:
        state.cost_unknown_chunks += 1
    else:
        state.cost_usd += result.cost_usd
