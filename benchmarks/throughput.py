"""Throughput benchmark against the project's own fake Messages API (run by hand, not in CI).

    python benchmarks/throughput.py            # full sizes (about 5 minutes on 2 cores)
    python benchmarks/throughput.py --quick    # 5,000 instead of 20,000 chunks

Every figure is a ratio against an ideal or a baseline measured in the same run:
1. wall time / ideal for 400 chunks at 200 ms latency and concurrency 8;
2. engine overhead per chunk at concurrency 1 (median ms over runs of 100 chunks) at 1,000 and
   20,000 chunks, and their ratio;
3. resume start-up of a 20,000-chunk job paused half-way (process start to first request),
   beside the bare `import anthropic` time measured here;
4. peak RSS of `run` at 100 and 20,000 chunks;
5. the real CLI against a server enforcing 20 requests/s with no burst and no rate-limit
   headers (only `retry-after`, in whole seconds), -j 16, 100 ms latency, 400 chunks: exit code,
   share of the allowed rate used, share of requests 429'd;
6. the same with rate-limit headers and the server's default burst (a second's worth);
7. -j 64, 2,000 chunks, 500 ms latency, no limit: wall time / ideal (a guard).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fake_anthropic import FakeAnthropic, RateLimit  # noqa: E402
from transcript_cli.control import Control  # noqa: E402
from transcript_cli.errors import Paused  # noqa: E402
from transcript_cli.events import ChunkFinished, Event  # noqa: E402
from transcript_cli.job import JobStore  # noqa: E402
from transcript_cli.prompts import DEFAULT_LANGUAGE, load_prompt  # noqa: E402
from transcript_cli.providers.anthropic import AnthropicProvider  # noqa: E402
from transcript_cli.providers.base import ChunkRequest  # noqa: E402
from transcript_cli.runner import Existing, RunSpec, open_provider, start  # noqa: E402
from transcript_cli.state import Options, Settings  # noqa: E402

CHUNK_CHARS = 200
KEY = "sk-ant-benchmark-not-a-key"


def make_input(folder: Path, chunks: int) -> Path:
    """A transcript that splits into exactly `chunks` chunks: one ~190-character sentence each."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"talk-{chunks}.txt"
    filler = " and so on" * 20
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(chunks):
            handle.write(f"Sentence {n:06d} says something{filler}"[: CHUNK_CHARS - 12] + ".\n")
    return path


def settings() -> Settings:
    template = load_prompt("clean")
    return Settings(
        provider="anthropic",
        model="claude-haiku-4-5",
        prompt_name=template.name,
        prompt_text=template.text,
        language=DEFAULT_LANGUAGE,
        title=None,
        chunk_chars=CHUNK_CHARS,
        context_chars=60,
        max_tokens=1024,
    )


def run_job(
    work: Path,
    source: Path,
    concurrency: int,
    *,
    name: str,
    control: Control | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> float:
    """Run a job in this process; returns wall seconds (Paused is an expected ending)."""
    spec = RunSpec(
        inputs=[source],
        settings=settings(),
        options=Options(concurrency=concurrency, max_retries=8, timeout=60.0),
        out_dir=work / "out",
        name=name,
    )
    store = JobStore(work / "state")
    started = time.perf_counter()
    with contextlib.suppress(Paused):
        start(
            store,
            spec,
            providers=open_provider,
            decide=lambda _: Existing.RESTART,
            restart=True,
            control=control,
            on_event=on_event or (lambda _: None),
        )
    return time.perf_counter() - started


def bench_wall_vs_ideal(work: Path) -> None:
    n, latency, concurrency = 400, 0.2, 8
    with FakeAnthropic(latency=latency) as api:
        os.environ["ANTHROPIC_BASE_URL"] = api.url
        wall = run_job(work, make_input(work / "in", n), concurrency, name="wall")
    ideal = math.ceil(n / concurrency) * latency
    print(
        f"1. {n} chunks, latency {latency * 1000:.0f} ms, concurrency {concurrency}: "
        f"wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.3f} (target <= 1.10)"
    )


# Section 2 measures the time from one request reaching the API to the next, at concurrency 1:
# a chunk's whole trip (request, checks, stored result, its share of the checkpoints). Taken as
# the median over runs of this many requests, so work done once every few chunks (a checkpoint
# shared by the chunks that finished within 50 ms) is counted, not skipped by the median.
WINDOW = 100


def cycle_ms(api: FakeAnthropic, first: int) -> float:
    """Median time per request from the API's `first` recorded one on, over WINDOW-long runs."""
    starts = [r.started for r in api.requests[first:]]
    spans = [
        (starts[n + WINDOW] - starts[n]) / WINDOW for n in range(0, len(starts) - WINDOW, WINDOW)
    ]
    return statistics.median(spans) * 1000


def bare_call_ms(api: FakeAnthropic, calls: int = 300) -> float:
    """Time per SDK request to the fake, one after another with no engine around: the baseline."""
    provider = AnthropicProvider("claude-haiku-4-5", timeout=60.0, base_url=api.url)
    request = ChunkRequest(
        system=load_prompt("clean").text,
        user="<transcript>\n" + "x " * 95 + "\n</transcript>",
        source="x",
        context="",
        max_tokens=1024,
    )
    first = len(api.requests)
    for _ in range(calls):
        provider.complete(request)
    provider.close()
    return cycle_ms(api, first)


def per_chunk_ms(api: FakeAnthropic, work: Path, n: int, *, pause_at: int | None = None) -> float:
    """Time per chunk at concurrency 1: from one chunk's request reaching the API to the next's."""
    control = Control()

    def on_event(event: Event) -> None:
        if isinstance(event, ChunkFinished) and pause_at is not None and event.job_done >= pause_at:
            control.pause.set()

    first = len(api.requests)
    run_job(
        work, make_input(work / "in", n), 1, name=f"size-{n}", control=control, on_event=on_event
    )
    return cycle_ms(api, first)


def bench_overhead_and_resume(work: Path, big: int) -> None:
    with FakeAnthropic() as api:
        os.environ["ANTHROPIC_BASE_URL"] = api.url
        baseline = bare_call_ms(api)
        small = per_chunk_ms(api, work, 1000) - baseline
        # The big job stops half-way: section 3 resumes it.
        large = per_chunk_ms(api, work, big, pause_at=big // 2) - baseline
        print(
            f"2. engine overhead per chunk (median of {WINDOW}-chunk runs, beyond a bare SDK call "
            f"of {baseline:.2f} ms): "
            f"{small:.2f} ms at 1,000 chunks, {large:.2f} ms at {big:,} chunks, "
            f"ratio {large / small:.2f} (targets <= 2 ms, ratio <= 1.5)"
        )
        env = {
            **os.environ,
            "ANTHROPIC_API_KEY": KEY,
            "TRANSCRIPT_CLI_STATE_DIR": str(work / "state"),
        }
        seen = len(api.requests)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "transcript_cli", "resume", f"size-{big}", "-q"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while len(api.requests) <= seen and proc.poll() is None:
            time.sleep(0.001)
        first = api.requests[seen].started - t0 if len(api.requests) > seen else float("nan")
        proc.kill()
        proc.wait()
    sdk = import_seconds("import anthropic")
    python = import_seconds("pass")
    print(
        f"3. resume start-up, {big:,}-chunk job paused at {big // 2:,}: {first:.2f} s to the first "
        f"request (target < 1 s); of which bare python {python:.2f} s and `import anthropic` "
        f"{sdk - python:.2f} s, leaving {first - sdk:.2f} s for transcript-cli itself"
    )


def import_seconds(code: str) -> float:
    """Median wall time of `python -c CODE`, three runs."""
    times = []
    for _ in range(3):
        t = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.monotonic() - t)
    return statistics.median(times)


# Runs the CLI and, as it exits, writes its own peak RSS (VmHWM, kB) to the file in argv[1].
# Read from inside: getrusage's ru_maxrss survives exec and would count this benchmark's own
# size at the moment it forked the child.
_RSS_WRAPPER = """
import atexit, sys
out = sys.argv.pop(1)
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])
atexit.register(report)
sys.argv[0] = "transcript-cli"
from transcript_cli.cli import main
main()
"""


def peak_rss_mb(work: Path, n: int, api: FakeAnthropic) -> float:
    source = make_input(work / "in", n)
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": api.url,
        "TRANSCRIPT_CLI_STATE_DIR": str(work / f"rss-state-{n}"),
    }
    report = work / f"rss-{n}.kb"
    args = ["run", str(source), "-q", "--name", f"rss-{n}", "--chunk-chars", str(CHUNK_CHARS)]
    args += ["--context-chars", "60", "--out", str(work / "rss-out"), "--model", "claude-haiku-4-5"]
    done = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, str(report), *args],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"rss run of {n} chunks exited {done.returncode}")
    return int(report.read_text()) / 1024


def bench_rss(work: Path, big: int) -> None:
    with FakeAnthropic() as api:
        small = peak_rss_mb(work, 100, api)
        large = peak_rss_mb(work, big, api)
    print(
        f"4. peak RSS of `run`: {small:.1f} MB at 100 chunks, {large:.1f} MB at {big:,} chunks, "
        f"ratio {large / small:.2f} (target <= 1.5)"
    )


def cli_run(work: Path, api: FakeAnthropic, source: Path, *args: str) -> tuple[int, float]:
    """Run the real CLI on `source` against `api`; its exit code and wall seconds."""
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": api.url,
        "TRANSCRIPT_CLI_STATE_DIR": str(work / "state"),
    }
    command = [sys.executable, "-m", "transcript_cli", "run", str(source), "-q"]
    command += ["--chunk-chars", str(CHUNK_CHARS), "--context-chars", "60"]
    command += ["--out", str(work / "out"), "--model", "claude-haiku-4-5", *args]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    return done.returncode, time.perf_counter() - started


def bench_rate_limited(work: Path, label: str, *, headers: bool, burst: int | None) -> None:
    """The real CLI against a server enforcing 20 requests/s: share of the allowed rate used."""
    n, rate, concurrency, latency = 400, 20.0, 16, 0.1
    limit = RateLimit(rate, burst, headers=headers)
    with FakeAnthropic(latency=latency, rate_limit=limit) as api:
        code, wall = cli_run(work, api, make_input(work / "in", n), "-j", str(concurrency))
        sent = [r for r in api.requests if r.path.endswith("/messages")]
    ok = sorted(r.started for r in sent if r.status == 200)
    throttled = sum(r.status == 429 for r in sent)
    # What the server would have accepted from the first request to the last accepted one: its
    # burst, plus what refilled meanwhile.
    span = ok[-1] - min(r.started for r in sent)
    allowed = limit.capacity + rate * span
    kind = "rate-limit headers" if headers else "only retry-after (whole seconds)"
    # Where the shortfall is: the first two seconds (the first burst, its retry-after, finding
    # the rate) against the rest (holding the rate).
    first = min(r.started for r in sent)
    settled = [t for t in ok if t >= first + 2.0]
    held = len(settled) / (rate * (ok[-1] - first - 2.0)) if len(settled) > 1 else float("nan")
    print(
        f"{label}. {n} chunks, server limit {rate:.0f} req/s with burst {limit.capacity:.0f} and "
        f"{kind}, -j {concurrency}, latency {latency * 1000:.0f} ms: exit {code}, wall "
        f"{wall:.1f} s; {len(ok)} accepted in {span:.2f} s of {allowed:.0f} allowed = "
        f"{len(ok) / allowed:.3f}; 429s {throttled}/{len(sent)} = {throttled / len(sent):.1%}; "
        f"first 2 s: {len(ok) - len(settled)} accepted of {limit.capacity + 2 * rate:.0f} "
        f"allowed, after them {held:.3f} of the rate"
    )


def bench_many_in_flight(work: Path) -> None:
    """A high limit and a folder of lectures: -j 64 must stay near ceil(N/C) x latency."""
    n, latency, concurrency = 2000, 0.5, 64
    with FakeAnthropic(latency=latency) as api:
        os.environ["ANTHROPIC_BASE_URL"] = api.url
        wall = run_job(work, make_input(work / "in", n), concurrency, name="many")
    ideal = math.ceil(n / concurrency) * latency
    print(
        f"7. {n:,} chunks, latency {latency * 1000:.0f} ms, concurrency {concurrency}: "
        f"wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.3f} (guard <= 1.10)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 instead of 20,000 chunks")
    parser.add_argument(
        "--only", type=int, choices=range(1, 8), action="append", help="run only section N"
    )
    args = parser.parse_args()
    big = 5000 if args.quick else 20000
    only = set(args.only or range(1, 8))
    os.environ["ANTHROPIC_API_KEY"] = KEY
    print(
        f"transcript-cli throughput benchmark: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="tcli-bench-") as tmp:
        work = Path(tmp)
        if 1 in only:
            bench_wall_vs_ideal(work / "s1")
        if 2 in only or 3 in only:
            bench_overhead_and_resume(work / "s2", big)
        if 4 in only:
            bench_rss(work / "s4", big)
        if 5 in only:
            bench_rate_limited(work / "s5", "5", headers=False, burst=1)
        if 6 in only:
            bench_rate_limited(work / "s6", "6", headers=True, burst=None)
        if 7 in only:
            bench_many_in_flight(work / "s7")


if __name__ == "__main__":
    main()
