"""The chunk processor: sends chunks, stores each result and checkpoints after every one.

Only the main thread touches the checkpoint and the result store; workers only call the
provider. So every write is ordered, and a crash at any instant leaves a loadable state.
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
from transcript_cli.checkpoint import ErrorRecord, InputState, JobState, utc_now
from transcript_cli.errors import (
    CheckpointError,
    InputChangedError,
    Paused,
    PermanentProviderError,
    ProviderError,
    StorageError,
    TransientProviderError,
)
from transcript_cli.events import (
    ChunkFinished,
    ChunkRetrying,
    Event,
    EventSink,
    FileWritten,
    JobStarted,
    PauseStarted,
    ignore_events,
)
from transcript_cli.job import JobStore
from transcript_cli.pacing import Pacer, PacingPolicy
from transcript_cli.pricing import cost_usd, price_for
from transcript_cli.prompts import PromptTemplate, render_user_message
from transcript_cli.providers.base import ChunkRequest, Completion, Provider
from transcript_cli.results import ChunkResult, ResultStore, text_sha256
from transcript_cli.retry import RetryNotice, RetryPolicy, call_with_retries
from transcript_cli.sources import load_source

_POLL_SECONDS = 0.1
# Answers that mean "too fast": every worker backs off, not just the one that got it.
THROTTLE_STATUSES = frozenset({429, 529})


class _PauseInterrupt(Exception):
    """A retry wait was cut short by a pause; the chunk is simply not done."""


@dataclass
class Control:
    """How the caller steers a running job from a signal handler: set, never cleared."""

    # Set by a signal, or by the engine itself when a permanent failure ends the job.
    pause: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)

    def sleep(self, seconds: float) -> None:
        """A retry wait that a pause cuts short."""
        if self.pause.wait(seconds):
            raise _PauseInterrupt


@dataclass(frozen=True)
class _WorkItem:
    input_index: int
    chunk_index: int
    file_name: str
    request: ChunkRequest
    source_sha256: str

    @property
    def tokens_estimate(self) -> int:
        """Input plus a like-sized output, about four characters a token, for rate caps."""
        return (len(self.request.system) + 2 * len(self.request.user)) // 4 + 1


@dataclass(frozen=True)
class _Outcome:
    item: _WorkItem
    retries: int
    result: ChunkResult | None = None
    error: Exception | None = None


def validate_completion(completion: Completion, max_tokens: int) -> None:
    """Refuse replies that would silently damage the output."""
    if completion.stop_reason == "max_tokens":
        raise PermanentProviderError(
            f"reply cut off at --max-tokens {max_tokens}; raise --max-tokens or lower --chunk-chars"
        )
    if completion.stop_reason == "refusal":
        raise PermanentProviderError("the model refused to process this chunk")
    if not completion.text.strip():
        raise TransientProviderError("the model returned an empty reply")


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
        self.policy = policy
        self.control = control or Control()
        self.concurrency = max(1, concurrency)
        self.pacer = Pacer(
            PacingPolicy(
                max_in_flight=self.concurrency, rpm=state.options.rpm, tpm=state.options.tpm
            )
        )
        self.clock = clock
        self.job_dir = store.job_dir(state.job_id)
        self.results = ResultStore(self.job_dir)
        self.template = PromptTemplate(state.settings.prompt_name, state.settings.prompt_text)
        self.settings_hash = state.settings.digest()
        self.price = price_for(state.settings.provider, state.settings.model)
        self._emit_lock = threading.Lock()
        self._on_event = on_event
        self._mark = clock()

    def emit(self, event: Event) -> None:
        """Workers report retries too, so the caller's sink is called under a lock."""
        with self._emit_lock:
            self._on_event(event)

    # --- state writes (main thread only) ---

    def _checkpoint(self) -> None:
        now = self.clock()
        self.state.active_seconds += now - self._mark
        self._mark = now
        self.store.save(self.state)

    def _record_error(self, exc: Exception, kind: str, item: _WorkItem | None) -> None:
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
            for n, text in enumerate(self.results.iter_texts(index, item.chunk_count)):
                yield (("\n\n" if n else "") + text.strip()).encode()
            yield b"\n"

        try:
            atomic_write(target, pieces(), mode=0o644)
        except FileNotFoundError as exc:
            raise CheckpointError(
                Path(exc.filename or self.results.root),
                "stored chunk result missing or damaged",
                f"run `transcript-cli resume {self.state.job_id}` to redo it",
            ) from None
        item.written = True
        self._checkpoint()
        self.results.drop_input(index)
        self.emit(FileWritten(source=item.path, output=item.output))

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

    def _work(self) -> Iterator[_WorkItem]:
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
            for chunk in source.chunks:
                if chunk.index in item.done:
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
                    user=render_user_message(chunk.text, chunk.context),
                    source=chunk.text,
                    context=chunk.context,
                    max_tokens=settings.max_tokens,
                )
                yield _WorkItem(index, chunk.index, path.name, request, shas[chunk.index])

    def _attempt(self, item: _WorkItem) -> _Outcome:
        """Runs in a worker thread: one chunk, retries included. Never raises."""
        retries = 0

        def on_retry(notice: RetryNotice) -> None:
            nonlocal retries
            retries += 1
            self.emit(
                ChunkRetrying(
                    file=item.file_name,
                    chunk_index=item.chunk_index,
                    attempt=notice.attempt,
                    wait_seconds=notice.wait_seconds,
                    message=notice.error.message,
                )
            )

        def once() -> Completion:
            ticket = self.pacer.acquire(item.tokens_estimate, self.control.pause)
            if ticket is None:
                raise _PauseInterrupt  # paused while waiting for a slot: nothing was sent
            try:
                completion = self.provider.complete(item.request)
            except TransientProviderError as exc:
                self.pacer.release(
                    ticket,
                    throttled=exc.status in THROTTLE_STATUSES,
                    retry_after=exc.retry_after,
                    headers=exc.headers,
                )
                raise
            except BaseException:
                self.pacer.release(ticket)
                raise
            self.pacer.release(
                ticket,
                headers=completion.headers,
                tokens_used=completion.input_tokens + completion.output_tokens,
            )
            validate_completion(completion, item.request.max_tokens)
            return completion

        try:
            completion = call_with_retries(
                once, self.policy, sleep=self.control.sleep, on_retry=on_retry
            )
        except Exception as exc:  # handed to the main thread, which decides
            if isinstance(exc, ProviderError):
                # This ends the job: stop the other workers now, before the main thread even
                # sees this outcome (it may be busy landing others).
                self.control.pause.set()
            return _Outcome(item, retries, error=exc)
        result = ChunkResult(
            input_index=item.input_index,
            chunk_index=item.chunk_index,
            source_sha256=item.source_sha256,
            settings_hash=self.settings_hash,
            text=completion.text.strip(),
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost_usd=cost_usd(self.price, completion.input_tokens, completion.output_tokens),
            model=completion.model,
            provider=self.provider.name,
            retries=retries,
            stop_reason=completion.stop_reason,
        )
        return _Outcome(item, retries, result=result)

    def _land(self, outcome: _Outcome) -> None:
        """Main thread: store a finished chunk, then checkpoint, then maybe write its file."""
        assert outcome.result is not None
        item = self.state.inputs[outcome.item.input_index]
        self.results.put(outcome.result)
        self._count(item, outcome.result)
        self._checkpoint()
        self.emit(
            ChunkFinished(
                file=outcome.item.file_name,
                chunk_index=outcome.item.chunk_index,
                file_done=len(item.done),
                file_total=item.chunk_count,
                job_done=self.state.chunks_done,
                job_total=self.state.chunks_total,
                input_tokens=outcome.result.input_tokens,
                output_tokens=outcome.result.output_tokens,
            )
        )
        if len(item.done) == item.chunk_count:
            self._write_output(outcome.item.input_index, item)

    def run(self, *, resumed: bool = False) -> JobState:
        """Process every remaining chunk. Raises Paused, ProviderError or StorageError."""
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
        in_flight: dict[Future[_Outcome], _WorkItem] = {}
        work = self._work()
        failure: ProviderError | None = None
        exhausted = False
        pause_told = False

        def fill() -> None:
            nonlocal exhausted
            stopping = failure is not None or self.control.pause.is_set()
            while not stopping and not exhausted and len(in_flight) < self.concurrency:
                nxt = next(work, None)
                if nxt is None:
                    exhausted = True
                    break
                in_flight[pool.submit(self._attempt, nxt)] = nxt

        try:
            while True:
                fill()
                stopping = failure is not None or self.control.pause.is_set()
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
                for future in finished:
                    del in_flight[future]
                # Refill the freed slots before the bookkeeping (fsyncs) of what finished, so
                # the network is never idle while we write.
                fill()
                for future in finished:
                    outcome = future.result()
                    self.state.retry_count += outcome.retries
                    if outcome.result is not None:
                        self._land(outcome)
                        continue
                    error = outcome.error
                    if isinstance(error, _PauseInterrupt):
                        continue
                    if isinstance(error, ProviderError):
                        kind = (
                            "transient"
                            if isinstance(error, TransientProviderError)
                            else "permanent"
                        )
                        self._record_error(error, kind, outcome.item)
                        if failure is None:
                            failure = _with_location(error, outcome.item, self.state)
                            # Workers waiting for a pacing slot or a retry must not send more.
                            self.control.pause.set()
                        continue
                    raise error if error is not None else AssertionError("empty outcome")
        except StorageError as exc:
            self.control.pause.set()  # retrying workers must not send (and pay for) more
            self._record_error(exc, "storage", None)
            self.state.status = "failed"
            # Worth a try: a full disk may still take the small checkpoint. Every state this
            # can be reached in is consistent; if the write fails the previous checkpoint stands.
            with contextlib.suppress(StorageError):
                self._checkpoint()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return failure


def _with_location(error: ProviderError, item: _WorkItem, state: JobState) -> ProviderError:
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
