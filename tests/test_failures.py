"""Failure classes, reply checks and the suspicious-output inspector."""

from __future__ import annotations

import itertools

import pytest

from transcript_cli.errors import PermanentProviderError, TransientProviderError
from transcript_cli.failures import (
    Scope,
    UnusableReply,
    check_reply,
    inspect_reply,
    scope_of,
)
from transcript_cli.prompts import render_user_message
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.sentences import Boundary
from transcript_cli.worker import split_request


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529, None])
def test_transient(status: int | None) -> None:
    assert scope_of(TransientProviderError("x", status=status)) is Scope.TRANSIENT


@pytest.mark.parametrize("status", [401, 402, 403, 404])
def test_permanent_for_the_job(status: int) -> None:
    assert scope_of(PermanentProviderError("x", status=status)) is Scope.JOB


@pytest.mark.parametrize("status", [400, 413, 422])
def test_permanent_for_the_chunk(status: int) -> None:
    assert scope_of(PermanentProviderError("x", status=status)) is Scope.CHUNK


@pytest.mark.parametrize(
    ("text", "stop_reason", "problem"),
    [
        ("partial text", "max_tokens", "cut off at --max-tokens 100"),
        ("", "end_turn", "empty reply"),
        ("   \n", "end_turn", "empty reply"),
        ("I can't", "refusal", "refused"),
        ("x", "model_context_window_exceeded", "context window"),
    ],
)
def test_unusable_replies_are_chunk_failures(text: str, stop_reason: str, problem: str) -> None:
    with pytest.raises(UnusableReply) as caught:
        check_reply(text, stop_reason, 100)
    assert problem in caught.value.message
    assert scope_of(caught.value) is Scope.CHUNK


def test_good_reply_passes() -> None:
    check_reply("Clean text.", "end_turn", 100)


SOURCE = " ".join(f"Point number {n} is about topic {n % 5}." for n in range(20))


def test_a_verbatim_reply_that_drops_half_is_suspicious_with_both_figures() -> None:
    half = SOURCE[: len(SOURCE) // 2]
    found = inspect_reply(SOURCE, half, verbatim=True)
    assert found is not None and found.fidelity is not None
    assert found.fidelity.coverage < 0.6
    assert "kept" in found.message and "of the reply's words are not in the part" in found.message


def test_a_faithful_verbatim_reply_is_not_suspicious() -> None:
    assert inspect_reply(SOURCE, SOURCE.upper().replace(".", ","), verbatim=True) is None


def test_summaries_get_no_fidelity_check() -> None:
    assert inspect_reply(SOURCE, "- one note", verbatim=False) is None


def test_echoed_prompt_markers_are_suspicious_for_any_prompt() -> None:
    found = inspect_reply(SOURCE, "<transcript>\nword word\n</transcript>", verbatim=False)
    assert found is not None and "<transcript>" in found.message


def test_short_parts_are_not_judged_by_shares() -> None:
    assert inspect_reply("um, uh, yeah.", "Yeah.", verbatim=True) is None


def _request(source: str, context: str = "the end of before") -> ChunkRequest:
    return ChunkRequest(
        system="s",
        user=render_user_message(source, context),
        source=source,
        context=context,
        max_tokens=100,
    )


def test_split_request_halves_at_sentence_ends_and_keeps_context() -> None:
    source = " ".join(f"Sentence {n} is here." for n in range(40))
    pieces = split_request(_request(source))
    assert pieces is not None and len(pieces) >= 2
    assert " ".join(p.source for p in pieces).split() == source.split()
    assert all(len(p.source) <= len(source) // 2 + 1 for p in pieces)
    assert pieces[0].context == "the end of before"
    assert pieces[1].context and source.startswith(pieces[0].source)
    assert pieces[1].context in pieces[0].source
    assert pieces[1].user == render_user_message(pieces[1].source, pieces[1].context)
    assert all(p.system == "s" and p.max_tokens == 100 for p in pieces)


def test_small_requests_are_not_split() -> None:
    assert split_request(_request("Too short to split.")) is None


def test_split_pieces_keep_the_chunks_outer_edges_and_label_the_inner_ones() -> None:
    source = " ".join(f"clause {n} runs on without an end" for n in range(30))
    request = ChunkRequest(
        system="s",
        user="u",
        source=source,
        context="the end of before",
        max_tokens=100,
        opens=Boundary.UNPUNCTUATED,
        closes=Boundary.UNPUNCTUATED,
        following="the next chunk starts",
    )
    pieces = split_request(request)
    assert pieces is not None and len(pieces) >= 2
    assert pieces[0].opens is Boundary.UNPUNCTUATED
    assert pieces[-1].closes is Boundary.UNPUNCTUATED
    assert pieces[-1].following == "the next chunk starts"
    for before, after in itertools.pairwise(pieces):
        assert before.closes is after.opens is Boundary.UNPUNCTUATED
        assert before.following and after.source.startswith(before.following)
    for piece in pieces:
        assert piece.user == render_user_message(
            piece.source, piece.context, piece.opens, piece.closes, piece.following
        )
