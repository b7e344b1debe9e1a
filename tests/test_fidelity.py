"""Alignment and the fidelity figures: faithful cleaning passes, drops and inventions do not."""

from __future__ import annotations

import pytest

from transcript_cli.fidelity import Thresholds, align, measure, tokenize

PART = (
    "so um welcome everyone to the the third lecture in our series on climate and oceans "
    "today we are going to talk about uh how the ocean stores heat and why that matters so "
    "much for the weather you see every single day now the ocean covers about seventy "
    "percent of the planet and it has absorbed roughly ninety percent of the extra heat"
)
CLEANED = (
    "Welcome, everyone, to the third lecture in our series on climate and oceans.\n\n"
    "Today we are going to talk about how the ocean stores heat, and why that matters so "
    "much for the weather you see every single day. Now, the ocean covers about seventy "
    "percent of the planet, and it has absorbed roughly ninety percent of the extra heat."
)


def test_tokens_ignore_case_punctuation_fillers_and_annotations() -> None:
    words = [t.norm for t in tokenize("Um, THE [Music] ocean's… uh, heat!")]
    assert words == ["the", "oceans", "heat"]


def test_unspaced_scripts_are_aligned_by_character() -> None:
    tokens = tokenize("今日は海の話をします。")
    assert [t.norm for t in tokens] == list("今日は海の話をします")
    assert all(t.weight == 0.5 for t in tokens)


def test_token_spans_point_into_the_original_text() -> None:
    text = "Hello, wide world"
    assert [text[t.start : t.end] for t in tokenize(text)] == ["Hello", "wide", "world"]


def test_faithful_cleaning_is_not_flagged() -> None:
    result = measure(PART, CLEANED)
    assert result.coverage > 0.97
    assert result.invention == 0
    assert not result.flagged


def test_dropping_a_fifth_of_the_part_is_flagged_and_named() -> None:
    dropped = CLEANED.replace(
        "Today we are going to talk about how the ocean stores heat, and why that matters so "
        "much for the weather you see every single day. ",
        "",
    )
    result = measure(PART, dropped)
    assert result.coverage < 0.75
    assert result.flagged
    message = result.message()
    assert f"kept {result.coverage * 100:.0f}% of the part's words (min 85%)" in message
    assert "0% of the reply's words are not in the part (max 10%)" in message


def test_an_invented_sentence_is_flagged_even_when_the_share_is_small() -> None:
    long_part = " ".join([PART] * 6)
    invented = "The professor later admitted that none of these figures had been checked. "
    reply = CLEANED * 3 + " " + invented + CLEANED * 3
    result = measure(long_part, reply)
    assert result.invention < 0.10
    assert result.invented_run == 12
    assert result.flagged
    assert "12 new words in a row" in result.message()


def test_order_matters() -> None:
    first, second = CLEANED.split("\n\n")
    result = measure(PART, second + "\n\n" + first)
    assert result.coverage < 0.85 and result.flagged


def test_stutters_and_repeated_phrases_may_go() -> None:
    part = (
        "I I think th-the point is is that we-we need you know to ship it I mean ship it "
        "this week and and kind of tell the customers about it before the end of the month"
    )
    reply = (
        "I think the point is that we need to ship it this week and tell the customers about "
        "it before the end of the month."
    )
    result = measure(part, reply)
    assert result.coverage == 1.0
    assert not result.flagged


def test_short_parts_are_only_held_to_the_run_limit() -> None:
    assert not measure("um yeah okay so", "Okay.").flagged
    assert measure(
        "yes", "Yes. And then, out of nowhere, the whole team resigned on the spot."
    ).flagged


def test_alignment_maps_reply_words_to_part_words() -> None:
    alignment = align("the cat sat on the mat", "The cat sat on a mat.")
    mapping = alignment.source_for_reply()
    assert mapping[0] == 0 and mapping[5] == 5
    assert 4 not in mapping  # "a" has no counterpart


@pytest.mark.parametrize(("limit", "flag"), [(0.01, True), (0.10, False)])
def test_thresholds_are_data(limit: float, flag: bool) -> None:
    result = measure(PART, CLEANED + " Thank you.", Thresholds(max_invention=limit))
    assert result.flagged is flag


def test_contractions_and_spoken_forms_read_in_full() -> None:
    part = "we don't wanna go cuz it's late and we're gonna be tired so let's wait"
    reply = "We do not want to go because it is late, and we are going to be tired. Let us wait."
    result = measure(part, reply)
    assert (result.coverage, result.invention) == (1.0, 0.0)
    assert [t.norm for t in tokenize("The ocean's heat can't wait")] == [
        "the",
        "oceans",
        "heat",
        "can",
        "not",
        "wait",
    ]
