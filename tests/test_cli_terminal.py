"""Questions asked only on a terminal: the real CLI with a pseudo-terminal as its stdin."""

from __future__ import annotations

import os
import pty
import subprocess

from tests.conftest import Cli, Result, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_run import expected_output

CHUNK = "500"


def on_terminal(cli: Cli, *args: str, answer: str) -> Result:
    """Run the CLI with a terminal as stdin and type `answer` at its question."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            cli.command(*args),
            cwd=cli.workdir,
            env=cli.env,
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(leader, answer.encode() + b"\n")
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    return Result(proc.returncode, stdout, stderr)


def _unfinished_job(cli: Cli, fake_api: FakeAnthropic) -> list[str]:
    src = write_transcript(cli.workdir / "talk.txt", 40)
    fake_api.fail_when("Sentence number 20 says", Fault(status=401))
    first = cli("run", str(src), "--chunk-chars", CHUNK, "-j", "1")
    assert first.returncode == 1
    return fake_api.transcripts()


def test_run_asks_to_resume_an_unfinished_job_and_yes_resumes(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    sent = _unfinished_job(cli, fake_api)
    src = cli.workdir / "talk.txt"
    result = on_terminal(cli, "run", str(src), "--chunk-chars", CHUNK, "-j", "1", answer="y")
    assert result.returncode == 0, result.stderr
    assert "Resume it? [Y/n]" in result.stdout + result.stderr
    again = fake_api.transcripts()[len(sent) :]
    assert set(again).isdisjoint(sent[:-1])  # the failed chunk is redone, nothing before it
    out = (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")
    assert out == expected_output(src, int(CHUNK))


def test_no_restarts_the_job(cli: Cli, fake_api: FakeAnthropic) -> None:
    sent = _unfinished_job(cli, fake_api)
    src = cli.workdir / "talk.txt"
    result = on_terminal(cli, "run", str(src), "--chunk-chars", CHUNK, "-j", "1", answer="n")
    assert result.returncode == 0, result.stderr
    again = fake_api.transcripts()[len(sent) :]
    assert again[0] == sent[0]  # started over from the first chunk


def test_clear_asks_on_a_terminal(cli: Cli, fake_api: FakeAnthropic) -> None:
    _unfinished_job(cli, fake_api)
    kept = on_terminal(cli, "clear", "--all", answer="n")
    assert kept.returncode == 1 and any(cli.state_dir.iterdir())
    gone = on_terminal(cli, "clear", "--all", answer="y")
    assert gone.returncode == 0, gone.stderr
    assert not any(p.is_dir() for p in cli.state_dir.iterdir())
