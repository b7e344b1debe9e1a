"""The fidelity check through the CLI: flags on drops and inventions, --strict, and `review`."""

from __future__ import annotations

import json
import os
import pty
import re
import select
from pathlib import Path

from tests.conftest import Cli, Result, Running, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault, reply_text

CHUNK = "400"
TARGET = "Sentence number 20 says"  # a sentence in the middle of the job
INVENTED = "The speaker then revealed that the whole project had been cancelled last spring."


def drop_two_fifths(transcript: str) -> str:
    """The fake's faithful reply without the sentences around the target: about 40% of it."""
    sentences = re.findall(r"[^.]+\.", transcript)
    at = next(n for n, s in enumerate(sentences) if TARGET in s)
    kept = [s for n, s in enumerate(sentences) if not at - 1 <= n <= at + 1]
    return reply_text(" ".join(s.strip() for s in kept))


def invent(transcript: str) -> str:
    return reply_text(transcript) + " " + INVENTED


def _job(cli: Cli) -> Path:
    return write_transcript(cli.workdir / "talk.txt", 40)


def _run(cli: Cli, src: Path, *extra: str) -> Result:
    result = cli("run", str(src), "--chunk-chars", CHUNK, "--name", "talk", *extra)
    assert "Traceback" not in result.stderr
    return result


def _status(cli: Cli) -> dict[str, object]:
    result = cli("status", "talk", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def _flagged(status: dict[str, object]) -> list[dict[str, object]]:
    return [c for f in status["files"] for c in f["chunks"]]  # type: ignore[attr-defined]


def test_a_faithful_job_is_not_flagged(cli: Cli, fake_api: FakeAnthropic) -> None:
    result = _run(cli, _job(cli))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert _flagged(_status(cli)) == []
    assert cli("review", "talk").stdout.strip() == "No flagged chunks in job talk."


def test_a_dropped_stretch_is_flagged_with_both_figures(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.fail_when(TARGET, Fault(transform=drop_two_fifths), times=-1)
    result = _run(cli, _job(cli))
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if "warning:" in x)
    assert re.search(r"talk\.txt chunk \d+: fidelity: kept \d+% of the part's words", line)
    assert "0% of the reply's words are not in the part (max 10%)" in line

    (chunk,) = _flagged(_status(cli))
    assert isinstance(chunk["coverage"], float) and chunk["coverage"] < 0.85
    assert chunk["invention"] == 0.0
    assert f"kept {round(chunk['coverage'] * 100)}% of the part's words" in str(chunk["warning"])
    shown = cli("status", "talk")
    assert f"chunk {chunk['chunk']} warning: fidelity: kept" in shown.stdout
    # Kept, as any warning is: the output holds what the model sent.
    output = (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")
    assert TARGET not in output


def test_an_invented_sentence_is_flagged(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.fail_when(TARGET, Fault(transform=invent), times=-1)
    result = _run(cli, _job(cli))
    assert result.returncode == 0, result.stderr
    assert "including 13 new words in a row" in result.stderr
    (chunk,) = _flagged(_status(cli))
    assert isinstance(chunk["invention"], float) and 0 < chunk["invention"] < 0.3
    assert chunk["coverage"] == 1.0


def test_strict_fails_the_file_and_retry_failed_asks_again(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _job(cli)
    fake_api.fail_when(TARGET, Fault(transform=drop_two_fifths), times=1)
    failed = _run(cli, src, "--strict")
    assert failed.returncode == 1, failed.stderr
    assert "fidelity: kept" in failed.stderr and "(--strict)" in failed.stderr
    assert not (cli.workdir / "cleaned" / "talk.md").exists()  # never written with a gap
    (chunk,) = _flagged(_status(cli))
    assert chunk["error"] and "fidelity" in str(chunk["error"]) and chunk["coverage"] is not None

    # The refused reply can be reviewed; the output never held it.
    shown = cli("review", "talk")
    assert shown.returncode == 0, shown.stderr
    assert "refused under --strict" in shown.stdout and "[-" in shown.stdout

    asked = len(fake_api.transcripts())
    plain_resume = cli("resume", "talk")
    assert plain_resume.returncode == 1 and len(fake_api.transcripts()) == asked
    retried = cli("resume", "talk", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert fake_api.transcripts()[asked:] == [
        t for t in fake_api.transcripts()[:asked] if TARGET in t
    ]
    assert TARGET in (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")


def test_summary_prompts_are_not_checked(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.fail_when(TARGET, Fault(transform=drop_two_fifths), times=-1)
    result = _run(cli, _job(cli), "--prompt", "summary-notes")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr and _flagged(_status(cli)) == []


def test_a_template_declaring_itself_verbatim_is_checked(cli: Cli, fake_api: FakeAnthropic) -> None:
    template = cli.workdir / "tidy.md"
    template.write_text("---\nverbatim: true\n---\nTidy part {{chunk_number}}.\n", "utf-8")
    fake_api.fail_when(TARGET, Fault(transform=drop_two_fifths), times=-1)
    result = _run(cli, _job(cli), "--prompt", str(template))
    assert result.returncode == 0, result.stderr
    assert "fidelity: kept" in result.stderr
    sent = fake_api.requests[0].body["system"]
    assert "verbatim" not in json.dumps(sent)  # the front matter is never sent


def test_review_shows_the_flagged_chunk_as_a_word_diff(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.fail_when(TARGET, Fault(transform=drop_two_fifths), times=-1)
    assert _run(cli, _job(cli)).returncode == 0
    (chunk,) = _flagged(_status(cli))
    shown = cli("review", "talk")
    assert shown.returncode == 0, shown.stderr
    head, diff = shown.stdout.split("\n", 1)
    assert head.startswith(f"talk.txt chunk {chunk['chunk']}/") and "fidelity: kept" in head
    assert re.search(rf"\[-[^\]]*{TARGET}", diff)  # the dropped sentences, put back in place
    assert diff.startswith("[clean] Sentence number")
    assert "(-um-)" not in diff  # hesitation sounds are not shown

    as_json = json.loads(cli("review", "talk", "--json").stdout)
    assert [e["chunk"] for e in as_json] == [chunk["chunk"]]
    dropped = "".join(s["text"] for s in as_json[0]["diff"] if s["op"] == "dropped")
    assert TARGET in dropped and as_json[0]["coverage"] == chunk["coverage"]

    # Any chunk can be asked for by number, flagged or not, once the job is done.
    other = cli("review", "talk", "talk.txt", "--chunk", "1")
    assert other.returncode == 0, other.stderr
    assert "[-" not in other.stdout and "{+" not in other.stdout
    assert "Sentence number 0 says um something" in other.stdout
    assert other.stdout.startswith("talk.txt chunk 1/6: not flagged: fidelity: kept 100%")


def test_review_errors_are_one_line(cli: Cli, fake_api: FakeAnthropic) -> None:
    assert _run(cli, _job(cli)).returncode == 0
    for args, problem in [
        (("review", "nope"), "no job named 'nope'"),
        (("review", "talk", "other.txt"), "has no input 'other.txt'"),
        (("review", "talk", "--chunk", "999"), "has chunks 1-"),
    ]:
        result = cli(*args)
        assert result.returncode == 2, result
        assert problem in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_review_colours_the_diff_on_a_terminal(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.fail_when(TARGET, Fault(transform=invent), times=-1)
    assert _run(cli, _job(cli)).returncode == 0
    leader, follower = pty.openpty()
    terminal = Path(os.ttyname(follower))
    try:
        colour_cli = cli.on_a_terminal("xterm-256color")
        with Running(colour_cli.start("review", "talk", stdout=terminal)) as run:
            code = run.finish()
        os.close(follower)
        shown = b""
        while select.select([leader], [], [], 1)[0]:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed
                break
            if not data:
                break
            shown += data
    finally:
        os.close(leader)
    text = shown.decode()
    assert code == 0, run.stderr
    assert "\x1b[" in text and INVENTED.split()[0] in text
    assert "{+" not in text  # colours instead of markers


def test_review_lists_a_reply_strict_refused_for_echoing_the_prompt(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.fail_when(
        TARGET, Fault(transform=lambda t: f"<transcript>\n{t}\n</transcript>"), times=1
    )
    assert _run(cli, _job(cli), "--strict").returncode == 1
    shown = cli("review", "talk")
    assert "failed: reply echoes the prompt marker <transcript>" in shown.stdout
    assert "refused under --strict" in shown.stdout
