"""Caption cues to spoken text, each line once: rolling captions undone per cue, from text and time.

Caption files show text in one of a few ways, and the style is a property of the file:

- pop-on: each cue is new text (film and TV subtitles, YouTube manual captions);
- roll-up: each cue shows the last 2-4 rows, one new (live and broadcast captions);
- paint-on: a cue's last row grows, word by word or character by character;
- word-timed: YouTube automatic captions, a timed row plus the previous one, with brief
  transition cues in between.

In every style, a cue that does not overlap or touch the one before it in time starts from a clear
screen, so whatever it repeats was said again. In pop-on files only an exact duplicate cue
overlapping the one before it goes; in the others, the rows a cue carries over from the cue before
(and a row that grows) are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from transcript_cli.markup import has_word_timing
from transcript_cli.speakers import Row, TimedRow, rows_of
from transcript_cli.transcript import CaptionStyle

# Cues closer than this in time are continuous (converters round to a frame or a millisecond).
_TOUCHING_SECONDS = 0.3
# A file is rolling when at least this share of touching cue pairs carry rows over.
_ROLLING_SHARE = 0.3
# A re-wrapped rolling cue repeats the end of the one before as words, not rows: at least this many.
_MIN_WORD_OVERLAP = 3


@dataclass(frozen=True)
class Cue:
    """One cue as its file holds it: raw text with markup, times in seconds."""

    text: str
    start: float | None = None
    end: float | None = None
    speaker: str | None = None  # a speaker field of the format (ASS `Name`)


@dataclass(frozen=True)
class _Shown:
    rows: list[Row]
    start: float | None
    end: float | None


def spoken_rows(cues: Sequence[Cue], *, ass: bool = False) -> tuple[list[TimedRow], CaptionStyle]:
    """Each spoken row once, with its cue, and the file's caption style."""
    shown = [_Shown(rows_of(c.text, speaker=c.speaker, ass=ass), c.start, c.end) for c in cues]
    word_timed = sum(has_word_timing(c.text) for c in cues)
    style = detect_style(shown, word_timed)
    kept: list[TimedRow] = []
    previous: _Shown | None = None
    for index, cue in enumerate(shown):
        if not cue.rows:
            continue  # an empty cue neither clears nor shows anything worth comparing
        rows, carried, grown = cue.rows, 0, False
        if previous is not None and _touching(previous, cue):
            if style == "pop-on":
                if cue.rows == previous.rows and _overlapping(previous, cue):
                    carried = len(rows)
            else:
                carried, grown = _carried(previous.rows, rows)
                if not carried:
                    rows = _trim_repeated_words(previous.rows, rows)
        if grown and kept and rows[carried - 1].text.startswith(kept[-1].row.text):
            # The row typed on so far is replaced by its longer version.
            kept[-1] = TimedRow(rows[carried - 1], kept[-1].cue, kept[-1].start, cue.end)
        kept.extend(TimedRow(row, index, cue.start, cue.end) for row in rows[carried:])
        previous = cue
    return kept, style


def detect_style(shown: Sequence[_Shown], word_timed: int) -> CaptionStyle:
    """The file's caption style, from how often cues carry over or grow the rows before them."""
    if word_timed and word_timed * 10 >= len(shown):
        return "word-timed"
    pairs = carried = grown = 0
    for before, after in pairwise(shown):
        if not before.rows or not after.rows or not _touching(before, after):
            continue
        pairs += 1
        count, extended = _carried(before.rows, after.rows)
        if count and (extended or count < len(after.rows) or count < len(before.rows)):
            carried += 1
            grown += extended
    if pairs and carried >= max(2, pairs * _ROLLING_SHARE):
        return "paint-on" if grown * 2 > carried else "roll-up"
    return "pop-on"


def _touching(before: _Shown, after: _Shown) -> bool:
    if before.end is None or after.start is None:
        return True
    return after.start <= before.end + _TOUCHING_SECONDS


def _overlapping(before: _Shown, after: _Shown) -> bool:
    if before.end is None or after.start is None or before.start is None:
        return False
    return after.start < before.end or (after.start, after.end) == (before.start, before.end)


def _carried(before: list[Row], after: list[Row]) -> tuple[int, bool]:
    """How many leading rows of `after` the end of `before` already shows; and whether the last
    of them grew (typed on)."""
    for size in range(min(len(before), len(after)), 0, -1):
        tail = before[-size:]
        if after[: size - 1] != tail[:-1]:
            continue
        last, now = tail[-1], after[size - 1]
        if now == last:
            return size, False
        if _grows(last, now):
            return size, True
    return 0, False


def _grows(before: Row, after: Row) -> bool:
    return (
        before.speaker == after.speaker
        and before.dash == after.dash
        and len(after.text) > len(before.text)
        and after.text.startswith(before.text)
    )


def _trim_repeated_words(before: list[Row], after: list[Row]) -> list[Row]:
    """`after` without the words it repeats of the end of `before` (a re-wrapped rolling cue)."""
    old = " ".join(r.text for r in before).split()
    new_rows = [r.text.split() for r in after]
    new = [w for words in new_rows for w in words]
    repeated = next(
        (
            size
            for size in range(min(len(old), len(new)), _MIN_WORD_OVERLAP - 1, -1)
            if old[-size:] == new[:size]
        ),
        0,
    )
    trimmed: list[Row] = []
    for row, words in zip(after, new_rows, strict=True):
        if repeated >= len(words):
            repeated -= len(words)
            continue
        trimmed.append(Row(" ".join(words[repeated:]), row.speaker) if repeated else row)
        repeated = 0
    return trimmed
