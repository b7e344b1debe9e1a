"""A set of chunk indices kept as sorted ranges, so its JSON stays small however long the job."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence


class ChunkSet:
    """Finished chunk indices as disjoint half-open ranges [start, end).

    Chunks finish nearly in order even when concurrent, so a 20,000-chunk file is a few ranges.
    """

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        pos = bisect.bisect_right(self._starts, index) - 1
        return pos >= 0 and index < self._ends[pos]

    def __len__(self) -> int:
        return sum(e - s for s, e in zip(self._starts, self._ends, strict=True))

    def __iter__(self) -> Iterator[int]:
        for start, end in zip(self._starts, self._ends, strict=True):
            yield from range(start, end)

    def add(self, index: int) -> None:
        """Insert one index, merging with neighbouring ranges."""
        if index in self:
            return
        pos = bisect.bisect_right(self._starts, index)
        joins_left = pos > 0 and self._ends[pos - 1] == index
        joins_right = pos < len(self._starts) and self._starts[pos] == index + 1
        if joins_left and joins_right:
            self._ends[pos - 1] = self._ends[pos]
            del self._starts[pos]
            del self._ends[pos]
        elif joins_left:
            self._ends[pos - 1] = index + 1
        elif joins_right:
            self._starts[pos] = index
        else:
            self._starts.insert(pos, index)
            self._ends.insert(pos, index + 1)

    def first_missing(self, total: int) -> int | None:
        """Lowest index in [0, total) not in the set."""
        if not self._starts or self._starts[0] > 0:
            return 0 if total > 0 else None
        return self._ends[0] if self._ends[0] < total else None

    def to_ranges(self) -> list[list[int]]:
        """JSON shape: [[start, end], ...]."""
        return [[s, e] for s, e in zip(self._starts, self._ends, strict=True)]

    @classmethod
    def from_ranges(cls, ranges: Sequence[Sequence[int]]) -> ChunkSet:
        """Trusts validated, sorted, disjoint ranges (the checkpoint loader checks them)."""
        made = cls()
        for start, end in ranges:
            made._starts.append(start)
            made._ends.append(end)
        return made
