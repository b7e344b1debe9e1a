"""The chunk processor: hands chunks to workers, stores each result, checkpoints after every one.

Only the main thread touches the checkpoint and the result store; workers (worker.py) only
call the provider. So every write is ordered, and a crash at any instant leaves a loadable
state that re-bills at most the chunks in flight.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from transcript_cli.atomicio import atomic_write, ensure_dir
from transcript_cli.chunk_results import ChunkResult, ResultStore, text_sha256
from transcript_cli.errors import (
    ChunksFailedError,
    InputChangedError,
    Paused,
    PermanentProviderError,
    ProviderError,
    StateError,
    StorageError,
    TransientProviderError,
)
from transcript_cli.events import (
    ChunkFailed,
    ChunkFinished,
    ChunkRetrying,
    ChunkWarning,
    Event,
    EventSink,
    FileWritten,
    JobStarted,
    PauseStarted,
    Stalled,
    ignore_events,
)
from transcript_cli.failures import Scope, scope_of
from transcript_cli.job import JobStore
from transcript_cli.pacing import Pacer, PacingPolicy
from transcript_cli.pricing import cost_usd, price_for
from transcript_cli.prompts import PromptTemplate, render_user_message
from transcript_cli.providers.base import ChunkRequest, Provider
from transcript_cli.retry import RetryPolicy
from transcript_cli.seams import join_replies
from transcript_cli.sources import load_source
from transcript_cli.state import ChunkNote, ErrorRecord, InputState, JobState, utc_now
from transcript_cli.worker import ChunkOutcome, ChunkWorker, PauseInterrupt, WorkItem

_POLL_SECONDS = 0.1
# No answer at all for this long past the request timeout is a stall worth saying out loud.
_STALL_GRACE_SECONDS = 5.0


@dataclass
class Control:
    """How the caller steers a running job from a signal handler: set, never cleared."""

    # Set by a signal, or by the engine itself when a failure ends the job.
    pause: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)


class Processor:
    """Runs one job to completion, pause or failure."""

    def __init__(
        self,
        store: JobStore,
        state: JobState,
        provider: Provider,
        *,
        policy: RetryPolicy,
        control: Control | None = None,
        on_event: EventSink = ignore_events,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.state = state
        self.provider = provider
        self.control = control or Control()
        self.concurrency = max(1, concurrency)
        options = state.options
        self.pacer = Pacer(
            PacingPolicy(max_in_flight=self.concurrency, rpm=options.rpm, tpm=options.tpm)
        )
        self.worker = ChunkWorker(
            provider,
            self.pacer,
            policy,
            pause=self.control.pause,
            prompt_name=state.settings.prompt_name,
            strict=options.strict,
            emit=self.emit,
        )
        self.stall_seconds = options.timeout + _STALL_GRACE_SECONDS
        self.clock = clock
        self.job_dir = store.job_dir(state.job_id)
        self.results = ResultStore(self.job_dir)
        self.template = PromptTemplate(state.settings.prompt_name, state.settings.prompt_text)
        self.settings_hash = state.settings.digest()
        self.price = price_for(state.settings.provider, state.settings.model)
        self._emit_lock = threading.Lock()
        self._on_event = on_event
        self._mark = clock()
        self._last_sign_of_life = clock()

    def emit(self, event: Event) -> None:
        """Workers report retries too, so the caller's sink is called under a lock."""
        with self._emit_lock:
            if isinstance(event, ChunkRetrying):
                self._last_sign_of_life = self.clock()
            self._on_event(event)

    # --- state writes (main thread only) ---

    def _checkpoint(self) -> None:
        now = self.clock()
        self.state.active_seconds += now - self._mark
        self._mark = now
        self.store.save(self.state)

    def _record_error(self, exc: Exception, kind: str, item: WorkItem | None) -> None:
        message = getattr(exc, "message", str(exc))
        self.state.last_error = ErrorRecord(
            message=message,
            kind=kind,
            at=utc_now(),
            file=item.file_name if item else None,
            chunk=item.chunk_index + 1 if item else None,
        )

    def _write_output(self, index: int, item: InputState) -> None:
        """Assemble one output from stored results in chunk order, streamed, atomically."""
        target = Path(item.output)
        ensure_dir(target.parent)
        title = self.state.settings.title

        def pieces() -> Iterator[bytes]:
            if title:
                yield f"# {title}\n\n".encode()
            for piece in join_replies(self.results.iter_texts(index, item.chunk_count)):
                yield piece.encode()
            yield b"\n"

        atomic_write(target, pieces(), mode=0o644)
        item.written = True
        self._checkpoint()
        self.results.drop_input(index)
        self.emit(FileWritten(source=item.path, output=item.output))

    def _note(
        self,
        item: InputState,
        chunk: int,
        outcome: ChunkOutcome,
        *,
        warning: str | None = None,
        error: str | None = None,
    ) -> None:
        """Retries add up across runs; the rest describes the latest attempt."""
        before = item.notes.get(chunk, ChunkNote())
        item.notes[chunk] = ChunkNote(
            before.retries + outcome.retries,
            warning=warning,
            error=error,
            last_retry_error=outcome.last_retry_error or before.last_retry_error,
        )

    # --- work ---

    def _adopt_orphans(self, index: int, item: InputState, shas: list[str]) -> None:
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
            self._checkpoint()

    def _count(self, item: InputState, result: ChunkResult) -> None:
        item.done.add(result.chunk_index)
        self.state.input_tokens += result.input_tokens
        self.state.output_tokens += result.output_tokens
        if result.cost_usd is None:
            self.state.cost_unknown_chunks += 1
        else:
            self.state.cost_usd += result.cost_usd

    def _work(self) -> Iterator[WorkItem]:
        """Chunks still to do, file by file; reads one input at a time to keep memory flat."""
        settings = self.state.settings
        for index, item in enumerate(self.state.inputs):
            if item.written:
                continue
            path = Path(item.path)
            source = load_source(path, settings.chunk_chars, settings.context_chars)
            if source.sha256 != item.sha256:
                raise InputChangedError(f"{path}: input changed since the job started")
            if len(source.chunks) != item.chunk_count:
                raise InputChangedError(
                    f"{path}: now splits into {len(source.chunks)} chunks, not "
                    f"{item.chunk_count}; start over with `run --restart`"
                )
            shas = [text_sha256(c.text) for c in source.chunks]
            self._adopt_orphans(index, item, shas)
            if len(item.done) == item.chunk_count:
                self._write_output(index, item)
                continue
            title = settings.title or path.stem
            failed = set(item.failed)
            for chunk in source.chunks:
                if chunk.index in item.done or chunk.index in failed:
                    continue
                system = self.template.render(
                    language=settings.language,
                    title=title,
                    file_name=path.name,
                    chunk_number=chunk.index + 1,
                    chunk_count=item.chunk_count,
                )
                request = ChunkRequest(
                    system=system,
                    user=render_user_message(chunk.text, chunk.context, chunk.opens, chunk.closes),
                    source=chunk.text,
                    context=chunk.context,
                    max_tokens=settings.max_tokens,
                    opens=chunk.opens,
                    closes=chunk.closes,
                )
                yield WorkItem(index, chunk.index, path.name, request, shas[chunk.index])

    def _land(self, outcome: ChunkOutcome) -> None:
        """Main thread: store a finished chunk, then checkpoint, then maybe write its file."""
        reply = outcome.reply
        assert reply is not None
        work = outcome.item
        result = ChunkResult(
            input_index=work.input_index,
            chunk_index=work.chunk_index,
            source_sha256=work.source_sha256,
            settings_hash=self.settings_hash,
            text=reply.text,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cost_usd=cost_usd(self.price, reply.input_tokens, reply.output_tokens),
            model=reply.model,
            provider=self.provider.name,
            retries=outcome.retries,
            stop_reason=reply.stop_reason,
            pieces=reply.pieces,
            warning=reply.warning,
        )
        item = self.state.inputs[work.input_index]
        self.results.put(result)
        self._count(item, result)
        if outcome.retries or reply.warning or work.chunk_index in item.notes:
            self._note(item, work.chunk_index, outcome, warning=reply.warning)
        self._checkpoint()
        if reply.warning:
            self.emit(ChunkWarning(work.file_name, work.chunk_index, reply.warning))
        self.emit(
            ChunkFinished(
                file=work.file_name,
                chunk_index=work.chunk_index,
                file_done=len(item.done),
                file_total=item.chunk_count,
                job_done=self.state.chunks_done,
                job_total=self.state.chunks_total,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
            )
        )
        if len(item.done) == item.chunk_count:
            self._write_output(work.input_index, item)

    def _fail_chunk(self, outcome: ChunkOutcome, error: ProviderError) -> None:
        """A chunk that failed for good fails its file; the rest of the job goes on."""
        work = outcome.item
        item = self.state.inputs[work.input_index]
        self._note(item, work.chunk_index, outcome, error=error.message)
        self._record_error(error, "chunk", work)
        self._checkpoint()
        self.emit(ChunkFailed(work.file_name, work.chunk_index, error.message))

    def run(self, *, resumed: bool = False) -> JobState:
        """Process every remaining chunk.

        Raises Paused, ProviderError (the job stopped), ChunksFailedError (it ran to its end
        with chunks that failed) or StorageError.
        """
        self.state.status = "running"
        self._checkpoint()
        self.emit(
            JobStarted(
                job_id=self.state.job_id,
                files_total=len(self.state.inputs),
                chunks_total=self.state.chunks_total,
                chunks_done=self.state.chunks_done,
                resumed=resumed,
            )
        )
        failure = self._drive()
        if failure is not None:
            self.state.status = "failed"
            self._checkpoint()
            raise failure
        failed = failure_summary(self.state)
        if failed and not self.control.pause.is_set():
            self.state.status = "failed"
            self._checkpoint()
            raise ChunksFailedError(failed)
        if self.state.chunks_done < self.state.chunks_total or not all(
            i.written for i in self.state.inputs
        ):
            self.state.status = "paused"
            self._checkpoint()
            raise Paused(pause_message(self.state))
        self.state.status = "completed"
        self.state.completed_at = utc_now()
        self.state.last_error = None
        self._checkpoint()
        self.results.drop_all()
        return self.state

    def _drive(self) -> ProviderError | None:
        """The loop: keep up to `concurrency` chunks in flight, land them as they finish."""
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="chunk")
        in_flight: dict[Future[ChunkOutcome], WorkItem] = {}
        work = self._work()
        failure: ProviderError | None = None
        exhausted = False
        pause_told = False
        try:
            while True:
                stopping = failure is not None or self.control.pause.is_set()
                # Finished chunks are landed before new ones start, so at any instant at most
                # `concurrency` chunks are paid for and not yet stored: what kill -9 can cost.
                while not stopping and not exhausted and len(in_flight) < self.concurrency:
                    nxt = next(work, None)
                    if nxt is None:
                        exhausted = True
                        break
                    in_flight[pool.submit(self.worker.run, nxt)] = nxt
                if stopping and not pause_told and failure is None:
                    pause_told = True
                    self.emit(PauseStarted(in_flight=len(in_flight)))
                if not in_flight:
                    break
                finished, _ = wait(in_flight, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                if self.control.abort.is_set():
                    # Abandon what is in flight: it is redone on resume; state is consistent.
                    self.state.status = "paused"
                    self._checkpoint()
                    raise Paused(pause_message(self.state))
                if not finished:
                    self._watch_for_stall(len(in_flight))
                    continue
                self._last_sign_of_life = self.clock()
                for future in finished:
                    del in_flight[future]
                    found = self._settle(future.result())
                    if found is not None and failure is None:
                        failure = found
                        # Workers waiting for a pacing slot or a retry must not send more.
                        self.control.pause.set()
        except (StorageError, StateError) as exc:
            # A write failed, or a stored result needed for an output is damaged.
            self.control.pause.set()  # retrying workers must not send (and pay for) more
            self._record_error(exc, "storage" if isinstance(exc, StorageError) else "damaged", None)
            self.state.status = "failed"
            # Worth a try: a full disk may still take the small checkpoint. Every state this
            # can be reached in is consistent; if the write fails the previous checkpoint stands.
            with contextlib.suppress(StorageError):
                self._checkpoint()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return failure

    def _settle(self, outcome: ChunkOutcome) -> ProviderError | None:
        """Land a finished chunk or file its failure; returns an error that ends the job."""
        self.state.retry_count += outcome.retries
        if outcome.reply is not None:
            self._land(outcome)
            return None
        error = outcome.error
        if isinstance(error, PauseInterrupt):
            return None
        if not isinstance(error, ProviderError):
            raise error if error is not None else AssertionError("empty outcome")
        scope = scope_of(error)
        if scope is Scope.CHUNK:
            self._fail_chunk(outcome, error)
            return None
        kind = "transient" if scope is Scope.TRANSIENT else "permanent"
        self._record_error(error, kind, outcome.item)
        if outcome.retries:
            item = self.state.inputs[outcome.item.input_index]
            self._note(item, outcome.item.chunk_index, outcome)
        return _with_location(error, outcome.item, self.state)

    def _watch_for_stall(self, in_flight: int) -> None:
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
        self.emit(Stalled(seconds=quiet, in_flight=in_flight, reason=reason))


def _with_location(error: ProviderError, item: WorkItem, state: JobState) -> ProviderError:
    """The same error, its message prefixed with where it happened."""
    total = state.inputs[item.input_index].chunk_count
    where = f"{item.file_name} chunk {item.chunk_index + 1}/{total}: "
    if isinstance(error, TransientProviderError):
        return TransientProviderError(
            where + error.message + " (gave up after the retry budget; resume later)",
            status=error.status,
            retry_after=error.retry_after,
        )
    return PermanentProviderError(where + error.message, status=error.status)


def failure_summary(state: JobState) -> str:
    """One line naming every chunk that failed for good, or '' if none did."""
    parts = []
    count = 0
    for item in state.inputs:
        for chunk in item.failed:
            count += 1
            note = item.notes[chunk]
            parts.append(
                f"{Path(item.path).name} chunk {chunk + 1}/{item.chunk_count}: {note.error}"
            )
    if not parts:
        return ""
    files = sum(1 for item in state.inputs if item.failed)
    return (
        f"{count} chunk(s) failed in {files} file(s), which were not written: "
        + "; ".join(parts)
        + f". Try them again: transcript-cli resume {state.job_id} --retry-failed"
    )


def pause_message(state: JobState) -> str:
    """Where the job stopped and the exact command to continue it."""
    for item in state.inputs:
        missing = item.done.first_missing(item.chunk_count)
        if missing is not None or not item.written:
            k = (missing if missing is not None else item.chunk_count - 1) + 1
            name = Path(item.path).name
            return (
                f"Paused at chunk {k}/{item.chunk_count} of {name}. "
                f"Resume: transcript-cli resume {state.job_id}"
            )
    return f"Paused. Resume: transcript-cli resume {state.job_id}"
