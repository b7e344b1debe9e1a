"""`run -` and `--out -` through real shell pipelines: stdin in, cleaned text out, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import Cli, Result, Running, wait_for, write_transcript
from tests.fake_anthropic import FakeAnthropic
from tests.test_cli_run import expected_output
from tests.test_cli_signals import CHUNK_CHARS, chunk_texts, hold_reply
from tests.test_cli_terminal import on_terminal

# The CLI as a shell line names it: Cli.shell_env puts a warm-forking shim of that name first
# on PATH (tests/cli_shim.py), so each pipeline runs the real CLI without two seconds of start-up.
CLI = "transcript-cli"
FLAGS = f"--chunk-chars {CHUNK_CHARS} -j 1"


def shell(cli: Cli, line: str, timeout: float = 60) -> Result:
    """Run a shell command line (a pipeline) in the CLI's folder and environment."""
    done = subprocess.run(
        ["sh", "-c", line],
        cwd=cli.workdir,
        env=cli.shell_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def job_of(stderr: str) -> str:
    found = re.search(r"job (\S+):", stderr, re.IGNORECASE)
    assert found, stderr
    return found.group(1)


def test_pipe_in_and_out(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 40)
    result = shell(cli, f"cat talk.txt | {CLI} run - --out - {FLAGS} > talk.md")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the cleaned text went to talk.md, nothing else did
    expected = expected_output(src, CHUNK_CHARS)
    assert (cli.workdir / "talk.md").read_text(encoding="utf-8") == expected
    assert "Done: 1 file(s)" in result.stderr
    assert not (cli.workdir / "cleaned").exists() and not (cli.workdir / "-").exists()
    job = job_of(result.stderr)
    assert job.startswith("stdin-")
    kept = cli.state_dir / job / "input" / "stdin.txt"
    assert kept.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    sent = len(fake_api.requests)

    # The same pipe again is the same job: its output again, nothing paid twice.
    again = shell(cli, f"cat talk.txt | {CLI} run - --out - {FLAGS}")
    assert again.returncode == 0, again.stderr
    assert again.stdout == expected
    assert "already completed" in again.stderr
    assert len(fake_api.requests) == sent


def test_stdin_name_sets_type_and_output_and_sniffing_finds_subtitles(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    srt = "".join(
        f"{n}\n00:00:{n:02d},000 --> 00:00:{n + 1:02d},000\nLine {n} of the captions.\n\n"
        for n in range(1, 30)
    )
    (cli.workdir / "caps.srt").write_text(srt, encoding="utf-8")
    # Two independent jobs (different names), started together.
    with ThreadPoolExecutor(2) as pool:
        named_run = pool.submit(
            shell, cli, f"cat caps.srt | {CLI} run - --stdin-name keynote --out notes"
        )
        sniffed_run = pool.submit(shell, cli, f"cat caps.srt | {CLI} run - --out -")
        named, sniffed = named_run.result(), sniffed_run.result()
    assert named.returncode == 0, named.stderr
    expected = expected_output(cli.workdir / "caps.srt", 6000)
    assert (cli.workdir / "notes" / "keynote.md").read_text(encoding="utf-8") == expected
    assert job_of(named.stderr).startswith("keynote-")
    assert "00:00" not in "".join(fake_api.transcripts())  # parsed as SRT, not as text

    assert sniffed.returncode == 0, sniffed.stderr
    assert sniffed.stdout == expected
    assert (cli.state_dir / job_of(sniffed.stderr) / "input" / "stdin.srt").is_file()


def test_a_piped_utf16_subtitle_file_is_read_as_subtitles(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """Windows subtitle editors save UTF-16 with a byte-order mark; piped, it is still an SRT."""
    srt = "".join(
        f"{n}\r\n00:00:{n:02d},000 --> 00:00:{n + 1:02d},000\r\nLine {n} of the café.\r\n\r\n"
        for n in range(1, 20)
    )
    (cli.workdir / "caps.srt").write_bytes(srt.encode("utf-16"))
    result = shell(cli, f"cat caps.srt | {CLI} run - --out -")
    assert result.returncode == 0, result.stderr
    assert "00:00" not in "".join(fake_api.transcripts())  # parsed as SRT, not as text
    assert result.stdout == expected_output(cli.workdir / "caps.srt", 6000)
    assert (cli.state_dir / job_of(result.stderr) / "input" / "stdin.srt").is_file()


def test_out_dash_with_a_file_input(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "a.txt", 20)
    result = cli("run", str(src), "--out", "-", "--chunk-chars", str(CHUNK_CHARS))
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_output(src, CHUNK_CHARS)
    assert "Done:" in result.stderr
    # A file job with the same settings is another job, with its own outputs.
    plain = cli("run", str(src), "--chunk-chars", str(CHUNK_CHARS))
    assert plain.returncode == 0, plain.stderr
    assert (cli.workdir / "cleaned" / "a.md").is_file()


def test_ctrl_c_in_a_pipeline_then_resume_after_the_pipe_is_gone(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 100)
    chunks = chunk_texts(src)
    fake_api.latency = 0.05
    release = hold_reply(fake_api, chunks[3])
    # Like an interactive shell, this one survives the Ctrl-C and reports how the job ended.
    line = f"trap : INT; cat talk.txt | {CLI} run - --out - {FLAGS} > talk.md; echo $? > rc"
    proc = subprocess.Popen(
        ["sh", "-c", line],
        cwd=cli.workdir,
        env=cli.shell_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job would be
    )
    try:
        with Running(proc) as run:
            wait_for(lambda: chunks[3] in fake_api.transcripts())
            # What Ctrl-C does: the whole pipeline (the shim passes it on to the CLI).
            os.killpg(proc.pid, signal.SIGINT)
            wait_for(lambda: "Pausing" in run.stderr)
            release.set()
            assert run.finish() == 0, run.stderr
    finally:
        release.set()
    assert (cli.workdir / "rc").read_text() == "130\n", run.stderr
    assert "Traceback" not in run.stderr
    assert (cli.workdir / "talk.md").read_bytes() == b""  # nothing half-written to stdout
    job = re.search(r"Resume: transcript-cli resume (\S+)", run.stderr)
    assert job, run.stderr
    assert fake_api.transcripts() == chunks[:4]

    fake_api.latency = 0
    resumed = cli("resume", job.group(1))  # stdin is /dev/null now: the pipe is gone
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == expected_output(src, CHUNK_CHARS)
    assert fake_api.transcripts() == chunks  # every chunk paid for once


def test_pipe_mistakes_are_one_line_and_leave_nothing(cli: Cli) -> None:
    write_transcript(cli.workdir / "a.txt", 5)
    write_transcript(cli.workdir / "b.txt", 5)
    cases = {
        f"{CLI} run - < /dev/null": "error: -: nothing was piped in (stdin is empty)",
        f"cat a.txt | {CLI} run - b.txt": "error: - (stdin) must be the only input",
        f"{CLI} run a.txt b.txt --out -": "error: --out - writes one input to stdout, but 2",
        f"{CLI} run a.txt --out - --json": "error: --out - and --json both write to stdout",
        f"{CLI} run a.txt --stdin-name x.txt": "error: --stdin-name names a transcript read",
        f"cat a.txt | {CLI} run - --stdin-name ../x": "error: --stdin-name '../x': give a plain",
        f"printf '{{\"segments\": 3}}' | {CLI} run - --stdin-name w.json": "error: ",
    }
    # Independent refusals: run them all at once, each in its own shell.
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda line: shell(cli, line), cases))
    for (line, message), result in zip(cases.items(), results, strict=True):
        assert result.returncode == 2, (line, result.stderr)
        assert result.stderr.startswith(message), (line, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        if "--json" in line:  # asked for JSON: the failure comes as a JSON document
            assert json.loads(result.stdout)["exit_code"] == 2
        else:
            assert result.stdout == ""
    leftovers = list(cli.state_dir.iterdir()) if cli.state_dir.exists() else []
    assert leftovers == []  # a refused pipe leaves no job folder behind


def test_run_dash_on_a_terminal_says_to_pipe(cli: Cli) -> None:
    result = on_terminal(cli, "run", "-", answer="")
    assert result.returncode == 2
    assert "stdin is a terminal; pipe one in" in result.stderr


def test_a_reader_that_leaves_early_is_no_error(cli: Cli) -> None:
    write_transcript(cli.workdir / "big.txt", 2000)
    line = f"{CLI} run big.txt --out - --provider offline | head -c 100 > /dev/null"
    result = shell(cli, line)
    assert result.returncode == 0
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert "Done: 1 file(s)" in result.stderr


def test_a_full_disk_behind_stdout_is_one_error_line_and_the_text_is_kept(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """`> talk.md` on a full disk (/dev/full): no traceback; the cleaned text is not lost."""
    src = write_transcript(cli.workdir / "talk.txt", 40)
    full = shell(cli, f"{CLI} run talk.txt --out - {FLAGS} > /dev/full")
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr and "Exception ignored" not in full.stderr
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("error: stdout: cannot write the cleaned text (No space left"), last
    assert "run the same command again" in last
    sent = len(fake_api.requests)
    again = shell(cli, f"{CLI} run talk.txt --out - {FLAGS} > talk.md")
    assert again.returncode == 0, again.stderr
    expected = expected_output(src, CHUNK_CHARS)
    assert (cli.workdir / "talk.md").read_text(encoding="utf-8") == expected
    assert len(fake_api.requests) == sent  # printed from the job, not paid again

    # Every command's results (and an error's JSON document) meet the same full disk.
    for line, code, errors in (
        ("status", 1, 1),
        ("status --json", 1, 1),
        ("prompts show clean", 1, 1),
        ("status no-such-job --json", 2, 2),  # its own error stands; the document cannot follow
    ):
        result = shell(cli, f"{CLI} {line} > /dev/full")
        assert result.returncode == code, (line, result.stderr)
        assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[-1] == "error: stdout: cannot write (No space left on device)", lines
        assert len(lines) == errors and all(x.startswith("error: ") for x in lines), lines
