"""The bookkeeper driven by the live scheduler, with a scripted provider: ordering, concurrency,
recovery, stalls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import write_transcript
from tests.fakes import ScriptedProvider
from transcript_cli import bookkeeper as bookkeeper_module
from transcript_cli import checkpoint
from transcript_cli.bookkeeper import CHECKPOINT_INTERVAL, Bookkeeper
from transcript_cli.chunk_results import ResultStore
from transcript_cli.chunkset import ChunkSet
from transcript_cli.control import Control
from transcript_cli.errors import InputChangedError, Paused
from transcript_cli.events import (
    ChunkFinished,
    ChunkStarted,
    Event,
    EventSink,
    Stalled,
    ignore_events,
)
from transcript_cli.job import JobStore, new_state, plan_inputs
from transcript_cli.live import LiveScheduler
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.retry import RetryPolicy
from transcript_cli.sources import Source, load_source
from transcript_cli.state import JobState, Options, Settings
from transcript_cli.work import ChunkOutcome, PauseInterrupt, Reply, WorkItem

SETTINGS = Settings(
    provider="scripted",
    model="scripted-1",
    prompt_name="clean",
    prompt_text="Clean part {{chunk_number}} of {{chunk_count}}.",
    language="English",
    title=None,
    chunk_chars=400,
    context_chars=100,
    max_tokens=1000,
)
OPTIONS = Options(concurrency=1, max_retries=2, timeout=10.0)


def run_live(
    store: JobStore,
    state: JobState,
    provider: ScriptedProvider,
    *,
    control: Control | None = None,
    on_event: EventSink = ignore_events,
    resumed: bool = False,
    stall_seconds: float | None = None,
) -> JobState:
    """One live run of a job whose lock the caller holds."""
    book = Bookkeeper(store, state, provider_name=provider.name, control=control, on_event=on_event)
    scheduler = LiveScheduler(provider, state.options, policy=RetryPolicy())
    if stall_seconds is not None:
        scheduler.stall_seconds = stall_seconds  # the real grace is the timeout plus five seconds
    return book.run(scheduler, resumed=resumed)


def _setup(tmp_path: Path, files: int = 3, sentences: int = 30) -> tuple[JobStore, list[Path]]:
    inputs = [
        write_transcript(tmp_path / "in" / f"part{n}.txt", sentences, start=n * 1000)
        for n in range(files)
    ]
    return JobStore(tmp_path / "state"), inputs


def _run(
    store: JobStore,
    inputs: list[Path],
    out: Path,
    provider: ScriptedProvider,
    *,
    concurrency: int = 1,
    control: Control | None = None,
    on_event: object = None,
) -> None:
    planned = plan_inputs(inputs, SETTINGS, out)
    options = replace(OPTIONS, concurrency=concurrency)
    state = new_state("job", SETTINGS, options, planned)
    with store.locked("job"):
        store.save(state)
        run_live(
            store,
            state,
            provider,
            control=control,
            on_event=on_event or ignore_events,  # type: ignore[arg-type]
        )


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_outputs_are_identical_whatever_the_concurrency(tmp_path: Path) -> None:
    store, inputs = _setup(tmp_path)
    serial = ScriptedProvider()
    _run(store, inputs, tmp_path / "out1", serial)
    store.remove("job")
    parallel = ScriptedProvider(jitter=0.01, seed=3)
    _run(store, inputs, tmp_path / "out8", parallel, concurrency=8)
    assert _outputs(tmp_path / "out1") == _outputs(tmp_path / "out8")
    assert sorted(serial.sources) == sorted(parallel.sources)
    assert len(parallel.sources) == len(set(parallel.sources))  # nothing sent twice
    assert 1 < parallel.max_in_flight <= 8
    assert serial.max_in_flight == 1
    text = (tmp_path / "out1" / "part0.md").read_text(encoding="utf-8")
    assert text.startswith("SENTENCE NUMBER 0 SAYS") and text.endswith(".\n")


def test_state_after_completion_is_compact(tmp_path: Path) -> None:
    store, inputs = _setup(tmp_path, files=2)
    _run(store, inputs, tmp_path / "out", ScriptedProvider())
    state = checkpoint.load(store.job_dir("job"))
    assert state.status == "completed"
    assert state.chunks_done == state.chunks_total
    assert all(i.written for i in state.inputs)
    assert state.input_tokens == 10 * state.chunks_total
    # Stored chunk texts are gone; the compact record stays.
    assert not (store.job_dir("job") / "chunks").exists()


def _pausing_at(control: Control, number: int) -> ScriptedProvider:
    """A provider that pauses the job while it answers its `number`-th request (from 1).

    Not on the `number`-th ChunkFinished: progress is told once a checkpoint counts it, and
    quick chunks share checkpoints, so by then later chunks may have landed too.
    """

    def script(request: ChunkRequest, call: int) -> None:
        if call == number - 1:
            control.pause.set()

    return ScriptedProvider(script)


def test_pause_lets_the_chunk_in_flight_finish_and_checkpoints_it(tmp_path: Path) -> None:
    store, inputs = _setup(tmp_path, files=1, sentences=60)
    control = Control()
    seen: list[ChunkFinished] = []

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkFinished):
            seen.append(event)

    provider = _pausing_at(control, 3)
    with pytest.raises(Paused) as caught:
        _run(store, inputs, tmp_path / "out", provider, control=control, on_event=on_event)
    # The pause came while chunk 3 was in flight: it lands and is checkpointed (and told);
    # nothing beyond it is started.
    state = checkpoint.load(store.job_dir("job"))
    assert state.status == "paused"
    assert len(provider.sources) == state.chunks_done == len(seen) == 3
    assert "Paused at chunk 4/" in caught.value.message


def _run_until_paused(store: JobStore, inputs: list[Path], out: Path, *, after: int) -> None:
    """Run the job at -j 1 and pause it once `after` chunks are finished."""
    control = Control()
    with pytest.raises(Paused):
        _run(store, inputs, out, _pausing_at(control, after), control=control)


def test_result_stored_but_not_checkpointed_is_adopted_not_repaid(tmp_path: Path) -> None:
    """A crash between storing a result and rewriting the checkpoint loses nothing."""
    store, inputs = _setup(tmp_path, files=1)
    _run_until_paused(store, inputs, tmp_path / "out", after=2)
    state = checkpoint.load(store.job_dir("job"))
    # Forget chunk 1 in the checkpoint, as if the process died right after storing its result.
    item = state.inputs[0]
    kept = ResultStore(store.job_dir("job")).get(0, 1)
    assert kept is not None
    done_before = len(item.done)
    item.done = ChunkSet.from_ranges([[0, 1], [2, done_before]])
    store.save(state)

    again = ScriptedProvider()
    with store.locked("job"):
        run_live(store, state, again, resumed=True)
    assert kept.text.lower() not in [s.lower() for s in again.sources]
    assert len(again.sources) == item.chunk_count - done_before


def test_a_result_cut_short_by_a_crash_is_redone_once_never_counted(tmp_path: Path) -> None:
    """Results are written in place (no temp file): a crash mid-write leaves a file cut short
    under the chunk's own name. It fails its checksum, so it is neither adopted nor counted; the
    chunk is sent again, once, and the output is the same as an uninterrupted run's."""
    store, inputs = _setup(tmp_path, files=1)
    _run(store, inputs, tmp_path / "clean", ScriptedProvider())
    store.remove("job")
    _run_until_paused(store, inputs, tmp_path / "out", after=2)
    job_dir = store.job_dir("job")
    state = checkpoint.load(job_dir)
    done = len(state.inputs[0].done)
    results = ResultStore(job_dir)
    whole = results.root / "0" / "0.json"
    torn = results.root / "0" / f"{done}.json"  # the next chunk's, as a crash mid-write leaves it
    torn.write_bytes(whole.read_bytes()[:-20])
    assert results.stored_indices(0) == set(range(done + 1))
    assert results.get(0, done) is None

    again = ScriptedProvider()
    with store.locked("job"):
        run_live(store, state, again, resumed=True)
    assert len(again.sources) == len(set(again.sources)) == state.inputs[0].chunk_count - done
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "clean")


def test_a_stall_is_reported_not_silent(tmp_path: Path) -> None:
    store, inputs = _setup(tmp_path, files=1, sentences=10)
    release = threading.Event()
    provider = ScriptedProvider(gate=release)
    stalls: list[Stalled] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Stalled):
            stalls.append(event)
            release.set()

    planned = plan_inputs(inputs, SETTINGS, tmp_path / "out")
    options = Options(concurrency=2, max_retries=0, timeout=0.2)
    state = new_state("job", SETTINGS, options, planned)
    with store.locked("job"):
        store.save(state)
        run_live(store, state, provider, on_event=on_event, stall_seconds=0.3)
    assert stalls and stalls[0].seconds >= 0.3
    assert "sent and not answered" in stalls[0].reason
    assert checkpoint.load(store.job_dir("job")).status == "completed"


def test_resume_refuses_chunks_cut_differently_than_the_finished_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer chunker may cut the same input elsewhere: mixing would repeat or lose words."""
    store, inputs = _setup(tmp_path, files=1, sentences=60)
    _run_until_paused(store, inputs, tmp_path / "out", after=3)
    state = checkpoint.load(store.job_dir("job"))
    done = len(state.inputs[0].done)

    def shifted(path: Path, chunk_chars: int, context_chars: int, **kw: object) -> Source:
        """The same chunk count, the seam after the finished chunks one word later."""
        source = load_source(path, chunk_chars, context_chars)
        chunks = list(source.chunks)
        last, nxt = chunks[done - 1], chunks[done]
        word, rest = nxt.text.split(" ", 1)
        chunks[done - 1] = replace(last, text=f"{last.text} {word}")
        chunks[done] = replace(nxt, text=rest)
        return replace(source, chunks=chunks)

    monkeypatch.setattr("transcript_cli.bookkeeper.load_source", shifted)
    again = ScriptedProvider()
    with store.locked("job"), pytest.raises(InputChangedError) as caught:
        run_live(store, state, again, resumed=True)
    assert f"chunk {done} differs" in caught.value.message
    assert "run --restart" in caught.value.message
    assert again.sources == []  # nothing paid for
    assert not (tmp_path / "out" / "part0.md").exists()
    # Unchanged chunking resumes as before.
    monkeypatch.undo()
    with store.locked("job"):
        run_live(store, checkpoint.load(store.job_dir("job")), ScriptedProvider(), resumed=True)
    assert (tmp_path / "out" / "part0.md").exists()


@contextmanager
def _book(
    tmp_path: Path,
    events: list[Event],
    sentences: int = 30,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Bookkeeper]:
    """A bookkeeper for one new job of one input, with the job's lock held."""
    store, inputs = _setup(tmp_path, files=1, sentences=sentences)
    state = new_state("job", SETTINGS, OPTIONS, plan_inputs(inputs, SETTINGS, tmp_path / "out"))
    with store.locked("job"):
        store.save(state)
        yield Bookkeeper(
            store, state, provider_name="scripted", on_event=events.append, clock=clock
        )


def _answered(work: WorkItem) -> ChunkOutcome:
    text = work.request.source.upper()
    reply = Reply(text, 10, 5, "scripted-1", "end_turn", pieces=1, warning=None)
    return ChunkOutcome(work, 0, reply=reply)


def test_chunks_that_finish_together_share_one_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group commit: each result is stored first, so one checkpoint after them loses nothing."""
    events: list[Event] = []
    saves: list[JobState] = []
    real_save = JobStore.save

    def counting_save(self: JobStore, state: JobState) -> None:
        saves.append(checkpoint.from_dict(checkpoint.to_dict(state), Path("copy")))
        real_save(self, state)

    with _book(tmp_path, events, sentences=90) as book:
        monkeypatch.setattr(JobStore, "save", counting_save)
        work = list(book.pending())[:5]
        assert len(book.state.inputs[0].done) + len(work) < book.state.inputs[0].chunk_count
        outcomes = [book.store_result(_answered(w)) for w in work]
        # Stored before they are counted: a kill now costs nothing, the next run adopts them.
        assert book.results.stored_indices(0) == {w.chunk_index for w in work}
        assert book.settle_all(outcomes) is None
        # Outcomes that land nothing (a pause cut them short) write no checkpoint.
        assert book.settle_all([ChunkOutcome(work[0], 0, error=PauseInterrupt())]) is None
    assert len(saves) == 1
    assert set(saves[0].inputs[0].done) == {w.chunk_index for w in work}
    finished = [e for e in events if isinstance(e, ChunkFinished)]
    assert [e.job_done for e in finished] == [1, 2, 3, 4, 5]


def test_progress_is_told_only_once_a_checkpoint_counts_the_chunk(tmp_path: Path) -> None:
    """At -j 8, every ChunkFinished: the checkpoint on disk already counts it, its result stored."""
    store, inputs = _setup(tmp_path, files=2, sentences=60)
    job_dir = store.job_dir("job")
    late: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkFinished):
            state = checkpoint.load(job_dir)
            index = next(n for n, i in enumerate(state.inputs) if Path(i.path).name == event.file)
            if event.chunk_index not in state.inputs[index].done or state.chunks_done < (
                event.job_done
            ):
                late.append(f"{event.file} chunk {event.chunk_index}")

    provider = ScriptedProvider(jitter=0.02, seed=5)
    _run(store, inputs, tmp_path / "out", provider, concurrency=8, on_event=on_event)
    assert late == []
    assert provider.max_in_flight > 1


def test_at_concurrency_1_quick_chunks_share_checkpoints_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At -j 1 the next chunk is out before the last one is settled, so it carries the
    checkpoint: one per chunk was a second fsynced write racing the worker's (benchmark
    section 2). Progress still waits for a checkpoint that counts it, and nothing is lost."""
    monkeypatch.setattr(bookkeeper_module, "CHECKPOINT_INTERVAL", 60.0)  # however slow the disk
    store, inputs = _setup(tmp_path, files=1, sentences=120)
    job_dir = store.job_dir("job")
    saves: list[int] = []
    real_save = JobStore.save

    def counting_save(self: JobStore, state: JobState) -> None:
        saves.append(state.chunks_done)
        real_save(self, state)

    monkeypatch.setattr(JobStore, "save", counting_save)
    late: list[int] = []

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkFinished):
            counted = checkpoint.load(job_dir).inputs[0].done
            if event.chunk_index not in counted or len(counted) < event.job_done:
                late.append(event.chunk_index)

    provider = ScriptedProvider()
    _run(store, inputs, tmp_path / "out", provider, on_event=on_event)
    chunks = len(provider.sources)
    assert chunks > 15
    assert provider.max_in_flight == 1
    assert late == []
    # The first save is the new job's; then the run's start, the last chunk (nothing else in
    # flight), the output and the end: 5, plus one per stall of 0.1 s with nothing back (a slow
    # disk). One per chunk would be more than `chunks`.
    assert len(saves) <= chunks // 2
    final = checkpoint.load(job_dir)
    assert final.status == "completed" and final.chunks_done == chunks


def test_an_output_is_written_only_once_a_checkpoint_counts_all_its_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else a kill right after writing it would leave an output that resume refuses as a
    stranger's ("appeared after the job started"): the last chunks' checkpoint may be deferred."""
    out = tmp_path / "out" / "part0.md"
    job_dir = tmp_path / "state" / "job"
    seen_when_written: list[JobState] = []
    real_write = bookkeeper_module.atomic_write

    def spying_write(path: Path, data: object, mode: int = 0o600) -> None:
        if path == out:
            seen_when_written.append(checkpoint.load(job_dir))
        real_write(path, data, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(bookkeeper_module, "atomic_write", spying_write)
    with _book(tmp_path, [], sentences=12) as book:
        work = list(book.pending())
        assert len(work) > 1
        assert book.settle_all(book.store_result(_answered(w)) for w in work) is None
    assert out.exists()
    [state] = seen_when_written
    assert len(state.inputs[0].done) == state.inputs[0].chunk_count


def test_after_an_abort_no_reply_is_stored_once_the_run_has_returned(tmp_path: Path) -> None:
    """A second Ctrl-C abandons the chunks in flight; their workers store nothing afterwards
    (the job's lock is gone by then, and another process may own the job)."""
    store, inputs = _setup(tmp_path, files=1, sentences=60)
    gate = threading.Event()
    provider = ScriptedProvider(gate=gate)
    control = Control()

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkStarted):
            control.abort.set()

    with pytest.raises(Paused):
        _run(
            store,
            inputs,
            tmp_path / "out",
            provider,
            concurrency=4,
            control=control,
            on_event=on_event,
        )
    assert provider.in_flight > 0
    gate.set()  # the abandoned requests now come back
    for _ in range(200):
        if provider.in_flight == 0:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.1)  # time for a worker to store what it got
    assert ResultStore(store.job_dir("job")).stored_indices(0) == set()
    assert checkpoint.load(store.job_dir("job")).status == "paused"


def test_the_next_chunk_is_sent_while_the_last_ones_checkpoint_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker stores its chunk's result before it reports, so the slot is refilled before the
    bookkeeping: no request waits for a checkpoint, and a kill still costs only what is in flight.
    """
    store, inputs = _setup(tmp_path, files=1, sentences=60)
    job_dir = store.job_dir("job")
    results = ResultStore(job_dir)
    real_save = JobStore.save

    def slow_save(self: JobStore, state: JobState) -> None:
        time.sleep(0.05)  # a slow disk: the window in which the next request should go out
        real_save(self, state)

    monkeypatch.setattr(JobStore, "save", slow_save)
    ahead: list[bool] = []
    unstored: list[int] = []

    def script(request: ChunkRequest, number: int) -> None:
        if number:  # every earlier reply is stored; is the last one counted yet?
            if len(results.stored_indices(0)) < number:
                unstored.append(number)
            ahead.append(len(checkpoint.load(job_dir).inputs[0].done) < number)

    _run(store, inputs, tmp_path / "out", ScriptedProvider(script))
    assert unstored == []
    assert len(ahead) > 4
    # Settling first (as before) would count the last chunk before every request: never ahead.
    assert sum(ahead) >= len(ahead) // 2


def test_with_others_in_flight_a_checkpoint_waits_for_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At -j 64 chunks finish a few at a time: within CHECKPOINT_INTERVAL of the last checkpoint
    they wait for the next one (their results are stored; progress waits with them)."""
    now = [1000.0]
    events: list[Event] = []
    saves: list[float] = []
    real_save = JobStore.save

    def counting_save(self: JobStore, state: JobState) -> None:
        saves.append(now[0])
        real_save(self, state)

    def told() -> int:
        return sum(isinstance(e, ChunkFinished) for e in events)

    with _book(tmp_path, events, sentences=90, clock=lambda: now[0]) as book:
        monkeypatch.setattr(JobStore, "save", counting_save)
        work = [book.store_result(_answered(w)) for w in list(book.pending())[:6]]
        book.settle_all(work[:1], more_coming=True)
        assert (len(saves), told()) == (1, 1)  # the first in a while is written at once
        now[0] += CHECKPOINT_INTERVAL / 5
        book.settle_all(work[1:3], more_coming=True)
        assert (len(saves), told()) == (1, 1)  # owed, and its progress held
        assert set(checkpoint.load(book.job_dir).inputs[0].done) == {0}
        now[0] += CHECKPOINT_INTERVAL
        book.settle_all(work[3:4], more_coming=True)
        assert (len(saves), told()) == (2, 4)  # the interval passed: all three counted
        assert set(checkpoint.load(book.job_dir).inputs[0].done) == {0, 1, 2, 3}
        now[0] += CHECKPOINT_INTERVAL / 5
        book.settle_all(work[4:5], more_coming=False)
        assert (len(saves), told()) == (3, 5)  # nothing else in flight: written at once
        now[0] += CHECKPOINT_INTERVAL / 5
        book.settle_all(work[5:6], more_coming=True)
        assert (len(saves), told()) == (3, 5)
        book.flush()  # the scheduler found nothing else coming back
        assert (len(saves), told()) == (4, 6)
        book.flush()
        assert len(saves) == 4  # nothing owed, nothing written
    assert [e.job_done for e in events if isinstance(e, ChunkFinished)] == [1, 2, 3, 4, 5, 6]
