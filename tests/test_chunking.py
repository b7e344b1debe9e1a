"""Chunking: bounded size, whole words, sentence-end cuts, deterministic, read-only context."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest

from transcript_cli.chunking import Chunk, WordTooLongError, context_tail, split_chunks
from transcript_cli.errors import InputError
from transcript_cli.sources import load_source
from transcript_cli.transcript import Segment

WORDS = [
    "a",
    "we",
    "the",
    "ocean",
    "stores",
    "heat,",
    "really",
    "twenty-five",
    "don't",
    "naïve",
    "café",
    "3.5",
    "e.g.",
    "(see",
    "this)",
    '"quoted',
    'words."',
    "supercalifragilistic",
    "x" * 45,
]
ENDS = [".", "?", "!", "…", '."', ".)"]


def random_segments(seed: int) -> list[str]:
    """Segments like the readers produce: single-spaced lines, some punctuated, some bare."""
    rng = random.Random(seed)
    segments = []
    for _ in range(rng.randint(1, 60)):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 40))]
        punctuated = rng.random() < 0.6
        for n in range(len(words)):
            if punctuated and rng.random() < 0.15:
                words[n] += rng.choice(ENDS)
        segments.append(" ".join(words))
    return segments


def settings(seed: int) -> tuple[int, int]:
    rng = random.Random(-seed)
    chunk_chars = rng.choice([50, 64, 100, 200, 333, 1000, 6000])
    return chunk_chars, rng.randrange(0, chunk_chars)


def longest_word_start_tail(text: str, size: int) -> str:
    """Oracle: the longest suffix of at most `size` characters that starts a word."""
    starts = [0] + [m.end() for m in re.finditer(r"\s+", text)]
    fitting = [k for k in starts if len(text) - k <= size]
    return text[min(fitting) :] if fitting else ""


def check_invariants(segments: list[str], chunks: list[Chunk], chunk_chars: int, ctx: int) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert 0 < len(chunk.text) <= chunk_chars
        assert chunk.text == chunk.text.strip()
    # Well filled: a chunk ends early only at a sentence end or cue boundary past the middle, or
    # because the next word does not fit.
    longest = max(len(w) for w in " ".join(segments).split())
    for chunk in chunks[:-1]:
        assert len(chunk.text) >= min(chunk_chars / 2, chunk_chars - 1 - longest)
    # No word is split, lost, added or moved.
    assert " ".join(c.text for c in chunks).split() == " ".join(segments).split()
    # Context: the tail of the previous chunk, at most ctx characters, starting a word.
    assert chunks[0].context == ""
    for previous, chunk in itertools.pairwise(chunks):
        assert len(chunk.context) <= ctx
        assert previous.text.endswith(chunk.context)
        assert chunk.context == longest_word_start_tail(previous.text, ctx)


@pytest.mark.parametrize("seed", range(60))
def test_random_transcripts_keep_every_invariant(seed: int) -> None:
    segments = random_segments(seed)
    chunk_chars, ctx = settings(seed)
    chunks = split_chunks(segments, chunk_chars, ctx)
    check_invariants(segments, chunks, chunk_chars, ctx)
    # Deterministic: resume matches stored results to chunks by index.
    assert split_chunks(list(segments), chunk_chars, ctx) == chunks


def test_untidy_whitespace_inside_segments() -> None:
    segments = ["one  two\tthree.\u00a0Four\u3000five", "six\nseven. eight   ", "  nine"]
    chunks = split_chunks(segments, 12, 6)
    check_invariants(segments, chunks, 12, 6)


def sentence_text(count: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return " ".join(
        " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "epsilon"]) for _ in range(8))
        + rng.choice([".", "?", "!"])
        for _ in range(count)
    )


@pytest.mark.parametrize("chunk_chars", [200, 317, 500, 1000])
def test_cuts_fall_at_sentence_ends(chunk_chars: int) -> None:
    segments = [sentence_text(80)]
    chunks = split_chunks(segments, chunk_chars, 100)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text[-1] in ".?!"
    for chunk in chunks[:-1]:
        assert len(chunk.text) >= chunk_chars / 2


def test_sentence_end_too_early_is_not_used() -> None:
    """A cut that would leave the chunk under half full goes between words instead."""
    bare = " ".join(f"word{n}" for n in range(200))
    chunks = split_chunks([f"Short one. {bare}"], 300, 0)
    assert not chunks[0].text.endswith("one.")
    assert len(chunks[0].text) > 290
    check_invariants([f"Short one. {bare}"], chunks, 300, 0)


def test_captions_without_punctuation_cut_between_lines() -> None:
    lines = [f"line {n} of a caption without any punctuation at all" for n in range(50)]
    chunks = split_chunks(lines, 300, 50)
    for chunk in chunks:
        assert set(chunk.text.split("\n")) <= set(lines)  # whole lines, joined by line breaks
    assert "\n".join(c.text for c in chunks) == "\n".join(lines)


def test_long_sentence_is_cut_between_words() -> None:
    sentence = " ".join(["word"] * 300) + "."
    chunks = split_chunks([sentence], 200, 20)
    assert len(chunks) == 8
    assert all(len(c.text) <= 200 for c in chunks)
    assert all(c.text.split(" ").count("word") == len(c.text.split(" ")) for c in chunks[:-1])


def test_small_input_is_one_chunk_and_empty_input_none() -> None:
    assert split_chunks(["Hello there.", "Bye."], 200, 50) == [
        Chunk(index=0, text="Hello there.\nBye.", context="")
    ]
    assert split_chunks([], 200, 50) == []
    assert split_chunks(["", "   "], 200, 50) == []


def test_zero_context_chars_sends_no_context() -> None:
    chunks = split_chunks([sentence_text(40)], 200, 0)
    assert len(chunks) > 2
    assert {c.context for c in chunks} == {""}


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("alpha beta gamma", 100, "alpha beta gamma"),
        ("alpha beta gamma", 10, "beta gamma"),
        ("alpha beta gamma", 11, "beta gamma"),
        ("alpha beta gamma", 9, "gamma"),
        ("alpha beta\ngamma", 9, "gamma"),  # caption lines are joined by line breaks
        ("alpha beta\ngamma", 6, "gamma"),
        ("alpha beta gamma", 4, ""),  # no whole word fits
        ("alphabetagamma", 5, ""),
        ("alpha", 0, ""),
        ("", 10, ""),
    ],
)
def test_context_tail(text: str, size: int, expected: str) -> None:
    assert context_tail(text, size) == expected


def test_word_longer_than_a_chunk_raises() -> None:
    with pytest.raises(WordTooLongError) as caught:
        split_chunks(["ok " + "x" * 201 + " ok"], 200, 0)
    assert caught.value.length == 201
    assert isinstance(caught.value, ValueError)
    # Exactly the limit still fits.
    assert split_chunks(["x" * 200], 200, 0)[0].text == "x" * 200


def test_load_source_turns_long_word_into_input_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_text("y" * 5000, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_source(path, 1000, 100)
    assert caught.value.path == path
    assert "5000-character run without spaces" in caught.value.message
    assert "--chunk-chars 1000" in caught.value.message


def test_load_source_hashes_and_chunks(tmp_path: Path) -> None:
    path = tmp_path / "talk.txt"
    path.write_text(sentence_text(30) + "\n", encoding="utf-8")
    source = load_source(path, 300, 50)
    assert len(source.sha256) == 64
    assert source.chunks == split_chunks([sentence_text(30)], 300, 50)


# --- scripts without spaces ---------------------------------------------------------------


def test_full_width_sentence_ends_cut_chinese_at_sentences() -> None:
    sentence = "我们今天讨论海洋如何储存热量以及为什么这很重要。"
    text = sentence * 40
    chunks = split_chunks([text], 300, 0)
    assert len(chunks) > 1
    assert all(c.text.endswith("。") for c in chunks)
    assert "".join(c.text for c in chunks) == text  # nothing added, nothing lost
    assert all(" " not in c.text for c in chunks)


def test_japanese_question_and_exclamation_marks_end_sentences() -> None:
    chunks = split_chunks(["本当ですか？" * 30 + "すごい！" * 30], 200, 0)
    assert all(c.text.endswith(("？", "！")) for c in chunks)


def test_run_without_spaces_or_punctuation_is_cut_between_characters() -> None:
    text = "海洋储存热量" * 1000  # 6,000 characters, no punctuation: a transcript all the same
    chunks = split_chunks([text], 500, 20)
    assert all(len(c.text) <= 500 for c in chunks)
    assert "".join(c.text for c in chunks) == text
    assert chunks[1].context and chunks[1].context in chunks[0].text


def test_cuts_fall_at_commas_of_the_script_when_there_are_some() -> None:
    text = "我们今天讨论海洋，" * 100
    chunks = split_chunks([text], 200, 0)
    assert all(c.text.endswith("，") for c in chunks[:-1])


def test_thai_and_emoji_are_never_cut_inside_a_grapheme_cluster() -> None:
    import regex

    cluster = "กี่"  # consonant + vowel sign + tone mark: one cluster of three code points
    family = "👩\u200d👩\u200d👧"  # one cluster of five code points
    text = (cluster * 90 + family) * 10
    chunks = split_chunks([text], 200, 30)
    assert "".join(c.text for c in chunks) == text
    for chunk in chunks:
        for piece in (chunk.text, chunk.context):
            if piece:
                assert regex.match(r"\X", piece).group(0) in (cluster, family)  # type: ignore[union-attr]


def test_cjk_cues_are_joined_without_spaces_and_latin_ones_with() -> None:
    segments = [
        Segment("你好，"),
        Segment("我们走吧。", turn=False),
        Segment("Then we", turn=False),
        Segment("left.", turn=False),
        Segment("- 好的。", turn=True),
    ]
    (chunk,) = split_chunks(segments, 1000, 0)
    assert chunk.text == "你好，我们走吧。Then we left.\n- 好的。"
