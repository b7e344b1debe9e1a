"""Batch mode at scale, against the fake Messages API's batch endpoints.

1. Peak RSS of `run --batch` (submit, wait, collect) for a 20,000-chunk job against a 100-chunk
   job: the create body is written to disk and posted from there, results are streamed line by
   line, so memory must not grow with the job (target: ratio <= 1.5).
2. Collection time per chunk: `run --batch --no-wait`, then `resume` (which collects) timed
   from its first result to its last stored chunk.

Run: `python benchmarks/batch.py` (add `--quick` for 5,000 instead of 20,000 chunks).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.throughput import _RSS_WRAPPER, CHUNK_CHARS, KEY, make_input  # noqa: E402
from tests.fake_anthropic import FakeAnthropic  # noqa: E402

POLL = "0.05,0.2"


def cli_env(api: FakeAnthropic, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": api.url,
        "TRANSCRIPT_CLI_STATE_DIR": str(state),
        "TRANSCRIPT_CLI_BATCH_POLL": POLL,
    }


def job_args(source: Path, name: str, out: Path) -> list[str]:
    return [
        "run", str(source), "-q", "--name", name, "--batch", "--chunk-chars", str(CHUNK_CHARS),
        "--context-chars", "60", "--out", str(out), "--model", "claude-haiku-4-5",
    ]  # fmt: skip


def peak_rss_mb(work: Path, n: int, api: FakeAnthropic) -> float:
    """`run --batch` of an n-chunk job in a child that reports its own peak RSS."""
    source = make_input(work / f"in-{n}", n)
    report = work / f"rss-{n}.kb"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _RSS_WRAPPER,
            str(report),
            *job_args(source, f"rss-{n}", work / "out"),
        ],
        cwd=work,
        env=cli_env(api, work / f"state-{n}"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"batch run of {n} chunks exited {done.returncode}")
    return int(report.read_text()) / 1024


def collect_seconds(work: Path, n: int, api: FakeAnthropic) -> tuple[float, float]:
    """(seconds to submit, seconds for `resume` to collect) an n-chunk job."""
    source = make_input(work / f"in-c{n}", n)
    env = cli_env(api, work / f"state-c{n}")
    args = job_args(source, f"collect-{n}", work / "out-c")
    api.batches.delay = None  # ends when told, so submission and collection are timed apart
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "transcript_cli", *args, "--no-wait"], env=env,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    submitted = time.perf_counter() - started
    api.batches.end_all()
    started = time.perf_counter()
    resume = [sys.executable, "-m", "transcript_cli", "resume", f"collect-{n}", "-q"]
    subprocess.run(resume, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    return submitted, time.perf_counter() - started


def main() -> None:
    big = 5_000 if "--quick" in sys.argv else 20_000
    with (
        tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp,
        FakeAnthropic(batch_delay=0.0) as api,
    ):
        work = Path(tmp)
        small = peak_rss_mb(work, 100, api)
        large = peak_rss_mb(work, big, api)
        print(
            f"1. peak RSS of `run --batch`: {small:.1f} MB at 100 chunks, {large:.1f} MB at "
            f"{big:,} chunks, ratio {large / small:.2f} (target <= 1.5)"
        )
        submit, collect = collect_seconds(work, big, api)
        _, base_collect = collect_seconds(work, 100, api)
        per_chunk = (collect - base_collect) / (big - 100) * 1000
        print(
            f"2. {big:,} chunks: submitted in {submit:.1f} s, collected by `resume` in "
            f"{collect:.1f} s ({base_collect:.1f} s for 100: start-up); "
            f"{per_chunk:.2f} ms per chunk collected"
        )


if __name__ == "__main__":
    main()
