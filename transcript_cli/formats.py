"""Reading transcripts: .txt, .srt, .vtt, .ass/.ssa and speech-to-text JSON become segments.

This module picks the reader by extension and ties the steps together: decoding (`decoding`),
cues (`subtitles`, `jsonformats`), rolling-caption removal (`captions`), markup (`markup`) and
speaker turns (`speakers`).
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path

from transcript_cli.captions import spoken_rows
from transcript_cli.decoding import read_text
from transcript_cli.errors import InputError
from transcript_cli.jsonformats import parse_json
from transcript_cli.scripts import strip_bidi
from transcript_cli.speakers import TimedRow, row_of, turns
from transcript_cli.subtitles import ass_cues, srt_cues, vtt_cues
from transcript_cli.transcript import Segment, Transcript

SUFFIXES = (".txt", ".srt", ".vtt", ".json", ".ass", ".ssa")


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_file_kind(mode: int) -> str | None:
    """What a non-regular, non-folder file is; reading one could block forever or never end."""
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), None)


def refuse_special_file(path: Path, mode: int) -> None:
    """The one-line error for a pipe, socket or device given as a transcript."""
    kind = special_file_kind(mode)
    if kind is not None:
        raise InputError(path, f"is {kind}, not a regular file")


def discover_inputs(paths: Sequence[Path]) -> list[Path]:
    """Expand folders to the transcripts in them (sorted); the first bad path is an error."""
    found, problems = find_inputs(paths)
    if problems:
        raise problems[0]
    return found


def find_inputs(paths: Sequence[Path]) -> tuple[list[Path], list[InputError]]:
    """Folders expanded to the transcripts in them (sorted), each file once; and every path that
    is missing, of an unknown type or a folder without transcripts."""
    if not paths:
        raise InputError("-", "no input given")
    found: list[Path] = []
    problems: list[InputError] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES
            )
            if not inside:
                problems.append(
                    InputError(path, f"folder holds no transcripts ({', '.join(SUFFIXES)} files)")
                )
            found.extend(inside)
        elif path.exists():
            refuse_special_file(path, path.stat().st_mode)
            if path.suffix.lower() not in SUFFIXES:
                problems.append(
                    InputError(
                        path,
                        f"unknown transcript type '{path.suffix or '(none)'}' "
                        f"(expected {', '.join(SUFFIXES)})",
                    )
                )
            else:
                found.append(path)
        else:
            problems.append(InputError(path, "file not found"))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, problems


def read_transcript(path: Path, encoding: str | None = None) -> Transcript:
    """Parse one file by its extension; every problem is an InputError naming it.

    `encoding` forces how its bytes are decoded (else UTF-8 or a detected legacy encoding).
    """
    text, used = read_text(path, encoding)
    suffix = path.suffix.lower()
    style = None
    if suffix in (".srt", ".vtt", ".ass", ".ssa"):
        if suffix == ".srt":
            cues = srt_cues(path, text)
        elif suffix == ".vtt":
            cues = vtt_cues(path, text)
        else:
            cues = ass_cues(path, text)
        rows, style = spoken_rows(cues, ass=suffix in (".ass", ".ssa"))
        segments = turns(rows)
    elif suffix == ".json":
        spoken = parse_json(path, text)
        segments = turns(
            TimedRow(row_of(s.text, s.speaker), n, s.start, s.end) for n, s in enumerate(spoken)
        )
    elif suffix == ".txt":
        # Plain text holds no markup: "x < y" and "AT&amp;T" stay as written.
        lines = (" ".join(strip_bidi(line).split()) for line in text.splitlines())
        segments = [Segment(line) for line in lines if line]
    else:
        raise InputError(path, f"unknown transcript type '{path.suffix or '(none)'}'")
    if not segments:
        raise InputError(path, "no transcript text found")
    return Transcript(path=path, segments=segments, encoding=used, captions=style)
