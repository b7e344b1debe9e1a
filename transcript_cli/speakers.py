"""Who speaks: voice tags, dialogue dashes and `Name:` prefixes become labelled turns.

A cue's rows keep their speaker (a name, or an unnamed change of speaker) so that rolling-caption
removal compares like with like, and `turns()` then renders them as the lines the model sees:
`Name: text` where a named speaker starts, `- text` for an unnamed change of speaker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from transcript_cli.markup import caption_lines
from transcript_cli.scripts import join_text
from transcript_cli.transcript import Segment

# <v Name>, <v.loud Name>; the name runs to the closing ">".
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^<>]+?)\s*>", re.I)
# "- Hi." / "-Hi." / "– Hi." in subtitles, ">> " in broadcast captions: a new speaker. Not "-5".
_DASH = re.compile(r"^(?:[-‐–—](?![-\d])\s*|>>+\s*)(?=\S)")
# "Name:" / "DR. SMITH:" / "Anna-Lena:" at the start of a row: up to four capitalised words, so
# "So the plan is: ship it" stays a sentence. "玛丽：" with a full-width colon for CJK names.
_NAME = re.compile(
    r"^(?P<name>[A-Z][\w.'’-]*(?: [A-Z0-9][\w.'’-]*){0,3}):\s+(?=\S)"
    r"|^(?P<cjk>[\u4e00-\u9fff\u3040-\u30ff]{1,6})：\s*(?=\S)"
)
# Words that end in a colon at a row's start without naming anyone.
_NOT_NAMES = frozenset({"Note", "Warning", "Example", "Question", "Answer", "Update", "Re"})


@dataclass(frozen=True)
class Row:
    """One displayed line of a cue, without its speaker marker."""

    text: str
    speaker: str | None = None  # a name the file gives
    dash: bool = False  # an unnamed change of speaker ("- ", ">> ")


def rows_of(raw: str, *, speaker: str | None = None, ass: bool = False) -> list[Row]:
    """The rows of a cue's raw text, each with the speaker its voice tag or prefix names."""
    rows: list[Row] = []
    for voice, text in _voiced(_VOICE.split(raw), speaker):
        rows.extend(row_of(line, voice) for line in caption_lines(text, ass=ass))
    return rows


def _voiced(parts: list[str], speaker: str | None) -> Iterable[tuple[str | None, str]]:
    """re.split's [before, name1, text1, name2, text2, ...] as (speaker, text) pairs."""
    yield speaker, parts[0]
    for n in range(1, len(parts) - 1, 2):
        yield parts[n].strip() or speaker, parts[n + 1]


def row_of(line: str, speaker: str | None = None) -> Row:
    """A plain line with its marker read off: a dash, or a `Name:` prefix."""
    dash = _DASH.match(line)
    if dash:
        return Row(line[dash.end() :], speaker, dash=speaker is None)
    named = _NAME.match(line)
    if named:
        name = named.group("name") or named.group("cjk")
        if name not in _NOT_NAMES:
            return Row(line[named.end() :], name)
    return Row(line, speaker)


@dataclass(frozen=True)
class TimedRow:
    """A row kept after rolling-caption removal, with its cue's index and times."""

    row: Row
    cue: int
    start: float | None = None
    end: float | None = None


def turns(rows: Iterable[TimedRow]) -> list[Segment]:
    """Rows as segments: a labelled line where the speaker changes, joined text otherwise.

    A row without a marker continues the turn before it, except right after a cue of dialogue
    dashes: who speaks then is unknown, so it starts an unlabelled line.
    """
    segments: list[Segment] = []
    current: str | None = None
    dashed_cue: int | None = None  # the cue whose rows started with dashes
    pending: list[TimedRow] = []

    def flush(turn: bool, label: str) -> None:
        if not pending:
            return
        text = ""
        for item in pending:
            text = join_text(text, item.row.text)
        segments.append(
            Segment(f"{label}{text}", turn or not segments, pending[0].start, pending[-1].end)
        )
        pending.clear()

    turn, label = True, ""
    for item in rows:
        row = item.row
        new: tuple[bool, str] | None = None
        if row.speaker is not None and row.speaker != current:
            new, current = (True, f"{row.speaker}: "), row.speaker
        elif row.dash:
            new, current, dashed_cue = (True, "- "), None, item.cue
        elif row.speaker is None and dashed_cue is not None and item.cue != dashed_cue:
            new, dashed_cue = (True, ""), None
        elif pending and pending[-1].cue != item.cue:
            new = (False, "")  # one segment per cue, so cue times and boundaries survive
        if new is not None:
            flush(turn, label)
            turn, label = new
        pending.append(item)
    flush(turn, label)
    return segments
