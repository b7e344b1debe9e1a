"""Reading .txt, .srt, .vtt and Whisper JSON into segments; folders; rolling-caption dedup."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from transcript_cli.errors import InputError
from transcript_cli.formats import SUFFIXES, discover_inputs, read_transcript


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def segments(path: Path) -> list[str]:
    return read_transcript(path).texts


def youtube_vtt(lines: list[str]) -> str:
    """Auto-captions as YouTube writes them (see samples/lecture-autocaptions.vtt).

    Each line is first shown word by word with inline timestamps under the line before it, then
    repeated for 10 ms on its own, then shown again (plain) above the next line.
    """
    out = ["WEBVTT", "Kind: captions", "Language: en", ""]
    t = 0.0

    def ts(seconds: float) -> str:
        return f"00:{int(seconds // 60):02d}:{seconds % 60:06.3f}"

    previous = ""
    for line in lines:
        first, *rest = line.split(" ")
        tagged = first + "".join(
            f"<{ts(t + 0.3 * (n + 1))}><c> {word}</c>" for n, word in enumerate(rest)
        )
        out += [f"{ts(t)} --> {ts(t + 3)} align:start position:0%", previous or " ", tagged, ""]
        out += [f"{ts(t + 3)} --> {ts(t + 3.01)} align:start position:0%", line, " ", ""]
        previous = line
        t += 3.01
    return "\n".join(out)


# --- .txt -----------------------------------------------------------------------------------


def test_txt_lines_become_segments_without_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "  First   line.\n\n\t\nSecond\tline here.  \r\nThird.")
    assert segments(path) == ["First line.", "Second line here.", "Third."]


def test_txt_is_plain_text_not_markup(tmp_path: Path) -> None:
    """Angle brackets and ampersands in a plain transcript are words, not tags or entities."""
    path = write(tmp_path / "t.txt", "If x < 5 and y > 3 then AT&amp;T <wins>.\n")
    assert segments(path) == ["If x < 5 and y > 3 then AT&amp;T <wins>."]


def test_bundled_podcast_sample_keeps_one_segment_per_turn() -> None:
    got = segments(SAMPLES / "podcast-episode.txt")
    assert len(got) == 18
    assert got[0].startswith("Host: Welcome back to the show, um, everybody.")
    assert got[-1] == "Guest: Thank you. Happy baking, everyone."


# --- .srt -----------------------------------------------------------------------------------

SRT = """1
00:00:00,000 --> 00:00:02,500
<i>Tom &amp; Jerry</i> are   here.

2
00:00:02,700 --> 00:00:05,200
- Is that firm?
- Pretty firm.

3
00:00:05,400 --> 00:00:07,900
<font color="#ffffff">It&#39;s &quot;done&quot;.</font>
"""


def test_srt_cues_become_lines_with_tags_stripped_and_entities_unescaped(tmp_path: Path) -> None:
    assert segments(write(tmp_path / "s.srt", SRT)) == [
        "Tom & Jerry are here.",
        "- Is that firm?",
        "- Pretty firm.",
        'It\'s "done".',
    ]


def test_srt_with_crlf_line_ends(tmp_path: Path) -> None:
    assert segments(write(tmp_path / "s.srt", SRT.replace("\n", "\r\n")))[0] == (
        "Tom & Jerry are here."
    )


def test_bundled_meeting_sample() -> None:
    got = segments(SAMPLES / "team-meeting.srt")
    assert got[0] == "- Okay, so, um, let's get started."
    assert got[-1] == "- Right. Thanks, everyone. Um, see you next week."
    assert len(got) == len(set(got)) == 15


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "not subtitles\nat all\n",
            "malformed SRT (cannot parse the block at line 1: 'not subtitles')",
        ),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nHi.\n\n2\n00:00:0x,000 --> 00:00:03,000\nLost.\n",
            "malformed SRT (cannot parse the block at line 5: '2')",
        ),
        (
            # The library would glue this block onto "Hi." as text, timing line and all.
            "1\n00:00:01,000 --> 00:00:02,000\nHi.\n\n2\n00:00:xx,000 --> 00:00:03,000\nLost.\n",
            "malformed SRT (bad timing at line 6: '00:00:xx,000 --> 00:00:03,000')",
        ),
        ("1\n00:00:01,000 --> 00:00:02,000\n\n", "no transcript text found"),
    ],
    ids=["garbage", "bad-block-mid-file", "bad-timing-mid-file", "no-text"],
)
def test_malformed_srt_names_file_and_spot(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "bad.srt", text)
    with pytest.raises(InputError) as caught:
        read_transcript(path)
    assert caught.value.path == path
    assert caught.value.message == f"{path}: {problem}"


# --- .vtt -----------------------------------------------------------------------------------


def test_vtt_cues_with_settings_notes_styles_and_entities(tmp_path: Path) -> None:
    text = (
        "WEBVTT - a title\n\nSTYLE\n::cue { color: lime }\n\nNOTE a comment\n\n"
        "intro\n00:00:01.000 --> 00:00:02.000 line:0 position:20% align:start\n"
        "<v Alice>Fish &amp; chips &lt;3</v>\n\n"
        "00:02.500 --> 00:04.000\n<c.yellow>a &gt; b</c> &nbsp;and&#160;c\n"
        "&amp;lt;not a tag&amp;gt;\n"
    )
    assert segments(write(tmp_path / "v.vtt", text)) == [
        "Alice: Fish & chips <3",
        "a > b and c &lt;not a tag&gt;",  # unescaped once, as written; Alice goes on
    ]


def test_youtube_autocaptions_sample_has_each_spoken_line_once() -> None:
    raw = (SAMPLES / "lecture-autocaptions.vtt").read_text(encoding="utf-8")
    # Independent oracle: the word-timed lines are each spoken line, exactly once.
    spoken = [re.sub(r"<[^>]*>", "", line) for line in raw.splitlines() if "<c>" in line]
    got = segments(SAMPLES / "lecture-autocaptions.vtt")
    assert got == spoken
    assert len(got) == 19
    assert (
        got[0]
        == "so welcome everyone to the um the third lecture in our series on climate and oceans"
    )
    assert not any("<" in s or ">" in s for s in got)


def test_youtube_rolling_captions_are_deduplicated(tmp_path: Path) -> None:
    lines = [
        "so today we are talking about tides",
        "yes",  # shorter than an overlap check: the repeat is caught as an equal line
        "no no",  # a genuine repetition inside a line stays
        "and fish &amp; chips at the seaside",
        "and the moon pulls on the sea",
        "the sea is calm",  # starts with two words the line before ends with: too few to drop
        "okay",
    ]
    text = youtube_vtt(lines)
    got = segments(write(tmp_path / "auto.vtt", text))
    assert got == [
        "so today we are talking about tides",
        "yes",
        "no no",
        "and fish & chips at the seaside",
        "and the moon pulls on the sea",
        "the sea is calm",
        "okay",
    ]


def test_youtube_captions_chunk_to_the_same_words_as_spoken(tmp_path: Path) -> None:
    lines = [f"line {n} says something new about topic {n}" for n in range(40)]
    got = segments(write(tmp_path / "auto.vtt", youtube_vtt(lines)))
    assert got == lines


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Hello.\n\nThis is not a cue.\n", "the first line must start with WEBVTT"),
        ("WEBVTT\n\nNOTE only a note\n", "no cues found"),
        (
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nKept.\n\n"
            "00:00:0x.000 --> 00:00:03.000\nDropped silently by the library.\n",
            "bad timing at line 6: '00:00:0x.000 --> 00:00:03.000'",
        ),
    ],
    ids=["no-header", "no-cues", "bad-timing"],
)
def test_malformed_vtt(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "bad.vtt", text)
    with pytest.raises(InputError, match=re.escape(f"{path}: malformed WebVTT ({problem}")):
        read_transcript(path)


# --- Whisper JSON ---------------------------------------------------------------------------


def test_whisper_json_segments(tmp_path: Path) -> None:
    data = {
        "text": "ignored: the segments are the source",
        "segments": [
            {"id": 0, "start": 0.0, "end": 2.0, "text": " Hello there,"},
            {"id": 1, "start": 2.0, "end": 3.0, "text": "   "},
            {"id": 2, "start": 3.0, "end": 5.0, "text": " x < y &amp;\nz."},
        ],
        "language": "en",
    }
    path = write(tmp_path / "w.json", json.dumps(data))
    assert segments(path) == ["Hello there,", "x < y &amp; z."]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "invalid JSON (Expecting property name enclosed in double quotes at line 1)"),
        ('"just a string"', 'not a Whisper transcript (expected {"segments": [...]}, a list'),
        ('{"segments": {"text": "hi"}}', "not a Whisper transcript"),
        ('{"segments": ["hi"]}', "segment 0 has no text string"),
        ('{"segments": [{"text": null}]}', "segment 0 has no text string"),
        ('{"segments": [{"text": ""}]}', "no transcript text found"),
        ("[" * 50_000, "invalid JSON (nested too deeply)"),
        ('{"segments": [], "n": ' + "1" * 5000 + "}", "invalid JSON (Exceeds the limit"),
    ],
    ids=[
        "syntax",
        "string",
        "segments-object",
        "segment-string",
        "null-text",
        "blank",
        "deep",
        "digits",
    ],
)
def test_bad_whisper_json(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "w.json", text)
    with pytest.raises(InputError) as caught:
        read_transcript(path)
    assert caught.value.message.startswith(f"{path}: {problem}")
    assert "\n" not in caught.value.message


# --- encodings ------------------------------------------------------------------------------

SAMPLE_TEXT = {
    ".txt": "Café au lait, naïve façade.\n",
    ".srt": "1\n00:00:01,000 --> 00:00:02,000\nCafé au lait, naïve façade.\n",
    ".vtt": "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCafé au lait, naïve façade.\n",
    ".json": '{"segments": [{"text": "Café au lait, naïve façade."}]}',
}


@pytest.mark.parametrize("suffix", sorted(SAMPLE_TEXT))
@pytest.mark.parametrize(
    "bom",
    [
        b"",
        codecs.BOM_UTF8,
        codecs.BOM_UTF16_LE,
        codecs.BOM_UTF16_BE,
        codecs.BOM_UTF32_LE,
        codecs.BOM_UTF32_BE,
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"],
)
def test_byte_order_marks_are_honoured(tmp_path: Path, suffix: str, bom: bytes) -> None:
    codec = {
        b"": "utf-8",
        codecs.BOM_UTF8: "utf-8",
        codecs.BOM_UTF16_LE: "utf-16-le",
        codecs.BOM_UTF16_BE: "utf-16-be",
        codecs.BOM_UTF32_LE: "utf-32-le",
        codecs.BOM_UTF32_BE: "utf-32-be",
    }[bom]
    path = tmp_path / f"t{suffix}"
    path.write_bytes(bom + SAMPLE_TEXT[suffix].encode(codec))
    assert segments(path) == ["Café au lait, naïve façade."]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "file is empty"),
        (b" \n\t\r\n", "file is empty"),
        (codecs.BOM_UTF8, "file is empty"),
        (codecs.BOM_UTF16_LE + " \n".encode("utf-16-le"), "file is empty"),
        (bytes(range(128, 256)) * 4, "not UTF-8 text (undecodable byte at offset 0)"),
        (codecs.BOM_UTF16_LE + b"h\x00i", "not UTF-16 text"),
        (b"hello\x00world\n", "binary data, not a transcript"),
        ("hello".encode("utf-16-le"), "binary data, not a transcript"),  # UTF-16 without a BOM
    ],
    ids=["empty", "blank", "bom-only", "utf16-blank", "no-fit", "utf16-odd", "nul", "utf16-no-bom"],
)
def test_unreadable_text(tmp_path: Path, raw: bytes, problem: str) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(raw)
    with pytest.raises(InputError) as caught:
        read_transcript(path)
    assert caught.value.message.startswith(f"{path}: {problem}")


def test_missing_file_and_folder_given_as_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_transcript(tmp_path / "gone.txt")
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_transcript(tmp_path / "dir.txt")


def test_unknown_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.md", "Hello.\n")
    with pytest.raises(InputError, match=r"unknown transcript type '\.md'"):
        read_transcript(path)


# --- folders --------------------------------------------------------------------------------


def test_folder_expands_to_sorted_transcripts_only(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in [
        "b.srt",
        "a.txt",
        "C.TXT",
        "d.vtt",
        "e.json",
        "f.mp3",
        "g.docx",
        "README",
        ".hidden",
    ]:
        write(folder / name, "x\n")
    (folder / "sub").mkdir()
    write(folder / "sub" / "nested.txt", "x\n")
    (folder / "dir.txt").mkdir()  # a folder with a transcript's name is not a transcript
    found = discover_inputs([folder])
    assert [p.name for p in found] == ["C.TXT", "a.txt", "b.srt", "d.vtt", "e.json"]
    assert all(p.is_absolute() for p in found)
    assert SUFFIXES == (".txt", ".srt", ".vtt", ".json", ".ass", ".ssa")


def test_inputs_keep_their_order_and_duplicates_collapse(tmp_path: Path) -> None:
    z = write(tmp_path / "z.txt", "x\n")
    a = write(tmp_path / "a.txt", "x\n")
    found = discover_inputs([z, a, tmp_path / "." / "z.txt"])
    assert found == [z.resolve(), a.resolve()]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda d: d / "missing.txt", "file not found"),
        (lambda d: write(d / "a.mp3", "x"), "unknown transcript type '.mp3'"),
        (lambda d: write(d / "Makefile", "x"), "unknown transcript type '(none)'"),
    ],
    ids=["missing", "mp3", "no-suffix"],
)
def test_discover_rejects_bad_paths(
    tmp_path: Path, make: Callable[[Path], Path], problem: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        discover_inputs([path])
    assert caught.value.message.startswith(f"{path}: {problem}")


def test_discover_rejects_folder_without_transcripts(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="folder holds no transcripts"):
        discover_inputs([tmp_path / "empty"])
    write(tmp_path / "empty" / "song.mp3", "x")
    with pytest.raises(InputError, match="folder holds no transcripts"):
        discover_inputs([tmp_path / "empty"])


def test_vtt_cue_times_keep_their_milliseconds(tmp_path: Path) -> None:
    """Pause cuts compare gaps of a few tenths of a second: whole seconds would hide them."""
    path = tmp_path / "t.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:01.250 --> 00:00:02.750\nfirst\n\n01:00:03.100 --> 01:00:04.900\nlater\n",
        encoding="utf-8",
    )
    segments = read_transcript(path).segments
    assert [(s.start, s.end) for s in segments] == [(1.25, 2.75), (3603.1, 3604.9)]
