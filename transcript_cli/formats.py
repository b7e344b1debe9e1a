"""Reading transcripts: .txt, .srt, .vtt and Whisper JSON become a list of text segments.

Parsing is left to `srt` and `webvtt-py`; what is ours is the clear error for each bad file and
the removal of the rolling duplicates that YouTube auto-captions repeat from cue to cue.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from transcript_cli.errors import InputError

SUFFIXES = (".txt", ".srt", ".vtt", ".json")
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\u00a0]+")
_ARROW_LINE = re.compile(r"^.*-->.*$", re.M)
# As lenient as webvtt-py's own cue timing pattern: what it would parse, we accept.
_VTT_TIMING = re.compile(
    r"\s*(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}\s*-->\s*(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}"
)
# A rolling overlap shorter than this many words may be a real repetition ("no, no, no").
_MIN_OVERLAP_WORDS = 3


@dataclass(frozen=True)
class Transcript:
    """One input as plain text segments (cues or lines) in spoken order."""

    path: Path
    segments: list[str]


def discover_inputs(paths: Sequence[Path]) -> list[Path]:
    """Expand folders to the transcripts in them (sorted), and check every path exists."""
    if not paths:
        raise InputError("-", "no input given")
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES
            )
            if not inside:
                raise InputError(path, f"folder holds no transcripts ({', '.join(SUFFIXES)} files)")
            found.extend(inside)
        elif path.exists():
            if path.suffix.lower() not in SUFFIXES:
                raise InputError(
                    path,
                    f"unknown transcript type '{path.suffix or '(none)'}' "
                    f"(expected {', '.join(SUFFIXES)})",
                )
            found.append(path)
        else:
            raise InputError(path, "file not found")
    resolved = [p.resolve() for p in found]
    seen: set[Path] = set()
    unique = []
    for p in resolved:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def read_transcript(path: Path) -> Transcript:
    """Parse one file by its extension; every problem is an InputError naming it."""
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".srt":
        segments = dedupe_rolling(_srt_cues(path, text))
    elif suffix == ".vtt":
        segments = dedupe_rolling(_vtt_cues(path, text))
    elif suffix == ".json":
        segments = _whisper_segments(path, text)
    elif suffix == ".txt":
        segments = [line for line in (_plain_line(x) for x in text.splitlines()) if line]
    else:
        raise InputError(path, f"unknown transcript type '{path.suffix or '(none)'}'")
    if not segments:
        raise InputError(path, "no transcript text found")
    return Transcript(path=path, segments=segments)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from exc
    encoding = _encoding(raw)
    if encoding == "utf-8-sig" and b"\x00" in raw:
        # Before decoding: "binary" says more about an image or a PDF than a bad UTF-8 byte does.
        raise InputError(path, "binary data, not a transcript")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            path,
            f"not {encoding.removesuffix('-sig').upper()} text (undecodable byte at offset "
            f"{exc.start}); convert it to UTF-8",
        ) from None
    # After decoding, so a file holding only a BOM or UTF-16 blanks counts as empty too.
    if not text.strip():
        raise InputError(path, "file is empty")
    if "\x00" in text:
        raise InputError(path, "binary data, not a transcript")
    return text


def _encoding(raw: bytes) -> str:
    """UTF-8 unless a byte-order mark says otherwise (UTF-32's marks begin like UTF-16's)."""
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def _clean_line(line: str) -> str:
    """A caption line as text: markup tags dropped, entities unescaped, spaces collapsed."""
    return _SPACES.sub(" ", html.unescape(_TAG.sub("", line))).strip()


def _plain_line(line: str) -> str:
    """Plain-text formats hold no markup: "x < y" and "AT&amp;T" stay as written."""
    return " ".join(line.split())


def _srt_cues(path: Path, text: str) -> list[str]:
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
    return [sub.content for sub in subtitles]


def _vtt_cues(path: Path, text: str) -> list[str]:
    if not text.startswith("WEBVTT"):
        raise InputError(path, "malformed WebVTT (the first line must start with WEBVTT)")
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
    return [caption.text for caption in captions]


def _whisper_segments(path: Path, text: str) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError(path, "invalid JSON (nested too deeply)") from None
    except ValueError as exc:
        # An integer longer than Python converts by default; the rest of its message is advice
        # for programmers.
        raise InputError(path, f"invalid JSON ({_first_line(exc).split(';')[0]})") from None
    segments = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segments, list):
        raise InputError(path, 'not a Whisper transcript (expected {"segments": [...]})')
    lines = []
    for n, seg in enumerate(segments):
        if not isinstance(seg, dict) or not isinstance(seg.get("text"), str):
            raise InputError(path, f"segment {n} has no text string")
        line = _plain_line(seg["text"])
        if line:
            lines.append(line)
    return lines


def _where(text: str, offset: int) -> str:
    """ "at line N: 'its text'", for pointing at the spot a parser choked on."""
    number = text.count("\n", 0, offset) + 1
    line = text[offset:].partition("\n")[0].strip()
    return f"at line {number}: {line[:60]!r}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


def dedupe_rolling(cues: Iterable[str]) -> list[str]:
    """Drop what a cue repeats of the text before it, as rolling auto-captions do.

    A line equal to the previous line goes; so does a run of at least three words at the start of
    a line that repeats the end of what came before.
    """
    kept: list[str] = []
    tail: list[str] = []  # last words emitted, for overlap checks
    for cue in cues:
        for raw_line in cue.splitlines():
            line = _clean_line(raw_line)
            if not line or (kept and line == kept[-1]):
                continue
            words = line.split(" ")
            overlap = _overlap(tail, words)
            if overlap:
                words = words[overlap:]
                if not words:
                    continue
                line = " ".join(words)
            kept.append(line)
            tail = (tail + words)[-50:]
    return kept


def _overlap(tail: list[str], words: list[str]) -> int:
    """Length of the longest suffix of `tail` that is a prefix of `words` (>= the minimum)."""
    folded_tail = [w.lower() for w in tail]
    folded = [w.lower() for w in words]
    for size in range(min(len(folded_tail), len(folded)), _MIN_OVERLAP_WORDS - 1, -1):
        if folded_tail[-size:] == folded[:size]:
            return size
    return 0
