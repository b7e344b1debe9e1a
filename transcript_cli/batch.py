"""The batch scheduler: pending chunks go out as Message Batches, at half the price.

Each round: collect every batch that has ended (results streamed, settled through the same
bookkeeper as live replies), submit what is still pending, then wait (polling with backoff) or,
with --no-wait, stop with the job `waiting`. The ledger (batch_ledger.py) records each `create`
twice, intent before and id after, so no chunk is submitted twice; a run killed between the two
finds its orphan batch by creation time and request count (then custom_ids) and adopts it.

Requests whose results are `errored` transiently, `expired` or `canceled` go in a follow-up batch
(or, with --fallback-live, are finished live). Chunks the API refuses whole, or whose reply is
unusable, are split and their pieces sent live, exactly as in live mode.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from transcript_cli import batch_ledger
from transcript_cli.batch_ledger import Ledger, Submission, custom_id, job_tag, parse_custom_id
from transcript_cli.bookkeeper import Bookkeeper
from transcript_cli.chunkset import ChunkSet
from transcript_cli.endings import waiting
from transcript_cli.errors import (
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
    UsageError,
)
from transcript_cli.events import BatchCollected, BatchProgress, BatchSubmitted
from transcript_cli.failures import Scope, SuspiciousReply, UnusableReply, check_reply, scope_of
from transcript_cli.live import LiveScheduler, pacing_policy
from transcript_cli.pacing import Pacer
from transcript_cli.providers.base import ChunkRequest, Completion, Provider
from transcript_cli.providers.batches import BatchClient, BatchInfo, BatchResult
from transcript_cli.retry import RetryPolicy
from transcript_cli.state import Options
from transcript_cli.work import Billed, ChunkOutcome, WorkItem, build_request
from transcript_cli.worker import ChunkWorker, reply_from

# The API's limits per batch, with a margin on the size for the JSON around the requests.
MAX_REQUESTS = 100_000
MAX_BYTES = 250 * 1024 * 1024
# A batch created up to this long before we asked (clocks differ) may still be ours.
CLOCK_SKEW_SECONDS = 600.0
POLL_ENV = "TRANSCRIPT_CLI_BATCH_POLL"
# A chunk the batch could not answer usably, split and sent live: its error, and the batch reply
# already billed for it (a cut-off one), if any.
_ToSplit = tuple[WorkItem, ProviderError, tuple[Billed, ...]]
BATCHES_DIR = "batches"


@dataclass(frozen=True)
class BatchPolling:
    """How often to ask whether a batch has ended: `first`, growing by `factor` up to `most`."""

    first: float = 5.0
    factor: float = 1.5
    most: float = 60.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(self.most, delay * self.factor)

    @classmethod
    def from_env(cls) -> BatchPolling:
        """$TRANSCRIPT_CLI_BATCH_POLL = "FIRST[,MOST]" seconds overrides the defaults."""
        raw = os.environ.get(POLL_ENV, "").strip()
        if not raw:
            return cls()
        try:
            values = [float(v) for v in raw.split(",")]
        except ValueError:
            raise UsageError(
                f"{POLL_ENV}={raw!r}: expected seconds, as FIRST or FIRST,MOST"
            ) from None
        if not 1 <= len(values) <= 2 or min(values) <= 0:
            raise UsageError(f"{POLL_ENV}={raw!r}: expected seconds, as FIRST or FIRST,MOST")
        return cls(first=values[0], most=max(values))


@dataclass(frozen=True)
class BatchOptions:
    """How a batch run behaves; not part of the job: each run or resume may choose."""

    wait: bool = True
    fallback_live: bool = False
    polling: BatchPolling = BatchPolling()


class BatchScheduler:
    """Gets every pending chunk answered through Message Batches."""

    def __init__(
        self,
        client: BatchClient,
        provider: Provider,
        options: Options,
        batch: BatchOptions,
        *,
        policy: RetryPolicy,
        clock: Callable[[], float] = time.time,
        max_requests: int = MAX_REQUESTS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.client = client
        self.provider = provider
        self.options = options
        self.batch = batch
        self.policy = policy
        self.clock = clock
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self._resent: dict[tuple[int, int], int] = {}  # follow-ups per chunk in this run

    def drive(self, book: Bookkeeper) -> ProviderError | None:
        """Rounds of collect, submit, wait; returns the error that ended the job, if any."""
        try:
            return self._drive(book)
        except ProviderError as exc:
            # Listing, polling or fetching results failed past the SDK: the job stops, resumable.
            book.record_error(exc, "transient" if scope_of(exc) is Scope.TRANSIENT else "permanent")
            return exc

    def _drive(self, book: Bookkeeper) -> ProviderError | None:
        ledger = batch_ledger.load(book.job_dir) or Ledger(book.state.job_id)
        if self.batch.fallback_live != ledger.fallback_live:
            ledger.fallback_live = self.batch.fallback_live
        self.tag = job_tag(book.state.job_id)
        self.folder = book.job_dir / BATCHES_DIR
        self._adopt_orphans(book, ledger)
        self._reserve_in_flight(book, ledger)
        while True:
            failure = self._collect_ended(book, ledger)
            if failure is not None:
                return failure
            if book.control.pause.is_set():
                book.stop(waiting(book.state, ledger.batch_ids(), paused=True))
            if not ledger.submissions and ledger.fallback_live and ledger.collected:
                # Stragglers after the first batch: finish them live instead of another batch.
                live = LiveScheduler(self.provider, self.options, policy=self.policy)
                return live.drive(book)
            failure = self._submit_pending(book, ledger)
            if failure is not None:
                return failure
            if not ledger.submissions:
                return None
            if not self.batch.wait:
                book.stop(waiting(book.state, ledger.batch_ids(), paused=False))
            self._wait(book, ledger)

    # --- submitting ---

    def _pending(self, book: Bookkeeper, ledger: Ledger) -> Iterator[WorkItem]:
        for item in book.pending():
            if ledger.in_flight(item.input_index, item.chunk_index):
                continue
            if not book.admit(item):
                return  # --max-cost: no more until what is in flight has landed
            yield item

    def _submit_pending(self, book: Bookkeeper, ledger: Ledger) -> ProviderError | None:
        """Every pending chunk not in flight, in as few batches as the API's limits allow."""
        packer = Packer(self._pending(book, ledger), self.tag, self.max_requests, self.max_bytes)
        while packer.head is not None:
            if book.control.pause.is_set():
                return None
            number = ledger.next_number
            self.folder.mkdir(mode=0o700, exist_ok=True)
            body = self.folder / f"{number}.request.json"
            self.client.write_requests(packer.take(), body)
            submission = Submission(number, self.clock(), packer.count, packer.members)
            ledger.next_number += 1
            ledger.submissions.append(submission)
            batch_ledger.save(ledger, book.job_dir)  # the intent, before anything is sent
            try:
                info = self.client.create(body)
            except ProviderError as exc:
                # It may have been created anyway (a timeout): look before sending it again.
                self._adopt_orphans(book, ledger)
                return exc
            submission.batch_id = info.id
            batch_ledger.save(ledger, book.job_dir)  # the id, right after
            body.unlink(missing_ok=True)
            book.emit(BatchSubmitted(batch_id=info.id, requests=packer.count, number=number))
        return None

    def _reserve_in_flight(self, book: Bookkeeper, ledger: Ledger) -> None:
        """--max-cost: chunks in batches sent by an earlier run count as in flight.

        A run starts with nothing in flight; without this a resumed job would admit new chunks
        as if the batches still out were free, and could pass its cap once they are collected.
        Estimated as they were when admitted (the same request, the same rule).
        """
        budget = book.budget
        if budget is None or not ledger.submissions:
            return
        members: dict[int, set[int]] = {}
        for submission in ledger.submissions:
            for input_index, chunks in submission.members.items():
                members.setdefault(input_index, set()).update(chunks)
        settings = book.state.settings
        for input_index in sorted(members):
            item = book.state.inputs[input_index]
            if item.written:
                continue
            path, source, shas = book.load_input(input_index)
            settled = set(item.done) | set(item.failed)
            for chunk_index in sorted(members[input_index] - settled):
                chunk = source.chunks[chunk_index]
                request = build_request(book.template, settings, path, chunk, item.chunk_count)
                budget.reserve(
                    WorkItem(input_index, chunk_index, path.name, request, shas[chunk_index])
                )

    # --- orphans: intents without a batch id ---

    def _adopt_orphans(self, book: Bookkeeper, ledger: Ledger) -> None:
        unresolved = [s for s in ledger.submissions if s.batch_id is None]
        if not unresolved:
            return
        claimed = set(ledger.batch_ids())
        since = min(s.requested_at for s in unresolved) - CLOCK_SKEW_SECONDS
        candidates = [b for b in self.client.recent(since) if b.id not in claimed]
        for submission in unresolved:
            found = self._find_orphan(submission, candidates)
            if found is None:
                # Never created: its chunks are pending again.
                ledger.submissions.remove(submission)
            else:
                candidates.remove(found)
                submission.batch_id = found.id
                book.emit(
                    BatchSubmitted(
                        batch_id=found.id,
                        requests=submission.count,
                        number=submission.number,
                        adopted=True,
                    )
                )
        batch_ledger.save(ledger, book.job_dir)

    def _find_orphan(self, submission: Submission, candidates: list[BatchInfo]) -> BatchInfo | None:
        for batch in sorted(candidates, key=lambda b: b.created_at):
            if batch.counts.total != submission.count:
                continue
            if batch.created_at < submission.requested_at - CLOCK_SKEW_SECONDS:
                continue
            if batch.ended and not self._same_requests(batch.id, submission):
                continue
            return batch
        return None

    def _same_requests(self, batch_id: str, submission: Submission) -> bool:
        """Once ended, an orphan's results name their custom_ids: all of them must be ours."""
        seen = 0
        for result in self.client.results(batch_id):
            where = parse_custom_id(self.tag, result.custom_id)
            if where is None or not submission.contains(*where):
                return False
            seen += 1
        return seen == submission.count

    # --- waiting ---

    def _wait(self, book: Bookkeeper, ledger: Ledger) -> None:
        """Poll with backoff until a batch has ended; a pause stops the run, batches go on."""
        book.control.pausing = "the batches go on on Anthropic's side, `resume` collects them"
        last: dict[str, BatchInfo] = {}
        for delay in self.batch.polling.delays():
            ended = False
            for submission in ledger.submissions:
                assert submission.batch_id is not None
                try:
                    info = self.client.retrieve(submission.batch_id)
                except TransientProviderError:
                    continue  # asked again at the next poll
                if last.get(info.id) != info:
                    last[info.id] = info
                    book.emit(_progress(info))
                ended = ended or info.ended
            if ended:
                return
            if book.control.pause.wait(delay):
                book.stop(waiting(book.state, ledger.batch_ids(), paused=True))

    # --- collecting ---

    def _collect_ended(self, book: Bookkeeper, ledger: Ledger) -> ProviderError | None:
        for submission in list(ledger.submissions):
            assert submission.batch_id is not None
            info = self.client.retrieve(submission.batch_id)
            if not info.ended:
                continue
            failure = self._collect(book, ledger, submission)
            if failure is not None:
                return failure
        return None

    def _collect(
        self, book: Bookkeeper, ledger: Ledger, submission: Submission
    ) -> ProviderError | None:
        """Stream one ended batch's results to disk, then settle them file by file."""
        assert submission.batch_id is not None
        spool = self.folder / f"{submission.number}.results.jsonl"
        offsets = self._spool(submission, spool)
        failure = None
        to_split: list[_ToSplit] = []
        tally = dict.fromkeys(("succeeded", "resubmit", "split", "failed"), 0)
        with open(spool, "rb") as handle, book.checkpoints_deferred():
            for input_index in sorted(offsets):
                failure = self._settle_input(
                    book, handle, input_index, offsets[input_index], to_split, tally
                )
                if failure is not None:
                    break
        if failure is None:
            failure = self._split_live(book, to_split)
        book.checkpoint()
        if failure is not None:
            return failure  # stays in the ledger: resume collects it again, skipping what landed
        ledger.submissions.remove(submission)
        ledger.collected += 1
        batch_ledger.save(ledger, book.job_dir)
        spool.unlink(missing_ok=True)
        book.emit(BatchCollected(batch_id=submission.batch_id, **tally))
        return None

    def _spool(self, submission: Submission, spool: Path) -> dict[int, list[int]]:
        """Results in arrival order into one file; returns each input's line offsets."""
        assert submission.batch_id is not None
        offsets: dict[int, list[int]] = {}
        self.folder.mkdir(mode=0o700, exist_ok=True)
        with open(spool, "wb") as out:
            for result in self.client.results(submission.batch_id):
                where = parse_custom_id(self.tag, result.custom_id)
                if where is None or not submission.contains(*where):
                    continue  # not one of ours
                offsets.setdefault(where[0], []).append(out.tell())
                out.write(_encode(where[1], result) + b"\n")
        return offsets

    def _settle_input(
        self,
        book: Bookkeeper,
        handle: BinaryIO,
        input_index: int,
        offsets: list[int],
        to_split: list[_ToSplit],
        tally: dict[str, int],
    ) -> ProviderError | None:
        """Settle one input's results, reading its source once."""
        item = book.state.inputs[input_index]
        if item.written:
            return None
        path, source, shas = book.load_input(input_index)
        failed = set(item.failed)
        settings = book.state.settings
        for offset in offsets:
            handle.seek(offset)
            chunk_index, result = _decode(handle.readline())
            if chunk_index in item.done or chunk_index in failed:
                continue  # settled by an earlier collection of this batch
            chunk = source.chunks[chunk_index]
            request = build_request(book.template, settings, path, chunk, item.chunk_count)
            work = WorkItem(input_index, chunk_index, path.name, request, shas[chunk_index])
            if result.kind == "succeeded":
                assert result.completion is not None
                completion = result.completion
                # Billed at batch prices whether it is kept or not.
                paid = (Billed(completion.input_tokens, completion.output_tokens, batch=True),)
                try:
                    check_reply(completion.text, completion.stop_reason, request.max_tokens)
                    reply = reply_from(
                        [completion],
                        verbatim=book.template.verbatim,
                        source=request.source,
                        strict=self.options.strict,
                    )
                except SuspiciousReply as exc:
                    book.settle(ChunkOutcome(work, 0, error=exc, discarded=paid))
                    tally["failed"] += 1
                    continue
                except UnusableReply as exc:
                    to_split.append((work, exc, paid))
                    tally["split"] += 1
                    continue
                book.settle(ChunkOutcome(work, 0, reply=reply, batch=True))
                tally["succeeded"] += 1
                continue
            if result.kind == "errored":
                assert result.error is not None
                scope = scope_of(result.error)
                if scope is Scope.CHUNK:
                    to_split.append((work, result.error, ()))
                    tally["split"] += 1
                    continue
                if scope is Scope.JOB:
                    return book.settle(ChunkOutcome(work, 0, error=result.error))
                reason = result.error.message
            else:
                reason = f"batch request {result.kind}"
            failure = self._resend(book, work, reason)
            if failure is not None:
                return failure
            tally["resubmit"] += 1
        return None

    def _resend(self, book: Bookkeeper, work: WorkItem, reason: str) -> ProviderError | None:
        """Leave a chunk pending for a follow-up batch, within the retry budget of this run."""
        key = (work.input_index, work.chunk_index)
        count = self._resent.get(key, 0) + 1
        self._resent[key] = count
        if count > self.options.max_retries:
            error = TransientProviderError(reason)
            return book.settle(ChunkOutcome(work, 0, error=error, last_retry_error=reason))
        book.note_retry(work, reason)
        return None

    def _split_live(self, book: Bookkeeper, to_split: list[_ToSplit]) -> ProviderError | None:
        """Chunks the API refused whole: split and sent live, as the live scheduler would."""
        if not to_split:
            return None
        worker = ChunkWorker(
            self.provider,
            Pacer(pacing_policy(self.options)),
            self.policy,
            pause=book.control.pause,
            verbatim=book.template.verbatim,
            strict=self.options.strict,
            emit=book.emit,
        )
        for work, error, paid in to_split:
            outcome = worker.run(work, known=error)
            outcome = replace(outcome, discarded=paid + outcome.discarded)
            failure = book.settle(outcome)
            if failure is not None:
                return failure
        return None


def _encode(chunk_index: int, result: BatchResult) -> bytes:
    """One spooled result: a compact JSON line."""
    data: dict[str, object] = {"chunk": chunk_index, "kind": result.kind}
    if result.completion is not None:
        c = result.completion
        data.update(
            text=c.text,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            model=c.model,
            stop_reason=c.stop_reason,
        )
    if result.error is not None:
        data.update(
            error=result.error.message,
            status=result.error.status,
            transient=isinstance(result.error, TransientProviderError),
        )
    encoded: bytes = json.dumps(data, ensure_ascii=False).encode()
    return encoded


def _decode(line: bytes) -> tuple[int, BatchResult]:
    data = json.loads(line)
    completion = None
    error: ProviderError | None = None
    if "text" in data:
        completion = Completion(
            text=data["text"],
            input_tokens=data["input_tokens"],
            output_tokens=data["output_tokens"],
            model=data["model"],
            stop_reason=data["stop_reason"],
        )
    if "error" in data:
        kind = TransientProviderError if data["transient"] else PermanentProviderError
        error = kind(data["error"], status=data["status"])
    return data["chunk"], BatchResult("", data["kind"], completion=completion, error=error)


def _progress(info: BatchInfo) -> BatchProgress:
    counts = info.counts
    return BatchProgress(
        batch_id=info.id,
        status=info.status,
        done=counts.total - counts.processing,
        total=counts.total,
        succeeded=counts.succeeded,
        errored=counts.errored,
    )


class Packer:
    """Takes pending chunks into one batch after another, each within the API's limits."""

    def __init__(
        self, work: Iterator[WorkItem], tag: str, max_requests: int, max_bytes: int
    ) -> None:
        self.work = work
        self.tag = tag
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.head = next(work, None)
        self.count = 0
        self.members: dict[int, ChunkSet] = {}

    def take(self) -> Iterator[tuple[str, ChunkRequest]]:
        """The next batch's (custom_id, request) pairs; `count` and `members` describe it."""
        self.count = 0
        self.members = {}
        size = 0
        while self.head is not None:
            item = self.head
            # UTF-8 bytes, plus room for JSON escapes and the params around the texts.
            request = item.request
            weight = (len(request.system.encode()) + len(request.user.encode())) * 11 // 10 + 512
            if self.count and (self.count >= self.max_requests or size + weight > self.max_bytes):
                return
            self.count += 1
            size += weight
            self.members.setdefault(item.input_index, ChunkSet()).add(item.chunk_index)
            yield custom_id(self.tag, item.input_index, item.chunk_index), item.request
            self.head = next(self.work, None)
