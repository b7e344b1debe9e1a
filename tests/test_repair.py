"""`repair` end to end: a job whose checkpoint was deleted, truncated or overwritten is rebuilt
from its manifest and stored results, and `resume` then pays for no stored chunk again.

Real CLI, real SDK, the fake Messages API. Every command is its own process, forked from a
warm interpreter (`ForkServer`) so that a dozen runs do not each spend seconds importing the SDK.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Cli, Result, Runner, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_jobs import (
    assert_one_line_error,
    assert_private_and_keyless,
    checkpoint_file,
    chunks_of,
    expected_output,
    index_of,
    offline_args,
    run_args,
)
from transcript_cli import runner
from transcript_cli.chunking import Chunk
from transcript_cli.control import Control
from transcript_cli.errors import CheckpointError, Command, Paused
from transcript_cli.events import ChunkFinished, ChunkStarted, Event
from transcript_cli.job import JobStore
from transcript_cli.providers import default_model
from transcript_cli.repair import repair
from transcript_cli.runner import Existing, RunSpec, open_provider
from transcript_cli.state import Options, Settings


@pytest.fixture
def forked(warm_runner: Runner) -> Runner:
    """The session's warm fork server (see conftest); named for what these tests rely on."""
    return warm_runner


@dataclass(frozen=True)
class Job:
    """One job of the scenario: its own input (its own sentences), failing at chunk `k`."""

    name: str
    src: Path
    chunks: list[Chunk]
    k: int  # index of the chunk the API refuses: chunks[:k] are stored when the run stops

    @property
    def texts(self) -> set[str]:
        return {c.text for c in self.chunks}

    def sent(self, fake_api: FakeAnthropic, since: int) -> list[str]:
        """Chunks of this job requested after request number `since`, in order."""
        return [t for t in fake_api.transcripts()[since:] if t in self.texts]


def make_job(cli: Cli, fake_api: FakeAnthropic, name: str, base: int) -> Job:
    src = write_transcript(cli.workdir / f"{name}.txt", 60, start=base)
    chunks = chunks_of(src)
    marker = f"Sentence number {base + 40} "
    k = index_of(chunks, marker)
    assert 2 < k < len(chunks) - 1
    fake_api.fail_when(marker, Fault(status=401, message="invalid x-api-key"))
    return Job(name, src, chunks, k)


def result_file(cli: Cli, job: str, chunk: int) -> Path:
    return cli.state_dir / job / "chunks" / "0" / f"{chunk}.json"


def spoil_result(path: Path) -> None:
    """Change a stored chunk's text but not its checksum, as bit rot would."""
    fields = json.loads(path.read_bytes())
    fields["text"] = fields["text"].replace("[clean]", "[dirty]")
    path.write_text(json.dumps(fields), encoding="utf-8")


def test_repair_recovers_every_stored_chunk_whatever_happened_to_the_checkpoint(
    cli: Cli, fake_api: FakeAnthropic, forked: Runner
) -> None:
    def run(*args: str) -> Result:
        return forked(cli, *args)

    jobs = {
        name: make_job(cli, fake_api, name, 1000 * n)
        for n, name in enumerate(("deleted", "truncated", "garbage", "rotten", "intact"), 1)
    }
    runs = [run(*run_args(j.src, "--name", j.name)) for j in jobs.values()]
    for job, result in zip(jobs.values(), runs, strict=True):
        assert result.returncode == 1, result.stderr
        assert job.sent(fake_api, 0) == [c.text for c in job.chunks[: job.k + 1]]
        assert (cli.state_dir / job.name / "job.json").is_file()

    # What can happen to a checkpoint; "rotten" also has a stored result gone bad, and "intact"
    # only that: its checkpoint still counts the bad chunk as done.
    damaged: dict[str, bytes] = {}
    for name in ("truncated", "garbage"):
        path = checkpoint_file(cli, name)
        raw = path.read_bytes()
        damaged[name] = raw[: len(raw) // 2] if name == "truncated" else b"\x00garbage{\xff"
        path.write_bytes(damaged[name])
    checkpoint_file(cli, "deleted").unlink()
    checkpoint_file(cli, "rotten").unlink()
    spoil_result(result_file(cli, "rotten", 1))
    spoil_result(result_file(cli, "intact", 2))

    sent = len(fake_api.requests)
    rerun = run(*run_args(jobs["deleted"].src, "--name", "deleted"))
    repairs = [run("repair", name, "--json") for name in ("truncated", "garbage", "rotten")]
    stuck = run("resume", "intact")
    # Running the job again would throw its stored chunks away: refused, pointing at repair.
    assert rerun.returncode == 1, rerun
    assert_one_line_error(rerun, "stored chunk results", "transcript-cli repair deleted")
    # Resuming "intact" sends what was left, then cannot assemble the output from the bad result.
    intact = jobs["intact"]
    assert stuck.returncode == 1, stuck
    assert "Traceback" not in stuck.stderr
    [error] = [line for line in stuck.stderr.splitlines() if line.startswith("error:")]
    assert str(result_file(cli, "intact", 2).resolve()) in error
    assert "transcript-cli repair intact" in error, error
    assert intact.sent(fake_api, sent) == [c.text for c in intact.chunks[intact.k :]]
    assert not (cli.workdir / "cleaned" / "intact.md").exists()

    more = [run("repair", name, "--json") for name in ("deleted", "intact")]
    for result in [*repairs, *more]:
        assert result.returncode == 0, result.stderr
    reports = {r["job_id"]: r for r in (json.loads(x.stdout) for x in [*repairs, *more])}
    assert set(reports) == set(jobs)
    expect = {  # job: (previous checkpoint, chunks recovered, stored results rejected, lost)
        "deleted": ("missing", jobs["deleted"].k, 0, 0),
        "truncated": ("damaged", jobs["truncated"].k, 0, 0),
        "garbage": ("damaged", jobs["garbage"].k, 0, 0),
        "rotten": ("missing", jobs["rotten"].k - 1, 1, 0),
        "intact": ("intact", len(intact.chunks) - 1, 1, 1),
    }
    for name, (previous, recovered, rejected, lost) in expect.items():
        report = reports[name]
        got = (
            report["previous_checkpoint"],
            report["chunks_recovered"],
            report["results_rejected"],
            report["chunks_lost"],
        )
        assert got == (previous, recovered, rejected, lost), name
        assert report["chunks_total"] == len(jobs[name].chunks)
        assert report["job"]["state"] == "paused"
        assert report["job"]["resume_command"].startswith(f"transcript-cli resume {name} ")
        if name in damaged:
            # Moved aside, byte for byte, never deleted.
            copy = Path(report["damaged_copy"])
            assert copy.parent == checkpoint_file(cli, name).parent
            assert copy.name.startswith("checkpoint.json.damaged-")
            assert copy.read_bytes() == damaged[name]
        else:
            assert report["damaged_copy"] is None

    listing = run("status", "--json")
    views = {v["job_id"]: v for v in json.loads(listing.stdout)["jobs"]}
    for name, (_, recovered, _, _) in expect.items():
        assert (views[name]["state"], views[name]["chunks_done"]) == ("paused", recovered), name
    # Tokens of the recovered chunks are counted again; "intact" kept what it had spent.
    assert all(views[name]["input_tokens"] > 0 for name in jobs)

    sent = len(fake_api.requests)
    resumed = [run("resume", name) for name in jobs]
    for job, result in zip(jobs.values(), resumed, strict=True):
        assert result.returncode == 0, (job.name, result.stderr)
        output = cli.workdir / "cleaned" / f"{job.name}.md"
        assert output.read_text(encoding="utf-8") == expected_output(job.src), job.name
    # Not one stored chunk was paid for again: only the refused one and those never sent, plus
    # the one whose stored result had gone bad.
    for name in ("deleted", "truncated", "garbage"):
        job = jobs[name]
        assert job.sent(fake_api, sent) == [c.text for c in job.chunks[job.k :]], name
    rotten = jobs["rotten"]
    redone = [rotten.chunks[1], *rotten.chunks[rotten.k :]]
    assert rotten.sent(fake_api, sent) == [c.text for c in redone]
    assert intact.sent(fake_api, sent) == [intact.chunks[2].text]
    assert_private_and_keyless(cli, *runs, rerun, *repairs, stuck, *more, listing, *resumed)


def test_repair_human_output_and_a_completed_job(cli: Cli, forked: Runner) -> None:
    def run(*args: str) -> Result:
        return forked(cli, *args)

    src = write_transcript(cli.workdir / "talk.txt", 30)
    made = run(*offline_args(src, "talk"))
    assert made.returncode == 0, made.stderr
    manifest = cli.state_dir / "talk" / "job.json"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    kept = manifest.read_bytes()
    checkpoint_file(cli, "talk").write_bytes(b"{")

    status = run("status", "talk", "--json")
    message = json.loads(status.stdout)["last_error"]["message"]
    assert "not valid JSON" in message and "transcript-cli repair talk" in message

    repaired = run("repair", "talk")
    assert repaired.returncode == 0, repaired.stderr
    total = len(chunks_of(src))
    assert repaired.stdout.strip() == (
        f"Recovered {total}/{total} chunks of 1 file (1 written); the job is complete."
    )
    assert "checkpoint.json.damaged-" in repaired.stderr
    assert "Token and cost totals count only" in repaired.stderr  # its results are gone
    assert manifest.read_bytes() == kept  # the manifest is never rewritten
    view = json.loads(run("status", "talk", "--json").stdout)
    assert (view["state"], view["chunks_done"], view["files_done"]) == ("completed", total, 1)
    # Completed, so running it again does nothing.
    again = run(*offline_args(src, "talk"))
    assert again.returncode == 0 and "already completed" in again.stdout


def test_repair_is_refused_while_the_job_runs(cli: Cli, forked: Runner) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 20)
    assert forked(cli, *offline_args(src, "talk")).returncode == 0
    before = checkpoint_file(cli, "talk").read_bytes()
    with JobStore(cli.state_dir.resolve()).locked("talk"):  # as a running process holds it
        refused = forked(cli, "repair", "talk")
    assert refused.returncode == 1, refused
    assert_one_line_error(refused, "job 'talk' is being processed by another")
    assert refused.stdout == ""
    assert checkpoint_file(cli, "talk").read_bytes() == before


def test_repair_needs_a_manifest_or_a_readable_checkpoint(cli: Cli, forked: Runner) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 20)
    for name in ("legacy", "lost"):
        assert forked(cli, *offline_args(src, name)).returncode == 0
        (cli.state_dir / name / "job.json").unlink()  # as jobs made before manifests existed
    checkpoint_file(cli, "lost").write_bytes(b"garbage")

    lost, unknown, legacy = (
        forked(cli, *args)
        for args in (["repair", "lost"], ["repair", "nope"], ["repair", "legacy"])
    )
    assert lost.returncode == 1, lost
    assert_one_line_error(lost, "job.json", "no job manifest", "nothing to rebuild")
    assert checkpoint_file(cli, "lost").read_bytes() == b"garbage"  # left exactly as it was
    assert sorted(p.name for p in (cli.state_dir / "lost").iterdir()) == [
        "checkpoint.json",
        "job.lock",
        "replies",  # kept for `review` once the output was written
    ]
    assert unknown.returncode == 2, unknown
    assert_one_line_error(unknown, "no job named 'nope'")
    assert unknown.stdout == ""
    # An older job whose checkpoint is fine gets its manifest from it.
    assert legacy.returncode == 0, legacy.stderr
    assert "the job is complete" in legacy.stdout
    assert (cli.state_dir / "legacy" / "job.json").is_file()


# --- in-process: the judgement calls, with the offline provider ---

OFFLINE = Settings(
    provider="offline",
    model=default_model("offline"),
    prompt_name="clean",
    prompt_text="Clean part {{chunk_number}}.",
    language="English",
    title=None,
    chunk_chars=400,
    context_chars=100,
    max_tokens=1000,
)


def offline_spec(tmp_path: Path, out: str = "out") -> RunSpec:
    src = write_transcript(tmp_path / "talk.txt", 40)
    options = Options(concurrency=1, max_retries=0, timeout=10.0)
    return RunSpec([src], OFFLINE, options, tmp_path / out, name="talk")


def test_an_output_older_than_the_job_is_not_taken_as_written(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "state")
    spec = offline_spec(tmp_path)
    runner.start(store, spec, providers=open_provider, decide=lambda s: Existing.RESUME)
    job_dir = store.job_dir("talk")
    output = tmp_path / "out" / "talk.md"
    created = (job_dir / "job.json").stat().st_mtime_ns

    # A leftover of some earlier run: the job never wrote it.
    (job_dir / "checkpoint.json").unlink()
    os.utime(output, ns=(created - 10**9, created - 10**9))
    stale = repair(store, "talk")
    assert (stale.state.status, stale.state.chunks_done, stale.state.files_done) == ("paused", 0, 0)
    assert stale.totals_complete

    # Written after the job was created, with no results left: this job's finished output.
    (job_dir / "checkpoint.json").unlink()
    os.utime(output, ns=(created + 10**9, created + 10**9))
    written = repair(store, "talk")
    assert (written.state.status, written.state.files_done) == ("completed", 1)
    assert written.state.chunks_done == written.state.chunks_total
    assert not written.totals_complete


def test_a_changed_input_is_left_unchecked_and_its_results_adopted_once_restored(
    tmp_path: Path,
) -> None:
    store = JobStore(tmp_path / "state")
    spec = offline_spec(tmp_path)
    control = Control()

    def pause_after_two(event: Event) -> None:
        # Once the third chunk is sent, two are stored. (Not on the second ChunkFinished: quick
        # chunks share a checkpoint, and their progress is told with it, later.)
        if isinstance(event, ChunkStarted) and event.chunk_index == 2:
            control.pause.set()

    with pytest.raises(Paused):
        runner.start(
            store,
            spec,
            providers=open_provider,
            decide=lambda s: Existing.RESUME,
            control=control,
            on_event=pause_after_two,
        )
    job_dir = store.job_dir("talk")
    (job_dir / "checkpoint.json").unlink()
    with pytest.raises(CheckpointError) as caught:
        store.load("talk")
    assert "checkpoint missing" in caught.value.message
    assert Command("repair", "talk") in caught.value.hint  # the CLI spells it out
    assert store.ids() == ["talk"]  # still listed, as damaged

    src = Path(spec.inputs[0])
    original = src.read_bytes()
    src.write_bytes(original.replace(b"number 1 ", b"number one "))
    report = repair(store, "talk")
    assert report.unverified == (str(src.resolve()),)
    assert report.state.chunks_done == 0 and report.rejected == 0
    stored = len(list((job_dir / "chunks" / "0").iterdir()))  # kept for later
    assert stored >= 2

    src.write_bytes(original)
    finished: list[ChunkFinished] = []
    runner.resume(
        store,
        "talk",
        providers=open_provider,
        on_event=lambda e: finished.append(e) if isinstance(e, ChunkFinished) else None,
    )
    total = store.load("talk").chunks_total
    assert len(finished) == total - stored  # the stored chunks were adopted, not redone
    clean = offline_spec(tmp_path, out="clean")
    runner.start(
        JobStore(tmp_path / "other"),
        clean,
        providers=open_provider,
        decide=lambda s: Existing.RESUME,
    )
    assert (tmp_path / "out" / "talk.md").read_bytes() == (
        tmp_path / "clean" / "talk.md"
    ).read_bytes()


def test_run_rebuilds_a_completed_job_whose_checkpoint_was_deleted(
    cli: Cli, fake_api: FakeAnthropic, forked: Runner
) -> None:
    """Running it again must not pay for it again: the checkpoint is rebuilt as `repair` does."""
    src = write_transcript(cli.workdir / "talk.txt", 30)
    args = run_args(src, "--name", "talk")
    made = forked(cli, *args)
    assert made.returncode == 0, made.stderr
    output = cli.workdir / "cleaned" / "talk.md"
    written = output.read_bytes()
    sent = len(fake_api.requests)
    checkpoint_file(cli, "talk").unlink()

    again = forked(cli, *args)
    assert again.returncode == 0, again.stderr
    assert "already completed" in again.stdout
    total = len(chunks_of(src))
    assert (
        f"Job talk had lost its checkpoint; rebuilt it from the job's manifest and stored "
        f"results: {total}/{total} chunks recovered, none sent again"
    ) in again.stderr
    assert len(fake_api.requests) == sent
    assert output.read_bytes() == written
    view = json.loads(forked(cli, "status", "talk", "--json").stdout)
    assert (view["state"], view["chunks_done"], view["files_done"]) == ("completed", total, 1)


def test_run_starts_afresh_when_a_lost_checkpoint_had_nothing_paid_for(
    cli: Cli, fake_api: FakeAnthropic, forked: Runner
) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 30)
    fake_api.fail_when(lambda _: True, Fault(status=401), times=1)  # the first request fails
    args = run_args(src, "--name", "talk")
    assert forked(cli, *args).returncode == 1
    checkpoint_file(cli, "talk").unlink()
    again = forked(cli, *args)
    assert again.returncode == 0, again.stderr
    assert "rebuilt" not in again.stderr
    assert (cli.workdir / "cleaned" / "talk.md").read_text() == expected_output(src)
