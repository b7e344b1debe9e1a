"""Subtitle files to cues: SRT via `srt`, WebVTT via `webvtt-py`, ASS/SSA via `pysubs2`.

Each library is used where it is best: `srt` and `webvtt-py` keep a cue's raw text (voice tags,
word timestamps) and fail loudly on bad timings, while pysubs2 turns VTT voice and timestamp tags
into nothing and splits word-timed cues apart, but reads ASS/SSA's styles, `Name` field and event
types well. What is ours is the one clear error line for each bad file.
"""

from __future__ import annotations

import re
from pathlib import Path

import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from transcript_cli.captions import Cue
from transcript_cli.errors import InputError

_ARROW_LINE = re.compile(r"^.*-->.*$", re.M)
# As lenient as webvtt-py's own cue timing pattern: what it would parse, we accept.
_VTT_TIMING = re.compile(
    r"\s*(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}\s*-->\s*(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}"
)
# {\p1} switches an ASS event to vector drawing: its "text" is shape commands, not speech.
_DRAWING = re.compile(r"\{[^}]*\\p[1-9]")
# A file that starts (after an optional cue id) with a cue timing is cues, header or not.
_HEADERLESS_VTT = re.compile(r"\A\s*(?:[^\n]*\n)?" + _VTT_TIMING.pattern.removeprefix(r"\s*"))


def srt_cues(path: Path, text: str) -> list[Cue]:
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        # The library's message is a character offset and a repr of the rest of the file.
        skipped = len(exc.unmatched_content) - len(exc.unmatched_content.lstrip())
        where = _where(text, exc.expected_start + skipped)
        raise InputError(path, f"malformed SRT (cannot parse the block {where})") from None
    except ValueError as exc:
        raise InputError(path, f"malformed SRT ({_first_line(exc)})") from None
    if not subtitles:
        raise InputError(path, "malformed SRT (no subtitle blocks found)")
    for sub in subtitles:
        # A block whose timing the library cannot read is glued onto the cue before it as text.
        bad = _ARROW_LINE.search(sub.content)
        if bad:
            where = _where(text, text.find(bad.group(0)))
            raise InputError(path, f"malformed SRT (bad timing {where})")
    return [
        Cue(sub.content, sub.start.total_seconds(), sub.end.total_seconds()) for sub in subtitles
    ]


def vtt_cues(path: Path, text: str) -> list[Cue]:
    if not text.startswith("WEBVTT"):
        if not _HEADERLESS_VTT.match(text):
            raise InputError(path, "malformed WebVTT (the first line must start with WEBVTT)")
        # Live-caption recorders often drop the header; the cues are unmistakable.
        text = "WEBVTT\n\n" + text.lstrip()
    # The library silently drops a cue whose timing it cannot read, and its text with it.
    for match in _ARROW_LINE.finditer(text):
        if not _VTT_TIMING.match(match.group(0)):
            raise InputError(path, f"malformed WebVTT (bad timing {_where(text, match.start())})")
    try:
        captions = webvtt.from_string(text).captions
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise InputError(path, f"malformed WebVTT ({_first_line(exc)})") from None
    if not captions:
        raise InputError(path, "malformed WebVTT (no cues found)")
    # `start_in_seconds` truncates to whole seconds; pauses and touching cues need milliseconds.
    return [
        Cue(c.raw_text, c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000)
        for c in captions
    ]


def ass_cues(path: Path, text: str) -> list[Cue]:
    """Dialogue events in time order (files list them by layer or style as often as by time)."""
    import pysubs2  # here, not at the top: every other command starts 70 ms faster

    kind = path.suffix.lower().lstrip(".")
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=kind)
    except (pysubs2.exceptions.Pysubs2Error, ValueError, KeyError, IndexError) as exc:
        raise InputError(path, f"malformed {kind.upper()} ({_first_line(exc)})") from None
    events = sorted(
        (
            e
            for e in subs.events
            if e.type == "Dialogue" and e.text.strip() and not _DRAWING.search(e.text)
        ),
        key=lambda e: (e.start, e.end),
    )
    if not events:
        raise InputError(path, f"malformed {kind.upper()} (no Dialogue events found)")
    return [Cue(e.text, e.start / 1000, e.end / 1000, e.name.strip() or None) for e in events]


def _where(text: str, offset: int) -> str:
    """ "at line N: 'its text'", for pointing at the spot a parser choked on."""
    number = text.count("\n", 0, offset) + 1
    line = text[offset:].partition("\n")[0].strip()
    return f"at line {number}: {line[:60]!r}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__
