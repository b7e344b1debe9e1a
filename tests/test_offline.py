"""The rule-based offline cleaner: what rules can fix, and what they must leave alone."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from transcript_cli.chunking import split_chunks
from transcript_cli.formats import read_transcript
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.providers.offline import (
    OFFLINE_MODEL,
    OfflineProvider,
    clean_text,
    looks_english,
)
from transcript_cli.sentences import Boundary


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # Fillers, with the commas around them.
        ("so um we start", "So we start"),
        ("we, uh, start now", "We start now"),
        ("Um, okay. Uh then we go.", "Okay. Then we go."),
        ("erm well er hmm mhm fine", "Well fine"),
        # Stutters: a cut-off start of the next word.
        ("th-the answer", "The answer"),
        ("we-we went", "We went"),
        ("th-th-the end", "The end"),
        ("b-but we-we-we went", "But we went"),
        ("Th-th-the end", "The end"),
        ("I-I know", "I know"),
        # Repeated words and repeated word pairs.
        ("the the answer is is yes", "The answer is yes"),
        ("we're we're done", "We're done"),
        ("yeah, yeah okay", "Yeah okay"),
        ("is that is that firm?", "Is that firm?"),
        ("i i never know", "I never know"),
        # Sound tags.
        ("[Music] hello [applause] there", "Hello there"),
    ],
)
def test_removes_disfluencies(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # Real prefixes and doubled words are words, not stutters.
        ("we re-read it and co-wrote it", "We re-read it and co-wrote it"),
        ("a pre-prepared non-nonsense de-dedup", "A pre-prepared non-nonsense de-dedup"),
        ("it was so-so, bye-bye now", "It was so-so, bye-bye now"),
        ("a one-on-one, no-nonsense talk", "A one-on-one, no-nonsense talk"),
        # Words that merely contain a filler.
        ("the umbrella and the hummus", "The umbrella and the hummus"),
        ("number 3.5 is up. e.g. this", "Number 3.5 is up. E.g. this"),
        ("see example.com now", "See example.com now"),
        ("the answer, i.e. yes", "The answer, i.e. yes"),
        ("Yeah. Yeah.", "Yeah. Yeah."),  # across sentences it is not a stutter
        ("the theory", "The theory"),
    ],
)
def test_keeps_what_is_not_a_disfluency(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_sentence_case_and_pronoun_i() -> None:
    assert clean_text("well i think so. and i'm sure! why? because i said") == (
        "Well I think so. And I'm sure! Why? Because I said"
    )
    assert clean_text('he said "stop." then "go." ok') == 'He said "stop." Then "go." Ok'
    assert clean_text("42 people came. then 7 left") == "42 people came. Then 7 left"


def test_speaker_turns_become_paragraphs() -> None:
    raw = "Host: um welcome back\nGuest: thanks, uh, thanks\nfor having me\nHost: great"
    assert clean_text(raw) == "Host: Welcome back\n\nGuest: Thanks for having me\n\nHost: Great"


def test_subtitle_dashes_and_chevrons_start_turns() -> None:
    assert clean_text("- Is that is that firm?\n- Pretty firm.\n>> Okay.") == (
        "Is that firm?\n\nPretty firm.\n\nOkay."
    )


@pytest.mark.parametrize(
    "line", ["Dr. Jane Doe: hello", "SPEAKER 1: hello", "Speaker_01: hello", "Q: hello"]
)
def test_speaker_label_forms(line: str) -> None:
    label = line.split(": ")[0]
    assert clean_text(f"intro\n{line}") == f"Intro\n\n{label}: Hello"


def test_a_colon_inside_a_sentence_is_not_a_speaker() -> None:
    raw = "we talked\nSo the plan is: ship it\nby friday"
    assert clean_text(raw) == "We talked So the plan is: ship it by friday"


def test_punctuated_text_groups_five_sentences_per_paragraph() -> None:
    raw = " ".join(f"sentence {n} is here." for n in range(12))
    paragraphs = clean_text(raw).split("\n\n")
    assert [p.count(".") for p in paragraphs] == [5, 5, 2]
    assert paragraphs[1].startswith("Sentence 5 is here.")


def test_captions_without_punctuation_are_broken_into_paragraphs() -> None:
    words = [f"w{n}" for n in range(200)]
    paragraphs = clean_text("\n".join(" ".join(words[n : n + 8]) for n in range(0, 200, 8)))
    paragraphs_words = [p.split(" ") for p in paragraphs.split("\n\n")]
    assert [len(p) for p in paragraphs_words] == [80, 80, 40]
    assert [w for p in paragraphs_words for w in p] == ["W0", *words[1:]]


def test_one_question_mark_does_not_make_a_huge_paragraph() -> None:
    raw = " ".join(f"a{n}" for n in range(150)) + "? " + " ".join(f"b{n}" for n in range(150))
    lengths = [len(p.split(" ")) for p in clean_text(raw).split("\n\n")]
    assert max(lengths) <= 80
    assert sum(lengths) == 300


def test_empty_and_filler_only_input() -> None:
    assert clean_text("") == ""
    assert clean_text("um uh\n\n") == ""


def test_bundled_samples_are_cleaned_deterministically() -> None:
    for name in ["podcast-episode.txt", "team-meeting.srt", "lecture-autocaptions.vtt"]:
        for chunk in split_chunks(read_transcript(SAMPLES / name).segments, 1000, 100):
            once = clean_text(chunk.text)
            assert once == clean_text(chunk.text)
            assert once.strip()
            for junk in (" um ", " uh ", "Um,", "Uh,", " the the ", " is is "):
                assert junk not in f" {once} "


def test_podcast_sample_reads_well() -> None:
    text = "\n".join(read_transcript(SAMPLES / "podcast-episode.txt").texts)
    cleaned = clean_text(text)
    assert cleaned.startswith(
        "Host: Welcome back to the show everybody. Today we're talking about sourdough bread, "
        "which is something I've been obsessed with for, like, two years now."
    )
    assert (
        "Host: Right, but time is the hard part, isn't it? I never know when the dough is ready."
        in cleaned
    )
    assert cleaned.count("\n\n") >= 17  # one paragraph per turn at least


def test_provider_completes_from_the_raw_source() -> None:
    provider = OfflineProvider()
    request = ChunkRequest(
        system="You are an editor." * 10,
        user="<transcript>\nuh hello hello\n</transcript>",
        source="uh hello hello",
        context="ignored",
        max_tokens=100,
    )
    completion = provider.complete(request)
    assert completion.text == "Hello"
    assert completion.model == OFFLINE_MODEL == provider.model
    assert completion.input_tokens > completion.output_tokens > 0
    assert completion.stop_reason == "end_turn"
    assert provider.complete(request) == completion


def test_provider_returns_source_when_rules_leave_nothing() -> None:
    request = ChunkRequest(system="s", user="u", source="  um  ", context="", max_tokens=10)
    assert OfflineProvider().complete(request).text == "um"


def test_a_continuation_is_not_capitalised() -> None:
    assert clean_text("sits in the um top layer. and so on", continues=True) == (
        "sits in the top layer. And so on"
    )
    assert clean_text("sits in the top layer") == "Sits in the top layer"
    # A new speaker's turn at the start is not a continuation of anything.
    assert clean_text("Host: well then", continues=True) == "Host: Well then"


@pytest.mark.parametrize("opens", list(Boundary))
def test_provider_capitalises_the_first_word_only_at_a_sentence_start(opens: Boundary) -> None:
    request = ChunkRequest(
        system="s", user="u", source="and so on", context="", max_tokens=100, opens=opens
    )
    text = OfflineProvider().complete(request).text
    assert text == ("and so on" if opens.maybe_mid_sentence else "And so on")


# --- English rules only for English --------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "what he had had was enough",
        "he said that that was fine",
    ],
)
def test_grammatical_doubles_stay(raw: str) -> None:
    assert clean_text(raw) == raw[0].upper() + raw[1:]


@pytest.mark.parametrize(
    "raw",
    [
        "Il ne pleure pas. nous nous sommes vus hier, i think",  # French: "nous nous" is grammar
        "- Vous êtes sûr ?",  # French puts a space before ? and !
        "no no no, que no quiero, um",  # Spanish
        "ich weiß es nicht, das das ist gut",  # German
        "我们 我们今天讨论海洋",  # Chinese
        "نعم نعم، هذا صحيح",  # Arabic
    ],
)
def test_other_languages_get_only_language_independent_steps(raw: str) -> None:
    cleaned = clean_text(raw)
    expected = " ".join(raw.removeprefix("- ").split())
    assert cleaned == expected


def test_looks_english() -> None:
    assert looks_english("so um the the thing is that we went there")
    assert looks_english("th-the answer")  # no evidence either way: English rules apply
    assert not looks_english("Il ne pleure pas, il est fatigué.")
    assert not looks_english("pero es que no lo sé, la verdad")
    assert not looks_english("こんにちは")


def test_chinese_lines_of_a_turn_join_without_spaces() -> None:
    assert clean_text("我们今天\n讨论海洋。好的！") == "我们今天讨论海洋。好的！"
