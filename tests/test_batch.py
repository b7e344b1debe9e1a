"""The batch ledger's shape on disk, custom_ids, splitting at the API's limits, and polling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakes import ScriptedProvider
from transcript_cli import batch_ledger
from transcript_cli.batch import BatchOptions, BatchPolling, BatchScheduler, Packer
from transcript_cli.batch_ledger import Ledger, Submission, custom_id, job_tag, parse_custom_id
from transcript_cli.chunkset import ChunkSet
from transcript_cli.errors import CheckpointError, UsageError
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.providers.batches import BatchCounts, BatchInfo, BatchResult
from transcript_cli.retry import RetryPolicy
from transcript_cli.state import Options
from transcript_cli.work import WorkItem


def chunks(*indices: int) -> ChunkSet:
    made = ChunkSet()
    for index in indices:
        made.add(index)
    return made


def test_a_ledger_round_trips_and_is_private(tmp_path: Path) -> None:
    ledger = Ledger(
        "talk.v2",
        fallback_live=True,
        submissions=[
            Submission(1, 1700000000.5, 5, {0: chunks(0, 1, 2), 3: chunks(7, 9)}, "msgbatch_1"),
            Submission(2, 1700000100.0, 1, {1: chunks(4)}),  # an intent without an id
        ],
        collected=2,
        next_number=3,
    )
    batch_ledger.save(ledger, tmp_path)
    assert (tmp_path / batch_ledger.LEDGER_NAME).stat().st_mode & 0o077 == 0
    loaded = batch_ledger.load(tmp_path)
    assert loaded is not None
    assert (loaded.job_id, loaded.fallback_live, loaded.collected, loaded.next_number) == (
        "talk.v2",
        True,
        2,
        3,
    )
    first, second = loaded.submissions
    assert (first.number, first.requested_at, first.count, first.batch_id) == (
        1,
        1700000000.5,
        5,
        "msgbatch_1",
    )
    assert first.contains(0, 2) and first.contains(3, 9) and not first.contains(3, 8)
    assert second.batch_id is None and second.contains(1, 4)
    assert loaded.batch_ids() == ["msgbatch_1"]
    assert loaded.in_flight(1, 4) and not loaded.in_flight(2, 0)


def test_no_ledger_is_a_live_job_and_a_damaged_one_is_an_error(tmp_path: Path) -> None:
    assert batch_ledger.load(tmp_path) is None
    path = tmp_path / batch_ledger.LEDGER_NAME
    path.write_text("{", encoding="utf-8")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        batch_ledger.load(tmp_path)
    path.write_text(json.dumps({"schema": "transcript-cli/batches", "schema_version": 9}))
    with pytest.raises(CheckpointError, match="newer"):
        batch_ledger.load(tmp_path)
    batch_ledger.save(Ledger("job", submissions=[Submission(1, 1.0, 1, {0: chunks(0)})]), tmp_path)
    data = json.loads(path.read_text())
    data["submissions"][0]["members"] = {"0": [[3, 1]]}
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="members"):
        batch_ledger.load(tmp_path)


@pytest.mark.parametrize("job_id", ["talk-1a2b3c4d", "a.b.c", "x" * 80, "Lecture_01.final"])
def test_custom_ids_name_job_file_and_chunk_within_the_api_alphabet(job_id: str) -> None:
    tag = job_tag(job_id)
    value = custom_id(tag, 12345, 999999)
    assert len(value) <= 64
    assert all(c.isalnum() or c in "_-" for c in value)
    assert parse_custom_id(tag, value) == (12345, 999999)
    assert parse_custom_id(job_tag(job_id + "x"), value) is None  # another job's
    assert parse_custom_id(tag, "something-else") is None


def test_polling_grows_from_five_seconds_to_a_minute() -> None:
    delays = BatchPolling().delays()
    seen = [next(delays) for _ in range(12)]
    assert seen[0] == 5.0 and seen == sorted(seen) and seen[-1] == 60.0


def test_polling_can_be_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSCRIPT_CLI_BATCH_POLL", "0.5,2")
    polling = BatchPolling.from_env()
    assert (polling.first, polling.most) == (0.5, 2.0)
    monkeypatch.setenv("TRANSCRIPT_CLI_BATCH_POLL", "soon")
    with pytest.raises(UsageError, match="TRANSCRIPT_CLI_BATCH_POLL"):
        BatchPolling.from_env()


def _items(sizes: list[int]) -> list[WorkItem]:
    return [
        WorkItem(
            0,
            n,
            "talk.txt",
            ChunkRequest(system="s", user="u" * size, source="x", context="", max_tokens=10),
            "sha",
        )
        for n, size in enumerate(sizes)
    ]


def test_pending_chunks_are_split_into_batches_at_the_api_limits() -> None:
    by_count = Packer(iter(_items([10] * 7)), "tag", max_requests=3, max_bytes=10**6)
    batches = []
    while by_count.head is not None:
        batches.append([custom for custom, _ in by_count.take()])
        assert by_count.count == len(batches[-1])
    assert [len(b) for b in batches] == [3, 3, 1]
    assert batches[0] == ["tag_f0_c0", "tag_f0_c1", "tag_f0_c2"]

    # By size: each request weighs its UTF-8 text, a tenth more for JSON escapes, and 512
    # bytes for the params around it: (1 + 1000) * 1.1 + 512 = 1613 here.
    by_size = Packer(iter(_items([1000, 1000, 1000])), "tag", max_requests=100, max_bytes=3300)
    sizes = []
    while by_size.head is not None:
        sizes.append(len(list(by_size.take())))
        assert sorted(by_size.members[0]) == list(by_size.members[0])
    assert sizes == [2, 1]


class ListingClient:
    """Just enough of a BatchClient for orphan hunting: a batch list and their results."""

    def __init__(self, batches: list[BatchInfo], results: dict[str, list[str]]) -> None:
        self.batches = batches
        self.custom_ids = results

    def recent(self, since: float) -> Iterator[BatchInfo]:
        for batch in sorted(self.batches, key=lambda b: b.created_at, reverse=True):
            if batch.created_at >= since:
                yield batch

    def results(self, batch_id: str) -> Iterator[BatchResult]:
        for value in self.custom_ids[batch_id]:
            yield BatchResult(value, "succeeded")


@dataclass
class Book:
    """The two things orphan hunting asks of the bookkeeper."""

    job_dir: Path
    events: list[object] = field(default_factory=list)

    def emit(self, event: object) -> None:
        self.events.append(event)


def test_orphans_are_adopted_by_time_count_and_custom_ids_or_dropped(tmp_path: Path) -> None:
    tag = job_tag("job")
    at = 1_800_000_000.0
    ended = BatchCounts(succeeded=3)
    client = ListingClient(
        [
            BatchInfo("running_2", "in_progress", BatchCounts(processing=2), at + 1),
            BatchInfo("foreign_3", "ended", ended, at + 2),  # same size, another job's chunks
            BatchInfo("ours_3", "ended", ended, at + 3),
            BatchInfo("claimed_5", "ended", BatchCounts(succeeded=5), at + 4),
            BatchInfo("too_old_5", "ended", BatchCounts(succeeded=5), at - 3600),
        ],
        {
            "foreign_3": [f"{job_tag('other')}_f0_c{n}" for n in range(3)],
            "ours_3": [f"{tag}_f1_c{n}" for n in range(3)],
        },
    )
    ledger = Ledger(
        "job",
        submissions=[
            Submission(1, at, 5, {0: chunks(0, 1, 2, 3, 4)}, "claimed_5"),
            Submission(2, at, 2, {0: chunks(5, 6)}),
            Submission(3, at, 3, {1: chunks(0, 1, 2)}),
            Submission(4, at, 5, {2: chunks(0, 1, 2, 3, 4)}),  # never reached the API
        ],
    )
    scheduler = BatchScheduler(
        client,  # type: ignore[arg-type]
        ScriptedProvider(),
        Options(concurrency=1, max_retries=1, timeout=1.0),
        BatchOptions(),
        policy=RetryPolicy(),
    )
    scheduler.tag = tag
    book = Book(tmp_path)
    scheduler._adopt_orphans(book, ledger)  # type: ignore[arg-type]
    assert [(s.number, s.batch_id) for s in ledger.submissions] == [
        (1, "claimed_5"),
        (2, "running_2"),  # in progress: time and count are all there is to go on
        (3, "ours_3"),  # ended: its custom_ids are exactly the intent's chunks
    ]
    assert not ledger.in_flight(2, 0)  # the dropped intent's chunks are pending again
    assert batch_ledger.load(tmp_path) is not None  # saved
    assert [e.batch_id for e in book.events] == ["running_2", "ours_3"]  # type: ignore[attr-defined]
