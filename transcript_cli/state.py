"""A job's plain data in memory: what shapes its output (Settings), how it runs (Options),
and how far it got (JobState, one InputState per file).

`checkpoint.py` stores it; the engine updates it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Literal

from transcript_cli import __version__
from transcript_cli.chunkset import ChunkSet

OUTPUT_FORMATS = ("md", "txt", "json")
Status = Literal["running", "paused", "failed", "completed"]
STATUSES: tuple[Status, ...] = ("running", "paused", "failed", "completed")


def utc_now() -> str:
    """Timestamps are ISO 8601 UTC with seconds, sortable as text."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Settings:
    """Everything that shapes the output; a change means a different job."""

    provider: str
    model: str
    prompt_name: str
    prompt_text: str
    language: str
    title: str | None
    chunk_chars: int
    context_chars: int
    max_tokens: int
    # Fields added later have defaults and are left out of the hash at their default, so a job
    # made before they existed keeps its hash (and its id).
    output_format: str = "md"  # md | txt | json
    timestamps: bool = False  # paragraphs start with the source time of their first word
    front_matter: bool = False  # YAML front matter atop a Markdown output
    encoding: str | None = None  # --encoding: decode every input with it instead of detecting

    def digest(self) -> str:
        """Stable hash of the settings, stored beside them and checked on load."""
        values = asdict(self)
        for spec in fields(self):
            if spec.default is not MISSING and values[spec.name] == spec.default:
                del values[spec.name]
        canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# How long one chunk may stay throttled (429/529) before the job stops, resumable.
DEFAULT_THROTTLE_WAIT = 900.0


@dataclass(frozen=True)
class Options:
    """Run-time knobs that do not change the output; resume may override them."""

    concurrency: int
    max_retries: int
    timeout: float
    rpm: int | None = None  # user's caps for a shared key
    tpm: int | None = None
    strict: bool = False  # suspicious output fails its chunk instead of a warning
    max_cost: float | None = None  # --max-cost: dollars the job may spend in all, None = no cap
    overwrite: bool = False  # --overwrite: outputs this job did not write may be replaced
    max_throttle_wait: float = DEFAULT_THROTTLE_WAIT  # seconds a chunk may stay throttled


@dataclass(frozen=True)
class ErrorRecord:
    """The last thing that went wrong, kept for `status`."""

    message: str
    kind: str  # "permanent" | "transient" | "storage" | "input"
    at: str
    file: str | None = None
    chunk: int | None = None


@dataclass(frozen=True)
class ChunkNote:
    """What is worth remembering about one chunk; kept only for chunks that have something."""

    retries: int = 0
    warning: str | None = None  # suspicious output, kept
    error: str | None = None  # failed permanently; `resume --retry-failed` clears it
    last_retry_error: str | None = None  # what the latest retry was for
    # Fidelity figures of a flagged reply (verbatim prompts): share of the part's words kept,
    # share of the reply's words not in the part.
    coverage: float | None = None
    invention: float | None = None


@dataclass(frozen=True)
class InputSpec:
    """One input as the job was planned: which file, which content, how many chunks, where to."""

    path: str
    sha256: str
    chunk_count: int
    output: str
    # How the file was read: resume decodes it the same way even if detection would change.
    encoding: str | None = None  # None: a job from before encodings were recorded
    captions: str | None = None  # caption style (captions.py); None for text and JSON


@dataclass
class InputState:
    """One input file's progress. Mutable: the engine updates it as chunks land."""

    path: str
    sha256: str
    chunk_count: int
    output: str
    done: ChunkSet = field(default_factory=ChunkSet)
    written: bool = False
    # Sparse: a 20,000-chunk job with no trouble stores nothing here.
    notes: dict[int, ChunkNote] = field(default_factory=dict)
    encoding: str | None = None  # see InputSpec
    captions: str | None = None

    @classmethod
    def planned(cls, spec: InputSpec) -> InputState:
        """The input with nothing done yet."""
        return cls(
            spec.path,
            spec.sha256,
            spec.chunk_count,
            spec.output,
            encoding=spec.encoding,
            captions=spec.captions,
        )

    @property
    def spec(self) -> InputSpec:
        return InputSpec(
            self.path, self.sha256, self.chunk_count, self.output, self.encoding, self.captions
        )

    @property
    def failed(self) -> list[int]:
        """Chunks that failed permanently, in order."""
        return sorted(i for i, note in self.notes.items() if note.error is not None)


@dataclass
class JobState:
    """The whole checkpoint in memory. Mutable, owned by one process under the job lock."""

    job_id: str
    settings: Settings
    options: Options
    inputs: list[InputState]
    status: Status = "running"
    created_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    completed_at: str | None = None
    resume_count: int = 0
    retry_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown_chunks: int = 0  # chunks billed by a model with no known price
    active_seconds: float = 0.0
    last_error: ErrorRecord | None = None
    tool_version: str = __version__

    @property
    def chunks_total(self) -> int:
        return sum(i.chunk_count for i in self.inputs)

    @property
    def chunks_done(self) -> int:
        return sum(len(i.done) for i in self.inputs)

    @property
    def files_done(self) -> int:
        return sum(1 for i in self.inputs if i.written)
