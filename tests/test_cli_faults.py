"""API faults end to end: transient ones are retried, permanent ones stop the job resumably."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert "retry 1" in err
    assert _status(cli)["retries"] == 1
    assert _output(cli) == expected_output(src, int(CHUNK))


def test_529_and_500_without_retry_after_back_off_and_complete(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli)
    marker = _target(fake_api)
    fake_api.fail_when(marker, Fault(status=529))
    fake_api.fail_when("Sentence number 35 says", Fault(status=500))
    code, err = _run(cli, src)
    assert code == 0, err
    assert _status(cli)["retries"] == 2
    assert _output(cli) == expected_output(src, int(CHUNK))


def test_dropped_connection_bad_body_and_empty_reply_are_retried(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli)
    fake_api.fail_when("Sentence number 5 says", Fault(drop=True, headers={}))
    fake_api.fail_when("Sentence number 20 says", Fault(body=b"{not json"))
    fake_api.fail_when("Sentence number 35 says", Fault(text=""))
    code, err = _run(cli, src, "--max-retries", "3")
    assert code == 0, err
    assert _output(cli) == expected_output(src, int(CHUNK))
    assert _status(cli)["retries"] == 3


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
    fake_api.fail_when(marker, Fault(status=529, headers={"retry-after": "0"}), times=3)
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


def test_400_for_one_chunk_fails_the_job_with_the_api_message(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli)
    fake_api.fail_when(_target(fake_api), Fault(status=400, message="prompt is too long"))
    code, err = _run(cli, src)
    assert code == 1
    assert "prompt is too long" in err
    assert _status(cli)["state"] == "failed"


def test_max_tokens_cut_off_is_not_stored_as_a_result(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = _job(cli)
    fake_api.fail_when(_target(fake_api), Fault(stop_reason="max_tokens"))
    code, err = _run(cli, src)
    assert code == 1
    assert "--max-tokens" in err
    status = _status(cli)
    assert status["chunks_done"] < status["chunks_total"]  # type: ignore[operator]
    result = cli("resume", "talk")
    assert result.returncode == 0, result.stderr
    assert _output(cli) == expected_output(src, int(CHUNK))
