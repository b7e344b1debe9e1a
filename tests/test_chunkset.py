"""ChunkSet: finished chunk indices kept as merged, sorted ranges."""

from __future__ import annotations

import random

import pytest

from transcript_cli.chunkset import ChunkSet


def made(*indices: int) -> ChunkSet:
    chunks = ChunkSet()
    for index in indices:
        chunks.add(index)
    return chunks


def test_empty() -> None:
    chunks = ChunkSet()
    assert len(chunks) == 0
    assert list(chunks) == []
    assert chunks.to_ranges() == []
    assert 0 not in chunks
    assert chunks.first_missing(5) == 0
    assert chunks.first_missing(0) is None


def test_in_order_adds_form_one_range() -> None:
    chunks = made(0, 1, 2, 3)
    assert chunks.to_ranges() == [[0, 4]]
    assert len(chunks) == 4
    assert list(chunks) == [0, 1, 2, 3]


def test_adding_twice_changes_nothing() -> None:
    chunks = made(3, 3, 4, 3)
    assert chunks.to_ranges() == [[3, 5]]
    assert len(chunks) == 2


def test_gap_filling_add_merges_both_neighbours() -> None:
    chunks = made(0, 1, 3, 4)
    assert chunks.to_ranges() == [[0, 2], [3, 5]]
    chunks.add(2)
    assert chunks.to_ranges() == [[0, 5]]
    assert len(chunks) == 5


def test_add_joins_left_or_right_only() -> None:
    chunks = made(5, 10)
    chunks.add(6)  # extends [5, 6) to the right
    chunks.add(9)  # extends [10, 11) to the left
    assert chunks.to_ranges() == [[5, 7], [9, 11]]
    chunks.add(0)  # a new range before everything
    chunks.add(20)  # and one after
    assert chunks.to_ranges() == [[0, 1], [5, 7], [9, 11], [20, 21]]


def test_out_of_order_adds_give_the_same_ranges_as_sorted_ones() -> None:
    indices = [*range(0, 40), *range(50, 70), 99]
    shuffled = indices[:]
    random.Random(7).shuffle(shuffled)
    chunks = made(*shuffled)
    assert chunks.to_ranges() == [[0, 40], [50, 70], [99, 100]]
    assert list(chunks) == indices
    assert len(chunks) == len(indices)


def test_reverse_order_adds() -> None:
    chunks = made(*range(9, -1, -1))
    assert chunks.to_ranges() == [[0, 10]]


@pytest.mark.parametrize(
    ("index", "expected"),
    [(-1, False), (0, True), (1, True), (2, False), (4, False), (5, True), (6, False)],
)
def test_contains_at_range_edges(index: int, expected: bool) -> None:
    chunks = made(0, 1, 5)  # [[0, 2], [5, 6]]
    assert (index in chunks) is expected


def test_contains_refuses_non_integers() -> None:
    chunks = made(0, 1)
    assert "0" not in chunks
    assert None not in chunks
    assert 0.5 not in chunks


def test_first_missing() -> None:
    assert made(0, 1, 2).first_missing(5) == 3
    assert made(0, 1, 2).first_missing(3) is None
    assert made(1, 2).first_missing(3) == 0
    assert made(0, 2).first_missing(3) == 1
    assert made(0, 1, 2, 3).first_missing(2) is None  # total smaller than what is done


def test_first_missing_matches_a_plain_set() -> None:
    rng = random.Random(11)
    for _ in range(200):
        total = rng.randint(0, 30)
        done = {rng.randrange(40) for _ in range(rng.randint(0, 40))}
        chunks = made(*done)
        expected = next((i for i in range(total) if i not in done), None)
        assert chunks.first_missing(total) == expected
        assert list(chunks) == sorted(done)
        assert len(chunks) == len(done)


def test_ranges_round_trip() -> None:
    chunks = made(0, 1, 2, 7, 8, 12)
    ranges = chunks.to_ranges()
    assert ranges == [[0, 3], [7, 9], [12, 13]]
    again = ChunkSet.from_ranges(ranges)
    assert again.to_ranges() == ranges
    assert list(again) == list(chunks)
    assert len(again) == 6


def test_from_ranges_then_add_keeps_merging() -> None:
    chunks = ChunkSet.from_ranges([[0, 3], [5, 6]])
    chunks.add(3)
    chunks.add(4)
    assert chunks.to_ranges() == [[0, 6]]
    assert chunks.first_missing(10) == 6


def test_to_ranges_is_a_copy() -> None:
    chunks = made(0, 1)
    chunks.to_ranges()[0][1] = 99
    assert chunks.to_ranges() == [[0, 2]]
