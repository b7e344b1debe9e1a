"""The live scheduler: chunks go out as Messages API calls on worker threads, paced together.

It keeps up to `concurrency` chunks in flight (worker.py does one chunk: pacing slot, retries,
splitting, checks) and hands each outcome to the bookkeeper as it finishes. Workers never touch
state; this loop runs on the bookkeeper's thread. It also says so when nothing comes back for
longer than a request may take.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

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
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="chunk")
        in_flight: dict[Future[ChunkOutcome], WorkItem] = {}
        work = book.pending()
        failure: ProviderError | None = None
        exhausted = False
        held: WorkItem | None = None  # a chunk --max-cost did not let start yet
        pause_told = False
        try:
            while True:
                stopping = failure is not None or control.pause.is_set()
                # Finished chunks are settled before new ones start, so at any instant at most
                # `concurrency` chunks are paid for and not yet stored: what kill -9 can cost.
                while not stopping and not exhausted and len(in_flight) < self.concurrency:
                    nxt = held or next(work, None)
                    held = None
                    if nxt is None:
                        exhausted = True
                        break
                    if not book.admit(nxt):
                        # Over --max-cost for now: the chunks in flight may cost less than
                        # their estimates. With none left in flight, the budget is reached.
                        held, exhausted = nxt, not in_flight
                        break
                    in_flight[pool.submit(worker.run, nxt)] = nxt
                    total = book.state.inputs[nxt.input_index].chunk_count
                    book.emit(ChunkStarted(nxt.file_name, nxt.chunk_index, total))
                if stopping and not pause_told and failure is None:
                    pause_told = True
                    book.emit(PauseStarted(in_flight=len(in_flight)))
                if not in_flight:
                    break
                finished, _ = wait(in_flight, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                if control.abort.is_set():
                    # Abandon what is in flight: it is redone on resume; state is consistent.
                    book.stop_paused()
                if not finished:
                    self._watch_for_stall(book, len(in_flight))
                    continue
                self._last_sign_of_life = self.clock()
                for future in finished:
                    del in_flight[future]
                    found = book.settle(future.result())
                    if found is not None and failure is None:
                        failure = found
                        # Workers waiting for a pacing slot or a retry must not send more.
                        control.pause.set()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
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
