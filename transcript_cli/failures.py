"""What a failure means for the job: the one place that sorts every failure into its class.

- transient: connection errors, timeouts, 408, 409, 429, 500, 502, 503, 504, 529, a reply cut
  off mid-body or unreadable. Retried by the retry policy; past its budget the job stops,
  resumable (exit 75). Among them, a *throttle* (429 that is not a spend limit, or 529) is the
  server pacing us: it slows every worker down and is bounded by time, not by attempts.
- permanent for the job: 401 bad key, 402/403 account or permission, 404 unknown model, spend
  limits. Nothing else can succeed: the job stops at once, state kept (exit 1).
- permanent for the chunk: 400/413/422 for that request, an empty reply, a reply cut off at
  `max_tokens`, a refusal. The chunk is split in smaller pieces and tried again (an empty reply
  is first asked once more as it is); if that fails too, the chunk fails its file and the other
  files go on.
- suspicious output: a reply that echoes the prompt's own markers, or, for a verbatim prompt,
  one that drops or adds too much of its part (fidelity.py). Kept with a warning (or failed
  under `--strict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from transcript_cli.errors import PermanentProviderError, ProviderError, TransientProviderError
from transcript_cli.fidelity import Fidelity, measure

CHUNK_STATUSES = frozenset({400, 413, 422})
# Answers that mean "too fast" (spend-limit 429s are permanent, so never transient).
THROTTLE_STATUSES = frozenset({429, 529})
# Markers our prompts wrap the transcript in; a reply that contains them echoed the prompt.
PROMPT_MARKERS = (
    "<context>",
    "</context>",
    "<transcript>",
    "</transcript>",
    "<next>",
    "</next>",
    "<note>",
    "</note>",
)


class Scope(Enum):
    """How far a failure reaches."""

    TRANSIENT = "transient"
    JOB = "job"
    CHUNK = "chunk"


class UnusableReply(PermanentProviderError):
    """A 200 reply that cannot be used as the chunk's text (empty, cut off, refused)."""


class EmptyReply(UnusableReply):
    """Usually a fluke: asked once more as it is before the chunk is split."""


def scope_of(error: ProviderError) -> Scope:
    """The class of a provider failure (see the module docstring)."""
    if isinstance(error, TransientProviderError):
        return Scope.TRANSIENT
    if isinstance(error, UnusableReply) or error.status in CHUNK_STATUSES:
        return Scope.CHUNK
    return Scope.JOB


def is_throttle(error: ProviderError) -> bool:
    """The server is pacing us: every worker backs off, and no attempt is used up."""
    return isinstance(error, TransientProviderError) and error.status in THROTTLE_STATUSES


def check_reply(text: str, stop_reason: str, max_tokens: int) -> None:
    """Refuse replies that would silently damage the output."""
    if stop_reason == "max_tokens":
        raise UnusableReply(f"reply cut off at --max-tokens {max_tokens}")
    if stop_reason == "refusal":
        raise UnusableReply("the model refused to process this chunk")
    if stop_reason == "model_context_window_exceeded":
        raise UnusableReply("the chunk exceeded the model's context window")
    if not text.strip():
        raise EmptyReply("the model returned an empty reply")


class SuspiciousReply(UnusableReply):
    """Under --strict, a reply that looks wrong fails its chunk instead of being kept.

    It carries the refused text, so `review` can show it, and the fidelity figures if any.
    """

    def __init__(self, message: str, *, reply: str, fidelity: Fidelity | None = None) -> None:
        super().__init__(message)
        self.reply = reply
        self.fidelity = fidelity


@dataclass(frozen=True)
class Suspicion:
    """Why a reply looks wrong, though the API said it was fine."""

    message: str
    fidelity: Fidelity | None = None  # the figures, when the fidelity check flagged it


def inspect_reply(source: str, text: str, *, verbatim: bool) -> Suspicion | None:
    """A warning for replies that echo the prompt or, for a verbatim prompt, stray from the part.

    Prompts that summarise (not verbatim) get no fidelity check: their replies are meant to be
    shorter and reworded.
    """
    for marker in PROMPT_MARKERS:
        if marker in text:
            return Suspicion(f"reply echoes the prompt marker {marker}")
    if verbatim:
        found = measure(source, text)
        return Suspicion(found.message(), found) if found.flagged else None
    return None
