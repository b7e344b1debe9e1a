"""What a job reports spending is what the API billed: every 200 reply counted, each only once.

Replies the job cannot use (refused under --strict, cut off at max_tokens, empty) are billed all
the same. The fake Messages API keeps a bill of every message it answered; the job's cost in
`status --json`, the final line and `--json` must equal it, across resume and --retry-failed,
and --max-cost must see that spend.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import Cli, Result, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_fidelity import TARGET, drop_two_fifths
from transcript_cli.pricing import Price, price_for
from transcript_cli.providers.base import DEFAULT_MODEL

CHUNK = "400"
POLL = {"TRANSCRIPT_CLI_BATCH_POLL": "0.05,0.2"}


def _price() -> Price:
    price = price_for("anthropic", DEFAULT_MODEL)
    assert price is not None
    return price


def billed(fake_api: FakeAnthropic) -> float:
    price = _price()
    return fake_api.billed_usd(price.input, price.output)


def billed_tokens(fake_api: FakeAnthropic) -> tuple[int, int]:
    return (
        sum(b.input_tokens for b in fake_api.bills),
        sum(b.output_tokens for b in fake_api.bills),
    )


def status(cli: Cli, job: str) -> dict[str, Any]:
    shown = cli("status", job, "--json")
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    return view


def assert_reports_what_was_billed(view: dict[str, Any], fake_api: FakeAnthropic) -> None:
    assert (view["input_tokens"], view["output_tokens"]) == billed_tokens(fake_api)
    assert view["cost_usd"] == pytest.approx(billed(fake_api), abs=1e-6)


def run(cli: Cli, *extra: str, env: dict[str, str] | None = None) -> Result:
    src = cli.workdir / "talk.txt"
    if not src.exists():
        write_transcript(src, 40)
    args = ("run", str(src), "--chunk-chars", CHUNK, "--name", "talk", *extra)
    result = cli(*args, env=env)
    assert "Traceback" not in result.stderr
    return result


def test_a_reply_refused_under_strict_is_counted_and_retry_failed_adds_only_the_new_one(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.fail_when(TARGET, Fault(transform=drop_two_fifths), times=1)
    failed = run(cli, "--strict", "--json")
    assert failed.returncode == 1, failed.stderr
    assert len(fake_api.bills) == len(fake_api.transcripts())  # the refused reply too
    assert_reports_what_was_billed(json.loads(failed.stdout), fake_api)
    assert_reports_what_was_billed(status(cli, "talk"), fake_api)

    # Nothing is sent by a plain resume, and nothing is counted twice.
    before = status(cli, "talk")
    assert cli("resume", "talk").returncode == 1
    after = status(cli, "talk")
    assert (after["input_tokens"], after["cost_usd"]) == (
        before["input_tokens"],
        before["cost_usd"],
    )

    done = cli("resume", "talk", "--retry-failed")
    assert done.returncode == 0, done.stderr
    assert len(fake_api.bills) == 1 + len({*fake_api.transcripts()})  # the refused one, again
    view = status(cli, "talk")
    assert_reports_what_was_billed(view, fake_api)
    final = re.search(r"cost \$(\d+\.\d{4})", done.stdout)
    assert final is not None and float(final.group(1)) == round(view["cost_usd"], 4)
    assert f"{view['input_tokens']:,} tokens in" in done.stdout


def test_replies_cut_off_or_empty_are_counted_with_the_chunk_they_were_for(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    # The chunk with the target is cut off, so it is split; another chunk is empty once.
    fake_api.fail_when(TARGET, Fault(stop_reason="max_tokens"), times=1)
    fake_api.fail_when("Sentence number 3 says", Fault(text=""), times=1)
    done = run(cli, "--json")
    assert done.returncode == 0, done.stderr
    assert len(fake_api.bills) > len({*fake_api.transcripts()}) - 1  # pieces, and repeats
    assert_reports_what_was_billed(json.loads(done.stdout), fake_api)
    assert_reports_what_was_billed(status(cli, "talk"), fake_api)


def test_max_cost_counts_replies_refused_under_strict(cli: Cli, fake_api: FakeAnthropic) -> None:
    # Every reply is refused. Were they not counted, nothing would seem spent and every chunk
    # would be sent; counted, the budget stops the job part way.
    fake_api.fail_when(lambda t: True, Fault(transform=keep_three_words), times=-1)
    src = write_transcript(cli.workdir / "talk.txt", 80)
    estimate = cli("estimate", str(src), "--chunk-chars", CHUNK, "--json")
    assert estimate.returncode == 0, estimate.stderr
    total = json.loads(estimate.stdout)["total"]
    cap = round(total["cost_usd"]["live"] / 4, 6)
    paused = run(cli, "--strict", "--max-cost", str(cap), "-j", "1")
    # The budget, not the failed chunks, is why the job stopped: it says so (exit 75).
    assert paused.returncode == 75, paused.stderr
    assert "budget reached" in paused.stderr and "failed: fidelity" in paused.stderr
    view = status(cli, "talk")
    assert_reports_what_was_billed(view, fake_api)
    assert 0 < view["cost_usd"] <= cap
    assert 0 < len(fake_api.bills) < total["chunks"]


def keep_three_words(transcript: str) -> str:
    """A reply keeping too little of its part: the fidelity check flags every one."""
    return "[clean] " + " ".join(transcript.split()[:3])


def test_a_batch_reply_refused_under_strict_is_counted_at_batch_prices(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.fail_when(TARGET, Fault(transform=drop_two_fifths), times=1)
    failed = run(cli, "--strict", "--batch", env=POLL)
    assert failed.returncode == 1, failed.stderr
    assert all(b.batch for b in fake_api.bills)
    assert_reports_what_was_billed(status(cli, "talk"), fake_api)

    done = cli("resume", "talk", "--retry-failed", env=POLL)
    assert done.returncode == 0, done.stderr
    assert_reports_what_was_billed(status(cli, "talk"), fake_api)
