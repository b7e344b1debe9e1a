"""--format md|txt|json, --front-matter and --timestamps through the CLI, with resume."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from transcript_cli.sources import load_source
from transcript_cli.timing import stamp

CHUNK = "300"
CONTEXT = "50"
# Cue n starts at 37 s * n + 5 s (so chunks start at odd times) and lasts 4 s.
CUES = 30


def _cue_start(n: int) -> float:
    return 37.0 * n + 5.0


def _clock(seconds: float) -> str:
    whole, millis = divmod(round(seconds * 1000), 1000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _talk(cli: Cli) -> Path:
    """A VTT talk whose every cue is one sentence, so every chunk ends a sentence."""
    lines = ["WEBVTT", ""]
    for n in range(CUES):
        start = _cue_start(n)
        lines += [
            f"{_clock(start)} --> {_clock(start + 4)}",
            f"Cue number {n} tells us something about subject {n % 4}.",
            "",
        ]
    path = cli.workdir / "talk.vtt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _run(cli: Cli, src: Path, *extra: str) -> tuple[int, str]:
    args = ("run", str(src), "--chunk-chars", CHUNK, "--context-chars", CONTEXT, *extra)
    result = cli(*args, "--name", "talk")
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr


def _first_cues(src: Path) -> list[int]:
    """The number of the first cue of each chunk, as the job chunks the talk."""
    chunks = load_source(src, int(CHUNK), int(CONTEXT)).chunks
    return [int(c.text.split()[2]) for c in chunks]


def test_timestamps_start_each_paragraph_with_its_first_words_source_time(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _talk(cli)
    code, err = _run(cli, src, "--timestamps", "--title", "Talk")
    assert code == 0, err
    text = (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")
    body = text.removeprefix("# Talk\n\n").removesuffix("\n")
    paragraphs = body.split("\n\n")
    firsts = _first_cues(src)
    assert len(paragraphs) == len(firsts) > 3
    for paragraph, cue in zip(paragraphs, firsts, strict=True):
        assert paragraph.startswith(f"{stamp(_cue_start(cue))} [clean] Cue number {cue} ")
    assert "warning" not in err  # a timed input: nothing to warn about


def test_timestamps_on_inputs_without_times_say_so_in_one_line(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    folder = cli.workdir / "in"
    write_transcript(folder / "notes.txt", 12)
    code, err = _run(cli, folder / "notes.txt", "--timestamps")
    assert code == 0, err
    [line] = [x for x in err.splitlines() if "warning" in x]
    assert line == "warning: --timestamps: notes.txt has no times to show, so its output has none"
    text = (cli.workdir / "cleaned" / "notes.md").read_text(encoding="utf-8")
    assert "[00:" not in text and "[clean] Sentence number 0" in text

    # A folder: one line for all the untimed inputs; the timed one is not named.
    write_transcript(folder / "more.txt", 12, start=100)
    _talk(cli).rename(folder / "talk.vtt")
    result = cli("run", str(folder), "--timestamps", "--name", "folder", "--out", "all")
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stderr.splitlines() if "warning" in x]
    assert line.startswith("warning: --timestamps: 2 inputs have no times to show")
    assert line.endswith(": more.txt, notes.txt") and "talk.vtt" not in line
    assert (cli.workdir / "all" / "talk.md").read_text(encoding="utf-8").startswith("[00:00:05]")


def test_json_paragraphs_carry_source_start_and_end(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = _talk(cli)
    code, err = _run(cli, src, "--format", "json")
    assert code == 0, err
    assert not (cli.workdir / "cleaned" / "talk.md").exists()
    data = json.loads((cli.workdir / "cleaned" / "talk.json").read_text(encoding="utf-8"))
    assert (data["schema"], data["schema_version"], data["source"]) == (
        "transcript-cli/output",
        1,
        "talk.vtt",
    )
    firsts = _first_cues(src)
    lasts = [n - 1 for n in firsts[1:]] + [CUES - 1]
    assert len(data["paragraphs"]) == len(firsts)
    for paragraph, first, last in zip(data["paragraphs"], firsts, lasts, strict=True):
        assert paragraph["text"].startswith(f"[clean] Cue number {first} ")
        assert paragraph["start"] == _cue_start(first)
        assert _cue_start(last) < paragraph["end"] <= _cue_start(last) + 4
    status = json.loads(cli("status", "talk", "--json").stdout)
    assert data["tokens"] == {"input": status["input_tokens"], "output": status["output_tokens"]}


def test_front_matter_and_text_format(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = _talk(cli)
    code, err = _run(cli, src, "--front-matter", "--model", "claude-haiku-4-5")
    assert code == 0, err
    text = (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n\n", 1)
    meta = yaml.safe_load(head)
    status = json.loads(cli("status", "talk", "--json").stdout)
    assert meta == {
        "source": "talk.vtt",
        "model": "claude-haiku-4-5",
        "prompt": "clean",
        "tokens": {"input": status["input_tokens"], "output": status["output_tokens"]},
        "cost_usd": round(status["cost_usd"], 6),
        "date": status["created_at"],
    }
    assert body.startswith("[clean] Cue number 0 ")

    as_text = cli("run", str(src), "--format", "txt", "--name", "plain")
    assert as_text.returncode == 0, as_text.stderr
    plain = (cli.workdir / "cleaned" / "talk.txt").read_text(encoding="utf-8")
    assert plain.startswith("[clean] Cue number 0 ") and "---" not in plain


def test_front_matter_needs_markdown_and_format_is_checked(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _talk(cli)
    for args, problem in [
        (("--format", "json", "--front-matter"), "--front-matter needs --format md"),
        (("--format", "xml"), "xml"),
    ]:
        result = cli("run", str(src), *args)
        assert result.returncode == 2, result
        assert problem in result.stderr
    assert fake_api.requests == []


def test_an_output_that_would_overwrite_its_input_is_refused(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = cli.workdir / "notes.txt"
    src.write_text("Hello there. This is a short talk.\n", encoding="utf-8")
    result = cli("run", str(src), "--format", "txt", "--out", str(cli.workdir))
    assert result.returncode == 2
    assert "its output would overwrite it" in result.stderr
    assert src.read_text(encoding="utf-8") == "Hello there. This is a short talk.\n"


def test_resume_keeps_the_output_settings_and_writes_the_same_bytes(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = _talk(cli)
    whole = cli(
        "run", str(src), "--chunk-chars", CHUNK, "--context-chars", CONTEXT,
        "--timestamps", "--out", "whole", "--name", "whole",
    )  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    # A 503, not a 529: a throttle uses no retry (it is bounded by --max-throttle-wait).
    fake_api.fail_when("Cue number 12 ", Fault(status=503), times=-1)
    code, _ = _run(cli, src, "--timestamps", "--max-retries", "0", "--out", "parted")
    assert code == 75
    fake_api.clear_faults()
    resumed = cli("resume", "talk")
    assert resumed.returncode == 0, resumed.stderr
    parted = (cli.workdir / "parted" / "talk.md").read_bytes()
    assert parted == (cli.workdir / "whole" / "talk.md").read_bytes()
    assert parted.startswith(b"[00:00:05] [clean] Cue number 0 ")
