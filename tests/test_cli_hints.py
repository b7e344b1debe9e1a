"""Command hints: one builder, shell-quoted, naming the state folder unless it is the default.

Unit tests of `cli/hints.py`, then the CLI's refusal hint pasted into another folder's shell.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import Cli, Runner, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from transcript_cli.cli import hints
from transcript_cli.errors import ChunksFailedError, Command


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRANSCRIPT_CLI_STATE_DIR", raising=False)
    return tmp_path


def test_default_state_dir_adds_nothing(in_folder: Path) -> None:
    default = in_folder / ".transcript-cli"
    assert hints.resume_command("talk", default) == "transcript-cli resume talk"
    assert hints.command("clear", "talk", state_dir=default) == "transcript-cli clear talk"


def test_other_state_dir_is_named_absolute_and_quoted(in_folder: Path) -> None:
    other = Path("my state")  # relative: pasted elsewhere it must still point here
    line = hints.command("resume", "talk", "--retry-failed", state_dir=other)
    assert shlex.split(line) == [
        "transcript-cli",
        "resume",
        "talk",
        "--retry-failed",
        "--state-dir",
        str(in_folder / "my state"),
    ]


def test_engine_hints_are_spelled_with_the_state_dir(in_folder: Path) -> None:
    error = ChunksFailedError(
        "2 chunk(s) failed",
        hint=(". Try them again: ", Command("resume", "talk", ("--retry-failed",)), "."),
    )
    other = in_folder / "x y"
    quoted = shlex.quote(str(other))
    assert hints.explain(error, other) == (
        f"2 chunk(s) failed. Try them again: transcript-cli resume talk --state-dir {quoted} "
        "--retry-failed."
    )
    default = hints.explain(error, in_folder / ".transcript-cli")
    assert default.endswith("again: transcript-cli resume talk --retry-failed.")


def test_refusal_hint_works_when_pasted_in_another_folder(
    cli: Cli, fake_api: FakeAnthropic, warm_runner: Runner, tmp_path: Path
) -> None:
    """The non-terminal "already exists" refusal names the state folder, so pasting it works."""
    del cli.env["TRANSCRIPT_CLI_STATE_DIR"]
    write_transcript(cli.workdir / "talk.txt", 30)
    fake_api.fail_when("Sentence number 20 ", Fault(status=401, message="invalid x-api-key"))
    args = ["run", "talk.txt", "--chunk-chars", "600", "-j", "1", "--name", "talk"]
    args += ["--state-dir", "my state"]
    failed = cli(*args)
    assert failed.returncode == 1, failed.stderr

    refused = cli(*args)
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: job 'talk' already exists and is not finished")
    found = re.search(r"Resume: (transcript-cli resume .*?)\); pass --resume", line)
    assert found, line
    argv = shlex.split(found[1])
    assert argv[:3] == ["transcript-cli", "resume", "talk"]
    assert argv[3:] == ["--state-dir", str(cli.workdir / "my state")]

    elsewhere = Cli(tmp_path / "elsewhere", fake_api.url, warm_runner)
    elsewhere.workdir.mkdir()
    del elsewhere.env["TRANSCRIPT_CLI_STATE_DIR"]
    resumed = elsewhere(*argv[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert (cli.workdir / "cleaned" / "talk.md").is_file()
