"""Chunking, where the cuts fall: edges labelled by sentence, and cuts at the longest pause."""

from __future__ import annotations

import itertools
import random

import pytest

from tests.test_chunking import check_invariants, random_segments, sentence_text, settings
from transcript_cli.chunking import LOOKAHEAD_CHARS, context_head, pauses_before, split_chunks
from transcript_cli.sentences import Boundary
from transcript_cli.transcript import Segment


def bare_lines(count: int) -> list[str]:
    """Caption lines of about 50 characters with no punctuation at all."""
    return [f"line {n:03d} of a caption without any punctuation" for n in range(count)]


def test_edges_of_a_punctuated_text_at_sentence_ends() -> None:
    chunks = split_chunks([sentence_text(80)], 300, 50)
    assert len(chunks) > 3
    assert chunks[0].opens is Boundary.TEXT_EDGE
    assert chunks[-1].closes is Boundary.TEXT_EDGE
    for before, after in itertools.pairwise(chunks):
        assert before.closes is after.opens is Boundary.SENTENCE_END


def test_a_long_sentence_cut_between_words_is_mid_sentence() -> None:
    text = sentence_text(5) + " " + " ".join(["word"] * 200) + ". " + sentence_text(5)
    chunks = split_chunks([text], 300, 50)
    mid = [c for c in chunks if c.closes is Boundary.MID_SENTENCE]
    assert mid, [c.closes for c in chunks]
    for before, after in itertools.pairwise(chunks):
        assert before.closes is after.opens
        assert (before.closes is Boundary.SENTENCE_END) == (before.text[-1] in ".?!")


def test_unpunctuated_captions_are_labelled_unknown() -> None:
    chunks = split_chunks(bare_lines(60), 500, 50)
    assert len(chunks) > 3
    assert [c.closes for c in chunks[:-1]] == [Boundary.UNPUNCTUATED] * (len(chunks) - 1)
    assert [c.opens for c in chunks[1:]] == [Boundary.UNPUNCTUATED] * (len(chunks) - 1)


def test_a_single_chunk_has_only_text_edges() -> None:
    (chunk,) = split_chunks(["hello there", "no punctuation"], 500, 50)
    assert chunk.opens is chunk.closes is Boundary.TEXT_EDGE


def timed(lines: list[str], pauses: list[float], seconds: float = 2.0) -> list[Segment]:
    """Cues of `seconds` each, `pauses[n]` seconds of silence before cue n."""
    segments = []
    clock = 0.0
    for line, pause in zip(lines, pauses, strict=True):
        clock += pause
        segments.append(Segment(line, turn=True, start=clock, end=clock + seconds))
        clock += seconds
    return segments


def test_cut_at_the_longest_pause_in_the_second_half() -> None:
    lines = bare_lines(30)
    pauses = [0.0] * 30
    pauses[7] = 1.5  # the longest pause, in the second half of the first window
    pauses[3] = 4.0  # longer, but cutting there would leave the chunk under half full
    pauses[9] = 0.8
    chunks = split_chunks(timed(lines, pauses), 500, 50)
    assert chunks[0].text.split("\n") == lines[:7]
    check_invariants(lines, chunks, 500, 50)
    # Untimed, the same text fills the chunk up to the last line that fits.
    assert split_chunks(lines, 500, 50)[0].text.split("\n") == lines[:10]


def test_equal_pauses_cut_at_the_last_and_noise_is_ignored() -> None:
    lines = bare_lines(30)
    # A few milliseconds more is timing noise, not a pause: the chunk stays as full as it can.
    pauses = [0.0 if n % 2 else 0.02 for n in range(30)]
    chunks = split_chunks(timed(lines, pauses), 500, 50)
    assert [c.text for c in chunks] == [c.text for c in split_chunks(lines, 500, 50)]
    assert len(chunks[0].text.split("\n")) == 10  # all that fit


def test_a_sentence_end_beats_a_pause() -> None:
    lines = bare_lines(30)
    lines[6] += "."
    lines[20] += "."
    pauses = [0.0] * 30
    pauses[8] = 3.0
    chunks = split_chunks(timed(lines, pauses), 500, 50)
    assert chunks[0].text.endswith(lines[6])
    assert chunks[0].closes is Boundary.SENTENCE_END


def test_pause_cuts_are_deterministic_and_keep_every_word() -> None:
    for seed in range(40):
        segments = random_segments(seed)
        rng = random.Random(seed)
        pauses = [rng.choice([0.0, 0.0, 0.3, 0.7, 1.2, 2.5]) for _ in segments]
        chunk_chars, ctx = settings(seed)
        chunks = split_chunks(timed(segments, pauses), chunk_chars, ctx)
        check_invariants(segments, chunks, chunk_chars, ctx)
        assert split_chunks(timed(list(segments), list(pauses)), chunk_chars, ctx) == chunks


def test_pauses_before_segments() -> None:
    assert pauses_before(["plain", "text"]) is None
    assert pauses_before([Segment("untimed"), Segment("too")]) is None
    rows = [
        Segment("a", start=0.0, end=2.0),
        Segment("second row of the same cue", start=0.0, end=2.0),
        Segment("b", start=2.5, end=4.0),
        Segment("overlaps", start=3.5, end=6.0),
        Segment("no times"),
        Segment("c", start=7.25, end=8.0),
    ]
    assert pauses_before(rows) == [0.0, 0.0, 0.5, 0.0, 0.0, 1.25]


def test_a_chunk_that_may_end_mid_sentence_carries_the_head_of_the_next() -> None:
    chunks = split_chunks(bare_lines(60), 500, 50)
    for before, after in itertools.pairwise(chunks):
        assert before.following
        assert len(before.following) <= LOOKAHEAD_CHARS
        assert after.text.startswith(before.following)
        assert after.text[len(before.following)].isspace()  # whole words
    assert chunks[-1].following == ""
    # At a sentence end there is nothing to judge.
    assert {c.following for c in split_chunks([sentence_text(80)], 300, 50)} == {""}


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("alpha beta gamma", 100, "alpha beta gamma"),
        ("alpha beta gamma", 10, "alpha beta"),
        ("alpha beta gamma", 11, "alpha beta"),
        ("alpha beta gamma", 12, "alpha beta"),
        ("alpha\nbeta gamma", 8, "alpha"),
        ("alphabetagamma", 5, "alpha"),  # no space to cut at (Chinese, Japanese)
        ("", 10, ""),
    ],
)
def test_context_head(text: str, size: int, expected: str) -> None:
    assert context_head(text, size) == expected
