"""What a run says on stderr: the terminal bar, -v, and repeated messages summarised."""

from __future__ import annotations

import json
import os
import pty
import re
import threading
import time
from pathlib import Path

from tests.conftest import Cli, Running, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.test_cli_signals import CHUNK_CHARS, chunk_texts

FLAGS = ("--chunk-chars", str(CHUNK_CHARS), "-j", "2")


def test_thirty_warnings_make_one_line_and_a_summary(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 120)
    fake_api.replier = lambda transcript, user: "Too short."
    result = cli("run", str(src), *FLAGS, "--name", "talk")
    assert result.returncode == 0, result.stderr
    view = json.loads(cli("status", "talk", "--json").stdout)
    n = sum(bool(c["warning"]) for f in view["files"] for c in f["chunks"])
    assert n >= 10  # every chunk but a last short one
    lines = result.stderr.splitlines()
    full = [line for line in lines if line.startswith("warning: ")]
    assert len(full) == 1
    (summary,) = [line for line in lines if line.startswith("warning ×")]
    assert summary.startswith(f"warning ×{n}: ")
    assert full[0].split(": ", 2)[2] in summary  # the first one's words, and where it was
    assert summary.endswith(f"each one: transcript-cli status talk --state-dir {cli.state_dir}")
    # -v shows each one, and still sums them up.
    verbose = cli("run", str(src), *FLAGS, "--name", "talk2", "-v", "--overwrite")
    assert sum(line.startswith("warning: ") for line in verbose.stderr.splitlines()) == n
    assert f"warning ×{n}: " in verbose.stderr


def test_retries_are_counted_unless_verbose(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 60)
    chunks = chunk_texts(src)
    busy = Fault(status=529, message="Overloaded", headers={"retry-after": "0"})
    for text in chunks[:4]:
        fake_api.fail_when(text, busy)
    quiet = cli("run", str(src), *FLAGS, "--name", "a")
    assert quiet.returncode == 0, quiet.stderr
    said = [line for line in quiet.stderr.splitlines() if "Overloaded" in line]
    assert len(said) == 2, quiet.stderr  # the first retry in full, then the summary
    assert re.search(r"^(retried|throttled) ×4: .*Overloaded", said[1]), said
    assert "sending" not in quiet.stderr

    for text in chunks[:4]:
        fake_api.fail_when(text, busy)
    loud = cli("run", str(src), *FLAGS, "--name", "b", "--verbose", "--overwrite")
    assert loud.returncode == 0, loud.stderr
    lines = loud.stderr.splitlines()
    assert sum("Overloaded" in line and "chunk" in line for line in lines) >= 4
    assert sum(line.startswith("sending talk.txt chunk ") for line in lines) == len(chunks)
    done = [line for line in lines if line.startswith("done talk.txt chunk ")]
    assert len(done) == len(chunks)
    assert re.search(r"tokens in / [\d,]+ out; \d+/\d+ chunks, \$[\d.]+ so far$", done[-1])


def test_terminal_bar_shows_file_cost_and_eta(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "lecture-one.txt", 100)
    fake_api.latency = 0.15
    leader, follower = pty.openpty()
    captured: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            captured.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        terminal = Path(os.ttyname(follower))
        xterm = {"TERM": "xterm"}
        with Running(cli.start("run", str(src), *FLAGS, stderr=terminal, env=xterm)) as run:
            code = run.finish()
        time.sleep(0.3)  # the reader takes what is left; closing the follower then ends it
        os.close(follower)
        reader.join(timeout=10)
    finally:
        os.close(leader)
    assert code == 0, run.stdout
    screen = b"".join(captured).decode("utf-8", errors="replace")
    assert "lecture-one.txt" in screen  # the file in flight
    assert re.search(r"\d+/\d+ chunks \$0\.\d{4}", screen), screen  # money spent
    assert "ETA" in screen and re.search(r"ETA \d+:\d\d:\d\d", screen), screen
