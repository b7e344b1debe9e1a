"""Jobs end to end: `status`, `clear`, damaged state, changed inputs, coming back to a job,
secrets and permissions. Real CLI in a subprocess, real SDK, the fake Messages API.

Each fresh `run` with the anthropic provider spends one to two seconds importing the SDK, so
commands go through the warm fork runner (the `cli` fixture), independent commands are started
together (`cli_all`) and state that needs no API is made with the offline provider.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import FAKE_KEY, Cli, Result, Running, wait_for, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault, Recorded, reply_text
from transcript_cli.chunking import Chunk, split_chunks
from transcript_cli.formats import read_transcript

CHUNK_CHARS = 600
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def chunks_of(path: Path) -> list[Chunk]:
    return split_chunks(read_transcript(path).segments, CHUNK_CHARS, 300)


def index_of(chunks: list[Chunk], needle: str) -> int:
    return next(i for i, c in enumerate(chunks) if needle in c.text)


def expected_output(path: Path) -> str:
    """The fake's replies assembled in chunk order, as a complete run writes them."""
    return "\n\n".join(reply_text(c.text).strip() for c in chunks_of(path)) + "\n"


def run_args(src: Path, *extra: str) -> list[str]:
    # One chunk at a time, so which chunks were sent before a failure is exact.
    return ["run", str(src), "--chunk-chars", str(CHUNK_CHARS), "--concurrency", "1", *extra]


def offline_args(src: Path, name: str) -> list[str]:
    # --timeout given: without it `run` imports the SDK just for its default (a second or two).
    # --overwrite: these jobs of one input under several names all write cleaned/<stem>.md.
    args = [*run_args(src, "--name", name), "--provider", "offline", "--timeout", "60"]
    return [*args, "--overwrite"]


def cli_all(cli: Cli, *commands: Sequence[str]) -> list[Result]:
    """Run independent commands at once (each its own process) and collect their results, in order.

    Through the warm runner, which takes starts from any thread: no SDK import per process.
    """
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda command: cli(*command), commands))


def checkpoint_file(cli: Cli, job: str) -> Path:
    return cli.state_dir.resolve() / job / "checkpoint.json"


def now_stamp() -> str:
    return datetime.now(UTC).strftime(STAMP)


def fake_usage(request: Recorded) -> tuple[int, int]:
    """The usage the fake reports for a normal reply (mirrors FakeAnthropic._answer)."""
    system = request.body.get("system", "")
    prompt_chars = len(system if isinstance(system, str) else json.dumps(system))
    text = reply_text(request.transcript)
    return max(1, (prompt_chars + len(request.transcript)) // 4), max(1, len(text) // 4)


def assert_one_line_error(result: Result, *needles: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_private_and_keyless(cli: Cli, *results: Result) -> None:
    """State is 0700/0600, and the API key is in no file under the work folder nor any output."""
    assert cli.state_dir.is_dir()
    folders = [cli.state_dir]
    for root, dirs, files in os.walk(cli.state_dir):
        folders.extend(Path(root) / d for d in dirs)
        for name in files:
            mode = stat.S_IMODE((Path(root) / name).stat().st_mode)
            assert mode == 0o600, f"{Path(root) / name} has mode {oct(mode)}"
    for folder in folders:
        mode = stat.S_IMODE(folder.stat().st_mode)
        assert mode == 0o700, f"{folder} has mode {oct(mode)}"
    checked = 0
    for root, _, files in os.walk(cli.workdir):  # state, outputs and inputs alike
        for name in files:
            data = (Path(root) / name).read_bytes()
            assert FAKE_KEY.encode() not in data, Path(root) / name
            assert b"DO-NOT-LEAK" not in data, Path(root) / name
            checked += 1
    assert checked
    for result in results:
        assert "DO-NOT-LEAK" not in result.stdout + result.stderr, result


# --- status (and secrets, on the way) ---


def test_status_of_a_failed_then_completed_job(cli: Cli, fake_api: FakeAnthropic) -> None:
    # A state folder with a space in it: the printed resume command must survive a shell.
    cli.state_dir = cli.workdir / "job state"
    cli.env["TRANSCRIPT_CLI_STATE_DIR"] = str(cli.state_dir)
    src = write_transcript(cli.workdir / "talk.txt", 60)
    chunks = chunks_of(src)
    total = len(chunks)
    k = index_of(chunks, "Sentence number 30 ")
    late = index_of(chunks, "Sentence number 50 ")
    assert 0 < k < late < total
    # An API (or a proxy) that echoes the key back in its errors must not get it onto disk.
    fake_api.fail_when(
        "Sentence number 30 ", Fault(status=401, message=f"invalid x-api-key {FAKE_KEY}")
    )
    # A transient 529 on the resume, retried once: it shows up in `retries`.
    fake_api.fail_when(
        "Sentence number 50 ",
        Fault(status=529, message=f"overloaded {FAKE_KEY}", headers={"retry-after-ms": "10"}),
    )

    before = now_stamp()
    failed = cli(*run_args(src, "--name", "talk"))
    assert failed.returncode == 1, failed.stderr
    assert f"talk.txt chunk {k + 1}/{total}" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert fake_api.transcripts() == [c.text for c in chunks[: k + 1]]

    shown, human, table = cli_all(cli, ["status", "talk", "--json"], ["status", "talk"], ["status"])
    view = json.loads(shown.stdout)
    assert view["view_version"] == 1
    assert (view["job_id"], view["state"]) == ("talk", "failed")
    assert (view["provider"], view["model"], view["prompt"]) == (
        "anthropic",
        "claude-sonnet-5-5",
        "clean",
    )
    assert (view["chunks_done"], view["chunks_total"]) == (k, total)
    assert (view["files_done"], view["files_total"]) == (0, 1)
    assert view["files"] == [
        {
            "path": str(src.resolve()),
            "output": str((cli.workdir / "cleaned" / "talk.md").resolve()),
            "chunks_done": k,
            "chunks_total": total,
            "written": False,
            "chunks_failed": 0,
            "chunks": [],
            "encoding": "utf-8",
            "captions": None,  # plain text has no cues
        }
    ]
    assert view["input_tokens"] > 0 and view["output_tokens"] > 0 and view["cost_usd"] > 0
    assert before <= view["created_at"] <= view["last_activity"] <= now_stamp()
    assert view["completed_at"] is None
    assert (view["resume_count"], view["retries"]) == (0, 0)
    error = view["last_error"]
    assert "invalid x-api-key" in error["message"]
    assert (error["kind"], error["file"], error["chunk"]) == ("permanent", "talk.txt", k + 1)
    assert view["created_at"] <= error["at"] <= view["last_activity"]
    command = view["resume_command"]
    argv = shlex.split(command)
    assert argv == ["transcript-cli", "resume", "talk", "--state-dir", str(cli.state_dir)]

    assert "failed" in human.stdout and f"{k}/{total} done" in human.stdout
    assert "invalid x-api-key" in human.stdout
    assert command in human.stdout
    assert "talk" in table.stdout and "failed" in table.stdout and f"{k}/{total}" in table.stdout
    assert_private_and_keyless(cli, failed, human, table)
    assert (cli.state_dir / "talk" / "chunks" / "0").is_dir()  # the walk saw stored chunks

    # The printed command alone, with nothing in the environment, continues the job.
    del cli.env["TRANSCRIPT_CLI_STATE_DIR"]
    sent = len(fake_api.requests)
    resumed = cli(*argv[1:])
    assert resumed.returncode == 0, resumed.stderr
    again = [c.text for c in chunks[k:]]
    again.insert(late - k, chunks[late].text)  # the 529, then its retry
    assert fake_api.transcripts()[sent:] == again
    output = cli.workdir / "cleaned" / "talk.md"
    assert output.read_text(encoding="utf-8") == expected_output(src)

    cli.env["TRANSCRIPT_CLI_STATE_DIR"] = str(cli.state_dir)
    sent = len(fake_api.requests)
    listing, rerun = cli_all(cli, ["status", "--json"], run_args(src, "--name", "talk"))
    # Running a completed job again does nothing and says so.
    assert rerun.returncode == 0, rerun.stderr
    assert "already completed" in rerun.stdout
    assert len(fake_api.requests) == sent

    whole = json.loads(listing.stdout)
    assert Path(whole["state_dir"]) == cli.state_dir.resolve()
    [done] = whole["jobs"]
    assert (done["job_id"], done["state"]) == ("talk", "completed")
    assert done["chunks_done"] == done["chunks_total"] == total
    assert (done["files_done"], done["files_total"]) == (1, 1)
    retried = [
        {
            "chunk": late + 1,
            "retries": 1,
            "warning": None,
            "error": None,
            # What the retry was for, with the key the fake echoed redacted.
            "last_retry_error": "API error 529: overloaded_error: overloaded [redacted]",
            "coverage": None,
            "invention": None,
        }
    ]
    assert done["files"] == [
        {**view["files"][0], "chunks_done": total, "written": True, "chunks": retried}
    ]
    # Tokens and cost add up over the replies that succeeded (not the 401 or the 529).
    messages = [r for r in fake_api.requests if r.path.endswith("/messages")]
    failures = {
        fake_api.transcripts().index(chunks[k].text),
        fake_api.transcripts().index(chunks[late].text),
    }
    usage = [fake_usage(r) for n, r in enumerate(messages) if n not in failures]
    assert len(usage) == total
    tokens_in, tokens_out = sum(u[0] for u in usage), sum(u[1] for u in usage)
    assert (done["input_tokens"], done["output_tokens"]) == (tokens_in, tokens_out)
    # claude-sonnet-5-5 lists at $2 / $10 per million tokens.
    assert abs(done["cost_usd"] - (tokens_in * 2 + tokens_out * 10) / 1e6) < 2e-6
    assert done["created_at"] == view["created_at"]
    assert view["last_activity"] <= done["completed_at"] <= done["last_activity"] <= now_stamp()
    for stamp in (done["created_at"], done["last_activity"], done["completed_at"]):
        datetime.strptime(stamp, STAMP)  # ISO 8601 UTC, as documented
    assert 0 < done["active_seconds"] < 120
    assert (done["resume_count"], done["retries"]) == (1, 1)
    assert done["last_error"] is None and done["resume_command"] is None
    assert_private_and_keyless(cli, failed, resumed, listing, rerun)


def test_status_of_an_unknown_job(cli: Cli) -> None:
    human, machine = cli_all(cli, ["status", "nope"], ["status", "nope", "--json"])
    for result in (human, machine):
        assert result.returncode == 2, result
        assert_one_line_error(result, "no job named 'nope'")
    assert human.stdout == ""
    # Scripts asking for JSON get a document for failures too.
    document = json.loads(machine.stdout)
    assert document["exit_code"] == 2 and document["error_kind"] == "usage"
    assert document["error"] == human.stderr.strip().removeprefix("error: ")


# --- clear ---


def test_clear_asks_for_yes_and_removes_what_was_chosen(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 10)
    made = cli(*offline_args(src, "done"))
    assert made.returncode == 0, made.stderr
    # Two damaged jobs (so not completed): copies of the folder with the checkpoint broken.
    for name, raw in (("broken", b"{"), ("empty", b"")):
        shutil.copytree(cli.state_dir / "done", cli.state_dir / name)
        checkpoint_file(cli, name).write_bytes(raw)
    jobs = {"done", "broken", "empty"}

    def present() -> set[str]:
        return {p.name for p in cli.state_dir.iterdir() if p.is_dir()}  # not the gate file

    no_yes, unknown = cli_all(cli, ["clear", "done"], ["clear", "nope", "--yes"])
    assert no_yes.returncode == 2  # stdin is not a terminal: no way to ask
    assert_one_line_error(no_yes, "--yes")
    assert unknown.returncode == 2
    assert_one_line_error(unknown, "no job named 'nope'")
    assert present() == jobs

    completed = cli("clear", "--completed", "--yes")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["removed", "done"]
    assert present() == {"broken", "empty"}
    assert (cli.workdir / "cleaned" / "talk.md").is_file()  # outputs are never removed

    # A damaged job can be cleared by name, as its error message advises.
    one = cli("clear", "broken", "--yes", "--json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == {
        "removed": ["broken"],
        "refused": [],
        "exit_code": 0,
        "error": None,
    }
    assert present() == {"empty"}

    everything = cli("clear", "--all", "--yes")
    assert everything.returncode == 0, everything.stderr
    assert "removed empty" in everything.stdout
    assert present() == set()


def test_clear_refuses_a_running_job(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.latency = 1.0  # about 20 s for the whole job: it is killed long before
    src = write_transcript(cli.workdir / "slow.txt", 200)
    with Running(cli.start(*run_args(src, "--name", "slow"))) as run:
        proc = run.proc
        wait_for(lambda: len(fake_api.requests) >= 1 or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, run.stderr
        refused, listing = cli_all(cli, ["clear", "slow", "--yes"], ["status", "slow", "--json"])
        assert refused.returncode == 1, refused
        assert_one_line_error(refused, "job 'slow' is running")
        assert "removed" not in refused.stdout
        assert checkpoint_file(cli, "slow").is_file()
        view = json.loads(listing.stdout)
        assert view["state"] == "running" and view["resume_command"] is None
        assert proc.poll() is None  # the refusal did not disturb the run
        proc.kill()
        assert run.finish(timeout=30) == -signal.SIGKILL
    # Killed: the OS dropped its lock, so the job shows as interrupted and can be cleared.
    shown, kept = cli_all(cli, ["status", "slow", "--json"], ["clear", "--completed", "--yes"])
    assert json.loads(shown.stdout)["state"] == "interrupted"
    assert kept.returncode == 0 and "Nothing to clear" in kept.stdout
    cleared = cli("clear", "slow", "--yes")
    assert cleared.returncode == 0, cleared.stderr
    assert not (cli.state_dir / "slow").exists()


# --- damaged checkpoint ---


def test_damaged_checkpoint_is_reported_and_left_alone(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 20)
    made = cli(*offline_args(src, "talk"))
    assert made.returncode == 0, made.stderr
    good = checkpoint_file(cli, "talk").read_bytes()
    newer = json.loads(good)
    newer["schema_version"] = 99
    damage = {
        "truncated": (good[: len(good) // 2], "not valid JSON"),
        "garbage": (b"\x00\x17 this is not json \xff", "not valid JSON"),
        "newer": (json.dumps(newer).encode(), "upgrade transcript-cli"),
        # A whole job folder copied under another name (a backup, say): intact but not its own.
        "copy": (good, "belongs to job 'talk', not 'copy'"),
    }
    before: dict[str, tuple[int, int, list[str]]] = {}
    for name, (raw, _) in damage.items():
        shutil.copytree(cli.state_dir / "talk", cli.state_dir / name)
        path = checkpoint_file(cli, name)
        path.write_bytes(raw)
        info = path.stat()
        before[name] = (
            info.st_ino,
            info.st_mtime_ns,
            sorted(p.name for p in path.parent.iterdir()),
        )

    results = cli_all(cli, *(["resume", name] for name in damage))
    for name, result in zip(damage, results, strict=True):
        path = checkpoint_file(cli, name)
        raw, reason = damage[name]
        assert result.returncode == 1, (name, result)
        assert_one_line_error(result, str(path), reason)
        assert result.stdout == ""
        # Not deleted, not replaced, not rewritten, nothing added beside it.
        info = path.stat()
        assert path.read_bytes() == raw, name
        beside = sorted(p.name for p in path.parent.iterdir())
        assert (info.st_ino, info.st_mtime_ns, beside) == before[name], name
    assert checkpoint_file(cli, "talk").read_bytes() == good  # the copy's owner is untouched

    listing, human = cli_all(cli, ["status", "--json"], ["status", "newer"])
    views = {v["job_id"]: v for v in json.loads(listing.stdout)["jobs"]}
    assert set(views) == {"talk", *damage}
    assert views.pop("talk")["state"] == "completed"
    for name, view in views.items():
        assert view["state"] == "damaged", name
        message = view["last_error"]["message"]
        assert str(checkpoint_file(cli, name)) in message and damage[name][1] in message
        assert view["resume_command"] is None
    assert human.returncode == 0, human.stderr
    assert "damaged" in human.stdout and "upgrade transcript-cli" in human.stdout


# --- coming back to an unfinished job ---


def test_coming_back_to_an_unfinished_job(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 40)
    original = src.read_bytes()
    chunks = chunks_of(src)
    k = index_of(chunks, "Sentence number 25 ")
    fake_api.fail_when("Sentence number 25 ", Fault(status=401))
    assert cli(*run_args(src)).returncode == 1  # failed: the job stays, unfinished
    [job_id] = [p.name for p in cli.state_dir.iterdir() if p.is_dir()]
    assert job_id.startswith("talk-")  # derived, so the same command finds the same job
    path = checkpoint_file(cli, job_id)
    kept = path.read_bytes()
    sent = len(fake_api.requests)

    # The input changed meanwhile: resume refuses and names it; `run` without a terminal to ask
    # on refuses with a hint. Neither touches the state or sends anything.
    src.write_bytes(original.replace(b"Sentence number 3 ", b"Sentence number three "))
    changed, plain = cli_all(cli, ["resume", job_id], run_args(src))
    assert changed.returncode == 1, changed
    assert_one_line_error(changed, str(src.resolve()), "input changed since the job started")
    assert plain.returncode == 2, plain
    assert_one_line_error(plain, job_id, "--resume", "--restart")
    assert path.read_bytes() == kept and len(fake_api.requests) == sent

    src.write_bytes(original)
    resumed = cli(*run_args(src, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert fake_api.transcripts()[sent:] == [c.text for c in chunks[k:]]  # nothing redone
    output = cli.workdir / "cleaned" / "talk.md"
    assert output.read_text(encoding="utf-8") == expected_output(src)

    sent = len(fake_api.requests)
    output.unlink()
    restarted = cli(*run_args(src, "--restart"))
    assert restarted.returncode == 0, restarted.stderr
    assert fake_api.transcripts()[sent:] == [c.text for c in chunks]  # every chunk again
    assert output.read_text(encoding="utf-8") == expected_output(src)
    state = json.loads(path.read_bytes())
    # A fresh job: the resumed one it replaced had been resumed once.
    assert (state["status"], state["resume_count"], state["retry_count"]) == ("completed", 0, 0)


# --- permissions ---


def test_a_job_found_again_must_read_and_write_what_the_run_names(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """The id hashes inputs and settings, not --out, and --name can name any job: a run that
    finds a job reading other inputs or writing other outputs refuses, rather than saying a
    job is done whose outputs are elsewhere, or finishing one into a folder it did not name."""
    src = write_transcript(cli.workdir / "talk.txt", 20)
    other = write_transcript(cli.workdir / "other.txt", 20, start=100)
    done = cli(*run_args(src, "--out", "a"), "--name", "talk")
    assert done.returncode == 0, done.stderr
    sent = len(fake_api.requests)

    elsewhere, renamed = cli_all(
        cli, run_args(src, "--out", "b", "--name", "talk"), run_args(other, "--name", "talk")
    )
    assert elsewhere.returncode == 2, elsewhere
    was, asked = cli.workdir / "a" / "talk.md", cli.workdir / "b" / "talk.md"
    assert_one_line_error(elsewhere, "'talk'", str(was.resolve()), str(asked.resolve()))
    assert "--restart" in elsewhere.stderr and "resume" not in elsewhere.stderr
    assert renamed.returncode == 2, renamed
    assert_one_line_error(renamed, "'talk'", "other inputs", "--restart")
    assert not asked.exists() and not (cli.workdir / "cleaned" / "other.md").exists()
    assert len(fake_api.requests) == sent

    # An unfinished job is not finished into another folder: its outputs go where it said.
    fake_api.fail_when("Sentence number 110 ", Fault(status=401))
    assert cli(*run_args(other, "--out", "c")).returncode == 1
    fake_api.clear_faults()
    sent = len(fake_api.requests)
    moved = cli(*run_args(other, "--out", "d", "--resume"))
    assert moved.returncode == 2, moved
    assert_one_line_error(moved, "resume other-", "--restart")
    assert len(fake_api.requests) == sent and not (cli.workdir / "d").exists()
    again = cli(*run_args(other, "--out", "c", "--resume"))
    assert again.returncode == 0, again.stderr
    assert (cli.workdir / "c" / "other.md").read_text(encoding="utf-8") == expected_output(other)


def test_a_completed_job_whose_input_changed_is_not_reported_done(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """A typo fixed in the transcript, the same command again: not "outputs are in place"."""
    src = write_transcript(cli.workdir / "talk.txt", 30)
    assert cli(*run_args(src)).returncode == 0
    output = cli.workdir / "cleaned" / "talk.md"
    old = output.read_bytes()
    sent = len(fake_api.requests)
    src.write_text(src.read_text(encoding="utf-8").replace("number 3 ", "number three "), "utf-8")
    again = cli(*run_args(src))
    assert again.returncode == 2, again
    assert_one_line_error(again, str(src.resolve()), "changed since", "--restart")
    assert len(fake_api.requests) == sent and output.read_bytes() == old
    redone = cli(*run_args(src, "--restart"))
    assert redone.returncode == 0, redone.stderr
    assert output.read_text(encoding="utf-8") == expected_output(src)


def test_resume_of_a_completed_job_names_a_way_to_run_it_again_that_exists(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """`resume` has no --restart: its "already completed" line points at `run ... --restart`."""
    src = write_transcript(cli.workdir / "talk.txt", 10)
    assert cli(*run_args(src, "--name", "talk")).returncode == 0
    sent = len(fake_api.requests)
    again = cli("resume", "talk")
    assert again.returncode == 0, again.stderr
    assert "Job talk already completed" in again.stdout
    assert "the `transcript-cli run` command that started it, with --restart" in again.stdout
    assert len(fake_api.requests) == sent


def test_state_dir_writable_by_others_is_refused(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 20)
    made = cli(*offline_args(src, "old"))
    assert made.returncode == 0, made.stderr
    kept = checkpoint_file(cli, "old").read_bytes()
    where = str(cli.state_dir.resolve())

    cli.state_dir.chmod(0o777)
    results = cli_all(cli, offline_args(src, "new"), ["resume", "old"], ["clear", "old", "--yes"])
    cli.state_dir.chmod(0o775)  # writable by the group is no better
    results.append(cli("resume", "old"))
    for result in results:
        assert result.returncode == 1, result
        assert_one_line_error(result, where, "writable by other users", "chmod go-w")
    assert sorted(p.name for p in cli.state_dir.iterdir() if p.is_dir()) == ["old"]
    assert checkpoint_file(cli, "old").read_bytes() == kept
    assert not (cli.workdir / "cleaned" / "new.md").exists()

    # With the sticky bit (like /tmp) others cannot replace our files: allowed.
    cli.state_dir.chmod(0o1777)
    cleared = cli("clear", "old", "--yes")
    assert cleared.returncode == 0, cleared.stderr


def test_status_in_a_pipe_prints_full_job_ids(cli: Cli) -> None:
    """Not a terminal, 40 columns: the listing still holds every id whole, so it can be pasted."""
    src = write_transcript(cli.workdir / "talk.txt", 10)
    long_name = "captionfixer-lecture-series-2024-episode-017-" + "x" * 30
    assert cli(*offline_args(src, long_name)).returncode == 0
    listing = cli("status", env={"COLUMNS": "40"})
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()
    assert header.split()[:2] == ["job", "state"]
    assert row.split()[:2] == [long_name, "completed"]
