"""What the engine tells its caller while it works; the CLI decides how to show it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class JobStarted:
    job_id: str
    files_total: int
    chunks_total: int
    chunks_done: int
    resumed: bool
    cost_usd: float | None = None  # spent so far (before this run too); None: a price unknown


@dataclass(frozen=True)
class ChunkStarted:
    """A chunk was handed to a worker: its request is about to be sent (or paced)."""

    file: str
    chunk_index: int
    file_total: int


@dataclass(frozen=True)
class InputSkipped:
    """`--skip-invalid`: this input cannot be read and is left out of the job."""

    file: str
    problem: str


@dataclass(frozen=True)
class InputsUntimed:
    """`--timestamps` was asked for, but these inputs carry no times (plain text, say)."""

    files: tuple[str, ...]


@dataclass(frozen=True)
class ChunkFinished:
    file: str
    chunk_index: int
    file_done: int
    file_total: int
    job_done: int
    job_total: int
    input_tokens: int
    output_tokens: int
    job_cost_usd: float | None = None  # the job's total so far; None once a price is unknown


@dataclass(frozen=True)
class ChunkRetrying:
    file: str
    chunk_index: int
    attempt: int
    wait_seconds: float
    message: str
    throttled: bool = False  # the server paced us (429/529): no attempt was used up


@dataclass(frozen=True)
class FileWritten:
    source: str
    output: str


@dataclass(frozen=True)
class PauseStarted:
    """The engine stopped taking chunks and is waiting for the ones in flight."""

    in_flight: int


@dataclass(frozen=True)
class ChunkWarning:
    """A chunk's reply was kept but looks wrong (see failures.inspect_reply)."""

    file: str
    chunk_index: int
    message: str


@dataclass(frozen=True)
class ChunkFailed:
    """A chunk failed for good: its file will not be written; other files go on."""

    file: str
    chunk_index: int
    message: str


@dataclass(frozen=True)
class Stalled:
    """Nothing came back for longer than a request may take; said, never silent."""

    seconds: float
    in_flight: int
    reason: str


@dataclass(frozen=True)
class BatchSubmitted:
    """A Message Batch was created (or, after a crash, found and adopted)."""

    batch_id: str
    requests: int
    number: int
    adopted: bool = False


@dataclass(frozen=True)
class BatchProgress:
    """A batch's `request_counts` changed (or were first seen)."""

    batch_id: str
    status: str
    done: int
    total: int
    succeeded: int
    errored: int


@dataclass(frozen=True)
class BatchCollected:
    """An ended batch's results were stored; some may go in a follow-up batch."""

    batch_id: str
    succeeded: int
    resubmit: int
    split: int
    failed: int


@dataclass(frozen=True)
class CheckpointRebuilt:
    """`run` found the job's checkpoint deleted and rebuilt it, as `repair` does, from the
    manifest and the stored results, instead of paying for the job again."""

    job_id: str
    chunks_recovered: int
    chunks_total: int
    completed: bool


@dataclass(frozen=True)
class PacingChanged:
    """A throttle episode changed how fast requests go (worth showing with -v)."""

    pause_seconds: float  # every request waits this long first (0: only the throttled one)
    in_flight_limit: int  # requests allowed in flight from now on
    rate: float | None  # learned requests/s when the server sends no rate-limit headers
    achieved: float | None  # the rate the server was measured to accept, if it could be
    phase: str  # "probing" | "steady" (learned rate) or "headers" (the server's headers pace)


Event = (
    JobStarted
    | ChunkStarted
    | InputSkipped
    | InputsUntimed
    | CheckpointRebuilt
    | ChunkFinished
    | ChunkRetrying
    | ChunkWarning
    | ChunkFailed
    | FileWritten
    | PauseStarted
    | Stalled
    | BatchSubmitted
    | BatchProgress
    | BatchCollected
    | PacingChanged
)
EventSink = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """The default sink for callers that show nothing."""
