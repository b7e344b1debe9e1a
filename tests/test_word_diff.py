"""The word-level diff `review` shows: the reply as written, with dropped words put back."""

from __future__ import annotations

import re

from transcript_cli.word_diff import Span, plain, word_diff

PART = (
    "so um welcome everyone to the the third lecture in our series on climate and oceans "
    "today we are going to talk about how the ocean stores heat"
)
REPLY = (
    "Welcome, everyone, to the third lecture in our series.\n\n"
    "Today, as everybody knows well, we are going to talk about the ocean stores heat."
)


def test_drops_additions_and_excused_words_are_marked_in_place() -> None:
    assert plain(word_diff(PART, REPLY)) == (
        "(-so-) Welcome, everyone, to (-the-) the third lecture in our series "
        "[-on climate and oceans-].\n\n"
        "Today, {+as everybody knows well+}, we are going to talk about [-how-] the ocean "
        "stores heat."
    )


def test_the_reply_text_is_kept_as_written() -> None:
    spans = word_diff(PART, REPLY)
    kept = "".join(s.text for s in spans if s.op in ("same", "added"))
    # Only the spaces that set off the put-back words differ.
    assert re.sub(r"\s+", " ", kept).replace(" .", ".").strip() == re.sub(r"\s+", " ", REPLY)
    assert Span("added", "as everybody knows well") in spans


def test_a_faithful_reply_has_only_same_and_excused_runs() -> None:
    spans = word_diff("um the cat sat on the mat", "The cat sat on the mat.")
    assert {s.op for s in spans} == {"same"}


def test_unspaced_scripts_diff_by_character() -> None:
    assert plain(word_diff("今日は海の話をします", "今日は山の話をします。")) == (
        "今日は[-海-]{+山+}の話をします。"
    )


def test_empty_sides() -> None:
    assert plain(word_diff("a b c", "")) == "[-a b c-]"
    assert plain(word_diff("", "Hello there.")) == "{+Hello there+}."


def test_half_a_contraction_is_shown_by_its_word() -> None:
    assert plain(word_diff("we didn't go home", "We did go home.")) == "We did [-not-] go home."
    assert plain(word_diff("we did go home", "We didn't go home.")) == "We didn't {+not+} go home."
