"""The stable, documented view of a job that `status --json` and `run --json` print."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict

from transcript_cli.state import JobState

VIEW_VERSION = 1


class ChunkView(TypedDict):
    chunk: int  # 1-based, as people count
    retries: int
    warning: str | None
    error: str | None
    last_retry_error: str | None
    coverage: float | None  # fidelity of a flagged reply: share of the part's words kept
    invention: float | None  # and share of the reply's words not in the part


class FileView(TypedDict):
    path: str
    output: str
    chunks_done: int
    chunks_total: int
    written: bool
    chunks_failed: int
    chunks: list[ChunkView]  # only chunks with retries, a warning or an error
    encoding: str | None  # what the input was decoded with; None for jobs from before
    captions: str | None  # caption style: pop-on | roll-up | paint-on | word-timed; None: none


class JobView(TypedDict):
    """One job as `status --json` prints it (schema `view_version` 1; fields only get added)."""

    view_version: int
    job_id: str
    state: str  # running | paused | waiting | interrupted | failed | completed | damaged
    provider: str | None
    model: str | None
    prompt: str | None
    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when some chunk's model has no known price
    created_at: str | None
    last_activity: str | None
    completed_at: str | None
    active_seconds: float
    resume_count: int
    retries: int
    last_error: dict[str, Any] | None
    resume_command: str | None
    max_cost_usd: float | None  # the job's --max-cost, None without a cap
    files: list[FileView]
    mode: str  # live | batch (added in view_version 1; fields are only ever added)
    batches_in_flight: list[str]  # batch ids submitted and not yet collected
    pricing: str  # list | batch: batch replies are billed at half the list price


def derive_state(state: JobState, running: bool, batches: list[str] | None = None) -> str:
    """`running` in the checkpoint without a live lock holder means the process died; a stopped
    batch job with batches on Anthropic's side is `waiting` for them."""
    if running:
        return "running"
    if state.status == "running":
        return "interrupted"
    if state.status == "paused" and batches:
        return "waiting"
    return state.status


def job_view(
    state: JobState, *, running: bool, resume_command: str, batches: list[str] | None = None
) -> JobView:
    """`batches`: the ids in flight for a batch job, None for a live one."""
    shown = derive_state(state, running, batches)
    return {
        "view_version": VIEW_VERSION,
        "job_id": state.job_id,
        "state": shown,
        "provider": state.settings.provider,
        "model": state.settings.model,
        "prompt": state.settings.prompt_name,
        "files_done": state.files_done,
        "files_total": len(state.inputs),
        "chunks_done": state.chunks_done,
        "chunks_total": state.chunks_total,
        "input_tokens": state.input_tokens,
        "output_tokens": state.output_tokens,
        "cost_usd": None if state.cost_unknown_chunks else round(state.cost_usd, 6),
        "created_at": state.created_at,
        "last_activity": state.updated_at,
        "completed_at": state.completed_at,
        "active_seconds": round(state.active_seconds, 3),
        "resume_count": state.resume_count,
        "retries": state.retry_count,
        "last_error": asdict(state.last_error) if state.last_error else None,
        "resume_command": resume_command if shown not in ("completed", "running") else None,
        "max_cost_usd": state.options.max_cost,
        "files": [
            {
                "path": item.path,
                "output": item.output,
                "chunks_done": len(item.done),
                "chunks_total": item.chunk_count,
                "written": item.written,
                "chunks_failed": len(item.failed),
                "encoding": item.encoding,
                "captions": item.captions,
                "chunks": [
                    {
                        "chunk": index + 1,
                        "retries": note.retries,
                        "warning": note.warning,
                        "error": note.error,
                        "last_retry_error": note.last_retry_error,
                        "coverage": _share(note.coverage),
                        "invention": _share(note.invention),
                    }
                    for index, note in sorted(item.notes.items())
                ],
            }
            for item in state.inputs
        ],
        "mode": "live" if batches is None else "batch",
        "batches_in_flight": list(batches or []),
        "pricing": "list" if batches is None else "batch",
    }


def damaged_view(job_id: str, message: str, job_dir: Path) -> JobView:
    """A job whose checkpoint cannot be read still shows up, with the reason."""
    return {
        "view_version": VIEW_VERSION,
        "job_id": job_id,
        "state": "damaged",
        "provider": None,
        "model": None,
        "prompt": None,
        "files_done": 0,
        "files_total": 0,
        "chunks_done": 0,
        "chunks_total": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": None,
        "created_at": None,
        "last_activity": None,
        "completed_at": None,
        "active_seconds": 0.0,
        "resume_count": 0,
        "retries": 0,
        "last_error": {"message": message, "kind": "damaged", "at": None, "file": str(job_dir)},
        "resume_command": None,
        "max_cost_usd": None,
        "files": [],
        "mode": "live",
        "batches_in_flight": [],
        "pricing": "list",
    }


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
