"""The bookkeeper driven by the live scheduler, with a scripted provider: ordering, concurrency,
recovery, stalls."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import write_transcript
from tests.fakes import ScriptedProvider
from transcript_cli import checkpoint
from transcript_cli.bookkeeper import Bookkeeper
from transcript_cli.chunk_results import ResultStore
from transcript_cli.chunkset import ChunkSet
from transcript_cli.control import Control
from transcript_cli.errors import InputChangedError, Paused
from transcript_cli.events import ChunkFinished, Event, EventSink, Stalled, ignore_events
from transcript_cli.job import JobStore, new_state, plan_inputs
from transcript_cli.live import LiveScheduler
from transcript_cli.retry import RetryPolicy
from transcript_cli.sources import Source, load_source
from transcript_cli.state import JobState, Options, Settings

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


def test_pause_lets_the_chunk_in_flight_finish_and_checkpoints_it(tmp_path: Path) -> None:
    store, inputs = _setup(tmp_path, files=1, sentences=60)
    control = Control()
    seen: list[ChunkFinished] = []

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkFinished):
            seen.append(event)
            if event.job_done == 3:
                control.pause.set()

    with pytest.raises(Paused) as caught:
        _run(
            store, inputs, tmp_path / "out", ScriptedProvider(), control=control, on_event=on_event
        )
    # The next chunk was already in flight when the pause came (slots are refilled before the
    # bookkeeping), so it may land too; nothing beyond it is started.
    state = checkpoint.load(store.job_dir("job"))
    assert state.status == "paused"
    assert state.chunks_done == len(seen) in (3, 4)
    assert f"Paused at chunk {len(seen) + 1}/" in caught.value.message


def test_result_stored_but_not_checkpointed_is_adopted_not_repaid(tmp_path: Path) -> None:
    """A crash between storing a result and rewriting the checkpoint loses nothing."""
    store, inputs = _setup(tmp_path, files=1)
    control = Control()

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkFinished) and event.job_done == 2:
            control.pause.set()

    with pytest.raises(Paused):
        _run(
            store, inputs, tmp_path / "out", ScriptedProvider(), control=control, on_event=on_event
        )
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
    control = Control()

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkFinished) and event.job_done == 3:
            control.pause.set()

    with pytest.raises(Paused):
        _run(
            store, inputs, tmp_path / "out", ScriptedProvider(), control=control, on_event=on_event
        )
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
