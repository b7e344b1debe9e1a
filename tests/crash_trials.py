"""Crash trials: kill -9 a multi-file job at random moments, resume it, check nothing was lost.

One trial, decided by its seed (only OS timing is not):

1. Write a job of three inputs (.txt, .srt, .vtt; sizes and order vary; 30-60 chunks in all).
2. Start `transcript-cli run` against the fake Messages API (replies 5-25 ms late, varying per
   chunk, so concurrent replies come back out of order) and SIGKILL it at a planned moment. A
   moment is an event, not only a sleep: the n-th request reaching the server (plus a delay), a
   chunk result or checkpoint or output file being written (temp file created; a result is
   written in place, so its own file) or just written (renamed into place; a result: closed
   after its fsync), or a plain delay after start. n is drawn across the work left, so kills land
   early, mid and late.
3. `resume` (or `run` again if the first process died before its job existed), killed again
   0-2 times, until a process exits by itself.
4. Check: that exit is 0 and no process printed a traceback; every output is byte-identical to
   an uninterrupted run's (see `expected_outputs`); `status` said interrupted after each kill and
   completed at the end; no temp file is left behind; no process sent a chunk twice, every chunk
   was sent, and each kill made at most `concurrency` chunks be sent again (the ones in flight).

`run_trial` raises `TrialFailed` (an AssertionError) with the plan and what each process did; the
seed replays the plan. Used by tests/test_crash_trials.py and benchmarks/crash_soak.py.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from tests import fs_events
from tests.cli_launcher import Child, Launcher
from tests.conftest import Cli
from tests.fake_anthropic import FakeAnthropic, Fault, reply_text
from transcript_cli import checkpoint
from transcript_cli.chunk_results import CHUNKS_DIR
from transcript_cli.chunking import split_chunks
from transcript_cli.errors import StateError
from transcript_cli.formats import read_transcript

CHUNK_CHARS = 300
CONTEXT_CHARS = 100
JOB = "crash"
OUT = "cleaned"
PROCESS_TIMEOUT = 60.0
LATENCY = 0.005  # every reply waits this long,
JITTER = 0.02  # and up to this much more, fixed per chunk by the trial's seed

Trigger = Literal[
    "request",
    "result-tmp",
    "result",
    "checkpoint-tmp",
    "checkpoint",
    "output-tmp",
    "output",
    "time",
]
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)
FS_TRIGGERS = frozenset(TRIGGERS) - {"request", "time"}


@dataclass(frozen=True)
class Kill:
    """When to SIGKILL one process: `delay` seconds after the n-th `trigger` event it causes.

    n is `fraction` of such events the job has left (at least 1), resolved when the process
    starts; a checkpoint kill comes at the first checkpoint once `fraction` of the chunks left
    are stored. For "time" the delay counts from the start.
    """

    trigger: Trigger
    fraction: float
    delay: float

    def describe(self) -> str:
        if self.trigger == "time":
            return f"at {self.delay * 1000:.0f}ms"
        return f"{self.trigger}@{self.fraction:.2f}+{self.delay * 1000:.0f}ms"


@dataclass(frozen=True)
class Plan:
    """Everything a seed decides."""

    seed: int
    concurrency: int
    units: tuple[int, ...]  # cues (or sentences) per input
    suffixes: tuple[str, ...]  # input types, in job order
    kills: tuple[Kill, ...]  # one per process that is to be killed

    def describe(self) -> str:
        kills = ", ".join(k.describe() for k in self.kills)
        files = " ".join(f"{s}:{u}" for s, u in zip(self.suffixes, self.units, strict=True))
        return f"seed {self.seed}: -j {self.concurrency}, {files}, kills [{kills}]"


def make_plan(
    seed: int, concurrency: int | None = None, *, fs_triggers: bool | None = None
) -> Plan:
    """The trial for `seed`; `concurrency` fixes -j instead of drawing it (1-4).

    Kills timed to file writes need inotify: by default they are planned where it exists.
    """
    if fs_triggers is None:
        fs_triggers = fs_events.available()
    rng = random.Random(seed)
    jobs = concurrency if concurrency is not None else rng.randint(1, 4)
    chunks = rng.randint(30, 60)
    weights = [rng.uniform(0.3, 1.0) for _ in range(3)]
    # About 7 cues make a chunk at CHUNK_CHARS; at least 2 chunks per input.
    units = tuple(max(14, round(6.5 * chunks * w / sum(weights))) for w in weights)
    suffixes = tuple(rng.sample(("txt", "srt", "vtt"), 3))
    triggers = [t for t in TRIGGERS if fs_triggers or t not in FS_TRIGGERS]
    kills = []
    for _ in range(1 + rng.randint(0, 2)):
        trigger = rng.choice(triggers)
        fraction = rng.uniform(0.0, 1.0)
        if trigger == "time":
            delay = rng.uniform(0.0, 0.8)
        elif trigger in ("request", "output"):
            delay = rng.choice((0.0, rng.uniform(0.0, 0.04)))
        else:
            delay = 0.0  # the point is to land on the write itself
        kills.append(Kill(trigger, fraction, delay))
    return Plan(seed, jobs, units, suffixes, tuple(kills))


# --- the job ---


def _stamp(second: int, comma: str) -> str:
    return f"00:{second // 60:02d}:{second % 60:02d}{comma}"


def _txt(count: int, start: int) -> str:
    return " ".join(
        f"Sentence {n} says um, about topic {n % 7}." for n in range(start, start + count)
    )


def _srt(count: int, start: int) -> str:
    return "\n".join(
        f"{i + 1}\n{_stamp(i, ',')}000 --> {_stamp(i, ',')}900\n"
        f"Cue {start + i} says, uh, something about point {(start + i) % 5}.\n"
        for i in range(count)
    )


def _vtt(count: int, start: int) -> str:
    cues = "\n".join(
        f"{_stamp(i, '.')}000 --> {_stamp(i, '.')}900\n"
        f"Caption {start + i} is like about item {(start + i) % 3}.\n"
        for i in range(count)
    )
    return f"WEBVTT\n\n{cues}"


_WRITERS = {"txt": _txt, "srt": _srt, "vtt": _vtt}


def write_inputs(plan: Plan, folder: Path) -> list[Path]:
    """The job's inputs; every cue is numbered, so every chunk (and its reply) is unique."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (suffix, units) in enumerate(zip(plan.suffixes, plan.units, strict=True)):
        path = folder / f"{'abcdefgh'[n]}-part.{suffix}"
        path.write_text(_WRITERS[suffix](units, 10_000 * (n + 1)) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def chunk_texts(path: Path) -> list[str]:
    """The transcript part of each request the job sends for `path`."""
    segments = read_transcript(path).segments
    return [c.text for c in split_chunks(segments, CHUNK_CHARS, CONTEXT_CHARS)]


def expected_outputs(inputs: list[Path]) -> dict[str, bytes]:
    """What an uninterrupted run writes: each output is its chunks' replies, blank line between.

    The fake's reply is a function of the chunk; tests/test_crash_trials.py checks this against
    a real uninterrupted run.
    """
    return {
        f"{p.stem}.md": ("\n\n".join(reply_text(t).strip() for t in chunk_texts(p)) + "\n").encode()
        for p in inputs
    }


def run_args(inputs: list[Path], concurrency: int) -> tuple[str, ...]:
    return (
        "run",
        *(str(p) for p in inputs),
        "--chunk-chars",
        str(CHUNK_CHARS),
        "--context-chars",
        str(CONTEXT_CHARS),
        "--concurrency",
        str(concurrency),
        "--name",
        JOB,
    )


def fake_api(seed: int) -> FakeAnthropic:
    """The fake Messages API of one trial, quiet about the connections its killed clients reset."""
    api = FakeAnthropic(latency=LATENCY, jitter=JITTER, seed=seed)
    server = api._server  # a killed client resets its keep-alive connections: expected here
    report = server.handle_error

    def handle_error(request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(request, client_address)  # type: ignore[arg-type]

    server.handle_error = handle_error  # type: ignore[method-assign]
    return api


# --- killing on cue ---


class KillSwitch:
    """Counts events of one kind for the current process and SIGKILLs it at the planned one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trigger: Trigger | None = None
        self._left = 0
        self._results_to_go = 0
        self._delay = 0.0
        self._child: Child | None = None
        self._timers: list[threading.Timer] = []
        self.fired: str | None = None  # what the kill followed, for the story

    def arm(
        self, trigger: Trigger, count: int, delay: float, child: Child, *, after_results: int = 0
    ) -> None:
        """Kill at the `count`-th `trigger` event counted once `after_results` results are stored.

        Checkpoints are shared by the chunks that finish close together, so how many a job
        writes is not known in advance: a checkpoint kill is placed by progress instead (the
        first checkpoint after n stored results), which lands it early, mid or late alike.
        """
        with self._lock:
            self._trigger, self._left, self._delay, self._child = trigger, count, delay, child
            self._results_to_go = after_results
            self.fired = None
            if trigger == "time":
                self._fire_later(delay, f"{delay * 1000:.0f}ms after start")

    def disarm(self) -> None:
        """Stop counting; `fired` keeps what the last kill followed until the next `arm`."""
        with self._lock:
            self._trigger = None
            self._child = None
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
            timer.join()

    def event(self, kind: Trigger) -> None:
        """Called by the fake for each request and by the folder watch for each write."""
        with self._lock:
            if kind == "result" and self._results_to_go > 0:
                self._results_to_go -= 1
            if self._trigger != kind or self._left <= 0 or self._results_to_go > 0:
                return
            self._left -= 1
            if self._left:
                return
            what = f"{kind} event"
            if self._delay:
                self._fire_later(self._delay, f"{what} + {self._delay * 1000:.0f}ms")
                return
            child = self._child
            self.fired = what
        if child is not None:
            child.kill()

    def _fire_later(self, delay: float, what: str) -> None:
        def fire() -> None:
            with self._lock:
                child = self._child
                if child is not None:
                    self.fired = what
            if child is not None:
                child.kill()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()


_WRITING: dict[Trigger, Trigger] = {
    "output": "output-tmp",
    "checkpoint": "checkpoint-tmp",
    "result": "result-tmp",
}


def classify(
    folder: Path, name: str, change: fs_events.Change, job_dir: Path, out_dir: Path
) -> Trigger | None:
    """Which trigger a file created, renamed into place or closed in the trial's folders is."""
    kind: Trigger
    if folder == out_dir:
        kind = "output"
    elif folder == job_dir and name.lstrip(".").startswith(checkpoint.CHECKPOINT_NAME):
        kind = "checkpoint"
    elif job_dir / CHUNKS_DIR in folder.parents:
        kind = "result"
    else:
        return None
    if name.endswith(".tmp"):
        return _WRITING[kind] if change == "created" else None  # a temp file: the write has begun
    if change == "moved":
        return kind  # renamed into place: written
    if kind == "result":
        # Written in place (no temp file): created is begun, closed (after its fsync) is written.
        return {"created": _WRITING[kind], "closed": kind}.get(change)
    return None


# --- one trial ---


class TrialFailed(AssertionError):
    """A trial's check failed; the message carries the plan and each process's story."""

    def __init__(self, message: str, result: TrialResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Step:
    """One process of a trial."""

    command: str
    kill: str  # the planned kill, or "-"
    fired: str | None  # what it was killed after, if it was
    returncode: int
    requests: int  # message requests the fake received from it
    rebilled: int = 0  # of those, chunks a later process sent again
    stderr_tail: str = ""
    status_after: str = ""  # what `status` said once it was killed
    temps_after: list[str] = field(default_factory=list)  # temp files it left when killed


@dataclass
class TrialResult:
    plan: Plan
    steps: list[Step] = field(default_factory=list)
    chunks: int = 0
    leftovers: list[str] = field(default_factory=list)  # temp files left after completion
    seconds: float = 0.0

    @property
    def kills(self) -> int:
        return sum(1 for s in self.steps if s.returncode < 0)

    @property
    def max_rebilled_per_kill(self) -> int:
        return max((s.rebilled for s in self.steps), default=0)

    def story(self) -> str:
        lines = [f"{self.plan.describe()}; {self.chunks} chunks"]
        for n, s in enumerate(self.steps, 1):
            status = f", then status: {s.status_after}" if s.status_after else ""
            if s.temps_after:
                status += f", temp files: {len(s.temps_after)}"
            lines.append(
                f"  {n}. {s.command}: kill {s.kill} -> after {s.fired or 'nothing'}, "
                f"exit {s.returncode}{status}, {s.requests} requests, "
                f"{s.rebilled} sent again later"
            )
            lines.extend("     | " + line for line in s.stderr_tail.splitlines())
        if self.leftovers:
            lines.append(f"  left behind: {', '.join(self.leftovers)}")
        return "\n".join(lines)


def run_trial(plan: Plan, workdir: Path, launch: Launcher) -> TrialResult:
    """Play `plan` in `workdir` (empty or new) and check the outcome; raises TrialFailed."""
    started = time.monotonic()
    result = TrialResult(plan)
    inputs = write_inputs(plan, workdir / "in")
    expected = expected_outputs(inputs)
    all_chunks = [t for p in inputs for t in chunk_texts(p)]
    assert len(set(all_chunks)) == len(all_chunks), "chunks must be unique to count re-sends"
    result.chunks = len(all_chunks)
    watch_needed = any(k.trigger in FS_TRIGGERS for k in plan.kills)
    if watch_needed and not fs_events.available():
        raise TrialFailed(f"{plan.describe()}: needs inotify; use make_plan(fs_triggers=False)")

    switch = KillSwitch()
    with fake_api(plan.seed) as api:

        def count_request(_: str) -> bool:
            switch.event("request")
            return False  # never changes a reply

        api.fail_when(count_request, Fault(), times=-1)
        cli = Cli(workdir, api.url)
        out_dir = workdir / OUT
        job_dir = cli.state_dir / JOB
        cli.state_dir.mkdir(mode=0o700, parents=True)
        out_dir.mkdir()

        def on_write(folder: Path, name: str, change: fs_events.Change) -> None:
            kind = classify(folder, name, change, job_dir, out_dir)
            if kind is not None:
                switch.event(kind)

        watch = (
            fs_events.FolderWatch([cli.state_dir, out_dir], on_write)
            if watch_needed
            else contextlib.nullcontext()
        )
        with watch:
            try:
                segments = _play(plan, cli, inputs, api, launch, switch, result)
            finally:
                switch.disarm()
        try:
            _check(plan, cli, launch, result, expected, all_chunks, segments)
        except AssertionError as exc:
            result.seconds = time.monotonic() - started
            raise TrialFailed(f"{exc}\n{result.story()}", result) from None
    result.seconds = time.monotonic() - started
    return result


def _remaining(state_dir: Path, chunks_total: int, files_total: int) -> tuple[int, int]:
    """Chunks and files the job still has to do, from its checkpoint if it has one."""
    try:
        state = checkpoint.load(state_dir / JOB)
    except (StateError, OSError):
        return chunks_total, files_total
    return state.chunks_total - state.chunks_done, sum(1 for i in state.inputs if not i.written)


def _event_count(kill: Kill, chunks_left: int, files_left: int) -> tuple[int, int]:
    """(n, results): kill at the n-th trigger event once `results` chunk results are stored."""
    if kill.trigger in ("checkpoint", "checkpoint-tmp"):
        # The first checkpoint after a point in the work; at 0, the one the job starts with.
        return 1, math.floor(kill.fraction * chunks_left)
    per_chunk = kill.trigger in ("request", "result", "result-tmp")
    per_file = kill.trigger in ("output", "output-tmp")
    if per_chunk:
        events = chunks_left
    elif per_file:
        events = files_left
    else:  # time
        events = 1
    return max(1, math.ceil(kill.fraction * events)), 0


def _play(
    plan: Plan,
    cli: Cli,
    inputs: list[Path],
    api: FakeAnthropic,
    launch: Launcher,
    switch: KillSwitch,
    result: TrialResult,
) -> list[list[str]]:
    """Run, kill and resume per the plan until a process ends by itself; each one's requests."""
    kills = list(plan.kills)
    logs = cli.workdir / "logs"
    logs.mkdir()
    segments: list[list[str]] = []
    for n in range(len(plan.kills) + 1):
        if (cli.state_dir / JOB / checkpoint.CHECKPOINT_NAME).exists():
            args: tuple[str, ...] = ("resume", JOB)
        else:  # the first process died before its job existed: the user runs it again
            args = run_args(inputs, plan.concurrency)
        kill = kills.pop(0) if kills else None
        switch.fired = None
        chunks_left, files_left = _remaining(cli.state_dir, result.chunks, len(inputs))
        seen = len(billed(api))
        child = launch(cli, *args, out=logs / f"{n}.out", err=logs / f"{n}.err")
        if kill is not None:
            count, after = _event_count(kill, chunks_left, files_left)
            switch.arm(kill.trigger, count, kill.delay, child, after_results=after)
        try:
            code = child.wait(PROCESS_TIMEOUT)
        finally:
            fired = switch.fired
            switch.disarm()
        if code < 0:
            settle(api)
        segments.append(billed(api)[seen:])
        step = Step(
            command=args[0],
            kill=kill.describe() if kill else "-",
            fired=fired,
            returncode=code,
            requests=len(segments[-1]),
            stderr_tail="\n".join(child.stderr.strip().splitlines()[-8:]),
        )
        result.steps.append(step)
        if code < 0:
            step.temps_after = _temps(cli)
        if code < 0 and (cli.state_dir / JOB / checkpoint.CHECKPOINT_NAME).exists():
            step.status_after = _status(cli, launch, f"{n}.status")["state"]
        if code >= 0:
            break
    return segments


def _temps(cli: Cli) -> list[str]:
    """Temp files in the output folder and the job's folder."""
    found = [*(cli.workdir / OUT).glob("*.tmp"), *(cli.state_dir / JOB).rglob("*.tmp")]
    return sorted(str(p.relative_to(cli.workdir)) for p in found)


def _status(cli: Cli, launch: Launcher, name: str) -> dict[str, Any]:
    """`status JOB --json`, which must succeed."""
    logs = cli.workdir / "logs"
    child = launch(cli, "status", JOB, "--json", out=logs / f"{name}.out", err=logs / f"{name}.err")
    code = child.wait(PROCESS_TIMEOUT)
    if code != 0:
        raise AssertionError(f"status exited {code}: {child.stderr.strip()}")
    view: dict[str, Any] = json.loads(child.stdout)
    return view


def billed(api: FakeAnthropic) -> list[str]:
    """Transcripts of the message requests the fake received whole, in arrival order.

    A process killed while sending leaves a request the fake saw only part of (it records it
    with an empty body): the API would not bill that.
    """
    return [r.transcript for r in api.requests if r.path.endswith("/messages") and r.body]


def settle(api: FakeAnthropic, quiet: float = 0.03) -> None:
    """Wait until the fake has read and answered all a killed process had sent."""
    deadline = time.monotonic() + 10
    count = -1
    while time.monotonic() < deadline:
        requests = list(api.requests)
        if len(requests) == count and all(r.finished for r in requests):
            return
        count = len(requests)
        time.sleep(quiet)


def _check(
    plan: Plan,
    cli: Cli,
    launch: Launcher,
    result: TrialResult,
    expected: dict[str, bytes],
    all_chunks: list[str],
    segments: list[list[str]],
) -> None:
    steps = result.steps
    for n, step in enumerate(steps, 1):
        assert "Traceback" not in step.stderr_tail, f"process {n} printed a traceback"
    assert steps[-1].returncode == 0, f"the last process exited {steps[-1].returncode}, not 0"

    # Billing, counted now, checked last: everything else matters even when this fails.
    for n, segment in enumerate(segments):
        twice = [t[:30] for t, c in Counter(segment).items() if c > 1]
        assert not twice, f"process {n + 1} sent chunks twice: {twice}"
        later = {t for seg in segments[n + 1 :] for t in seg}
        steps[n].rebilled = sum(1 for t in segment if t in later)
    sent = [t for seg in segments for t in seg]
    foreign = [t[:60] for t in set(sent) - set(all_chunks)]
    missing = [t[:60] for t in set(all_chunks) - set(sent)]
    assert not foreign and not missing, f"sent, not the job's: {foreign}; never sent: {missing}"

    # Outputs: byte-identical to an uninterrupted run's.
    out_dir = cli.workdir / OUT
    for name, data in expected.items():
        assert (out_dir / name).is_file(), f"{name} was not written"
        assert (out_dir / name).read_bytes() == data, f"{name} differs from an uninterrupted run's"

    # State: a killed job reads as interrupted (its lock file does not make it look running),
    # and completed at the end.
    for n, step in enumerate(steps, 1):
        assert step.status_after in ("", "interrupted", "completed"), (
            f"after kill {n}: {step.status_after}"
        )
    job = _status(cli, launch, "final")
    assert job["state"] == "completed", f"status says {job['state']}"
    assert job["chunks_done"] == job["chunks_total"] == len(all_chunks), job
    assert all(f["written"] for f in job["files"]), job["files"]

    # Nothing half-written left behind, where the user looks or in the job's folder, and no
    # chunk result kept once its output is written.
    extra = sorted(p.name for p in out_dir.iterdir() if p.name not in expected)
    # (An empty results folder may stay: a kill between the last checkpoint and its removal.)
    result.leftovers = [f"{OUT}/{name}" for name in extra] + sorted(
        str(p.relative_to(cli.state_dir))
        for p in (cli.state_dir / JOB).rglob("*")
        if p.name.endswith(".tmp")
        or (p.is_file() and p.relative_to(cli.state_dir / JOB).parts[0] == CHUNKS_DIR)
    )
    assert not result.leftovers, f"left behind: {result.leftovers}"

    for n, step in enumerate(steps, 1):
        assert step.rebilled <= plan.concurrency, (
            f"process {n}'s kill cost {step.rebilled} chunks again (in flight: at most "
            f"{plan.concurrency})"
        )
