"""A finished chunk's result made durable on the thread that got its reply, before it is counted.

Storing a result is two fsyncs. On the bookkeeper's thread, at `-j 64`, those fsyncs (and the GIL
handed back and forth around each) were the job's bottleneck: every worker waited its turn. Each
result is its own file, so workers write their own, in parallel, and the bookkeeper only counts
them. A kill between the two leaves a stored result the checkpoint does not name, which the next
run adopts (`Bookkeeper.adopt_leftovers`): paid for once, never lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace

from transcript_cli.chunk_results import ChunkResult, ResultStore
from transcript_cli.pricing import Price, cost_usd
from transcript_cli.work import Billed, ChunkOutcome


class ResultWriter:
    """Builds and stores chunk results; thread-safe, and closed for good when its run ends."""

    def __init__(
        self,
        results: ResultStore,
        *,
        settings_hash: str,
        provider_name: str,
        price: Price | None,
        batch_price: Price | None,
    ) -> None:
        self.results = results
        self.settings_hash = settings_hash
        self.provider_name = provider_name
        self.price = price
        self.batch_price = batch_price
        self._gate = threading.Condition()
        self._writing = 0
        self._closed = False

    def billed(self, billed: Iterable[Billed]) -> tuple[int, int, float | None]:
        """Tokens in and out and their cost (None: a price is unknown), each at its price."""
        input_tokens = output_tokens = 0
        cost: float | None = 0.0
        for part in billed:
            input_tokens += part.input_tokens
            output_tokens += part.output_tokens
            price = self.batch_price if part.batch else self.price
            part_cost = cost_usd(price, part.input_tokens, part.output_tokens)
            cost = None if cost is None or part_cost is None else cost + part_cost
        return input_tokens, output_tokens, cost

    def result_of(self, outcome: ChunkOutcome) -> ChunkResult:
        """The result a finished chunk's reply makes (the same on every thread, live or batch).

        It carries all the chunk was billed, replies discarded on the way included, so adopting
        it after a crash counts that spend too, and only once.
        """
        reply = outcome.reply
        assert reply is not None
        work = outcome.item
        kept = Billed(reply.input_tokens, reply.output_tokens, batch=outcome.batch)
        input_tokens, output_tokens, cost = self.billed((kept, *outcome.discarded))
        return ChunkResult(
            input_index=work.input_index,
            chunk_index=work.chunk_index,
            source_sha256=work.source_sha256,
            settings_hash=self.settings_hash,
            text=reply.text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            model=reply.model,
            provider=self.provider_name,
            retries=outcome.retries,
            stop_reason=reply.stop_reason,
            pieces=reply.pieces,
            warning=reply.warning,
        )

    def store(self, outcome: ChunkOutcome) -> ChunkOutcome:
        """Store a finished chunk's result now; the outcome says so (`stored`).

        Outcomes without a reply pass through. After `close` nothing is written: the outcome
        passes through unstored, as a reply that came back after its run ended always has.
        A failed write raises StorageError, which ends the run like any failed write.
        """
        if outcome.reply is None or outcome.stored is not None:
            return outcome
        with self._gate:
            if self._closed:
                return outcome
            self._writing += 1
        try:
            result = self.result_of(outcome)
            self.results.put(result)
        finally:
            with self._gate:
                self._writing -= 1
                self._gate.notify_all()
        return replace(outcome, stored=result)

    def close(self) -> None:
        """No more writes: waits for those under way, so none lands after its run has ended."""
        with self._gate:
            self._closed = True
            self._gate.wait_for(lambda: self._writing == 0)
