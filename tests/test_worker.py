"""One chunk's trip through ChunkWorker with the scripted provider: retries, splitting, checks.

The worker never raises and never writes: every ending is a ChunkOutcome for the bookkeeper.
"""

from __future__ import annotations

import threading

import pytest

from tests.conftest import sentences
from tests.fakes import ScriptedProvider, reply
from transcript_cli.errors import PermanentProviderError, ProviderError, TransientProviderError
from transcript_cli.events import ChunkRetrying, Event
from transcript_cli.failures import SuspiciousReply, UnusableReply
from transcript_cli.pacing import Pacer, PacingPolicy
from transcript_cli.prompts import render_user_message
from transcript_cli.providers.base import ChunkRequest, Completion
from transcript_cli.retry import RetryPolicy
from transcript_cli.work import Billed, ChunkOutcome, PauseInterrupt, WorkItem
from transcript_cli.worker import MAX_SPLIT_DEPTH, ChunkWorker

# Waits capped at 2 ms (`initial_wait` stays 1: tenacity warns about any other value).
FAST = RetryPolicy(max_retries=3, max_wait=0.002, jitter=0.0)
SOURCE = sentences(12)  # about 650 characters: splittable


def item(source: str = SOURCE) -> WorkItem:
    request = ChunkRequest(
        system="Clean this.",
        user=render_user_message(source, ""),
        source=source,
        context="",
        max_tokens=1000,
    )
    return WorkItem(0, 0, "talk.txt", request, "sha")


def work(
    provider: ScriptedProvider,
    chunk: WorkItem | None = None,
    *,
    policy: RetryPolicy = FAST,
    strict: bool = False,
    pause: threading.Event | None = None,
    events: list[Event] | None = None,
) -> ChunkOutcome:
    worker = ChunkWorker(
        provider,
        Pacer(PacingPolicy(max_in_flight=1)),
        policy,
        pause=pause or threading.Event(),
        strict=strict,
        emit=(events.append if events is not None else lambda e: None),
        verbatim=True,
    )
    return worker.run(chunk or item())


def test_a_plain_reply_becomes_the_chunk_text() -> None:
    provider = ScriptedProvider()
    outcome = work(provider)
    assert outcome.error is None and outcome.reply is not None
    assert outcome.reply.text == SOURCE.upper()
    assert (outcome.reply.input_tokens, outcome.reply.output_tokens, outcome.reply.pieces) == (
        10,
        5,
        1,
    )
    assert outcome.retries == 0 and provider.sources == [SOURCE]


def test_transient_errors_are_retried_and_counted() -> None:
    def script(request: ChunkRequest, n: int) -> Exception | None:
        return TransientProviderError("API error 500: api_error", status=500) if n < 2 else None

    events: list[Event] = []
    outcome = work(ScriptedProvider(script), events=events)
    assert outcome.reply is not None and outcome.reply.text == SOURCE.upper()
    assert outcome.retries == 2
    assert outcome.last_retry_error == "API error 500: api_error"
    retries = [e for e in events if isinstance(e, ChunkRetrying)]
    assert [e.attempt for e in retries] == [1, 2]


def test_past_the_retry_budget_the_error_comes_back_and_pauses_the_other_workers() -> None:
    provider = ScriptedProvider(lambda r, n: TransientProviderError("timed out"))
    pause = threading.Event()
    outcome = work(
        provider, policy=RetryPolicy(max_retries=1, max_wait=0.002, jitter=0.0), pause=pause
    )
    assert isinstance(outcome.error, TransientProviderError)
    assert outcome.retries == 1 and len(provider.calls) == 2
    assert pause.is_set()  # a job-ending error stops the others at once


def test_a_permanent_error_is_not_retried() -> None:
    provider = ScriptedProvider(lambda r, n: PermanentProviderError("bad key", status=401))
    pause = threading.Event()
    outcome = work(provider, pause=pause)
    assert isinstance(outcome.error, PermanentProviderError)
    assert len(provider.calls) == 1 and outcome.retries == 0
    assert pause.is_set()


def test_a_chunk_the_api_refuses_whole_is_split_and_joined_in_order() -> None:
    def script(request: ChunkRequest, n: int) -> Exception | None:
        if request.source == SOURCE:
            return PermanentProviderError("API error 413: too large", status=413)
        return None

    provider = ScriptedProvider(script)
    pause = threading.Event()
    outcome = work(provider, pause=pause)
    assert outcome.reply is not None, outcome.error
    assert outcome.reply.pieces == 2
    first, second = provider.sources[1:]
    assert first + second != SOURCE and SOURCE.startswith(first.split(" ")[0])
    assert outcome.reply.text == first.upper().strip() + "\n\n" + second.upper().strip()
    assert outcome.reply.input_tokens == 20  # both pieces were paid for
    assert not pause.is_set()  # a chunk-level failure does not stop the job


def test_splitting_stops_at_its_depth_and_the_chunk_fails_alone() -> None:
    provider = ScriptedProvider(lambda r, n: PermanentProviderError("bad request", status=400))
    pause = threading.Event()
    outcome = work(provider, item(sentences(60)), pause=pause)
    assert isinstance(outcome.error, ProviderError) and outcome.error.status == 400
    # The whole chunk, then halves, quarters and eighths until the first piece at full depth.
    assert len(provider.calls) == MAX_SPLIT_DEPTH + 1
    assert not pause.is_set()


def test_an_empty_reply_is_asked_once_more_as_it_is() -> None:
    provider = ScriptedProvider(lambda r, n: reply("   ") if n == 0 else None)
    outcome = work(provider)
    assert outcome.reply is not None and outcome.reply.pieces == 1
    assert provider.sources == [SOURCE, SOURCE]
    assert outcome.retries == 1


@pytest.mark.parametrize("stop_reason", ["max_tokens", "refusal"])
def test_a_cut_off_or_refused_reply_is_unusable_and_splits(stop_reason: str) -> None:
    provider = ScriptedProvider(
        lambda r, n: reply("half", stop_reason=stop_reason) if r.source == SOURCE else None
    )
    outcome = work(provider)
    assert outcome.reply is not None and outcome.reply.pieces == 2


def test_a_short_chunk_that_cannot_be_split_fails_with_its_reason() -> None:
    provider = ScriptedProvider(lambda r, n: reply("x", stop_reason="max_tokens"))
    outcome = work(provider, item("Too short to split."))
    assert isinstance(outcome.error, UnusableReply)
    assert "max-tokens" in outcome.error.message


def test_suspicious_output_is_kept_with_a_warning_or_failed_under_strict() -> None:
    shouting = ScriptedProvider(lambda r, n: reply("Nothing."))
    kept = work(shouting)
    assert kept.reply is not None and kept.reply.warning is not None
    assert "fidelity: kept 0% of the part's words" in kept.reply.warning
    assert kept.reply.fidelity is not None and kept.reply.fidelity.coverage == 0
    refused = work(ScriptedProvider(lambda r, n: reply("Nothing.")), strict=True)
    assert isinstance(refused.error, SuspiciousReply)
    assert refused.error.reply == "Nothing." and refused.error.fidelity is not None


def test_every_reply_billed_but_not_used_is_handed_back_as_discarded() -> None:
    # Empty once, then fine: the empty reply was billed beside the one kept.
    asked_again = work(
        ScriptedProvider(lambda r, n: reply("", output_tokens=1) if n == 0 else None)
    )
    assert asked_again.reply is not None and asked_again.discarded == (Billed(10, 1),)
    # Cut off whole, then split in two pieces that are kept: the cut-off reply is extra.
    split = work(
        ScriptedProvider(
            lambda r, n: (
                reply("half", output_tokens=7, stop_reason="max_tokens")
                if r.source == SOURCE
                else None
            )
        )
    )
    assert split.reply is not None and split.reply.input_tokens == 20
    assert split.discarded == (Billed(10, 7),)
    # Refused under --strict: everything billed for the chunk is discarded.
    refused = work(ScriptedProvider(lambda r, n: reply("Nothing.", output_tokens=3)), strict=True)
    assert isinstance(refused.error, SuspiciousReply) and refused.discarded == (Billed(10, 3),)

    # A piece that fails after its sibling was answered: the answered one is paid for.
    def second_piece_fails(r: ChunkRequest, n: int) -> Completion | Exception | None:
        if r.source == SOURCE:
            return reply("half", stop_reason="max_tokens")
        return PermanentProviderError("bad key", status=401) if n == 2 else None

    failed = work(ScriptedProvider(second_piece_fails), pause=threading.Event())
    assert failed.error is not None and failed.discarded == (Billed(20, 10),)
    # Nothing billed, nothing discarded.
    assert work(ScriptedProvider()).discarded == ()


def test_a_pause_during_a_retry_wait_sends_nothing_more() -> None:
    pause = threading.Event()

    def script(request: ChunkRequest, n: int) -> Exception:
        pause.set()  # as Ctrl-C would, while this chunk's first attempt is out
        return TransientProviderError("overloaded", status=529)

    provider = ScriptedProvider(script)
    outcome = work(provider, policy=RetryPolicy(max_retries=5, max_wait=30.0), pause=pause)
    assert isinstance(outcome.error, PauseInterrupt)
    assert len(provider.calls) == 1
