"""--max-cost: no chunk starts that could pass the budget; the job pauses (75) and resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_run import expected_output
from transcript_cli.budget import budget_message

CHUNK = "500"


def _estimate(cli: Cli, src: Path, *extra: str) -> dict[str, Any]:
    result = cli("estimate", str(src), "--chunk-chars", CHUNK, "--json", *extra)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _status(cli: Cli, job: str) -> dict[str, Any]:
    result = cli("status", job, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_budget_pauses_the_job_and_a_higher_cap_finishes_it(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 80)
    total = _estimate(cli, src)["total"]
    cap = round(total["cost_usd"]["live"] / 2, 6)
    first = cli("run", str(src), "--chunk-chars", CHUNK, "--name", "talk", "--max-cost", str(cap))
    assert first.returncode == 75, first.stderr
    assert "budget reached" in first.stderr and "--max-cost" in first.stderr
    assert "transcript-cli resume talk" in first.stderr
    sent = len(fake_api.transcripts())
    assert 0 < sent < total["chunks"]
    view = _status(cli, "talk")
    assert view["state"] == "paused" and view["cost_usd"] <= cap
    assert view["max_cost_usd"] == cap
    assert view["last_error"]["kind"] == "budget"
    shown = cli("status", "talk").stdout
    assert f"paused: {budget_message(view['cost_usd'], cap)}" in shown
    # The cap is kept with the job: resuming without raising it sends nothing.
    again = cli("resume", "talk", "--json")
    assert again.returncode == 75 and len(fake_api.transcripts()) == sent
    document = json.loads(again.stdout)  # the README's error_kind for a --max-cost pause
    assert (document["exit_code"], document["error_kind"]) == (75, "budget")
    assert document["state"] == "paused" and "budget reached" in document["error"]
    fake_api.fail_when("Sentence number 70 says", Fault(status=401))  # stops it otherwise
    other = cli("resume", "talk", "--max-cost", "10")
    assert other.returncode == 1
    assert "paused: budget" not in cli("status", "talk").stdout
    fake_api.clear_faults()
    done = cli("resume", "talk", "--max-cost", "10")
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8") == expected_output(
        src, int(CHUNK)
    )
    # Nothing was paid twice: every chunk once, and the one refused with 401 once more.
    assert len(fake_api.transcripts()) == total["chunks"] + 1
    view = _status(cli, "talk")
    assert view["state"] == "completed" and view["max_cost_usd"] == 10


def test_chunks_in_flight_count_against_the_budget(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.latency = 0.3  # so that many chunks could be in flight at once
    src = write_transcript(cli.workdir / "talk.txt", 100)
    total = _estimate(cli, src)["total"]
    per_chunk = total["cost_usd"]["live"] / total["chunks"]
    cap = round(per_chunk * 3.5, 6)  # room for about three chunks, never eight
    result = cli("run", str(src), "--chunk-chars", CHUNK, "-j", "8", "--max-cost", str(cap))
    assert result.returncode == 75, result.stderr
    assert 1 <= len(fake_api.transcripts()) <= 4
    assert fake_api.max_in_flight <= 4
    (job,) = [p.name for p in cli.state_dir.iterdir() if p.is_dir()]
    assert _status(cli, job)["cost_usd"] <= cap


def test_a_budget_below_the_first_chunk_sends_nothing(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 20)
    result = cli("run", str(src), "--chunk-chars", CHUNK, "--name", "tiny", "--max-cost", "0.0001")
    assert result.returncode == 75, result.stderr
    assert fake_api.requests == []
    assert "budget reached, $0.00 of $0.0001" in cli("status", "tiny").stdout


def test_max_cost_needs_a_known_price(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 20)
    result = cli("run", str(src), "--model", "claude-future-9", "--max-cost", "5")
    assert result.returncode == 2
    assert "--max-cost" in result.stderr and "claude-future-9" in result.stderr
    assert fake_api.requests == []
    assert not cli.state_dir.exists() or not any(cli.state_dir.iterdir())


def test_batch_jobs_keep_to_the_budget_too(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 40)
    total = _estimate(cli, src)["total"]
    cap = round(total["cost_usd"]["live"] / 3, 6)  # chunks are admitted at live estimates
    args = ("--chunk-chars", CHUNK, "--name", "b", "--batch", "--max-cost", str(cap))
    poll = {"TRANSCRIPT_CLI_BATCH_POLL": "0.05,0.2"}  # as tests/test_cli_batch.py
    result = cli("run", str(src), *args, env=poll)
    assert result.returncode == 75, result.stderr
    view = _status(cli, "b")
    assert 0 < view["chunks_done"] < view["chunks_total"]
    assert view["cost_usd"] <= cap and view["last_error"]["kind"] == "budget"
    done = cli("resume", "b", "--max-cost", "10", env=poll)
    assert done.returncode == 0, done.stderr
    assert (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8") == expected_output(
        src, int(CHUNK)
    )


def test_a_resumed_batch_job_counts_the_batches_in_flight(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.batches.delay = None  # processing until the test ends it
    src = write_transcript(cli.workdir / "talk.txt", 80)
    total = _estimate(cli, src)["total"]
    cap = round(total["cost_usd"]["live"] / 2, 6)
    args = ("--chunk-chars", CHUNK, "--name", "b", "--batch", "--max-cost", str(cap))
    poll = {"TRANSCRIPT_CLI_BATCH_POLL": "0.05,0.2"}
    first = cli("run", str(src), *args, "--no-wait", env=poll)
    assert first.returncode == 0, first.stderr
    [batch_id] = fake_api.batches.order
    sent = len(fake_api.batches.batches[batch_id].requests)
    assert 0 < sent < total["chunks"]

    # The batch is still out: its chunks fill the budget, so a resume sends nothing more.
    again = cli("resume", "b", "--no-wait", env=poll)
    assert again.returncode == 0, again.stderr
    assert fake_api.batches.order == [batch_id]
    assert _status(cli, "b")["state"] == "waiting"

    # Collected, they cost what they cost (batch prices), and the rest is admitted by that.
    fake_api.batches.end_all()
    fake_api.batches.delay = 0.2
    last = cli("resume", "b", env=poll)
    assert last.returncode in (0, 75), last.stderr
    view = _status(cli, "b")
    assert 0 < view["cost_usd"] <= cap and view["chunks_done"] > sent
