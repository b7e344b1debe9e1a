"""The seam every model backend implements, and the plain data that crosses it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from transcript_cli.sentences import Boundary

# Here rather than in the anthropic module so that choosing defaults never loads the SDK (about
# a second of start-up that `status`, `clear` and offline runs should not pay).
DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class ChunkRequest:
    """One chunk to clean: the rendered prompt for an LLM, the raw parts for rule-based cleaners."""

    system: str
    user: str
    source: str  # the chunk's own transcript text, unrendered
    context: str  # tail of the previous chunk's source, read-only
    max_tokens: int
    # How the part's edges fall in sentences, for cleaners that read `source` rather than `user`.
    opens: Boundary = Boundary.TEXT_EDGE
    closes: Boundary = Boundary.TEXT_EDGE
    following: str = ""  # head of the next part, read-only, when this one may end mid-sentence


@dataclass(frozen=True)
class Completion:
    """What a provider returns for one chunk."""

    text: str
    input_tokens: int
    output_tokens: int
    model: str
    stop_reason: str = "end_turn"
    # Response headers a pacer may read (anthropic-ratelimit-*), lower-cased names.
    headers: Mapping[str, str] = field(default_factory=dict)


class Provider(Protocol):
    """A backend that turns one ChunkRequest into one Completion.

    Implementations raise PermanentProviderError or TransientProviderError (never SDK errors),
    and must be safe to call from several threads at once.
    """

    name: str
    model: str

    def complete(
        self, request: ChunkRequest, on_send: Callable[[], None] | None = None
    ) -> Completion:
        """Send one request; `on_send` is called as its bytes leave (the pacer spaces from it)."""
        ...

    def close(self) -> None:
        """Release connections; called once the job stops using the provider."""
