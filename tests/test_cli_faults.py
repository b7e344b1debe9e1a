"""API faults end to end: transient ones are retried, permanent ones stop the job resumably."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FAKE_KEY, Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_run import expected_output

CHUNK = "500"


def _job(cli: Cli, sentences: int = 40) -> Path:
    return write_transcript(cli.workdir / "talk.txt", sentences)


def _run(cli: Cli, src: Path, *extra: str) -> tuple[int, str]:
    result = cli("run", str(src), "--chunk-chars", CHUNK, "--name", "talk", *extra)
    assert "Traceback" not in result.stderr
    assert FAKE_KEY not in result.stderr + result.stdout
    return result.returncode, result.stderr


def _status(cli: Cli) -> dict[str, object]:
    result = cli("status", "talk", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _output(cli: Cli) -> str:
    return (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")


def _target(fake_api: FakeAnthropic) -> str:
    """Marker of a sentence in the middle of the job, so faults hit a mid-job chunk."""
    return "Sentence number 20 says"


def test_429_retry_after_is_honoured(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = _job(cli)
    marker = _target(fake_api)
    fake_api.fail_when(marker, Fault(status=429, headers={"retry-after": "1"}))
    code, err = _run(cli, src)
    assert code == 0, err
    hits = [r for r in fake_api.requests if marker in r.transcript]
    assert len(hits) == 2
    assert hits[1].started - hits[0].finished >= 0.95  # waited what the server asked
    # A throttle uses no retry: it is told as a wait, not as "retry 1".
    assert "API error 429" in err and "waiting 1.0s" in err and "retry 1" not in err
    assert _status(cli)["retries"] == 1
    assert _output(cli) == expected_output(src, int(CHUNK))


TRANSIENT_FAULTS = {
    "429-without-retry-after": Fault(status=429),
    "529-overloaded": Fault(status=529),
    "500": Fault(status=500),
    "503": Fault(status=503, headers={"retry-after": "0"}),
    "dropped-connection": Fault(drop=True),
    "slow-reply-past-timeout": Fault(delay=2.0),
    "invalid-json-body": Fault(body=b"{not json"),
    "body-cut-off": Fault(body=b'{"id": "msg_1", "type": "mess'),
    "empty-reply": Fault(text=""),
}


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_each_transient_fault_is_retried_once_and_nothing_else_is_repaid(
    cli: Cli, fake_api: FakeAnthropic, fault: Fault
) -> None:
    src = _job(cli)
    marker = _target(fake_api)
    fake_api.fail_when(marker, fault)
    code, err = _run(cli, src, "--timeout", "1")
    assert code == 0, err
    status = _status(cli)
    assert status["state"] == "completed"
    assert status["retries"] == 1
    assert status["last_error"] is None
    # One request per chunk plus the one retry; only the faulted chunk was asked twice.
    sent = fake_api.transcripts()
    assert len(sent) == status["chunks_total"] + 1  # type: ignore[operator]
    assert [t for t in set(sent) if sent.count(t) > 1] == [t for t in set(sent) if marker in t]
    assert _output(cli) == expected_output(src, int(CHUNK))


def test_401_mid_job_stops_at_once_and_resume_finishes(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = _job(cli)
    marker = _target(fake_api)
    fake_api.fail_when(marker, Fault(status=401, message="invalid x-api-key"))
    code, err = _run(cli, src, "--concurrency", "1")
    assert code == 1
    assert "401" in err and "ANTHROPIC_API_KEY" in err and "talk.txt chunk" in err
    # Stopped at once: sent once, and no request started after the 401 came back.
    (hit,) = [r for r in fake_api.requests if marker in r.transcript]
    assert all(r.started <= hit.finished for r in fake_api.requests)
    status = _status(cli)
    assert status["state"] == "failed"
    last_error = status["last_error"]
    assert isinstance(last_error, dict)
    assert last_error["kind"] == "permanent" and "401" in last_error["message"]
    assert str(status["resume_command"]).startswith("transcript-cli resume talk")
    assert not (cli.workdir / "cleaned" / "talk.md").exists()
    sent_before = fake_api.transcripts()

    result = cli("resume", "talk")
    assert result.returncode == 0, result.stderr
    assert _output(cli) == expected_output(src, int(CHUNK))
    resumed = fake_api.transcripts()[len(sent_before) :]
    # The failed chunk is sent again; no chunk that had been answered is.
    assert hit.transcript in resumed
    assert set(resumed).isdisjoint(set(sent_before) - {hit.transcript})
    assert _status(cli)["resume_count"] == 1


def test_transient_past_budget_exits_75_and_stays_resumable(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli)
    marker = _target(fake_api)
    # A 503, not a 529: throttles (429, 529) use no attempt (see test_cli_pacing.py).
    fake_api.fail_when(marker, Fault(status=503, headers={"retry-after": "0"}), times=3)
    code, err = _run(cli, src, "--max-retries", "2")
    assert code == 75, err
    assert "gave up after the retry budget" in err
    assert sum(marker in t for t in fake_api.transcripts()) == 3
    status = _status(cli)
    last_error = status["last_error"]
    assert isinstance(last_error, dict) and last_error["kind"] == "transient"
    assert status["resume_command"]

    result = cli("resume", "talk")
    assert result.returncode == 0, result.stderr
    assert _output(cli) == expected_output(src, int(CHUNK))


def test_400_for_one_chunk_fails_that_file_only_and_retry_failed_redoes_it(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    bad = write_transcript(cli.workdir / "a.txt", 40)
    good = write_transcript(cli.workdir / "b.txt", 40, start=1000)
    marker = "Sentence number 20 says"
    fake_api.fail_when(marker, Fault(status=400, message="invalid request"), times=-1)
    result = cli("run", str(bad), str(good), "--chunk-chars", CHUNK, "--name", "two")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    # Split in smaller pieces before giving up: the marker was asked for more than once.
    assert sum(marker in t for t in fake_api.transcripts()) > 1
    assert "1 chunk(s) failed in 1 file(s)" in result.stderr
    assert "a.txt chunk" in result.stderr and "invalid request" in result.stderr
    assert "--retry-failed" in result.stderr
    # The other file went on and was written; the failed one was not written with a gap.
    assert (cli.workdir / "cleaned" / "b.md").read_text(encoding="utf-8") == expected_output(
        good, int(CHUNK)
    )
    assert not (cli.workdir / "cleaned" / "a.md").exists()
    status = json.loads(cli("status", "two", "--json").stdout)
    assert status["state"] == "failed"
    files = {Path(f["path"]).name: f for f in status["files"]}
    assert files["a.txt"]["chunks_failed"] == 1 and files["b.txt"]["chunks_failed"] == 0
    (failed,) = [c for c in files["a.txt"]["chunks"] if c["error"]]
    assert "invalid request" in failed["error"]
    human = cli("status", "two")
    assert f"chunk {failed['chunk']} failed" in human.stdout and "--retry-failed" in human.stdout

    # A plain resume does not pay for the failed chunk again.
    sent = len(fake_api.requests)
    again = cli("resume", "two")
    assert again.returncode == 1 and len(fake_api.requests) == sent

    fake_api.clear_faults()
    retried = cli("resume", "two", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert (cli.workdir / "cleaned" / "a.md").read_text(encoding="utf-8") == expected_output(
        bad, int(CHUNK)
    )
    # Only the failed chunk was sent again.
    assert (
        fake_api.transcripts()[sent:]
        == [t for t in fake_api.transcripts()[:sent] if marker in t][:1]
    )


def test_max_tokens_cut_off_splits_the_chunk(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = _job(cli)
    marker = _target(fake_api)
    fake_api.fail_when(marker, Fault(stop_reason="max_tokens"))
    code, err = _run(cli, src)
    assert code == 0, err
    hits = [t for t in fake_api.transcripts() if marker in t]
    assert len(hits) == 2 and len(hits[1]) < len(hits[0])  # the second one is a piece of it
    out = _output(cli)
    assert f"[clean] {hits[1]}" in out  # the piece's reply is in place of the whole chunk's
    assert out.count(marker) == 1


def test_suspicious_reply_is_kept_with_a_warning_or_fails_under_strict(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli)
    marker = _target(fake_api)
    fake_api.fail_when(marker, Fault(text="Too short."), times=-1)
    code, err = _run(cli, src)
    assert code == 0, err
    assert "warning:" in err and "fidelity: kept 0% of the part's words" in err
    status = _status(cli)
    (noted,) = [c for f in status["files"] for c in f["chunks"]]  # type: ignore[union-attr]
    assert "kept 0% of the part's words" in noted["warning"] and noted["error"] is None
    assert "Too short." in _output(cli)

    args = ("--name", "strict", "--strict", "--overwrite")  # another job, same output
    result = cli("run", str(src), "--chunk-chars", CHUNK, *args)
    assert result.returncode == 1
    assert "--strict" in result.stderr and "failed" in result.stderr
