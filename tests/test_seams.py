"""Joining replies: a paragraph break only after a sentence end, one space (or none) otherwise."""

from __future__ import annotations

import pytest

from transcript_cli.seams import join_all, join_replies, separator
from transcript_cli.sentences import Boundary, ends_sentence, is_no_space_char


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("and most of it", "sits in the top seven hundred meters.", " "),
        ("That is all.", "Next, the deep ocean.", "\n\n"),
        ('He said "stop."', "So we stopped.", "\n\n"),
        ("Did it work?)", "It did.", "\n\n"),
        ("Wait…", "okay.", "\n\n"),
        ("the plan is:", "ship it.", " "),
        ("we went on,", "and on.", " "),
        ("three hundred —", "no, four hundred.", " "),
        # Chinese and Japanese: no space inside a sentence, a break after a full stop
        ("我们今天讨论海洋", "如何储存热量。", ""),
        ("海洋が熱を", "蓄える仕組み", ""),
        ("我们今天讨论海洋。", "下一个问题", "\n\n"),
        ("「本当に？」", "はい", "\n\n"),
        # Mixed scripts and Korean, which is written with spaces, get a space.
        ("the word for ocean is 海", "and it is read hǎi", " "),
        ("바다는 열을", "저장합니다.", " "),
        # A new speaker's turn starts a paragraph even after an unfinished sentence.
        ("so what I wanted to say was", "Alice: Sorry, go on.", "\n\n"),
        ("so what I wanted to say was", "SPEAKER 2: Go on.", "\n\n"),
        ("so what I wanted to say was", "**Bob:** Go on.", "\n\n"),
        ("so what I wanted to say was", ">> go on", "\n\n"),
        ("so what I wanted to say was", "- Go on.", "\n\n"),
        # ... but a dash that goes on with the sentence is not, nor a colon later on.
        ("three hundred", "— no, four hundred.", " "),
        ("and the plan for", "the week is: ship it.", " "),
        # Whitespace around replies does not matter.
        ("and most of it  \n", "\n  sits there.", " "),
    ],
)
def test_separator(before: str, after: str, expected: str) -> None:
    assert separator(before, after) == expected


def test_join_replies_streams_pieces_and_skips_empty_replies() -> None:
    replies = ["  First part, which ends", "mid-sentence and then stops.", "", "New paragraph."]
    assert list(join_replies(replies)) == [
        "First part, which ends",
        " ",
        "mid-sentence and then stops.",
        "\n\n",
        "New paragraph.",
    ]
    assert join_all(replies) == (
        "First part, which ends mid-sentence and then stops.\n\nNew paragraph."
    )
    assert join_all([]) == ""
    assert join_all(["only one.  "]) == "only one."


def test_paragraphs_inside_a_reply_are_kept() -> None:
    replies = ["One.\n\nTwo and", "three.\n\nFour."]
    assert join_all(replies) == "One.\n\nTwo and three.\n\nFour."


def test_join_is_a_pure_function_of_the_texts() -> None:
    """Resume joins stored replies the same way an uninterrupted run does."""
    replies = [f"part {n} ends{'.' if n % 3 == 0 else ''}" for n in range(30)]
    assert join_all(replies) == join_all(list(replies)) == "".join(join_replies(iter(replies)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It ends.", True),
        ("It ends?", True),
        ("It ends!", True),
        ("It trails off…", True),
        ('"Quoted."', True),
        ("(In brackets.)", True),
        ("“Curly.”", True),
        ("終わり。", True),
        ("「終わり。」", True),
        ("本当？", True),
        ("هل انتهى؟", True),
        ("यह खत्म हुआ।", True),
        ("It ends.  \n", True),
        ("It does not", False),
        ("a list:", False),
        ("a clause,", False),
        ("読点、", False),
        ("", False),
    ],
)
def test_ends_sentence(text: str, expected: bool) -> None:
    assert ends_sentence(text) is expected


def test_no_space_scripts() -> None:
    assert all(is_no_space_char(c) for c in "海洋がカタカナ。、「」０")
    assert not any(is_no_space_char(c) for c in "aé바 .,1")
    assert not is_no_space_char("")


def test_boundary_says_whether_a_sentence_may_run_across() -> None:
    assert Boundary.MID_SENTENCE.maybe_mid_sentence
    assert Boundary.UNPUNCTUATED.maybe_mid_sentence
    assert not Boundary.SENTENCE_END.maybe_mid_sentence
    assert not Boundary.TEXT_EDGE.maybe_mid_sentence
