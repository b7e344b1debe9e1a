"""Many chunks in flight end to end: the acceptance list of the throughput issue.

Each test runs the real CLI in a subprocess against the fake Messages API with up to
`--concurrency N` requests in flight across the files of a job, and checks what concurrency must
not change: outputs byte-identical to a one-at-a-time run, never more than N requests in flight,
Ctrl-C landing every chunk in flight, kill -9 costing at most N chunks, a 429's `retry-after`
holding back every worker, and `--rpm` and the server's rate-limit headers pacing requests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Cli, Runner, Running, Started, wait_for, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault, RateLimit, Recorded
from tests.test_cli_run import expected_output
from transcript_cli import checkpoint
from transcript_cli.chunking import split_chunks
from transcript_cli.formats import read_transcript

CHUNK_CHARS = 500
CONTEXT_CHARS = 300


@dataclass(frozen=True)
class Job:
    """A job's input files and the transcript part of each request it sends, per file."""

    name: str
    srcs: list[Path]
    chunks: list[list[str]]

    @property
    def all_chunks(self) -> list[str]:
        """Every request's transcript in the order a one-at-a-time run sends them."""
        return [text for per_file in self.chunks for text in per_file]

    def args(self, *extra: str) -> tuple[str, ...]:
        """`run` arguments for this job."""
        return (
            "run",
            *map(str, self.srcs),
            "--chunk-chars",
            str(CHUNK_CHARS),
            "--name",
            self.name,
            *extra,
        )

    def expected(self) -> list[bytes]:
        """What an uninterrupted run writes, file by file."""
        return [expected_output(src, CHUNK_CHARS, CONTEXT_CHARS).encode() for src in self.srcs]


def make_job(folder: Path, files: int = 3, sentences: int = 110, name: str = "conc") -> Job:
    """`files` inputs of distinct sentences (110 make 13 chunks each)."""
    srcs = [
        write_transcript(folder / "in" / f"{chr(ord('a') + n)}.txt", sentences, start=1000 * n)
        for n in range(files)
    ]
    chunks = [
        [c.text for c in split_chunks(read_transcript(s).segments, CHUNK_CHARS, CONTEXT_CHARS)]
        for s in srcs
    ]
    assert len({text for per_file in chunks for text in per_file}) == sum(map(len, chunks))
    return Job(name, srcs, chunks)


def outputs(cli: Cli, job: Job) -> list[bytes]:
    return [(cli.workdir / "cleaned" / f"{src.stem}.md").read_bytes() for src in job.srcs]


def done_transcripts(cli: Cli, job: Job) -> set[str]:
    """The chunks the job's checkpoint counts as finished, as their transcripts."""
    state = checkpoint.load(cli.state_dir / job.name)
    return {job.chunks[i][k] for i, item in enumerate(state.inputs) for k in item.done}


def messages(api: FakeAnthropic) -> list[Recorded]:
    return [r for r in list(api.requests) if r.path.endswith("/messages")]


def unanswered(api: FakeAnthropic) -> set[str]:
    """Transcripts of the requests the fake is still answering."""
    return {r.transcript for r in messages(api) if not r.finished}


def assert_clean_exit(code: int, stderr: str, expected: int) -> None:
    assert code == expected, stderr
    assert "Traceback" not in stderr, stderr


def test_outputs_do_not_depend_on_concurrency_and_in_flight_stays_within_it(
    cli: Cli,
    fake_api: FakeAnthropic,
    tmp_path_factory: pytest.TempPathFactory,
    warm_runner: Runner,
) -> None:
    one = make_job(cli.workdir)
    assert all(len(per_file) >= 10 for per_file in one.chunks)
    result = cli(*one.args("--concurrency", "1"))
    assert_clean_exit(result.returncode, result.stderr, 0)
    assert fake_api.max_in_flight == 1
    assert fake_api.transcripts() == one.all_chunks  # one at a time, in order

    # Replies take 0.1-0.2 s, differently per chunk: at -j 8 they come back out of order.
    with FakeAnthropic(latency=0.1, jitter=0.1, seed=8) as api:
        eight_cli = Cli(tmp_path_factory.mktemp("j8"), api.url, warm_runner)
        eight = make_job(eight_cli.workdir)
        assert eight.chunks == one.chunks
        result = eight_cli(*eight.args("--concurrency", "8"))
        assert_clean_exit(result.returncode, result.stderr, 0)
        sent = messages(api)
        # Most slots fill at once: all eight on an idle machine; a loaded one may lag a thread.
        assert 4 <= api.max_in_flight <= 8

    assert Counter(r.transcript for r in sent) == Counter(one.all_chunks)  # each exactly once
    by_start = [r.transcript for r in sorted(sent, key=lambda r: r.started)]
    by_finish = [r.transcript for r in sorted(sent, key=lambda r: r.finished)]
    assert by_start != by_finish, "replies should have come back out of order"
    assert outputs(eight_cli, eight) == outputs(cli, one) == one.expected()


def test_sigint_lands_every_chunk_in_flight_and_resume_sends_nothing_twice(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    job = make_job(cli.workdir)
    fake_api.latency, fake_api.jitter = 0.25, 0.1
    with Running(cli.start(*job.args("--concurrency", "4"))) as run:
        wait_for(lambda: len(fake_api.transcripts()) >= 6 and fake_api.in_flight >= 4)
        sent_before = len(fake_api.transcripts())
        in_flight = unanswered(fake_api)
        run.signal(signal.SIGINT)
        code = run.finish()
        stderr = run.stderr
    fake_api.latency = fake_api.jitter = 0

    assert_clean_exit(code, stderr, 130)
    assert "Resume: transcript-cli resume conc" in stderr
    assert len(in_flight) >= 2  # what the signal caught; usually all four
    first = fake_api.transcripts()
    assert all(r.status == 200 for r in messages(fake_api))
    # Every request sent was answered and landed in the checkpoint, those in flight at the
    # signal included; the pause then stopped the job well short of its end.
    assert in_flight <= done_transcripts(cli, job) == set(first)
    assert len(first) == len(set(first))
    # Only a chunk that finished while the signal was being delivered may have been replaced.
    assert len(first) <= sent_before + 4
    assert len(first) < len(job.all_chunks)
    assert checkpoint.load(cli.state_dir / job.name).status == "paused"

    resumed = cli("resume", job.name)
    assert_clean_exit(resumed.returncode, resumed.stderr, 0)
    assert outputs(cli, job) == job.expected()
    # Across both processes every chunk was requested exactly once.
    assert Counter(fake_api.transcripts()) == Counter(job.all_chunks)
    assert fake_api.max_in_flight <= 4


# Loaded into a CLI process through PYTHONPATH: a disk whose fsync takes 10 ms, like a busy cloud
# volume, so storing a chunk takes as long as in production whatever the test machine's /tmp is
# (on tmpfs an fsync costs nothing and every crash window shrinks to microseconds).
SLOW_FSYNC = """\
import os
import time

_fsync = os.fsync


def _slow_fsync(fd):
    time.sleep(0.01)
    _fsync(fd)


os.fsync = _slow_fsync
open(os.path.join(os.path.dirname(__file__), "loaded"), "w").close()
"""


class KillOnArrival:
    """SIGKILLs `proc` as a request reaches the fake: the first from number `after` on that finds
    `in_flight` requests there (itself included), else any from `after + 8` on.

    Such a request was sent because a reply freed its slot, so the kill falls where a crash costs
    the most: the chunk that freed the slot must already be stored by then.
    """

    def __init__(self, api: FakeAnthropic, after: int, in_flight: int) -> None:
        self.api = api
        self.after = after
        self.in_flight = in_flight
        self.proc: subprocess.Popen[str] | Started | None = None
        self.arrivals = 0
        self.in_flight_at_kill: int | None = None
        api.fail_when(self._arrived, Fault(), times=-1)

    def _arrived(self, _: str) -> bool:
        self.arrivals += 1
        now = self.api.in_flight
        due = self.arrivals >= self.after and (
            now >= self.in_flight or self.arrivals >= self.after + 8
        )
        if due and self.proc is not None and self.in_flight_at_kill is None:
            self.proc.kill()
            self.in_flight_at_kill = now
        return False  # answered normally: to no one, once killed


def test_kill_9_with_chunks_in_flight_costs_at_most_that_many_requests(
    cli: Cli, fake_api: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> None:
    job = make_job(cli.workdir)
    slow_disk = tmp_path_factory.mktemp("slow_disk")
    (slow_disk / "sitecustomize.py").write_text(SLOW_FSYNC, encoding="utf-8")
    python_path = [p for p in cli.env.get("PYTHONPATH", "").split(os.pathsep) if p]
    fake_api.latency, fake_api.jitter = 0.25, 0.1
    killer = KillOnArrival(fake_api, after=10, in_flight=4)
    with Running(
        cli.start_fresh(  # a new interpreter: it must load the slow disk's sitecustomize
            *job.args("-j", "4"),
            env={"PYTHONPATH": os.pathsep.join([str(slow_disk), *python_path])},
        )
    ) as run:
        killer.proc = run.proc
        assert run.finish() == -signal.SIGKILL
    assert (slow_disk / "loaded").exists()
    assert killer.in_flight_at_kill is not None and killer.in_flight_at_kill >= 2
    fake_api.latency = fake_api.jitter = 0
    # The dead process's requests are still being answered, to no one: counted with the resumed
    # run's, they would look like more than -j 4 in flight at once.
    wait_for(lambda: fake_api.in_flight == 0)
    first = fake_api.transcripts()
    assert len(first) < len(job.all_chunks)

    resumed = cli("resume", job.name)
    assert_clean_exit(resumed.returncode, resumed.stderr, 0)
    assert outputs(cli, job) == job.expected()
    sent = Counter(fake_api.transcripts())
    assert set(sent) == set(job.all_chunks)
    repeated = [text for text, times in sent.items() if times > 1]
    # Only what was in flight (sent, not yet stored) at the kill is paid for twice.
    assert len(repeated) <= 4, (
        f"{len(repeated)} chunks sent twice; {killer.in_flight_at_kill} in flight at the kill"
    )
    assert all(sent[text] == 2 for text in repeated), sent.values()
    assert fake_api.max_in_flight <= 4


def test_a_burst_of_429s_holds_back_every_worker_for_retry_after(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    job = make_job(cli.workdir, files=2, sentences=50)
    throttle = Fault(status=429, headers={"retry-after": "1"}, delay=0.3)
    # The first four requests (all of -j 4) go out together: three are throttled, the fourth
    # succeeds slowly, so its worker is free and wants more work while the others are told to
    # wait. The delays make sure all four are sent before the first 429 comes back.
    fake_api.script(throttle, throttle, throttle, Fault(delay=0.6))
    result = cli(*job.args("--concurrency", "4"))
    assert_clean_exit(result.returncode, result.stderr, 0)
    assert outputs(cli, job) == job.expected()

    sent = messages(fake_api)
    throttled = [r for r in sent if r.status == 429]
    assert len(throttled) == 3
    first_429 = min(r.finished for r in throttled)
    (peer,) = [r for r in sent[:4] if r.status == 200]
    assert first_429 < peer.finished < first_429 + 0.9, "the fourth request came back too late"
    # No request at all, not even from the worker that was never throttled, reached the server
    # between the first 429 and its retry-after (less a little for the reply's way back).
    early = [r.started - first_429 for r in sent if first_429 < r.started < first_429 + 0.95]
    assert not early, f"requests sent {early} s after the 429 (retry-after 1 s)"
    assert Counter(r.transcript for r in sent if r.status == 200) == Counter(job.all_chunks)

    status = cli("status", job.name, "--json")
    assert status.returncode == 0, status.stderr
    view = json.loads(status.stdout)
    assert view["state"] == "completed"
    assert view["retries"] == 3


def test_rpm_cap_spaces_requests_once_its_burst_is_spent(cli: Cli, fake_api: FakeAnthropic) -> None:
    job = make_job(cli.workdir, files=1, sentences=570)
    total = len(job.all_chunks)
    assert total == 64
    # The bucket starts full, so `rpm` requests may go at once and then one every 60/rpm s: with
    # two requests past the burst the job must take two refills (about 2 s), where without the
    # cap it takes a fraction of a second.
    rpm = total - 2
    refill = 60.0 / rpm
    result = cli(*job.args("--concurrency", "8", "--rpm", str(rpm)))
    assert_clean_exit(result.returncode, result.stderr, 0)
    assert outputs(cli, job) == job.expected()

    times = sorted(r.started for r in messages(fake_api))
    assert len(times) == total
    assert fake_api.max_in_flight <= 8
    # In any stretch of time the cap lets through at most its burst plus what refilled meanwhile
    # (less a little for the way from the client to the fake: the first requests of the burst
    # also open the connections, so they can reach the fake late).
    for i in range(total):
        for j in range(i + rpm, total):
            span = times[j] - times[i]
            least = (j - i + 1 - rpm) * refill - 0.25
            assert span >= least, (
                f"requests {i + 1}..{j + 1} within {span:.2f} s, cap {least:.2f} s"
            )
    # And the burst itself was not spaced out (that would have taken a minute).
    assert times[rpm - 1] - times[0] < 0.25 * (rpm - 1) * refill


def test_server_rate_limit_headers_keep_429s_rare(cli: Cli, fake_api: FakeAnthropic) -> None:
    job = make_job(cli.workdir)  # 39 chunks: about twice the server's burst of 20
    fake_api.latency = 0.05
    fake_api.rate_limit = RateLimit(per_second=20)
    result = cli(*job.args("--concurrency", "8"))
    assert_clean_exit(result.returncode, result.stderr, 0)
    assert outputs(cli, job) == job.expected()
    sent = messages(fake_api)
    throttled = [r for r in sent if r.status == 429]
    assert len(throttled) == fake_api.throttled
    assert len(throttled) <= 0.1 * len(sent), f"{len(throttled)} of {len(sent)} throttled"
    assert fake_api.max_in_flight <= 8
