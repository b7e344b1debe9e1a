"""`run --batch` end to end: real CLI, real SDK, the fake Messages API's batch endpoints.

Polling is shortened through TRANSCRIPT_CLI_BATCH_POLL so a batch that ends in a fraction of a
second is collected at once; the fake's `batch_delay` (or `end_all`) decides when batches end.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests import fs_events
from tests.conftest import Cli, Running, wait_for, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_jobs import chunks_of, index_of, run_args
from tests.test_cli_terminal import TerminalSession
from transcript_cli import batch_ledger

POLL = {"TRANSCRIPT_CLI_BATCH_POLL": "0.05,0.2"}


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def status(cli: Cli, job: str) -> dict[str, object]:
    result = cli("status", job, "--json")
    assert result.returncode == 0, result.stderr
    view: dict[str, object] = json.loads(result.stdout)
    return view


def two_inputs(cli: Cli) -> list[Path]:
    return [
        write_transcript(cli.workdir / "in" / "a.txt", 40),
        write_transcript(cli.workdir / "in" / "b.txt", 25, start=500),
    ]


def batch_args(srcs: list[Path], name: str, out: str, *extra: str) -> list[str]:
    return [*run_args(srcs[0], *map(str, srcs[1:])), "--name", name, "--out", out, *extra]


def test_batch_run_submits_waits_collects_and_writes_what_a_live_run_writes(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    srcs = two_inputs(cli)
    live = cli(*batch_args(srcs, "live", "live"), "--json")
    assert live.returncode == 0, live.stderr
    live_bodies = sorted(
        json.dumps(r.body, sort_keys=True)
        for r in fake_api.requests
        if r.path.endswith("/messages")
    )
    sent_live = len(fake_api.requests)

    done = cli(*batch_args(srcs, "b", "batched", "--batch"), "--json", env=POLL)
    assert done.returncode == 0, done.stderr
    # Nothing went live; one batch carried every chunk, each request exactly the live one.
    assert not [r for r in fake_api.requests[sent_live:] if r.path.endswith("/messages")]
    assert len(fake_api.batches.order) == 1
    [batch_id] = fake_api.batches.order
    requests = fake_api.batches.batches[batch_id].requests
    assert sorted(json.dumps(r["params"], sort_keys=True) for r in requests) == live_bodies
    total = sum(len(chunks_of(s)) for s in srcs)
    tag = batch_ledger.job_tag("b")
    assert sorted(r["custom_id"] for r in requests) == sorted(
        f"{tag}_f{i}_c{c}" for i, s in enumerate(srcs) for c in range(len(chunks_of(s)))
    )
    assert len(requests) == total
    assert outputs(cli.workdir / "batched") == outputs(cli.workdir / "live")

    summary = json.loads(done.stdout)
    live_summary = json.loads(live.stdout)
    assert summary["state"] == "completed" and summary["mode"] == "batch"
    assert summary["pricing"] == "batch" and live_summary["pricing"] == "list"
    assert summary["input_tokens"] == live_summary["input_tokens"]
    assert summary["cost_usd"] == pytest.approx(live_summary["cost_usd"] / 2, rel=1e-6)
    human = cli("status", "b")
    assert "(batch prices)" in human.stdout


@pytest.mark.skipif(not fs_events.available(), reason="counts checkpoint saves with inotify")
def test_collecting_a_batch_checkpoints_per_batch_and_output_not_per_chunk(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """As the README says: each result is stored as it is settled, but a checkpoint counts them
    once per batch collected, and before and after each output written; not once per chunk."""
    fake_api.batches.delay = None  # processing until the test ends it
    srcs = [write_transcript(cli.workdir / "in" / f"{n}.txt", 200, start=n * 1000) for n in (0, 1)]
    submitted = cli(*batch_args(srcs, "b", "out", "--batch", "--no-wait"), env=POLL)
    assert submitted.returncode == 0, submitted.stderr
    chunks = status(cli, "b")["chunks_total"]
    assert isinstance(chunks, int) and chunks >= 30
    fake_api.batches.end_all()
    job_dir = cli.state_dir / "b"
    seen: list[str] = []
    with fs_events.FolderWatch([job_dir], lambda folder, name, change: seen.append(name)):
        collected = cli("resume", "b", env=POLL)
        (job_dir / "all-seen").touch()  # events come in order: once this one is seen, all were
        wait_for(lambda: "all-seen" in seen)
    assert collected.returncode == 0, collected.stderr
    assert status(cli, "b")["chunks_done"] == chunks
    saves = seen.count("checkpoint.json")
    # One before and one after each output; the rest at the start and end of the run.
    assert len(srcs) <= saves <= 2 * len(srcs) + 5, (saves, chunks)


def test_no_wait_returns_at_once_with_the_job_waiting_then_resume_collects(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.batches.delay = None  # processing until the test ends it
    src = write_transcript(cli.workdir / "talk.txt", 40)
    first = cli(*run_args(src, "--name", "talk", "--batch", "--no-wait"), env=POLL)
    assert first.returncode == 0, first.stderr
    assert "waiting" in first.stderr and "transcript-cli resume talk" in first.stderr
    [batch_id] = fake_api.batches.order
    view = status(cli, "talk")
    assert view["view_version"] == 1
    assert view["state"] == "waiting" and view["batches_in_flight"] == [batch_id]
    assert view["chunks_done"] == 0
    assert "waiting" in cli("status").stdout

    still = cli("resume", "talk", "--no-wait", env=POLL)  # not ended yet: nothing new sent
    assert still.returncode == 0, still.stderr
    fake_api.batches.end_all()
    resumed = cli("resume", "talk", env=POLL)
    assert resumed.returncode == 0, resumed.stderr
    assert fake_api.batches.order == [batch_id]  # collected, never submitted again
    view = status(cli, "talk")
    assert view["state"] == "completed" and view["batches_in_flight"] == []
    assert (cli.workdir / "cleaned" / "talk.md").is_file()


def test_ctrl_c_while_waiting_pauses_and_resume_collects_the_same_batch(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.batches.delay = None
    src = write_transcript(cli.workdir / "talk.txt", 40)
    with Running(cli.start(*run_args(src, "--name", "talk", "--batch"), env=POLL)) as proc:
        wait_for(lambda: fake_api.batches.order and fake_api.batches.calls.count("retrieve") >= 2)
        proc.signal(signal.SIGINT)
        assert proc.finish() == 130, proc.stderr
    assert "submitted batch" in proc.stderr and "requests ended" in proc.stderr  # plain lines
    assert "Pausing: the batches go on on Anthropic's side" in proc.stderr
    assert "go on running on Anthropic's side" in proc.stderr
    assert "transcript-cli resume talk" in proc.stderr
    assert status(cli, "talk")["state"] == "waiting"
    assert fake_api.batches.calls.count("cancel") == 0  # the batch keeps running
    fake_api.batches.end_all()
    resumed = cli("resume", "talk", env=POLL)
    assert resumed.returncode == 0, resumed.stderr
    assert "collected batch" in resumed.stderr
    assert len(fake_api.batches.order) == 1
    assert status(cli, "talk")["state"] == "completed"


def test_kill_9_between_create_and_checkpoint_adopts_the_orphan(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.batches.create_delay = 30.0  # the batch exists; its id never reaches the client
    src = write_transcript(cli.workdir / "talk.txt", 40)
    with Running(cli.start(*run_args(src, "--name", "talk", "--batch"), env=POLL)) as proc:
        wait_for(lambda: fake_api.batches.order)
        proc.signal(signal.SIGKILL)
        proc.finish()
    ledger = batch_ledger.load(cli.state_dir / "talk")
    assert ledger is not None and len(ledger.submissions) == 1
    assert ledger.submissions[0].batch_id is None  # the intent, without an id
    fake_api.batches.create_delay = 0.0
    resumed = cli("resume", "talk", env=POLL)
    assert resumed.returncode == 0, resumed.stderr
    assert "adopted" in resumed.stderr
    assert fake_api.batches.calls.count("create") == 1  # nothing paid twice
    assert len(fake_api.batch_transcripts()) == len(chunks_of(src))
    assert status(cli, "talk")["state"] == "completed"


def test_an_orphan_still_processing_is_adopted_by_time_and_count(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.batches.delay = None  # still in progress when the next run looks for it
    fake_api.batches.create_delay = 30.0
    src = write_transcript(cli.workdir / "talk.txt", 40)
    with Running(cli.start(*run_args(src, "--name", "talk", "--batch"), env=POLL)) as proc:
        wait_for(lambda: fake_api.batches.order)
        proc.signal(signal.SIGKILL)
        proc.finish()
    fake_api.batches.create_delay = 0.0
    adopted = cli("resume", "talk", "--no-wait", env=POLL)
    assert adopted.returncode == 0, adopted.stderr
    assert "adopted" in adopted.stderr
    [batch_id] = fake_api.batches.order
    assert status(cli, "talk")["batches_in_flight"] == [batch_id]
    fake_api.batches.end_all()
    resumed = cli("resume", "talk", env=POLL)
    assert resumed.returncode == 0, resumed.stderr
    assert fake_api.batches.calls.count("create") == 1
    assert status(cli, "talk")["state"] == "completed"


def test_mixed_results_are_settled_like_live_and_the_outputs_match_a_live_run(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 90)
    chunks = chunks_of(src)
    assert len(chunks) >= 8
    texts = [c.text for c in chunks]
    marker = {n: f"Sentence number {n} " for n in range(90)}
    picks = {
        kind: index_of(chunks, marker[n])
        for kind, n in (
            ("errored", 10),
            ("expired", 30),
            ("canceled", 45),
            ("too_large", 60),
            ("cut_off", 75),
        )
    }
    assert len(set(picks.values())) == 5

    def faults() -> None:
        fake_api.clear_faults()
        fake_api.fail_when(texts[picks["errored"]], Fault(status=529, message="overloaded"))
        fake_api.fail_when(texts[picks["too_large"]], Fault(status=413, message="too large"))
        fake_api.fail_when(texts[picks["expired"]], Fault(batch_result="expired"))
        fake_api.fail_when(texts[picks["canceled"]], Fault(batch_result="canceled"))
        fake_api.fail_when(texts[picks["cut_off"]], Fault(stop_reason="max_tokens"))

    faults()
    done = cli(*run_args(src, "--name", "b", "--out", "batched", "--batch"), env=POLL)
    assert done.returncode == 0, done.stderr
    assert len(fake_api.batches.order) == 2  # the first, and one follow-up
    first, second = (fake_api.batches.batches[b].requests for b in fake_api.batches.order)
    assert len(first) == len(chunks)
    followed = sorted(picks[k] for k in ("errored", "expired", "canceled"))
    tag = batch_ledger.job_tag("b")
    assert sorted(r["custom_id"] for r in second) == sorted(f"{tag}_f0_c{c}" for c in followed)
    # The chunks the API refused whole or cut off were split and their pieces sent live, as
    # live mode does.
    live_sent = fake_api.transcripts()
    split = texts[picks["too_large"]] + texts[picks["cut_off"]]
    assert len(live_sent) >= 4 and all(t in split for t in live_sent)
    view = status(cli, "b")
    assert view["state"] == "completed" and view["retries"] == 3

    faults()
    live = cli(*run_args(src, "--name", "live", "--out", "live"))
    assert live.returncode == 0, live.stderr
    assert outputs(cli.workdir / "batched") == outputs(cli.workdir / "live")


def test_fallback_live_finishes_stragglers_with_live_requests(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 40)
    chunks = chunks_of(src)
    fake_api.fail_when(chunks[1].text, Fault(batch_result="expired"))
    done = cli(*run_args(src, "--name", "talk", "--batch", "--fallback-live"), env=POLL)
    assert done.returncode == 0, done.stderr
    assert len(fake_api.batches.order) == 1
    assert fake_api.transcripts() == [chunks[1].text]


def test_clear_cancels_batches_in_flight_with_yes(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.batches.delay = None
    src = write_transcript(cli.workdir / "talk.txt", 20)
    started = cli(*run_args(src, "--name", "talk", "--batch", "--no-wait"), env=POLL)
    assert started.returncode == 0, started.stderr
    [batch_id] = fake_api.batches.order
    cleared = cli("clear", "talk", "--yes")
    assert cleared.returncode == 0, cleared.stderr
    assert f"canceled batch {batch_id}" in cleared.stderr
    assert fake_api.batches.calls.count("cancel") == 1
    assert not (cli.state_dir / "talk").exists()


def test_batch_needs_the_anthropic_provider(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 10)
    result = cli(*run_args(src, "--provider", "offline", "--batch"))
    assert result.returncode == 2, result.stderr
    assert "--batch needs the anthropic provider" in result.stderr
    assert not cli.state_dir.exists() or not any(cli.state_dir.iterdir())


def test_on_a_terminal_a_batch_shows_a_progress_bar_and_clear_asks_to_cancel(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.batches.delay = None
    src = write_transcript(cli.workdir / "talk.txt", 40)
    env_cli = cli
    env_cli.env.update(POLL)
    with TerminalSession(env_cli, *run_args(src, "--name", "talk", "--batch")) as shown:
        shown.read_until("submitted batch")
        [batch_id] = fake_api.batches.order
        shown.read_until(f"batch …{batch_id[-6:]}")  # the batch's own bar, from request_counts
        fake_api.batches.end_all()
        assert shown.finish() == 0, shown.output
    assert "collected batch" in shown.output

    fake_api.batches.delay = None
    other = write_transcript(cli.workdir / "other.txt", 20, start=300)
    started = cli(*run_args(other, "--name", "other", "--batch", "--no-wait"))
    assert started.returncode == 0, started.stderr
    running = fake_api.batches.order[-1]
    with TerminalSession(cli, "clear", "other") as asked:
        asked.type("y")  # "Remove state of 1 job(s): other?", asked on stdout
        asked.read_until(f"({running}) and bill for what they finish. Cancel them?")
        asked.type("y")
        assert asked.finish() == 0, asked.output
    assert f"canceled batch {running}" in asked.output
    assert fake_api.batches.calls.count("cancel") == 1
