"""The Message Batches seam: what a batch-capable provider offers, and the data crossing it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from transcript_cli.errors import ProviderError
from transcript_cli.providers.base import ChunkRequest, Completion

ResultKind = Literal["succeeded", "errored", "canceled", "expired"]


@dataclass(frozen=True)
class BatchCounts:
    """`request_counts` of a batch: how many requests are where."""

    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired


@dataclass(frozen=True)
class BatchInfo:
    """A batch as the API describes it."""

    id: str
    status: str  # in_progress | canceling | ended
    counts: BatchCounts
    created_at: float  # Unix time

    @property
    def ended(self) -> bool:
        return self.status == "ended"


@dataclass(frozen=True)
class BatchResult:
    """One request's result: a completion, or why there is none."""

    custom_id: str
    kind: ResultKind
    completion: Completion | None = None
    error: ProviderError | None = None  # for `errored`


class BatchClient(Protocol):
    """Message Batches calls; raises only our ProviderError subclasses."""

    def write_requests(self, items: Iterable[tuple[str, ChunkRequest]], path: Path) -> int:
        """Write a create body of (custom_id, request) pairs to `path`; returns its bytes."""
        ...

    def create(self, body: Path) -> BatchInfo:
        """Submit a body written by `write_requests` (streamed from disk, not held in memory)."""
        ...

    def retrieve(self, batch_id: str) -> BatchInfo: ...

    def recent(self, since: float) -> Iterator[BatchInfo]:
        """Batches created at or after `since` (Unix time), newest first."""
        ...

    def cancel(self, batch_id: str) -> BatchInfo: ...

    def results(self, batch_id: str) -> Iterator[BatchResult]:
        """The ended batch's results, streamed line by line, in no particular order."""
        ...


class SupportsBatches(Protocol):
    """A provider that can also send Message Batches."""

    def batches(self) -> BatchClient: ...
