"""The unit of work every scheduler shares: a WorkItem goes out, a ChunkOutcome comes back.

The live scheduler gets its outcomes from worker threads, the batch scheduler from a results
file; the bookkeeper settles both the same way, so a chunk's reply is stored identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transcript_cli.chunk_results import ChunkResult
from transcript_cli.chunking import Chunk
from transcript_cli.fidelity import Fidelity
from transcript_cli.prompts import PromptTemplate, render_user_message
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.state import Settings


class PauseInterrupt(Exception):
    """A pause came while a chunk waited (for a slot or a retry); nothing more is sent."""


@dataclass(frozen=True)
class WorkItem:
    """One chunk to do, with the request its first attempt sends."""

    input_index: int
    chunk_index: int
    file_name: str
    request: ChunkRequest
    source_sha256: str


@dataclass(frozen=True)
class Reply:
    """A chunk's usable text and what it cost, summed over the pieces it may have been split in."""

    text: str
    input_tokens: int
    output_tokens: int
    model: str
    stop_reason: str
    pieces: int
    warning: str | None
    fidelity: Fidelity | None = None  # set when the fidelity check flagged the reply


@dataclass(frozen=True)
class Billed:
    """Tokens of replies the API billed for a chunk but that are not its text.

    A reply refused under --strict, cut off at max_tokens, empty or refused by the model, or a
    piece of a chunk that failed further on: each is paid for, so each counts in the job's cost.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    batch: bool = False  # billed through Message Batches: at batch prices

    def __bool__(self) -> bool:
        return bool(self.input_tokens or self.output_tokens)


@dataclass(frozen=True)
class ChunkOutcome:
    """What a scheduler hands the bookkeeper for a chunk: a reply, or the error that stopped it."""

    item: WorkItem
    retries: int
    reply: Reply | None = None
    error: Exception | None = None
    last_retry_error: str | None = None
    batch: bool = False  # answered through Message Batches: billed at batch prices
    discarded: tuple[Billed, ...] = ()  # billed replies not used (see Billed)
    stored: ChunkResult | None = None  # the reply's result, already stored by its worker thread


def build_request(
    template: PromptTemplate, settings: Settings, path: Path, chunk: Chunk, chunk_count: int
) -> ChunkRequest:
    """The request for one chunk: the same whichever scheduler sends it."""
    system = template.render(
        language=settings.language,
        title=settings.title or path.stem,
        file_name=path.name,
        chunk_number=chunk.index + 1,
        chunk_count=chunk_count,
    )
    return ChunkRequest(
        system=system,
        user=render_user_message(
            chunk.text, chunk.context, chunk.opens, chunk.closes, chunk.following
        ),
        source=chunk.text,
        context=chunk.context,
        max_tokens=settings.max_tokens,
        opens=chunk.opens,
        closes=chunk.closes,
        following=chunk.following,
    )
