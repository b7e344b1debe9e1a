"""Chunk results stored from worker threads: what is written, and nothing after the run ends."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.fakes import ScriptedProvider
from transcript_cli.chunk_results import ChunkResult, ResultStore
from transcript_cli.pricing import batch_price, cost_usd, price_for
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.result_writer import ResultWriter
from transcript_cli.work import Billed, ChunkOutcome, Reply, WorkItem

PRICE = price_for("anthropic", "claude-haiku-4-5")


def _outcome(
    chunk: int, *, batch: bool = False, text: str = "Cleaned.", discarded: tuple[Billed, ...] = ()
) -> ChunkOutcome:
    request = ChunkRequest(system="s", user="u", source="said", context="", max_tokens=100)
    item = WorkItem(0, chunk, "talk.txt", request, "f" * 64)
    reply = Reply(
        text=text,
        input_tokens=1000,
        output_tokens=200,
        model=ScriptedProvider.model,
        stop_reason="end_turn",
        pieces=2,
        warning="fidelity: kept 50%",
    )
    return ChunkOutcome(item, retries=3, reply=reply, batch=batch, discarded=discarded)


def _writer(results: ResultStore) -> ResultWriter:
    return ResultWriter(
        results,
        settings_hash="e" * 64,
        provider_name="anthropic",
        price=PRICE,
        batch_price=batch_price(PRICE),
    )


def test_store_writes_the_result_the_outcome_now_carries(tmp_path: Path) -> None:
    results = ResultStore(tmp_path)
    writer = _writer(results)
    stored = writer.store(_outcome(4))
    assert stored.stored is not None
    assert results.get(0, 4) == stored.stored
    assert stored.stored == ChunkResult(
        input_index=0,
        chunk_index=4,
        source_sha256="f" * 64,
        settings_hash="e" * 64,
        text="Cleaned.",
        input_tokens=1000,
        output_tokens=200,
        cost_usd=cost_usd(PRICE, 1000, 200),
        model=ScriptedProvider.model,
        provider="anthropic",
        retries=3,
        stop_reason="end_turn",
        pieces=2,
        warning="fidelity: kept 50%",
    )
    # Batch replies are billed at batch prices; a stored outcome is not written twice.
    in_batch = writer.store(_outcome(5, batch=True)).stored
    assert in_batch is not None and in_batch.cost_usd == cost_usd(batch_price(PRICE), 1000, 200)
    assert writer.store(stored) is stored
    # Replies billed but discarded on the way (a piece cut off, say) are in the stored result,
    # so a crash before the bookkeeper counts it loses none of that spend either.
    with_extra = writer.store(_outcome(6, discarded=(Billed(500, 100),))).stored
    assert with_extra is not None
    assert (with_extra.input_tokens, with_extra.output_tokens) == (1500, 300)
    kept, extra = cost_usd(PRICE, 1000, 200), cost_usd(PRICE, 500, 100)
    assert kept is not None and extra is not None
    assert with_extra.cost_usd == kept + extra


def test_outcomes_without_a_reply_pass_through(tmp_path: Path) -> None:
    results = ResultStore(tmp_path)
    failed = ChunkOutcome(_outcome(1).item, 0, error=RuntimeError("boom"))
    assert _writer(results).store(failed) is failed
    assert results.stored_indices(0) == set()


def test_nothing_is_stored_after_close(tmp_path: Path) -> None:
    results = ResultStore(tmp_path)
    writer = _writer(results)
    writer.close()
    late = _outcome(2)
    assert writer.store(late) is late  # handed back unstored, as a reply after its run ended
    assert results.stored_indices(0) == set()


class _HeldStore(ResultStore):
    """The real store, whose writes wait until the test lets them go."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.entered = threading.Event()
        self.release = threading.Event()

    def put(self, result: ChunkResult) -> None:
        self.entered.set()
        assert self.release.wait(10)
        super().put(result)


def test_close_waits_for_a_write_under_way(tmp_path: Path) -> None:
    """So no result file lands after the run that closed it has returned (and its lock gone)."""
    results = _HeldStore(tmp_path)
    writer = _writer(results)
    worker = threading.Thread(target=writer.store, args=(_outcome(7),))
    worker.start()
    assert results.entered.wait(10)
    closed = threading.Event()
    closer = threading.Thread(target=lambda: (writer.close(), closed.set()))
    closer.start()
    assert not closed.wait(0.2)  # still writing: close waits
    results.release.set()
    assert closed.wait(10)
    assert results.get(0, 7) is not None  # the write under way completed before close returned
    worker.join(10)
    closer.join(10)
