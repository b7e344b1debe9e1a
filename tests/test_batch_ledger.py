"""The batch ledger's shape on disk, custom_ids, and the polling policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transcript_cli import batch_ledger
from transcript_cli.batch import BatchPolling
from transcript_cli.batch_ledger import Ledger, Submission, custom_id, job_tag, parse_custom_id
from transcript_cli.chunkset import ChunkSet
from transcript_cli.errors import CheckpointError, UsageError


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
