"""Source times for reply words: which moment of the recording each cleaned word was said at.

Chunking only moves whitespace, so the n-th non-space character of the chunks is the n-th
non-space character of the timed segments. A segment's characters share its time span evenly;
a reply word gets the time of the part word the fidelity alignment matched it to.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from transcript_cli.fidelity import align


@dataclass(frozen=True)
class TimedText:
    """A segment's text and when it was said, in seconds."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Anchor:
    """A reply word's offset in its (stripped) reply and the span of the part word it matched."""

    offset: int
    start: float
    end: float


def _visible(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


class SourceClock:
    """Time of any non-space character of a transcript, counted from its first."""

    def __init__(self, segments: Sequence[TimedText]) -> None:
        self._starts: list[int] = []  # first character index of each segment
        self._segments = [s for s in segments if _visible(s.text)]
        count = 0
        for segment in self._segments:
            self._starts.append(count)
            count += _visible(segment.text)
        self.length = count

    def span(self, index: int) -> tuple[float, float]:
        """When the character at `index` was said: its share of its segment's span."""
        n = max(0, bisect.bisect_right(self._starts, index) - 1)
        segment = self._segments[n]
        size = _visible(segment.text)
        position = min(max(index - self._starts[n], 0), size - 1)
        step = (segment.end - segment.start) / size
        return segment.start + step * position, segment.start + step * (position + 1)


@dataclass(frozen=True)
class PartClock:
    """The clock of one chunk: its text starts at character `offset` of the transcript."""

    clock: SourceClock
    offset: int

    def span(self, text: str, start: int, end: int) -> tuple[float, float]:
        """When the characters text[start:end] of the part were said."""
        before = _visible(text[:start])
        inside = max(1, _visible(text[start:end]))
        first = self.clock.span(self.offset + before)
        last = self.clock.span(self.offset + before + inside - 1)
        return first[0], last[1]


def part_clocks(segments: Sequence[TimedText], parts: Sequence[str]) -> list[PartClock] | None:
    """One clock per chunk; None if the chunks do not hold exactly the segments' characters."""
    clock = SourceClock(segments)
    clocks = []
    offset = 0
    for text in parts:
        clocks.append(PartClock(clock, offset))
        offset += _visible(text)
    return clocks if offset == clock.length and clock.length else None


def anchors(part: str, reply: str, clock: PartClock) -> list[Anchor]:
    """Times for the reply's words that the alignment matched to a word of the part."""
    stripped = reply.strip()
    lead = len(reply) - len(reply.lstrip())
    alignment = align(part, reply)
    found = []
    for s, r in alignment.pairs:
        source, said = alignment.source[s], alignment.reply[r]
        start, end = clock.span(part, source.start, source.end)
        if 0 <= said.start - lead < len(stripped):
            found.append(Anchor(said.start - lead, start, end))
    return found


def stamp(seconds: float) -> str:
    """`[HH:MM:SS]`, as a paragraph's start is shown."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"[{hours:02d}:{minutes:02d}:{secs:02d}]"
