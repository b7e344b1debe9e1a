"""Questions asked only on a terminal: the real CLI with a pseudo-terminal as its stdin."""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from pathlib import Path
from types import TracebackType

from tests.conftest import Cli, Result, Running, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_run import expected_output

CHUNK = "500"


def on_terminal(cli: Cli, *args: str, answer: str) -> Result:
    """Run the CLI with a terminal as stdin and type `answer` at its question."""
    leader, follower = pty.openpty()
    try:
        with Running(cli.start(*args, stdin=Path(os.ttyname(follower)))) as run:
            os.write(leader, answer.encode() + b"\n")
            code = run.finish()
    finally:
        os.close(leader)
        os.close(follower)
    return Result(code, run.stdout, run.stderr)


class TerminalSession:
    """The CLI with stdin and stderr on a pseudo-terminal, as a person at a terminal runs it.

    stderr being a terminal is what makes the progress display draw, so this is where a question
    being drawn over would show.
    """

    def __init__(self, cli: Cli, *args: str) -> None:
        # The parent keeps the follower open too: otherwise, once the child exits, reading the
        # leader may fail (EIO) before the child's last words are read.
        self.leader, self.follower = pty.openpty()
        terminal = Path(os.ttyname(self.follower))
        self.run = Running(cli.on_a_terminal().start(*args, stdin=terminal, stderr=terminal))
        self.proc = self.run.proc
        self.output = ""

    def _read(self, timeout: float) -> str:
        ready, _, _ = select.select([self.leader], [], [], timeout)
        if not ready:
            return ""
        try:
            data = os.read(self.leader, 65536).decode(errors="replace")
        except OSError:  # the process ended and closed the terminal
            return ""
        self.output += data
        return data

    def read_until(self, text: str, timeout: float = 30.0) -> str:
        """Everything shown up to and including `text`."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not shown; got {self.output!r}")
            self._read(0.1)
        return self.output

    def quiet_for(self, seconds: float) -> str:
        """What is drawn in the next `seconds` (should be nothing while a question waits)."""
        seen = ""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            seen += self._read(left)
        return seen

    def type(self, answer: str) -> None:
        os.write(self.leader, answer.encode() + b"\n")

    def finish(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.3):
            pass
        if self.proc.poll() is None:  # the test fails: with what the terminal shows
            raise AssertionError(f"still running after {timeout}s; on screen:\n{self.output}")
        return self.run.finish(timeout=1)

    def __enter__(self) -> TerminalSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.run.__exit__(exc_type, exc, tb)  # kills it if the test failed midway
        os.close(self.leader)
        os.close(self.follower)


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


def test_no_leaves_the_job_as_it_is_and_names_restart(cli: Cli, fake_api: FakeAnthropic) -> None:
    sent = _unfinished_job(cli, fake_api)
    src = cli.workdir / "talk.txt"
    job_dir = next(p for p in cli.state_dir.iterdir() if p.is_dir())
    before = {p: p.read_bytes() for p in job_dir.rglob("*") if p.is_file()}
    result = on_terminal(cli, "run", str(src), "--chunk-chars", CHUNK, "-j", "1", answer="n")
    assert result.returncode == 0, result.stderr
    assert fake_api.transcripts() == sent  # nothing sent
    assert {p: p.read_bytes() for p in job_dir.rglob("*") if p.is_file()} == before
    assert "Left job" in result.stderr and "--restart" in result.stderr
    assert f"transcript-cli resume {job_dir.name}" in result.stderr
    assert "finished chunk(s) ($" in result.stderr
    assert result.stdout == ""  # the question and the hint go to stderr


def test_the_question_stays_on_screen_until_answered(cli: Cli, fake_api: FakeAnthropic) -> None:
    """stdin and stderr on a terminal: nothing is drawn (no progress bar) while it waits."""
    sent = _unfinished_job(cli, fake_api)
    src = cli.workdir / "talk.txt"
    with TerminalSession(cli, "run", str(src), "--chunk-chars", CHUNK, "-j", "1") as term:
        shown = term.read_until("Resume it? [Y/n]: ")
        assert "unfinished: 2/5 chunks done, $0.0" in shown  # what is at stake
        assert term.quiet_for(1.0) == ""  # no redraw, no erase (\x1b[2K) over the question
        term.type("y")
        code = term.finish()
    assert code == 0
    assert len(fake_api.transcripts()) > len(sent)


def test_ctrl_c_at_the_question_changes_nothing(cli: Cli, fake_api: FakeAnthropic) -> None:
    sent = _unfinished_job(cli, fake_api)
    src = cli.workdir / "talk.txt"
    job_dir = next(p for p in cli.state_dir.iterdir() if p.is_dir())
    before = (job_dir / "checkpoint.json").read_bytes()
    with TerminalSession(cli, "run", str(src), "--chunk-chars", CHUNK) as term:
        term.read_until("Resume it? [Y/n]: ")
        term.proc.send_signal(signal.SIGINT)
        code = term.finish()
    # It failed once in a loaded run of all CLI tests (not reproduced in 52 runs since): say how.
    assert (code, "nothing was changed" in term.output) == (130, True), term.output
    assert fake_api.transcripts() == sent
    assert (job_dir / "checkpoint.json").read_bytes() == before


def test_resume_asks_which_job(cli: Cli, fake_api: FakeAnthropic) -> None:
    _unfinished_job(cli, fake_api)
    other = write_transcript(cli.workdir / "other.txt", 40)
    fake_api.fail_when("Sentence number 30 says", Fault(status=401))
    assert cli("run", str(other), "--chunk-chars", CHUNK, "-j", "1").returncode == 1
    fake_api.clear_faults()
    with TerminalSession(cli, "resume", "-j", "1") as term:
        term.read_until("Which one? [1-2]: ")
        term.type("7")
        term.read_until("Please answer a number from 1 to 2.")
        term.type("2")
        code = term.finish()
    assert code == 0, term.output
    assert (cli.workdir / "cleaned" / "talk.md").is_file()
    assert not (cli.workdir / "cleaned" / "other.md").exists()


def test_clear_asks_on_a_terminal(cli: Cli, fake_api: FakeAnthropic) -> None:
    _unfinished_job(cli, fake_api)
    kept = on_terminal(cli, "clear", "--all", answer="n")
    assert kept.returncode == 1 and any(cli.state_dir.iterdir())
    gone = on_terminal(cli, "clear", "--all", answer="y")
    assert gone.returncode == 0, gone.stderr
    assert not any(p.is_dir() for p in cli.state_dir.iterdir())
