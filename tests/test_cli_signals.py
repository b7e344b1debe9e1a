"""Pausing and crashing end to end: SIGINT, SIGTERM, a double Ctrl-C, kill -9 and the job lock.

Each test runs the real CLI in a subprocess against the fake Messages API, stops it mid-job, then
resumes it and checks that the output is byte-identical to an uninterrupted run and that no
finished chunk was paid for twice.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import Cli, Runner, Running, wait_for, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_run import expected_output
from transcript_cli import checkpoint
from transcript_cli.chunking import split_chunks
from transcript_cli.errors import CheckpointError
from transcript_cli.formats import read_transcript
from transcript_cli.job import LOCK_NAME
from transcript_cli.state import JobState

CHUNK_CHARS = 500
CONTEXT_CHARS = 300
# One chunk in flight at a time, so which chunk a signal lands on is exact.
FLAGS = ("--chunk-chars", str(CHUNK_CHARS), "--concurrency", "1")
LOCKED = "is being processed by another transcript-cli process"


def chunk_texts(path: Path) -> list[str]:
    """The transcript part of each request the job sends for `path`, in order."""
    segments = read_transcript(path).segments
    return [c.text for c in split_chunks(segments, CHUNK_CHARS, CONTEXT_CHARS)]


def output_of(cli: Cli, src: Path) -> bytes:
    return (cli.workdir / "cleaned" / f"{src.stem}.md").read_bytes()


def saved_state(cli: Cli, job_id: str) -> JobState:
    """The job's checkpoint as the CLI left it (read directly: cheaper than `status`)."""
    return checkpoint.load(cli.state_dir / job_id)


def _done(cli: Cli, job_id: str) -> int:
    """Chunks the job's checkpoint counts as done (0 before it exists)."""
    try:
        return saved_state(cli, job_id).chunks_done
    except CheckpointError:  # not written yet
        return 0


def hold_reply(api: FakeAnthropic, transcript: str) -> threading.Event:
    """Keep the fake from answering the first request for `transcript` until the event is set.

    A reply as slow as the test needs, without a fixed sleep. The fake evaluates rules under its
    lock, so no other request is served meanwhile: fine at concurrency 1, and the event must be
    set before anything else is sent (the fixture below sets it at teardown too).
    """
    release = threading.Event()
    held: list[str] = []

    def wait_first_time(seen: str) -> bool:
        if seen == transcript and not held:
            held.append(seen)
            release.wait(60)
        return False  # then answer normally

    api.fail_when(wait_first_time, Fault())
    return release


@pytest.fixture
def holds(fake_api: FakeAnthropic) -> Iterator[list[threading.Event]]:
    """Events to set when the test ends, so no fake handler thread stays blocked."""
    events: list[threading.Event] = []
    yield events
    for event in events:
        event.set()


def talk_held_at(
    cli: Cli, fake_api: FakeAnthropic, holds: list[threading.Event], index: int
) -> tuple[Path, list[str], threading.Event]:
    """A 100-sentence talk.txt, a slowed fake, and the reply to chunk `index` held back."""
    src = write_transcript(cli.workdir / "talk.txt", 100)
    chunks = chunk_texts(src)
    fake_api.latency = 0.05
    release = hold_reply(fake_api, chunks[index])
    holds.append(release)
    return src, chunks, release


def assert_clean_exit(code: int, stderr: str, expected: int) -> None:
    assert code == expected, stderr
    assert "Traceback" not in stderr, stderr


def interrupt_while_held(
    cli: Cli,
    fake_api: FakeAnthropic,
    release: threading.Event,
    held: str,
    args: tuple[str, ...],
    signum: int,
) -> tuple[int, str, str]:
    """Start `run`, signal it while the held request is in flight, then let that reply come."""
    with Running(cli.start("run", *args)) as run:
        wait_for(lambda: held in fake_api.transcripts())
        run.signal(signum)
        # Only once the CLI has said it is pausing may the held reply arrive: then we know which
        # chunk the pause follows, and that the chunk in flight is still landed.
        wait_for(lambda: "Pausing" in run.stderr)
        release.set()
        code = run.finish()
        return code, run.stdout, run.stderr


def test_sigint_pauses_after_the_chunk_in_flight_and_resume_matches_a_straight_run(
    cli: Cli,
    fake_api: FakeAnthropic,
    holds: list[threading.Event],
    tmp_path_factory: pytest.TempPathFactory,
    warm_runner: Runner,
) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 100)
    chunks = chunk_texts(src)
    n = len(chunks)
    assert 8 <= n <= 20

    # The uninterrupted reference: same input, its own workdir, state and fake server.
    with FakeAnthropic() as ref_api:
        ref_dir = tmp_path_factory.mktemp("reference")
        ref_cli = Cli(ref_dir, ref_api.url, warm_runner)
        shutil.copy(src, ref_dir / src.name)
        # Alongside the interrupted run; a warm fork (it is never signalled).
        with ThreadPoolExecutor(1) as pool:
            ref = pool.submit(ref_cli, "run", src.name, *FLAGS, "--name", "talk")
            fake_api.latency = 0.05
            release = hold_reply(fake_api, chunks[3])
            holds.append(release)
            code, _, stderr = interrupt_while_held(
                cli,
                fake_api,
                release,
                chunks[3],
                (str(src), *FLAGS, "--name", "talk"),
                signal.SIGINT,
            )
            ref_run = ref.result()
            assert_clean_exit(ref_run.returncode, ref_run.stderr, 0)
        reference = output_of(ref_cli, ref_dir / src.name)

    assert_clean_exit(code, stderr, 130)
    assert f"Paused at chunk 5/{n} of talk.txt. Resume: transcript-cli resume talk" in stderr
    # The request in flight at the signal was finished and kept; nothing new was started.
    assert fake_api.transcripts() == chunks[:4]
    state = saved_state(cli, "talk")
    assert state.status == "paused"
    assert state.chunks_done == 4
    assert not (cli.workdir / "cleaned" / "talk.md").exists()

    fake_api.latency = 0
    resumed = cli("resume", "talk")
    assert_clean_exit(resumed.returncode, resumed.stderr, 0)
    assert output_of(cli, src) == reference == expected_output(src, CHUNK_CHARS).encode()
    # Across both processes every chunk was requested exactly once, in order.
    assert fake_api.transcripts() == chunks
    assert saved_state(cli, "talk").status == "completed"


def test_sigterm_pauses_like_ctrl_c(
    cli: Cli, fake_api: FakeAnthropic, holds: list[threading.Event]
) -> None:
    src, chunks, release = talk_held_at(cli, fake_api, holds, 2)
    n = len(chunks)
    args = (str(src), *FLAGS, "--name", "talk", "--json")
    code, stdout, stderr = interrupt_while_held(
        cli, fake_api, release, chunks[2], args, signal.SIGTERM
    )

    assert_clean_exit(code, stderr, 130)
    assert f"Paused at chunk 4/{n} of talk.txt. Resume: transcript-cli resume talk" in stderr
    summary = json.loads(stdout)
    assert (summary["exit_code"], summary["error_kind"]) == (130, "paused")
    assert summary["state"] == "paused"
    assert summary["chunks_done"] == 3
    assert summary["resume_command"] == f"transcript-cli resume talk --state-dir {cli.state_dir}"
    assert fake_api.transcripts() == chunks[:3]

    fake_api.latency = 0
    resumed = cli("resume", "talk")
    assert_clean_exit(resumed.returncode, resumed.stderr, 0)
    assert output_of(cli, src) == expected_output(src, CHUNK_CHARS).encode()
    assert fake_api.transcripts() == chunks


def test_second_sigint_abandons_the_request_in_flight_at_once(
    cli: Cli, fake_api: FakeAnthropic, holds: list[threading.Event]
) -> None:
    # Chunk 4's reply never comes while the first process lives.
    src, chunks, release = talk_held_at(cli, fake_api, holds, 3)
    n = len(chunks)
    with Running(cli.start("run", str(src), *FLAGS, "--name", "talk")) as run:
        wait_for(lambda: chunks[3] in fake_api.transcripts())
        run.signal(signal.SIGINT)
        wait_for(lambda: "Pausing" in run.stderr)
        asked = time.monotonic()
        run.signal(signal.SIGINT)
        code = run.finish(timeout=30)
        took = time.monotonic() - asked
        stderr = run.stderr
    release.set()

    assert_clean_exit(code, stderr, 130)
    assert took < 10, f"the second Ctrl-C took {took:.1f}s to stop the job"
    assert f"Paused at chunk 4/{n} of talk.txt. Resume: transcript-cli resume talk" in stderr
    state = saved_state(cli, "talk")
    assert state.status == "paused"
    assert state.chunks_done == 3

    fake_api.latency = 0
    resumed = cli("resume", "talk")
    assert_clean_exit(resumed.returncode, resumed.stderr, 0)
    assert output_of(cli, src) == expected_output(src, CHUNK_CHARS).encode()
    # The abandoned chunk was sent again; every other chunk exactly once.
    assert fake_api.transcripts() == [*chunks[:4], *chunks[3:]]


def test_kill_9_loses_at_most_the_chunk_in_flight(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 100)
    chunks = chunk_texts(src)
    fake_api.latency = 0.1
    with Running(cli.start("run", str(src), *FLAGS, "--name", "talk")) as run:
        # Killed with chunk 4 in flight and 3 landed: the request goes out while the chunk
        # before it is still being stored, so wait for the checkpoint to say so too.
        wait_for(lambda: len(fake_api.transcripts()) >= 4 and _done(cli, "talk") >= 3)
        run.proc.kill()
        assert run.finish() == -signal.SIGKILL
    fake_api.latency = 0

    status = cli("status", "--json")
    assert status.returncode == 0, status.stderr
    (job,) = json.loads(status.stdout)["jobs"]
    assert job["job_id"] == "talk"
    assert job["state"] == "interrupted"
    assert 3 <= job["chunks_done"] < job["chunks_total"] == len(chunks)
    assert job["resume_command"].startswith("transcript-cli resume talk")
    # The dead process's lock file is still there; it must not block resume.
    assert (cli.state_dir / "talk" / LOCK_NAME).exists()

    resumed = cli("resume", "talk")
    assert_clean_exit(resumed.returncode, resumed.stderr, 0)
    assert output_of(cli, src) == expected_output(src, CHUNK_CHARS).encode()
    sent = Counter(fake_api.transcripts())
    assert set(sent) == set(chunks)
    repeated = [text for text, times in sent.items() if times > 1]
    assert len(repeated) <= 1 and all(sent[text] == 2 for text in repeated), sent.values()


def test_second_process_is_refused_while_the_job_runs(
    cli: Cli, fake_api: FakeAnthropic, holds: list[threading.Event]
) -> None:
    src, chunks, release = talk_held_at(cli, fake_api, holds, 2)
    run_args = ("run", str(src), *FLAGS, "--name", "talk")
    with Running(cli.start(*run_args)) as first:
        wait_for(lambda: chunks[2] in fake_api.transcripts())
        # The first process is now stuck on chunk 3; try every way in at once.
        commands = {
            "resume": ("resume", "talk"),
            "run --restart": (*run_args, "--restart"),
            "run": run_args,
            "status": ("status", "talk", "--json"),
        }
        # All at once, each its own process, forked warm (no SDK import each).
        with ThreadPoolExecutor(len(commands)) as pool:
            results = dict(
                zip(commands, pool.map(lambda v: cli(*v), commands.values()), strict=True)
            )
        ended = {k: (r.returncode, r.stdout, r.stderr) for k, r in results.items()}
        assert first.proc.poll() is None, "the first run ended before the checks"
        release.set()
        fake_api.latency = 0
        first_code = first.finish()
        first_err = first.stderr

    for what in ("resume", "run --restart", "run"):
        code, _, stderr = ended[what]
        assert code == 1, (what, stderr)
        assert LOCKED in stderr, (what, stderr)
        assert "Traceback" not in stderr, (what, stderr)
    code, stdout, stderr = ended["status"]
    assert code == 0, stderr
    assert json.loads(stdout)["state"] == "running"

    # The first run was not disturbed: it completed, every chunk sent once, output correct.
    assert_clean_exit(first_code, first_err, 0)
    assert output_of(cli, src) == expected_output(src, CHUNK_CHARS).encode()
    assert fake_api.transcripts() == chunks
    assert saved_state(cli, "talk").status == "completed"


def test_multi_file_job_paused_in_the_second_file_resumes_all(
    cli: Cli, fake_api: FakeAnthropic, holds: list[threading.Event]
) -> None:
    srcs = [
        write_transcript(cli.workdir / "in" / "a.txt", 50),
        write_transcript(cli.workdir / "in" / "b.txt", 60, start=1000),
        write_transcript(cli.workdir / "in" / "c.txt", 40, start=2000),
    ]
    per_file = [chunk_texts(s) for s in srcs]
    assert all(len(c) >= 4 for c in per_file)
    a, b, c = per_file
    fake_api.latency = 0.02
    release = hold_reply(fake_api, b[2])
    holds.append(release)
    args = (*(str(s) for s in srcs), *FLAGS, "--name", "multi")
    code, _, stderr = interrupt_while_held(cli, fake_api, release, b[2], args, signal.SIGINT)

    assert_clean_exit(code, stderr, 130)
    assert f"Paused at chunk 4/{len(b)} of b.txt. Resume: transcript-cli resume multi" in stderr
    assert fake_api.transcripts() == [*a, *b[:3]]
    state = saved_state(cli, "multi")
    assert [i.written for i in state.inputs] == [True, False, False]
    assert [len(i.done) for i in state.inputs] == [len(a), 3, 0]
    # The first file was finished before the pause, so its output is already in place.
    assert output_of(cli, srcs[0]) == expected_output(srcs[0], CHUNK_CHARS).encode()
    assert not (cli.workdir / "cleaned" / "b.md").exists()

    fake_api.latency = 0
    resumed = cli("resume", "multi")
    assert_clean_exit(resumed.returncode, resumed.stderr, 0)
    for src in srcs:
        assert output_of(cli, src) == expected_output(src, CHUNK_CHARS).encode()
    assert fake_api.transcripts() == [*a, *b, *c]


def test_quiet_prints_only_errors_and_the_final_pause_line(
    cli: Cli, fake_api: FakeAnthropic, holds: list[threading.Event]
) -> None:
    src, chunks, release = talk_held_at(cli, fake_api, holds, 2)
    late = chunks[6]
    # Noise that would print without --quiet: a retried 529, a warning-free permanent failure.
    fake_api.fail_when(chunks[4], Fault(status=529, headers={"retry-after-ms": "10"}))
    fake_api.fail_when(late, Fault(status=401, message="invalid x-api-key"))
    with Running(cli.start("run", str(src), *FLAGS, "--name", "talk", "--quiet")) as run:
        wait_for(lambda: chunks[2] in fake_api.transcripts())
        run.signal(signal.SIGINT)
        time.sleep(0.3)  # let the handler run: under --quiet it prints nothing to wait for
        release.set()
        code = run.finish()
    assert_clean_exit(code, run.stderr, 130)
    assert run.stdout == ""
    [line] = run.stderr.splitlines()
    assert line.startswith("Paused at chunk 4/")
    assert line.endswith(f"Resume: transcript-cli resume talk --state-dir {cli.state_dir}")

    fake_api.latency = 0
    failed = cli("resume", "talk", "--quiet")
    assert failed.returncode == 1 and failed.stdout == ""
    [error] = failed.stderr.splitlines()
    assert error.startswith("error: ") and "invalid x-api-key" in error

    finished = cli("resume", "talk", "--quiet")
    assert (finished.returncode, finished.stdout, finished.stderr) == (0, "", "")
    assert output_of(cli, src) == expected_output(src, CHUNK_CHARS).encode()


def test_ctrl_c_outside_a_job_says_interrupted_and_stops_at_once(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """No job's handlers (estimate --exact counting): not a bare exit 130 that says nothing,
    nor a minute of retries of the counts in flight (here every count fails, so without the
    stop they back off 1+2+...+32 s and `finish` times out)."""
    fake_api.fail_when(lambda _: True, Fault(status=500), times=-1)
    src = write_transcript(cli.workdir / "talk.txt", 100)
    args = ("estimate", str(src), *FLAGS, "--exact")
    for extra in ((), ("--json",)):
        before = len(fake_api.requests)
        # A fresh process with Ctrl-C's default action, as at a terminal: a test run started
        # in the background (like /work/tools/land's) ignores SIGINT, and so would its forks.
        started = subprocess.Popen(
            cli.command(*args, *extra),
            cwd=cli.workdir,
            env=cli.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        with Running(started) as run:
            wait_for(lambda n=before: len(fake_api.requests) > n)  # counting is under way
            run.signal(signal.SIGINT)
            code = run.finish(timeout=30)
            stdout, stderr = run.stdout, run.stderr
        assert_clean_exit(code, stderr, 130)
        assert stderr.strip().splitlines() == ["error: interrupted"], stderr
        if extra:
            document = json.loads(stdout)
            assert (document["exit_code"], document["error_kind"]) == (130, "paused")
            assert document["error"] == "interrupted"
        else:
            assert stdout == ""
