"""The job's JSON checkpoint: its schema, validation on load and atomic save.

Chunk texts are not in it (see `chunk_results.py`), so rewriting it costs the same after chunk
20,000 as after chunk 10. The data it stores is defined in `state.py`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, NotRequired, TypedDict, TypeVar, cast

from transcript_cli import __version__
from transcript_cli.atomicio import atomic_write
from transcript_cli.chunkset import ChunkSet
from transcript_cli.errors import CheckpointError, Command, Hint
from transcript_cli.state import (
    DEFAULT_THROTTLE_WAIT,
    OUTPUT_FORMATS,
    STATUSES,
    ChunkNote,
    ErrorRecord,
    InputSpec,
    InputState,
    JobState,
    Options,
    Settings,
    utc_now,
)

SCHEMA = "transcript-cli/checkpoint"
SCHEMA_VERSION = 1
CHECKPOINT_NAME = "checkpoint.json"

T = TypeVar("T")


class InputSpecDict(TypedDict):
    """One input's identity on disk: the manifest stores it as is, the checkpoint with progress."""

    path: str
    sha256: str
    chunk_count: int
    output: str
    # Added later, so absent from older files: how the input was decoded and its caption style.
    encoding: NotRequired[str]
    captions: NotRequired[str]


def input_spec_dict(spec: InputSpec) -> InputSpecDict:
    data: InputSpecDict = {
        "path": spec.path,
        "sha256": spec.sha256,
        "chunk_count": spec.chunk_count,
        "output": spec.output,
    }
    if spec.encoding is not None:
        data["encoding"] = spec.encoding
    if spec.captions is not None:
        data["captions"] = spec.captions
    return data


class _InputDict(InputSpecDict):
    done: list[list[int]]
    written: bool
    notes: dict[str, dict[str, Any]]  # chunk index -> ChunkNote fields; absent means {}


class DocumentHeader(TypedDict):
    """What the checkpoint and the job manifest both start with."""

    schema: str
    schema_version: int
    tool_version: str
    job_id: str
    settings: dict[str, Any]
    settings_hash: str
    options: dict[str, Any]


class CheckpointDict(DocumentHeader):
    """The on-disk JSON shape (schema_version 1)."""

    inputs: list[_InputDict]
    status: str
    created_at: str
    updated_at: str
    completed_at: str | None
    resume_count: int
    retry_count: int
    totals: dict[str, Any]
    last_error: dict[str, Any] | None


def to_dict(state: JobState) -> CheckpointDict:
    """The JSON shape of a state."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tool_version": state.tool_version,
        "job_id": state.job_id,
        "settings": asdict(state.settings),
        "settings_hash": state.settings.digest(),
        "options": asdict(state.options),
        "inputs": [
            {
                **input_spec_dict(i.spec),
                "done": i.done.to_ranges(),
                "written": i.written,
                "notes": {str(k): asdict(n) for k, n in sorted(i.notes.items())},
            }
            for i in state.inputs
        ],
        "status": state.status,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "completed_at": state.completed_at,
        "resume_count": state.resume_count,
        "retry_count": state.retry_count,
        "totals": {
            "input_tokens": state.input_tokens,
            "output_tokens": state.output_tokens,
            "cost_usd": state.cost_usd,
            "cost_unknown_chunks": state.cost_unknown_chunks,
            "active_seconds": state.active_seconds,
        },
        "last_error": asdict(state.last_error) if state.last_error else None,
    }


def save(state: JobState, job_dir: Path) -> None:
    """Atomically replace the checkpoint (temp file, fsync, os.replace, fsync dir)."""
    state.updated_at = utc_now()
    data = json.dumps(to_dict(state), separators=(",", ":")).encode()
    atomic_write(job_dir / CHECKPOINT_NAME, data)


def load(job_dir: Path) -> JobState:
    """Read and validate a checkpoint; anything off is a CheckpointError, never a fresh start."""
    path = job_dir / CHECKPOINT_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(path, "checkpoint missing", damaged_hint(path)) from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot read checkpoint ({exc.strerror})") from exc
    try:
        data = json.loads(raw)
    # RecursionError: deeply nested garbage overflows the parser; it is damage like any other.
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        problem = (
            "checkpoint is empty" if not raw.strip() else f"checkpoint is not valid JSON ({exc})"
        )
        raise CheckpointError(path, problem, damaged_hint(path)) from None
    return from_dict(data, path)


def damaged_hint(path: Path) -> Hint:
    """The fix for a lost or damaged checkpoint: rebuild it from the manifest and stored results."""
    job_id = path.parent.name
    return (
        "rebuild it with `",
        Command("repair", job_id),
        "`, or `",
        Command("clear", job_id),
        "` to start over",
    )


def from_dict(data: object, path: Path) -> JobState:
    """Validate the JSON shape field by field and build the state."""
    v = FieldValidator(path, damaged_hint(path))
    top = v.document(data, "checkpoint", SCHEMA, SCHEMA_VERSION)
    settings = v.settings(top)
    options = v.options(top)
    inputs = [v.input(item) for item in v.get(top, "inputs", list)]
    status = v.get(top, "status", str)
    if status not in STATUSES:
        raise v.fail(f"unknown status {status!r}")
    t = v.obj(top.get("totals"), "totals")
    err = top.get("last_error")
    last_error = None
    if err is not None:
        e = v.obj(err, "last_error")
        last_error = ErrorRecord(
            message=v.get(e, "message", str),
            kind=v.get(e, "kind", str),
            at=v.get(e, "at", str),
            file=v.opt(e, "file", str),
            chunk=v.opt(e, "chunk", int),
        )
    return JobState(
        job_id=v.get(top, "job_id", str),
        settings=settings,
        options=options,
        inputs=inputs,
        status=status,
        created_at=v.get(top, "created_at", str),
        updated_at=v.get(top, "updated_at", str),
        completed_at=v.opt(top, "completed_at", str),
        resume_count=v.get(top, "resume_count", int),
        retry_count=v.get(top, "retry_count", int),
        input_tokens=v.get(t, "input_tokens", int),
        output_tokens=v.get(t, "output_tokens", int),
        cost_usd=float(v.get(t, "cost_usd", (int, float))),
        cost_unknown_chunks=v.get(t, "cost_unknown_chunks", int),
        active_seconds=float(v.get(t, "active_seconds", (int, float))),
        last_error=last_error,
        tool_version=v.get(top, "tool_version", str),
    )


class FieldValidator:
    """Field access that turns every shape problem into a CheckpointError naming the field.

    Shared with the job manifest, which stores the same settings and options.
    """

    def __init__(self, path: Path, hint: str | Hint) -> None:
        self.path = path
        self.hint = hint

    def fail(self, problem: str) -> CheckpointError:
        return CheckpointError(self.path, problem, self.hint)

    def document(self, data: object, what: str, schema: str, version: int) -> dict[str, Any]:
        """The top object, once its schema and version are ones this build can read."""
        top = self.obj(data, what)
        if top.get("schema") != schema:
            raise self.fail(f"not a transcript-cli {what}")
        found = self.get(top, "schema_version", int)
        if found > version:
            raise CheckpointError(
                self.path,
                f"{what} schema {found} was written by a newer transcript-cli "
                f"({top.get('tool_version', '?')})",
                f"this is {__version__} reading schema {version}; upgrade transcript-cli",
            )
        if found != version:
            raise self.fail(f"unknown {what} schema {found}")
        return top

    def obj(self, value: object, name: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"field '{name}' must be an object")
        return cast(dict[str, Any], value)

    def get(self, d: dict[str, Any], key: str, kind: type[T] | tuple[type, ...]) -> T:
        if key not in d:
            raise self.fail(f"field '{key}' is missing")
        value = d[key]
        # bool is an int subclass; a checkpoint never means True as a count.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(f"field '{key}' has the wrong type")
        return cast(T, value)

    def opt(self, d: dict[str, Any], key: str, kind: type[T]) -> T | None:
        if d.get(key) is None:
            return None
        return self.get(d, key, kind)

    def opt_number(self, d: dict[str, Any], key: str) -> float | None:
        """An optional amount (JSON may store 5.0 as 5)."""
        if d.get(key) is None:
            return None
        return float(self.get(d, key, (int, float)))

    def settings(self, top: dict[str, Any]) -> Settings:
        """`settings`, checked against `settings_hash` beside it."""
        s = self.obj(top.get("settings"), "settings")
        settings = Settings(
            provider=self.get(s, "provider", str),
            model=self.get(s, "model", str),
            prompt_name=self.get(s, "prompt_name", str),
            prompt_text=self.get(s, "prompt_text", str),
            language=self.get(s, "language", str),
            title=self.opt(s, "title", str),
            chunk_chars=self.get(s, "chunk_chars", int),
            context_chars=self.get(s, "context_chars", int),
            max_tokens=self.get(s, "max_tokens", int),
            output_format=self.opt(s, "output_format", str) or "md",
            timestamps=bool(self.opt(s, "timestamps", bool)),
            front_matter=bool(self.opt(s, "front_matter", bool)),
            encoding=self.opt(s, "encoding", str),
        )
        if settings.output_format not in OUTPUT_FORMATS:
            raise self.fail(f"unknown output format {settings.output_format!r}")
        if self.get(top, "settings_hash", str) != settings.digest():
            raise self.fail("settings do not match their hash")
        return settings

    def options(self, top: dict[str, Any]) -> Options:
        o = self.obj(top.get("options"), "options")
        key = "max_throttle_wait"
        throttle = None if o.get(key) is None else float(self.get(o, key, (int, float)))
        return Options(
            concurrency=self.get(o, "concurrency", int),
            max_retries=self.get(o, "max_retries", int),
            timeout=float(self.get(o, "timeout", (int, float))),
            rpm=self.opt(o, "rpm", int),
            tpm=self.opt(o, "tpm", int),
            strict=bool(self.opt(o, "strict", bool)),
            max_cost=self.opt_number(o, "max_cost"),
            overwrite=bool(self.opt(o, "overwrite", bool)),
            # Jobs from before throttles were bounded by time get the default.
            max_throttle_wait=DEFAULT_THROTTLE_WAIT if throttle is None else throttle,
        )

    def input_spec(self, d: dict[str, Any]) -> InputSpec:
        return InputSpec(
            path=self.get(d, "path", str),
            sha256=self.get(d, "sha256", str),
            chunk_count=self.get(d, "chunk_count", int),
            output=self.get(d, "output", str),
            encoding=self.opt(d, "encoding", str),
            captions=self.opt(d, "captions", str),
        )

    def input(self, item: object) -> InputState:
        d = self.obj(item, "inputs[]")
        count = self.get(d, "chunk_count", int)
        ranges = self.get(d, "done", list)
        previous_end = -1
        for pair in ranges:
            ok = (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
                and previous_end < pair[0] < pair[1] <= count
            )
            if not ok:
                raise self.fail(f"field 'done' of {d.get('path')!r} is not a valid range list")
            previous_end = pair[1]
        spec = self.input_spec(d)  # after `done`: a checkpoint's first fault is the one reported
        return InputState(
            path=spec.path,
            sha256=spec.sha256,
            chunk_count=spec.chunk_count,
            output=spec.output,
            done=ChunkSet.from_ranges(ranges),
            written=self.get(d, "written", bool),
            notes=self.notes(d.get("notes") or {}, count),
            encoding=spec.encoding,
            captions=spec.captions,
        )

    def notes(self, value: object, count: int) -> dict[int, ChunkNote]:
        raw = self.obj(value, "notes")
        notes = {}
        for key, entry in raw.items():
            if not key.isdigit() or int(key) >= count:
                raise self.fail(f"field 'notes' names chunk {key!r}, not one of this input's")
            e = self.obj(entry, "notes[]")
            notes[int(key)] = ChunkNote(
                retries=self.get(e, "retries", int),
                warning=self.opt(e, "warning", str),
                error=self.opt(e, "error", str),
                last_retry_error=self.opt(e, "last_retry_error", str),
                coverage=self.opt_number(e, "coverage"),
                invention=self.opt_number(e, "invention"),
            )
        return notes
