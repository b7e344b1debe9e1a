"""A faithful stand-in model for the fake Messages API, and transcripts to feed it.

`faithful_reply` cleans a part the way prompts/clean.md asks a real model to: fillers dropped,
the first word capitalised and a full stop added at the end, unless the request's `<note>` says
the part begins or ends in the middle of a sentence. Set it as `FakeAnthropic.replier`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_NOTE = re.compile(r"<note>\n(.*)\n</note>", re.S)
_CONTINUES = re.compile(r"begins? in the middle of a sentence")
_IS_CUT = re.compile(r"ends? in the middle of a sentence")
_FILLERS = frozenset({"um", "uh", "er"})


def note_of(user: str) -> str:
    """The `<note>` of a request's user message, or ''."""
    found = _NOTE.search(user)
    return found.group(1) if found else ""


def faithful_reply(transcript: str, user: str) -> str:
    """The part cleaned; a continuation stays lower case, a cut sentence stays unfinished."""
    note = note_of(user)
    text = " ".join(w for w in transcript.split() if w.lower().strip(",") not in _FILLERS)
    if not _CONTINUES.search(note):
        text = text[:1].upper() + text[1:]
    if not _IS_CUT.search(note) and text[-1:] not in (".", "?", "!"):
        text += "."
    return text


_TOPICS = (
    "the ocean stores heat in layer {n} and most of it",
    "sits in the top few hundred meters near station {n} where",
    "warm water spreads out along current {n} and then",
    "the measurements from float {n} show that the surface",
    "keeps changing every season so the team at site {n} and",
)


def caption_line(n: int) -> str:
    """Line `n` of an unpunctuated lecture: every line unique, no fillers, no lone 'i'."""
    return _TOPICS[n % len(_TOPICS)].format(n=n)


def _stamp(seconds: float) -> str:
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{millis:03d}"


def write_rolling_vtt(path: Path, lines: int) -> Path:
    """YouTube-style auto-captions: rolling two-line cues, no punctuation, 10 ms holding cues."""
    cues = ["WEBVTT", "Kind: captions", "Language: en", ""]
    for n in range(lines):
        start = 3.01 * n
        shown = [caption_line(n - 1), caption_line(n)] if n else [caption_line(n)]
        cues += [f"{_stamp(start)} --> {_stamp(start + 3.0)} align:start position:0%", *shown, ""]
        cues += [f"{_stamp(start + 3.0)} --> {_stamp(start + 3.01)}", caption_line(n), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(cues), encoding="utf-8")
    return path


def paused_lines(count: int) -> list[tuple[str, float]]:
    """Unpunctuated speech lines, each with the silence before it: a long pause (1-2 s) before
    every fifth line, where the speaker finished a thought; 0.1-0.4 s elsewhere."""
    lines = []
    for n in range(count):
        pause = 1.0 + (n * 37 % 10) / 10 if n % 5 == 0 and n else 0.1 + (n * 13 % 4) / 10
        lines.append((caption_line(n), pause))
    return lines


def _timed_cues(lines: list[tuple[str, float]]) -> list[tuple[float, float, str]]:
    cues = []
    clock = 0.0
    for text, pause in lines:
        clock += pause
        cues.append((clock, clock + 2.5, text))
        clock += 2.5
    return cues


def write_timed(path: Path, lines: list[tuple[str, float]]) -> Path:
    """`lines` as SRT, VTT or Whisper JSON, by the suffix of `path`."""
    cues = _timed_cues(lines)
    if path.suffix == ".json":
        segments = [{"start": s, "end": e, "text": f" {t}"} for s, e, t in cues]
        path.write_text(json.dumps({"text": "", "segments": segments}), encoding="utf-8")
    elif path.suffix == ".vtt":
        body = "\n".join(f"{_stamp(s)} --> {_stamp(e)}\n{t}\n" for s, e, t in cues)
        path.write_text(f"WEBVTT\n\n{body}", encoding="utf-8")
    else:
        body = "\n".join(
            f"{n + 1}\n{_stamp(s).replace('.', ',')} --> {_stamp(e).replace('.', ',')}\n{t}\n"
            for n, (s, e, t) in enumerate(cues)
        )
        path.write_text(body, encoding="utf-8")
    return path
