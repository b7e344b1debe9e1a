"""The live scheduler: chunks go out as Messages API calls on worker threads, paced together.

It keeps up to `concurrency` chunks in flight (worker.py does one chunk: pacing slot, retries,
splitting, checks). A worker stores its chunk's result file itself, then this loop, on the
bookkeeper's thread, settles the chunks that finished together under one checkpoint: at -j 64
the per-chunk fsyncs no longer queue on one thread. Workers touch no other state. It also says
so when nothing comes back for longer than a request may take.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, SimpleQueue

from transcript_cli.bookkeeper import Bookkeeper
from transcript_cli.errors import ProviderError
from transcript_cli.events import ChunkRetrying, ChunkStarted, Event, PauseStarted, Stalled
from transcript_cli.pacing import Pacer, PacingPolicy
from transcript_cli.providers.base import Provider
from transcript_cli.retry import RetryPolicy
from transcript_cli.state import Options
from transcript_cli.work import ChunkOutcome, WorkItem
from transcript_cli.worker import ChunkWorker

_POLL_SECONDS = 0.1
# No answer at all for this long past the request timeout is a stall worth saying out loud.
STALL_GRACE_SECONDS = 5.0


def pacing_policy(options: Options) -> PacingPolicy:
    """How the live scheduler paces requests for these options."""
    return PacingPolicy(max_in_flight=max(1, options.concurrency), rpm=options.rpm, tpm=options.tpm)


class LiveScheduler:
    """Sends every pending chunk through a pool of workers sharing one pacer."""

    def __init__(
        self,
        provider: Provider,
        options: Options,
        *,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.options = options
        self.concurrency = max(1, options.concurrency)
        self.policy = policy
        self.pacer = Pacer(pacing_policy(options))
        self.stall_seconds = options.timeout + STALL_GRACE_SECONDS
        self.clock = clock
        self._last_sign_of_life = clock()

    def drive(self, book: Bookkeeper) -> ProviderError | None:
        """Keep up to `concurrency` chunks in flight, settle them as they finish."""
        control = book.control

        def emit(event: Event) -> None:
            if isinstance(event, ChunkRetrying):
                self._last_sign_of_life = self.clock()  # a retry is a sign of life
            book.emit(event)

        self.pacer.on_change = emit  # throttle episodes are told like any other event
        worker = ChunkWorker(
            self.provider,
            self.pacer,
            self.policy,
            pause=control.pause,
            strict=self.options.strict,
            emit=emit,
            verbatim=book.template.verbatim,
        )
        self._last_sign_of_life = self.clock()

        def answer(item: WorkItem) -> ChunkOutcome:
            return book.store_result(worker.run(item))

        flight = _Flight(book, answer, self.concurrency)
        failure: ProviderError | None = None
        pause_told = False
        try:
            while True:
                stopping = failure is not None or control.pause.is_set()
                if not stopping:
                    flight.fill()
                if stopping and not pause_told and failure is None:
                    pause_told = True
                    book.emit(PauseStarted(in_flight=len(flight.in_flight)))
                if not flight.in_flight:
                    break
                finished = flight.collect(_POLL_SECONDS)
                if control.abort.is_set():
                    # Abandon what is in flight: it is redone on resume; state is consistent.
                    book.stop_paused()
                if not finished:
                    book.flush()  # nothing came back for a while: write what is owed
                    self._watch_for_stall(book, len(flight.in_flight))
                    continue
                self._last_sign_of_life = self.clock()
                if (
                    book.budget is None  # --max-cost admits a chunk only on settled costs
                    and not control.pause.is_set()
                    and all(future.exception() is None for future in finished)
                ):
                    # Their results are stored: the next chunks start before the bookkeeping,
                    # so no slot waits for a checkpoint to be written.
                    flight.fill()
                found = book.settle_all(
                    (future.result() for future in finished),
                    # Even at -j 1 the next chunk is out by now and will carry the checkpoint:
                    # one per chunk there cost a second fsynced write racing the worker's.
                    more_coming=bool(flight.in_flight),
                )
                if found is not None and failure is None:
                    failure = found
                    # Workers waiting for a pacing slot or a retry must not send more.
                    control.pause.set()
        finally:
            flight.pool.shutdown(wait=False, cancel_futures=True)
        return failure

    def _watch_for_stall(self, book: Bookkeeper, in_flight: int) -> None:
        """No answer and no retry for longer than a request may take: say so, once a period."""
        quiet = self.clock() - self._last_sign_of_life
        if quiet < self.stall_seconds:
            return
        self._last_sign_of_life = self.clock()
        waiting = self.pacer.paused_until - time.monotonic()
        if waiting > 0:
            reason = f"rate limited: every request waits {waiting:.0f}s more for retry-after"
        elif in_flight and self.pacer.in_flight == 0:
            reason = "waiting for the rate limit to allow the next request"
        else:
            reason = f"{self.pacer.in_flight} request(s) sent and not answered"
        book.emit(Stalled(seconds=quiet, in_flight=in_flight, reason=reason))


class _Flight:
    """The chunks in flight, the work still to start, and the queue finished ones report to.

    At any instant at most `concurrency` chunks are in flight, and a worker stores its chunk's
    result before it reports: a kill -9 costs at most the chunks in flight.
    """

    def __init__(
        self, book: Bookkeeper, answer: Callable[[WorkItem], ChunkOutcome], concurrency: int
    ) -> None:
        self.book = book
        self.answer = answer
        self.concurrency = concurrency
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="chunk")
        self.in_flight: dict[Future[ChunkOutcome], WorkItem] = {}
        # Each future puts itself here as it finishes: one queue instead of `wait` on all of
        # them (which locks and unlocks every future in flight on each call; 64 at -j 64).
        self.finished: SimpleQueue[Future[ChunkOutcome]] = SimpleQueue()
        self.work = book.pending()
        self.exhausted = False
        self.held: WorkItem | None = None  # a chunk --max-cost did not let start yet

    def fill(self) -> None:
        """Start chunks until `concurrency` are in flight, the work runs out or --max-cost waits."""
        book = self.book
        while not self.exhausted and len(self.in_flight) < self.concurrency:
            nxt = self.held or next(self.work, None)
            self.held = None
            if nxt is None:
                self.exhausted = True
                return
            if not book.admit(nxt):
                # Over --max-cost for now: the chunks in flight may cost less than their
                # estimates. With none left in flight, the budget is reached.
                self.held, self.exhausted = nxt, not self.in_flight
                return
            future = self.pool.submit(self.answer, nxt)
            self.in_flight[future] = nxt
            future.add_done_callback(self.finished.put)
            total = book.state.inputs[nxt.input_index].chunk_count
            book.emit(ChunkStarted(nxt.file_name, nxt.chunk_index, total))

    def collect(self, timeout: float) -> list[Future[ChunkOutcome]]:
        """The chunks that finished: waits up to `timeout` for one, then takes all that are done."""
        try:
            done = [self.finished.get(timeout=timeout)]
        except Empty:
            return []
        while True:
            try:
                done.append(self.finished.get_nowait())
            except Empty:
                break
        for future in done:
            del self.in_flight[future]
        return done
