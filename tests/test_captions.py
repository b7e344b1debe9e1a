"""Rolling-caption removal per cue, from text and timing; the caption style detected per file."""

from __future__ import annotations

from transcript_cli.captions import Cue, spoken_rows


def spoken(cues: list[Cue]) -> tuple[list[str], str]:
    rows, style = spoken_rows(cues)
    return [r.row.text for r in rows], style


def timed(texts: list[str], step: float = 2.0, gap: float = 0.0) -> list[Cue]:
    """Cues one after the other, `gap` seconds apart."""
    return [Cue(t, n * (step + gap), n * (step + gap) + step) for n, t in enumerate(texts)]


def test_pop_on_repeats_in_separate_cues_are_speech() -> None:
    cues = timed(["Il ne pleure pas.", "Il ne pleure pas.", "Non.", "Non."], gap=0.5)
    assert spoken(cues) == (["Il ne pleure pas.", "Il ne pleure pas.", "Non.", "Non."], "pop-on")


def test_pop_on_back_to_back_repeats_are_speech_too() -> None:
    # Touching but not overlapping: a second person (or the same one) saying it again.
    cues = timed(["はい。"] * 9 + ["いいえ。"], gap=0.0)
    texts, style = spoken(cues)
    assert style == "pop-on" and texts == ["はい。"] * 9 + ["いいえ。"]


def test_exact_duplicate_cue_overlapping_in_time_is_dropped() -> None:
    cues = [Cue("Hello.", 1, 3), Cue("Hello.", 1, 3), Cue("World.", 3.5, 5), Cue("World.", 4.9, 6)]
    assert spoken(cues) == (["Hello.", "World."], "pop-on")


def test_dialogue_lines_within_one_cue_are_both_kept() -> None:
    rows, _ = spoken_rows([Cue("- Buenas noches.\n- Buenas noches.", 1, 3)])
    assert [(r.row.text, r.row.dash) for r in rows] == [("Buenas noches.", True)] * 2


def test_roll_up_three_rows_each_line_once() -> None:
    lines = [f"line number {n} of the broadcast" for n in range(8)]
    screens = [lines[max(0, n - 2) : n + 1] for n in range(len(lines))]
    texts, style = spoken(timed(["\n".join(s) for s in screens]))
    assert style == "roll-up" and texts == lines


def test_roll_up_keeps_a_line_said_twice() -> None:
    lines = ["we said no", "no", "no", "and then yes", "yes indeed"]
    screens = [lines[max(0, n - 1) : n + 1] for n in range(len(lines))]
    texts, style = spoken(timed(["\n".join(s) for s in screens]))
    assert style == "roll-up" and texts == lines


def test_roll_up_after_a_pause_starts_from_a_clear_screen() -> None:
    cues = timed(["one two", "one two\nthree four", "three four\nfive six"])
    # Three seconds of silence: the same words again are said again.
    cues.append(Cue("five six", cues[-1].end + 3, cues[-1].end + 5))  # type: ignore[operator]
    assert spoken(cues)[0] == ["one two", "three four", "five six", "five six"]


def test_typed_out_character_by_character() -> None:
    text = "so today we talk"
    screens = [text[: n + 1] for n in range(len(text))]
    screens += [f"{text}\n{'next'[: n + 1]}" for n in range(4)]
    texts, style = spoken(timed(screens, step=0.1))
    assert style == "paint-on" and texts == [text, "next"]


def test_paint_on_word_by_word_in_two_rows() -> None:
    screens = ["Hello", "Hello there", "Hello there friend", "Hello there friend\nHow", "How are"]
    screens += ["How are you?"]
    assert spoken(timed(screens, step=0.5))[0] == ["Hello there friend", "How are you?"]


def test_youtube_word_timed_cues() -> None:
    cues = [
        Cue("so<00:00:00.500><c> welcome</c><00:00:01.000><c> everyone</c>", 0, 2.0),
        Cue("so welcome everyone\n ", 2.0, 2.01),
        Cue(
            "so welcome everyone\nto<00:00:02.500><c> the</c><00:00:03.000><c> lecture</c>", 2.01, 4
        ),
        Cue("to the lecture", 4, 4.01),
        Cue("to the lecture\nwelcome<00:00:04.500><c> everyone</c>", 4.01, 6),
    ]
    assert spoken(cues) == (
        ["so welcome everyone", "to the lecture", "welcome everyone"],
        "word-timed",
    )


def test_rewrapped_rolling_cue_trims_repeated_words() -> None:
    cues = timed(
        [
            "so today we are going",
            "so today we are going\nto talk about the",
            "to talk about the\nocean and heat",
            "about the ocean and heat\nand storms",  # re-wrapped: rows differ, words repeat
        ]
    )
    assert spoken(cues)[0] == [
        "so today we are going",
        "to talk about the",
        "ocean and heat",
        "and storms",
    ]


def test_voice_tags_are_kept_with_rows() -> None:
    rows, _ = spoken_rows(
        [Cue("<v Yuri Bakulin>There you go.</v>", 1, 2), Cue("<v.loud Ann>Thanks!</v>", 2, 3)]
    )
    assert [(r.row.speaker, r.row.text) for r in rows] == [
        ("Yuri Bakulin", "There you go."),
        ("Ann", "Thanks!"),
    ]
