"""Repeated messages counted by kind, so thirty identical warnings make one line, not thirty."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Messages of one kind differ only in their figures ("reply is 12% of ..." / "... 9% of ...").
_FIGURES = re.compile(r"\d+(?:[.,]\d+)*")


def kind_of(message: str) -> str:
    """A message with its figures blanked: what makes two messages 'the same warning'."""
    return _FIGURES.sub("#", message)


@dataclass
class Repeat:
    """One kind of message: how often it came, and where it came first."""

    label: str  # "warning", "retried"
    first: str  # the first message of this kind, as it was
    where: str  # "talk.vtt chunk 3"
    count: int = 1


class Tally:
    """Counts messages per (label, kind); says which one is the first of its kind."""

    def __init__(self) -> None:
        self._repeats: dict[tuple[str, str], Repeat] = {}

    def add(self, label: str, message: str, where: str) -> bool:
        """Count one message; True if it is the first of its kind (worth printing in full)."""
        key = (label, kind_of(message))
        seen = self._repeats.get(key)
        if seen is None:
            self._repeats[key] = Repeat(label, message, where)
            return True
        seen.count += 1
        return False

    def repeated(self) -> list[Repeat]:
        """Kinds seen more than once, in the order they first came."""
        return [r for r in self._repeats.values() if r.count > 1]
