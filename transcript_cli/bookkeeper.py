"""The bookkeeper: every write a job makes, whichever scheduler got the replies.

It stores each chunk's result, counts tokens and cost, checkpoints after every chunk, writes an
output once its file is complete, and adopts results a crash left stored but uncounted. A
scheduler (live.py: worker threads; batch.py) decides what to send and when, and hands back
ChunkOutcomes; only the thread that calls `run` touches state, so every write is ordered and a
crash at any instant leaves a loadable state. The one exception is a chunk's own result file,
which a worker may store before handing the outcome back (`store_result`).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Protocol

from transcript_cli.atomicio import atomic_write, ensure_dir
from transcript_cli.budget import BUDGET_KIND, Budget, budget_message, budget_reached
from transcript_cli.chunk_results import ChunkResult, ResultStore, text_sha256
from transcript_cli.control import Control
from transcript_cli.endings import chunks_failed, located, paused
from transcript_cli.errors import (
    InputChangedError,
    ProviderError,
    StateError,
    StorageError,
    TranscriptCliError,
)
from transcript_cli.events import (
    ChunkFailed,
    ChunkFinished,
    ChunkWarning,
    Event,
    EventSink,
    FileWritten,
    JobStarted,
    ignore_events,
)
from transcript_cli.failures import Scope, SuspiciousReply, scope_of
from transcript_cli.fidelity import Fidelity
from transcript_cli.job import JobStore
from transcript_cli.outputs import output_bytes
from transcript_cli.pricing import batch_price, price_for
from transcript_cli.prompts import PromptTemplate
from transcript_cli.reply_archive import ReplyArchive
from transcript_cli.result_writer import ResultWriter
from transcript_cli.sources import Source, load_source
from transcript_cli.state import ChunkNote, ErrorRecord, InputState, JobState, utc_now
from transcript_cli.work import ChunkOutcome, PauseInterrupt, WorkItem, build_request

# While other chunks are in flight, a checkpoint waits this long after the last one for them to
# share it: at -j 64 one per chunk was a tenth of the job's CPU. Results are stored before they
# are counted, so nothing a kill could lose waits on it.
CHECKPOINT_INTERVAL = 0.05


class Scheduler(Protocol):
    """Gets chunks answered: takes work from `book.pending()`, hands outcomes to `book.settle`."""

    def drive(self, book: Bookkeeper) -> ProviderError | None:
        """Until the work runs out or a pause; returns the error that ended the job, if any."""
        ...


class Bookkeeper:
    """Owns one job's state while it runs: results, counts, checkpoints, outputs."""

    def __init__(
        self,
        store: JobStore,
        state: JobState,
        *,
        provider_name: str,
        control: Control | None = None,
        on_event: EventSink = ignore_events,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.state = state
        self.provider_name = provider_name
        self.control = control or Control()
        self.clock = clock
        self.job_dir = store.job_dir(state.job_id)
        self.results = ResultStore(self.job_dir)
        self.template = PromptTemplate(state.settings.prompt_name, state.settings.prompt_text)
        self.settings_hash = state.settings.digest()
        self.price = price_for(state.settings.provider, state.settings.model)
        self.batch_price = batch_price(self.price)
        limit = state.options.max_cost
        self.budget = None if limit is None else Budget(state.settings, limit)
        self.writer = ResultWriter(
            self.results,
            settings_hash=self.settings_hash,
            provider_name=provider_name,
            price=self.price,
            batch_price=self.batch_price,
        )
        self._emit_lock = threading.Lock()
        self._on_event = on_event
        self._mark = clock()
        self._deferred = False
        self._unsaved = False  # a deferred checkpoint is owed
        self._grouping = False  # inside settle_all: progress waits for the group's checkpoint
        self._held: list[Event] = []  # progress told once a checkpoint counts it
        self._saved_at = -math.inf

    def _spent(self) -> float | None:
        return None if self.state.cost_unknown_chunks else self.state.cost_usd

    def emit(self, event: Event) -> None:
        """Worker threads report retries too, so the caller's sink is called under a lock."""
        with self._emit_lock:
            self._on_event(event)

    # --- the run ---

    def run(self, scheduler: Scheduler, *, resumed: bool = False) -> JobState:
        """Process every remaining chunk with `scheduler`.

        Raises Paused, ProviderError (the job stopped), ChunksFailedError (it ran to its end
        with chunks that failed) or StorageError.
        """
        self.state.status = "running"
        if self.state.last_error and self.state.last_error.kind == BUDGET_KIND:
            self.state.last_error = None  # the budget pause is over; a new one will say so
        self.checkpoint()
        self.emit(
            JobStarted(
                job_id=self.state.job_id,
                files_total=len(self.state.inputs),
                chunks_total=self.state.chunks_total,
                chunks_done=self.state.chunks_done,
                resumed=resumed,
                cost_usd=self._spent(),
            )
        )
        try:
            failure = scheduler.drive(self)
        except (StorageError, StateError) as exc:
            # A write failed, or a stored result needed for an output is damaged.
            self.control.pause.set()  # retrying workers must not send (and pay for) more
            self.record_error(exc, "storage" if isinstance(exc, StorageError) else "damaged")
            self.state.status = "failed"
            # Worth a try: a full disk may still take the small checkpoint. Every state this
            # can be reached in is consistent; if the write fails the previous checkpoint stands.
            with contextlib.suppress(StorageError):
                self.checkpoint()
            raise
        finally:
            # Workers a pause, an abort or an error left behind store nothing more.
            self.writer.close()
        if failure is not None:
            self.state.status = "failed"
            self.checkpoint()
            raise failure
        failed = chunks_failed(self.state)
        budget_stopped = self.budget is not None and self.budget.refused is not None
        # Stopped early (a pause, or --max-cost), the job has not run to its end: say that.
        if failed is not None and not self.control.pause.is_set() and not budget_stopped:
            self.state.status = "failed"
            self.checkpoint()
            raise failed
        if self.state.chunks_done < self.state.chunks_total or not all(
            i.written for i in self.state.inputs
        ):
            self.stop_paused()
        self.state.status = "completed"
        self.state.completed_at = utc_now()
        self.state.last_error = None
        self.checkpoint()
        self.results.drop_all()
        return self.state

    def stop_paused(self) -> None:
        """Checkpoint as paused and raise Paused (BudgetReached when --max-cost stopped it)."""
        budget = self.budget
        if budget is not None and budget.refused is not None and not self.control.pause.is_set():
            message = budget_message(self.state.cost_usd, budget.limit)
            self.state.last_error = ErrorRecord(message=message, kind=BUDGET_KIND, at=utc_now())
            self.stop(budget_reached(self.state, budget.limit, budget.refused))
        self.stop(paused(self.state))

    def stop(self, error: TranscriptCliError) -> NoReturn:
        """Checkpoint as paused and end the run with `error` (Paused, or Waiting for batches)."""
        self.state.status = "paused"
        self.checkpoint()
        raise error

    def admit(self, item: WorkItem) -> bool:
        """May this chunk start? Not if it could take the job past its --max-cost."""
        return self.budget is None or self.budget.admit(item, self.state.cost_usd)

    # --- what is left to do ---

    def pending(self) -> Iterator[WorkItem]:
        """Chunks still to do, file by file; reads one input at a time to keep memory flat.

        On the way it adopts results stored but not counted, and writes files already complete.
        """
        settings = self.state.settings
        for index, item in enumerate(self.state.inputs):
            if item.written:
                continue
            path, source, shas = self.load_input(index)
            self.adopt_leftovers(index, item, shas)
            if len(item.done) == item.chunk_count:
                self.write_output(index, item)
                continue
            failed = set(item.failed)
            for chunk in source.chunks:
                if chunk.index in item.done or chunk.index in failed:
                    continue
                request = build_request(self.template, settings, path, chunk, item.chunk_count)
                yield WorkItem(index, chunk.index, path.name, request, shas[chunk.index])

    def load_input(self, index: int) -> tuple[Path, Source, list[str]]:
        """One input read and chunked as when the job started, with each chunk's hash."""
        settings = self.state.settings
        item = self.state.inputs[index]
        path = Path(item.path)
        source = load_source(
            path,
            settings.chunk_chars,
            settings.context_chars,
            encoding=item.encoding or settings.encoding,
        )
        if source.sha256 != item.sha256:
            raise InputChangedError(f"{path}: input changed since the job started")
        if len(source.chunks) != item.chunk_count:
            raise InputChangedError(
                f"{path}: now splits into {len(source.chunks)} chunks, not "
                f"{item.chunk_count}; start over with `run --restart`"
            )
        shas = [text_sha256(c.text) for c in source.chunks]
        self.check_seams(index, item, shas, path)
        return path, source, shas

    def check_seams(self, index: int, item: InputState, shas: list[str], path: Path) -> None:
        """Finished chunks beside unfinished ones must still be chunks the input splits into.

        A newer version may cut the same input elsewhere; mixing its chunks with stored ones would
        repeat or lose words at the seams. Only the chunks beside a gap are read, so this costs a
        few reads however long the job.
        """
        beside_gap = set()
        for first, end in item.done.to_ranges():
            if first > 0:
                beside_gap.add(first)
            if end < item.chunk_count:
                beside_gap.add(end - 1)
        for n in sorted(beside_gap):
            result = self.results.get(index, n)
            if result is not None and result.source_sha256 != shas[n]:
                raise InputChangedError(
                    f"{path}: is now cut into chunks differently than when the job started "
                    f"(chunk {n + 1} differs; a newer transcript-cli?); finish it with the "
                    "version that started it, or start over with `run --restart`"
                )

    def adopt_leftovers(self, index: int, item: InputState, shas: list[str]) -> None:
        """Results stored just before a crash but missing from the checkpoint are paid for: keep."""
        adopted = False
        for chunk_index in sorted(self.results.stored_indices(index) - set(item.done)):
            if chunk_index >= item.chunk_count:
                continue
            result = self.results.get(index, chunk_index)
            if (
                result is not None
                and result.settings_hash == self.settings_hash
                and result.source_sha256 == shas[chunk_index]
            ):
                self._count(item, result)
                adopted = True
        if adopted:
            self.checkpoint()

    # --- settling what a scheduler got back ---

    def store_result(self, outcome: ChunkOutcome) -> ChunkOutcome:
        """Store a finished chunk's result on the calling (worker) thread; see result_writer.py."""
        return self.writer.store(outcome)

    def settle_all(
        self, outcomes: Iterable[ChunkOutcome], *, more_coming: bool = False
    ) -> ProviderError | None:
        """Settle chunks that finished together under one checkpoint (a group commit).

        Their results are stored first (`store_result`), so a kill before that checkpoint loses
        none: the next run adopts them. Their progress is told once a checkpoint counts them.
        `more_coming` (other chunks in flight): within CHECKPOINT_INTERVAL of the last
        checkpoint, this one waits for the next group or `flush`. Returns the first error that
        ends the job.
        """
        failure = None
        self._deferred = self._grouping = True
        try:
            for outcome in outcomes:
                found = self.settle(outcome)
                failure = failure or found
        finally:
            self._deferred = self._grouping = False
        recent = self.clock() - self._saved_at < CHECKPOINT_INTERVAL
        if self._unsaved and not (more_coming and recent):
            self.checkpoint()
        return failure

    def flush(self) -> None:
        """Write a checkpoint settle_all left owed (the scheduler calls this when idle)."""
        if self._unsaved:
            self.checkpoint()

    def settle(self, outcome: ChunkOutcome) -> ProviderError | None:
        """Land a finished chunk or file its failure; returns an error that ends the job."""
        self.state.retry_count += outcome.retries
        if self.budget is not None:
            self.budget.release(outcome.item)
        if outcome.reply is not None:
            self.land(outcome)
            return None
        # Replies billed on the way to this failure are spent all the same; the checkpoint that
        # settles the failure (or the pause) saves them, so each is counted once.
        if outcome.discarded:
            self._count_spend(*self.writer.billed(outcome.discarded))
        error = outcome.error
        if isinstance(error, PauseInterrupt):
            return None
        if not isinstance(error, ProviderError):
            raise error if error is not None else AssertionError("empty outcome")
        scope = scope_of(error)
        if scope is Scope.CHUNK:
            self.fail_chunk(outcome, error)
            return None
        kind = "transient" if scope is Scope.TRANSIENT else "permanent"
        self.record_error(error, kind, outcome.item)
        if outcome.retries:
            item = self.state.inputs[outcome.item.input_index]
            self._note(item, outcome.item.chunk_index, outcome)
        return located(error, outcome.item, self.state)

    def land(self, outcome: ChunkOutcome) -> None:
        """Store a finished chunk, then checkpoint, then maybe write its file."""
        reply = outcome.reply
        assert reply is not None
        work = outcome.item
        result = outcome.stored
        if result is None:
            result = self.writer.result_of(outcome)
            self.results.put(result)
        item = self.state.inputs[work.input_index]
        self._count(item, result)
        if outcome.retries or reply.warning or work.chunk_index in item.notes:
            self._note(
                item, work.chunk_index, outcome, warning=reply.warning, fidelity=reply.fidelity
            )
        self._chunk_checkpoint()
        if reply.warning:
            self._tell(ChunkWarning(work.file_name, work.chunk_index, reply.warning))
        self._tell(
            ChunkFinished(
                file=work.file_name,
                chunk_index=work.chunk_index,
                file_done=len(item.done),
                file_total=item.chunk_count,
                job_done=self.state.chunks_done,
                job_total=self.state.chunks_total,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                job_cost_usd=self._spent(),
            )
        )
        if len(item.done) == item.chunk_count:
            self.write_output(work.input_index, item)

    def note_retry(self, work: WorkItem, reason: str) -> None:
        """A chunk goes round again (a batch result to resend); saved with the next checkpoint."""
        if self.budget is not None:
            self.budget.release(work)  # pending again: admitted anew when it is resent
        self.state.retry_count += 1
        item = self.state.inputs[work.input_index]
        self._note(item, work.chunk_index, ChunkOutcome(work, 1, last_retry_error=reason))

    def fail_chunk(self, outcome: ChunkOutcome, error: ProviderError) -> None:
        """A chunk that failed for good fails its file; the rest of the job goes on."""
        work = outcome.item
        item = self.state.inputs[work.input_index]
        refused = error if isinstance(error, SuspiciousReply) else None
        if refused is not None:
            # Kept before the checkpoint names it, so `review` finds what --strict refused.
            archive = ReplyArchive(self.job_dir)
            archive.reject(work.input_index, work.chunk_index, refused.reply, error.message)
        fidelity = refused.fidelity if refused else None
        self._note(item, work.chunk_index, outcome, error=error.message, fidelity=fidelity)
        self.record_error(error, "chunk", work)
        self.checkpoint()
        self.emit(ChunkFailed(work.file_name, work.chunk_index, error.message))

    # --- state writes ---

    @contextmanager
    def checkpoints_deferred(self) -> Iterator[None]:
        """Settle many chunks with one checkpoint at the end (batch results, already paid).

        Each result is still stored (and fsynced) before it is counted; a crash in between
        leaves results that the next run adopts, and the batch stays in the ledger until it is
        collected whole, so nothing is lost or paid twice. Saves two fsyncs per chunk.
        """
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False
            self.checkpoint()

    def _chunk_checkpoint(self) -> None:
        if self._deferred:
            self._unsaved = True
        else:
            self.checkpoint()

    def _tell(self, event: Event) -> None:
        """Progress of a landed chunk: told now, or held until a checkpoint counts it."""
        if self._grouping or self._held:
            self._held.append(event)
        else:
            self.emit(event)

    def checkpoint(self) -> None:
        now = self.clock()
        self.state.active_seconds += now - self._mark
        self._mark = now
        self.store.save(self.state)
        self._saved_at = now
        self._unsaved = False
        held, self._held = self._held, []
        for event in held:
            self.emit(event)

    def record_error(self, exc: Exception, kind: str, item: WorkItem | None = None) -> None:
        message = getattr(exc, "message", str(exc))
        self.state.last_error = ErrorRecord(
            message=message,
            kind=kind,
            at=utc_now(),
            file=item.file_name if item else None,
            chunk=item.chunk_index + 1 if item else None,
        )

    def write_output(self, index: int, item: InputState) -> None:
        """Assemble one output from stored results in chunk order, streamed, atomically.

        Only once a checkpoint counts all its chunks: a resume that finds the file then knows it
        as the job's own (output_guard), even if a deferred checkpoint was still owed.
        """
        if self._unsaved:
            self.checkpoint()
        target = Path(item.output)
        ensure_dir(target.parent)
        atomic_write(target, output_bytes(self.state, index, item, self.results), mode=0o644)
        item.written = True
        self.checkpoint()
        ReplyArchive(self.job_dir).keep(index)  # for `review`, until `clear`
        self.emit(FileWritten(source=item.path, output=item.output))

    def _note(
        self,
        item: InputState,
        chunk: int,
        outcome: ChunkOutcome,
        *,
        warning: str | None = None,
        error: str | None = None,
        fidelity: Fidelity | None = None,
    ) -> None:
        """Retries add up across runs; the rest describes the latest attempt."""
        before = item.notes.get(chunk, ChunkNote())
        item.notes[chunk] = ChunkNote(
            before.retries + outcome.retries,
            warning=warning,
            error=error,
            last_retry_error=outcome.last_retry_error or before.last_retry_error,
            coverage=fidelity.coverage if fidelity else None,
            invention=fidelity.invention if fidelity else None,
        )

    def _count(self, item: InputState, result: ChunkResult) -> None:
        item.done.add(result.chunk_index)
        self._count_spend(result.input_tokens, result.output_tokens, result.cost_usd)

    def _count_spend(self, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        self.state.input_tokens += input_tokens
        self.state.output_tokens += output_tokens
        if cost is None:
            self.state.cost_unknown_chunks += 1
        else:
            self.state.cost_usd += cost
