"""Outputs are never overwritten by surprise: a file this job did not write stops it first."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_run import expected_output

CHUNK = "500"
HAND_MADE = "# My notes\n\nEdited by hand.\n"


def _talk(cli: Cli) -> tuple[Path, Path]:
    src = write_transcript(cli.workdir / "talk.txt", 30)
    return src, cli.workdir / "cleaned" / "talk.md"


def _hand_made(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HAND_MADE, encoding="utf-8")


def test_an_output_from_elsewhere_is_refused_before_any_request(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src, out = _talk(cli)
    _hand_made(out)
    refused = cli("run", str(src), "--chunk-chars", CHUNK)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "cleaned/talk.md" in lines[0] and "--overwrite" in lines[0]
    assert fake_api.requests == []
    assert out.read_text(encoding="utf-8") == HAND_MADE
    assert not cli.state_dir.exists() or not any(cli.state_dir.iterdir())
    # Asked for, it is replaced.
    replaced = cli("run", str(src), "--chunk-chars", CHUNK, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_text(encoding="utf-8") == expected_output(src, int(CHUNK))


def test_a_file_where_the_output_folder_would_be_is_refused_before_any_request(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """Found only when the first output is written, it came after every chunk was paid."""
    src, _ = _talk(cli)
    notes = cli.workdir / "notes"
    notes.write_text(HAND_MADE, encoding="utf-8")  # `--out notes` meant a folder
    for out in ("notes", "notes/2026"):
        for extra in ((), ("--overwrite",)):
            refused = cli("run", str(src), "--chunk-chars", CHUNK, "--out", out, *extra)
            assert refused.returncode == 2, refused
            lines = refused.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), refused.stderr
            assert f"{notes}: is a file, not a folder" in lines[0] and "--out" in lines[0]
    assert fake_api.requests == []
    assert notes.read_text(encoding="utf-8") == HAND_MADE
    assert not cli.state_dir.exists() or not any(cli.state_dir.iterdir())


def test_another_jobs_output_is_refused(cli: Cli, fake_api: FakeAnthropic) -> None:
    src, _ = _talk(cli)
    assert cli("run", str(src), "--chunk-chars", CHUNK).returncode == 0
    sent = len(fake_api.requests)
    other = cli("run", str(src), "--chunk-chars", "700")  # other settings: another job
    assert other.returncode == 2
    assert "was not written by job talk-" in other.stderr
    assert len(fake_api.requests) == sent


def test_starting_over_replaces_the_jobs_own_output_unless_edited_since(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src, out = _talk(cli)
    args = ("run", str(src), "--chunk-chars", CHUNK)
    assert cli(*args).returncode == 0
    again = cli(*args, "--restart")
    assert again.returncode == 0, again.stderr  # its own, untouched: no surprise
    _hand_made(out)
    later = time.time() + 5
    os.utime(out, (later, later))  # edited after the job finished
    refused = cli(*args, "--restart")
    assert refused.returncode == 2
    assert "cleaned/talk.md" in refused.stderr and "--overwrite" in refused.stderr
    assert out.read_text(encoding="utf-8") == HAND_MADE


def test_an_output_that_appears_while_a_job_is_paused_stops_resume(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src, out = _talk(cli)
    fake_api.fail_when("Sentence number 20 says", Fault(status=401))
    assert cli("run", str(src), "--chunk-chars", CHUNK, "--name", "talk").returncode == 1
    fake_api.clear_faults()
    _hand_made(out)
    sent = len(fake_api.requests)
    refused = cli("resume", "talk")
    assert refused.returncode == 2
    assert "appeared after job talk started" in refused.stderr
    assert "--overwrite" in refused.stderr
    assert len(fake_api.requests) == sent
    assert out.read_text(encoding="utf-8") == HAND_MADE
    # The same through `run`, which offers to resume.
    assert (
        cli("run", str(src), "--chunk-chars", CHUNK, "--name", "talk", "--resume").returncode == 2
    )
    resumed = cli("resume", "talk", "--overwrite")
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_text(encoding="utf-8") == expected_output(src, int(CHUNK))


def test_overwrite_given_at_the_start_is_kept_for_resume(cli: Cli, fake_api: FakeAnthropic) -> None:
    src, out = _talk(cli)
    _hand_made(out)
    fake_api.fail_when("Sentence number 20 says", Fault(status=401))
    first = cli("run", str(src), "--chunk-chars", CHUNK, "--name", "talk", "--overwrite")
    assert first.returncode == 1
    fake_api.clear_faults()
    resumed = cli("resume", "talk")
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_text(encoding="utf-8") == expected_output(src, int(CHUNK))
