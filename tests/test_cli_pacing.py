"""Throttles end to end: the server pacing us never uses up a chunk's attempts, only time.

The fake here behaves like a gateway in front of the API: it enforces its rate with no burst
allowance, says nothing of its limit (no `anthropic-ratelimit-*` headers) and answers a 429
with only `retry-after` in whole seconds.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from tests.conftest import FAKE_KEY, Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault, RateLimit
from tests.test_cli_run import expected_output

CHUNK = 500


def _job(cli: Cli, sentences: int) -> Path:
    return write_transcript(cli.workdir / "talk.txt", sentences)


def _run(cli: Cli, src: Path, *extra: str) -> tuple[int, str]:
    result = cli("run", str(src), "--chunk-chars", str(CHUNK), "--name", "talk", *extra)
    assert "Traceback" not in result.stderr
    assert FAKE_KEY not in result.stderr + result.stdout
    return result.returncode, result.stderr


def _output(cli: Cli) -> str:
    return (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")


def _status(cli: Cli) -> dict[str, object]:
    result = cli("status", "talk", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_a_no_burst_limit_without_headers_completes_and_429s_use_no_attempts(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli, 200)  # 23 chunks
    fake_api.latency = 0.05
    fake_api.rate_limit = RateLimit(per_second=20, burst=1, headers=False)
    # Not a single retry for other errors: every 429 would have ended the job before.
    code, err = _run(cli, src, "--concurrency", "8", "--max-retries", "0")
    assert code == 0, err
    assert _output(cli) == expected_output(src, CHUNK)

    sent = [r for r in fake_api.requests if r.path.endswith("/messages")]
    throttled = [r for r in sent if r.status == 429]
    assert throttled, "the first burst of -j 8 must meet the limit"
    assert all("anthropic-ratelimit-requests-limit" not in r.headers for r in sent)
    # After the first throttle the pace is learned, so the 429s stay a small share: the first
    # burst (7 of 8) and a few while the rate is probed, never one per request.
    assert len(throttled) <= 7 + 0.25 * len(sent), f"{len(throttled)} of {len(sent)} throttled"
    status = _status(cli)
    assert status["state"] == "completed"
    assert status["retries"] == len(throttled)


def test_throttles_honour_retry_after_and_once_paced_hold_only_their_own_request(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli, 150)  # 17 chunks
    fake_api.latency = 0.05
    fake_api.rate_limit = RateLimit(per_second=20, burst=1, headers=False)
    code, err = _run(cli, src, "--concurrency", "8", "-v")
    assert code == 0, err
    assert _output(cli) == expected_output(src, CHUNK)
    sent = sorted(
        (r for r in fake_api.requests if r.path.endswith("/messages")), key=lambda r: r.started
    )
    # retry-after is honoured: no throttled chunk is sent again within the second it named.
    attempts: dict[str, list[float]] = {}
    for r in sent:
        attempts.setdefault(r.transcript, []).append(r.started)
    for r in sent:
        if r.status == 429:
            later = [t for t in attempts[r.transcript] if t > r.started]
            assert later and later[0] - r.finished >= 1.0, "sent again before its retry-after"
    # The unpaced first burst: nothing was paced yet, so everyone waits the retry-after (less
    # the 429's way back to the client: a request may leave before it arrives)...
    assert "pacing: throttled, every request waits 1.0s, then starts " in err  # told with -v
    first_429 = min(r.finished for r in sent if r.status == 429)
    early = [r.started - first_429 for r in sent if first_429 + 0.3 < r.started < first_429 + 0.9]
    assert not early, f"requests sent {early} s after the first 429 (retry-after 1 s)"
    # ...then they are released at the learned rate, not all at once as a burst would be.
    after = [r.started for r in sent if r.started > first_429 + 0.9]
    assert after
    bunched = [b - a for a, b in itertools.pairwise(after) if b - a < 0.02]
    assert len(bunched) <= 1, f"{len(bunched)} requests started within 20 ms of another"
    # Probing for the rate meets the limit again: those throttles hold only their own request.
    assert "pacing: throttled, that request waits its retry-after; the others start " in err
    paced = [r for r in sent if r.status == 429 and r.started > first_429 + 0.9]
    assert paced
    for r in paced:
        going_on = [o for o in sent if r.finished < o.started < r.finished + 0.9]
        if any(o.started > r.finished + 0.3 for o in sent):  # (unless the job was ending)
            assert going_on, "every worker stopped for a paced throttle's retry-after"


def test_529s_past_max_retries_still_complete(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = _job(cli, 40)
    marker = "Sentence number 20 says"
    fake_api.fail_when(marker, Fault(status=529, headers={"retry-after": "0"}), times=4)
    code, err = _run(cli, src, "--max-retries", "1")
    assert code == 0, err
    assert _output(cli) == expected_output(src, CHUNK)
    assert sum(marker in t for t in fake_api.transcripts()) == 5


def test_a_chunk_throttled_past_max_throttle_wait_exits_75_and_resumes(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli, 40)
    marker = "Sentence number 20 says"
    fake_api.fail_when(marker, Fault(status=429, headers={"retry-after": "0"}), times=-1)
    started = time.monotonic()
    code, err = _run(cli, src, "--max-throttle-wait", "2", "--max-retries", "0")
    took = time.monotonic() - started
    assert code == 75, err
    assert "--max-throttle-wait" in err and "429" in err
    # Bounded by time, not attempts: many were sent within the two seconds.
    assert sum(marker in t for t in fake_api.transcripts()) >= 2
    assert took < 30
    status = _status(cli)
    last_error = status["last_error"]
    assert isinstance(last_error, dict) and last_error["kind"] == "transient"

    fake_api.clear_faults()
    result = cli("resume", "talk")
    assert result.returncode == 0, result.stderr
    assert _output(cli) == expected_output(src, CHUNK)


def test_a_retry_after_beyond_max_throttle_wait_stops_at_once(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli, 40)
    marker = "Sentence number 20 says"
    fake_api.fail_when(marker, Fault(status=429, headers={"retry-after": "3600"}), times=-1)
    started = time.monotonic()
    code, err = _run(cli, src, "--max-throttle-wait", "60")
    assert code == 75, err
    assert time.monotonic() - started < 30
    assert sum(marker in t for t in fake_api.transcripts()) == 1
