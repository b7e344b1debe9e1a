"""Output files: Markdown with optional front matter and timestamps, plain text, JSON."""

from __future__ import annotations

import json

import yaml

from transcript_cli.output_format import OutputMeta, OutputSpec, Piece, paragraphs, render
from transcript_cli.timing import TimedText, anchors, part_clocks, stamp

SEGMENTS = [
    TimedText("so um welcome everyone to the third lecture", 0.0, 3.0),
    TimedText("today we talk about the ocean.", 750.0, 756.0),
    TimedText("It stores heat and that matters", 1000.0, 1004.0),
]
PARTS = [
    "so um welcome everyone to the third lecture\ntoday we talk",
    "about the ocean.\nIt stores heat and that matters",
]
REPLIES = [
    "Welcome, everyone, to the third lecture.\n\nToday we talk",
    "about the ocean.\n\nIt stores heat, and that matters.",
]
META = OutputMeta("talk.vtt", "Ocean", "claude-x", "clean", 120, 80, 0.0123, "2026-12-03T07:00:00Z")


def continue_sentences(before: str, after: str) -> str:
    return "\n\n" if before.endswith(".") else " "


def timed_pieces() -> list[Piece]:
    clocks = part_clocks(SEGMENTS, PARTS)
    assert clocks is not None
    return [Piece(r, anchors(p, r, c)) for p, r, c in zip(PARTS, REPLIES, clocks, strict=True)]


def write(spec: OutputSpec, pieces: list[Piece] | None = None) -> str:
    chosen = timed_pieces() if pieces is None else pieces
    return b"".join(render(chosen, spec, META, continue_sentences)).decode()


def test_stamp_is_hours_minutes_seconds() -> None:
    assert stamp(0.4) == "[00:00:00]"
    assert stamp(751.9) == "[00:12:31]"
    assert stamp(3 * 3600 + 5) == "[03:00:05]"


def test_a_paragraph_continued_across_a_seam_keeps_its_first_words_time() -> None:
    found = list(paragraphs(timed_pieces(), continue_sentences))
    assert [p.text for p in found] == [
        "Welcome, everyone, to the third lecture.",
        "Today we talk about the ocean.",
        "It stores heat, and that matters.",
    ]
    assert found[1].start == 750.0 and found[1].end is not None and found[1].end > 755
    assert found[2].start == 1000.0


def test_markdown_with_timestamps_and_front_matter() -> None:
    text = write(OutputSpec("md", timestamps=True, front_matter=True))
    head, body = text.split("---\n\n", 1)
    data = yaml.safe_load(head.removeprefix("---\n"))
    assert data == {
        "source": "talk.vtt",
        "title": "Ocean",
        "model": "claude-x",
        "prompt": "clean",
        "tokens": {"input": 120, "output": 80},
        "cost_usd": 0.0123,
        "date": "2026-12-03T07:00:00Z",
    }
    assert body == (
        "# Ocean\n\n[00:00:00] Welcome, everyone, to the third lecture.\n\n"
        "[00:12:30] Today we talk about the ocean.\n\n"
        "[00:16:40] It stores heat, and that matters.\n"
    )


def test_plain_markdown_is_the_joined_replies() -> None:
    assert write(OutputSpec()) == (
        "# Ocean\n\nWelcome, everyone, to the third lecture.\n\nToday we talk about the ocean."
        "\n\nIt stores heat, and that matters.\n"
    )


def test_text_format_has_a_plain_title_and_no_front_matter() -> None:
    text = write(OutputSpec("txt", front_matter=True))
    assert text.startswith("Ocean\n\nWelcome,") and "---" not in text


def test_json_lists_paragraphs_with_source_times() -> None:
    data = json.loads(write(OutputSpec("json")))
    assert data["schema_version"] == 1 and data["source"] == "talk.vtt"
    assert data["tokens"] == {"input": 120, "output": 80}
    starts = [p["start"] for p in data["paragraphs"]]
    assert starts[1:] == [750.0, 1000.0] and 0 <= starts[0] < 1
    assert all(p["end"] > p["start"] for p in data["paragraphs"])


def test_json_of_an_untimed_input_has_null_times() -> None:
    data = json.loads(write(OutputSpec("json"), [Piece(r) for r in REPLIES]))
    assert [p["start"] for p in data["paragraphs"]] == [None, None, None]
    assert data["paragraphs"][1]["text"] == "Today we talk about the ocean."


def test_an_invented_paragraph_takes_the_time_before_it() -> None:
    pieces = timed_pieces()
    pieces.append(Piece("Nobody said this sentence at all."))
    text = write(OutputSpec("md", timestamps=True), pieces)
    assert text.endswith("\n\n[00:16:44] Nobody said this sentence at all.\n")


def test_chunks_that_do_not_match_the_segments_get_no_clock() -> None:
    assert part_clocks(SEGMENTS, ["something else entirely"]) is None
