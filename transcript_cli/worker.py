"""One chunk's trip through the API, on a worker thread: pacing, retries, splitting, checks.

A worker never touches the checkpoint: it hands a `ChunkOutcome` back to the live scheduler,
which has the bookkeeper store the chunk's result file on the same thread (result_writer.py) and
do every other write in order on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from transcript_cli.chunking import split_chunks
from transcript_cli.errors import ProviderError, TransientProviderError
from transcript_cli.events import ChunkRetrying, Event
from transcript_cli.failures import (
    EmptyReply,
    Scope,
    SuspiciousReply,
    check_reply,
    inspect_reply,
    is_throttle,
    scope_of,
)
from transcript_cli.pacing import Pacer
from transcript_cli.prompts import render_user_message
from transcript_cli.providers.base import ChunkRequest, Completion, Provider
from transcript_cli.retry import RetryNotice, RetryPolicy, call_with_retries
from transcript_cli.seams import join_all
from transcript_cli.work import Billed, ChunkOutcome, PauseInterrupt, Reply, WorkItem

# A chunk the API cannot take whole is halved at most this many times (8 pieces at most).
MAX_SPLIT_DEPTH = 3
# Pieces smaller than this are not split further: the problem is not the size.
_MIN_SPLIT_CHARS = 200


def tokens_estimate(request: ChunkRequest) -> int:
    """Input plus a like-sized output, about four characters a token, for rate caps."""
    return (len(request.system) + 2 * len(request.user)) // 4 + 1


def split_request(request: ChunkRequest) -> list[ChunkRequest] | None:
    """The same request as two (or a few) smaller ones, or None if it is too small to split."""
    if len(request.source) < _MIN_SPLIT_CHARS:
        return None
    context_chars = max(len(request.context), 100)
    half = len(request.source) // 2 + 1
    pieces = split_chunks(request.source.splitlines(), half, min(context_chars, half - 1))
    if len(pieces) < 2:
        return None
    made = []
    for n, piece in enumerate(pieces):
        context = request.context if n == 0 else piece.context
        # The outer edges are the chunk's own; the inner ones the splitter just made.
        opens = request.opens if n == 0 else piece.opens
        last = n == len(pieces) - 1
        closes = request.closes if last else piece.closes
        following = request.following if last else piece.following
        made.append(
            ChunkRequest(
                system=request.system,
                user=render_user_message(piece.text, context, opens, closes, following),
                source=piece.text,
                context=context,
                max_tokens=request.max_tokens,
                opens=opens,
                closes=closes,
                following=following,
            )
        )
    return made


@dataclass
class _Retries:
    """Retries of one chunk, over all its pieces, what the latest was for, and what was billed."""

    count: int = 0
    last: str | None = None
    billed_input: int = 0  # every reply the API answered 200 for, used or not
    billed_output: int = 0

    def add(self, reason: str) -> None:
        self.count += 1
        self.last = reason

    def billed(self, completion: Completion) -> None:
        self.billed_input += completion.input_tokens
        self.billed_output += completion.output_tokens

    def discarded(self, reply: Reply | None = None) -> tuple[Billed, ...]:
        """What was billed beyond the reply kept (everything, when there is none)."""
        used_in, used_out = (reply.input_tokens, reply.output_tokens) if reply else (0, 0)
        extra = Billed(self.billed_input - used_in, self.billed_output - used_out)
        return (extra,) if extra else ()


class ChunkWorker:
    """Does one chunk; shared by every worker thread of a job (it keeps no per-chunk state)."""

    def __init__(
        self,
        provider: Provider,
        pacer: Pacer,
        policy: RetryPolicy,
        *,
        pause: threading.Event,
        strict: bool,
        emit: Callable[[Event], None],
        verbatim: bool = False,
    ) -> None:
        self.provider = provider
        self.pacer = pacer
        self.policy = policy
        self.pause = pause
        self.strict = strict
        self.emit = emit
        self.verbatim = verbatim

    def sleep(self, seconds: float) -> None:
        """A retry wait that a pause cuts short."""
        if self.pause.wait(seconds):
            raise PauseInterrupt

    def run(self, item: WorkItem, known: ProviderError | None = None) -> ChunkOutcome:
        """Never raises: the main thread decides what an error means for the job.

        `known`: how the whole chunk already failed (a batch result), so it is not sent again
        as it is but split at once (an empty reply is first asked once more, as live).
        """
        retries = _Retries()
        try:
            completions = self._solve(item, item.request, 0, retries, known)
            reply = self._combine(item, completions)
        except Exception as exc:
            if isinstance(exc, ProviderError) and scope_of(exc) is not Scope.CHUNK:
                # This ends the job: stop the other workers now, before the main thread even
                # sees this outcome (it may be busy landing others).
                self.pause.set()
            return ChunkOutcome(
                item,
                retries.count,
                error=exc,
                last_retry_error=retries.last,
                discarded=retries.discarded(),
            )
        return ChunkOutcome(
            item,
            retries.count,
            reply=reply,
            last_retry_error=retries.last,
            discarded=retries.discarded(reply),
        )

    def _solve(
        self,
        item: WorkItem,
        request: ChunkRequest,
        depth: int,
        retries: _Retries,
        known: ProviderError | None = None,
    ) -> list[Completion]:
        """Completions covering `request`; a chunk-level failure splits it and tries again."""
        try:
            if known is None:
                try:
                    return [self._with_retries(item, request, retries)]
                except EmptyReply as exc:
                    known = exc
            if isinstance(known, EmptyReply):
                retries.add(known.message)
                return [self._with_retries(item, request, retries)]
            raise known
        except ProviderError as exc:
            if scope_of(exc) is not Scope.CHUNK or depth >= MAX_SPLIT_DEPTH:
                raise
            pieces = split_request(request)
            if pieces is None:
                raise
        done: list[Completion] = []
        for piece in pieces:
            done.extend(self._solve(item, piece, depth + 1, retries))
        return done

    def _with_retries(self, item: WorkItem, request: ChunkRequest, retries: _Retries) -> Completion:
        def on_retry(notice: RetryNotice) -> None:
            retries.add(notice.error.message)
            self.emit(
                ChunkRetrying(
                    file=item.file_name,
                    chunk_index=item.chunk_index,
                    attempt=notice.attempt,
                    wait_seconds=notice.wait_seconds,
                    message=notice.error.message,
                    throttled=notice.throttled,
                )
            )

        return call_with_retries(
            lambda: self._once(request, retries), self.policy, sleep=self.sleep, on_retry=on_retry
        )

    def _once(self, request: ChunkRequest, retries: _Retries) -> Completion:
        """One paced request; every request of the job passes the shared pacer."""
        ticket = self.pacer.acquire(tokens_estimate(request), self.pause)
        if ticket is None:
            raise PauseInterrupt
        try:
            completion = self.provider.complete(request, on_send=self.pacer.on_wire)
        except TransientProviderError as exc:
            self.pacer.release(
                ticket,
                throttled=is_throttle(exc),
                retry_after=exc.retry_after,
                headers=exc.headers,
            )
            raise
        except BaseException:
            self.pacer.release(ticket)
            raise
        self.pacer.release(
            ticket,
            headers=completion.headers,
            tokens_used=completion.input_tokens + completion.output_tokens,
        )
        retries.billed(completion)  # paid for even if check_reply refuses it
        check_reply(completion.text, completion.stop_reason, request.max_tokens)
        return completion

    def _combine(self, item: WorkItem, completions: list[Completion]) -> Reply:
        return reply_from(
            completions, source=item.request.source, strict=self.strict, verbatim=self.verbatim
        )


def reply_from(
    completions: list[Completion], *, source: str, strict: bool, verbatim: bool
) -> Reply:
    """A chunk's reply from the completions of its pieces; the one rule for both schedulers."""
    text = join_all(c.text for c in completions)
    suspicion = inspect_reply(source, text, verbatim=verbatim)
    if suspicion is not None and strict:
        raise SuspiciousReply(
            suspicion.message + " (--strict)", reply=text, fidelity=suspicion.fidelity
        )
    return Reply(
        text=text,
        input_tokens=sum(c.input_tokens for c in completions),
        output_tokens=sum(c.output_tokens for c in completions),
        model=completions[-1].model,
        stop_reason=completions[-1].stop_reason,
        pieces=len(completions),
        warning=suspicion.message if suspicion else None,
        fidelity=suspicion.fidelity if suspicion else None,
    )
