"""A transcript as read from its file: text segments in spoken order, and how the file was read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# How a caption file shows its text, detected per file (see captions.py); None for formats
# without cues (plain text, JSON).
CaptionStyle = Literal["pop-on", "roll-up", "paint-on", "word-timed"]


@dataclass(frozen=True)
class Segment:
    """A piece of spoken text: a cue, a JSON segment, a line of a text file.

    `turn` starts a new line (a new speaker's turn, or a line of a text file); otherwise the
    segment continues the text before it, joined with a space (none between CJK characters).
    Times are in seconds when the format has them.
    """

    text: str
    turn: bool = True
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class Transcript:
    """One input as segments, with the encoding it was decoded with and its caption style."""

    path: Path
    segments: list[Segment]
    encoding: str = "utf-8"
    captions: CaptionStyle | None = None

    @property
    def texts(self) -> list[str]:
        """The segments' texts, for callers that only need those."""
        return [s.text for s in self.segments]
