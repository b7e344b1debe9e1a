"""Inputs through the CLI: every bad file named at once, --skip-invalid, --encoding, and what
`status` says about how each file was read (caption style, encoding)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from transcript_cli.formats import read_transcript

FIXTURES = Path(__file__).parent / "fixtures" / "inputs"


def corpus(cli: Cli, *names: str) -> Path:
    folder = cli.workdir / "in"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def bad_files(folder: Path) -> None:
    (folder / "broken.json").write_text('{"segments": [{"text": "hi"', encoding="utf-8")
    (folder / "empty.srt").write_bytes(b"")


def test_all_bad_files_are_listed_at_once_and_nothing_is_sent(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    folder = corpus(cli, "teams-meeting.vtt")
    bad_files(folder)
    missing = cli.workdir / "gone.srt"
    result = cli("run", str(folder), str(missing))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr
    assert all(line.startswith("error: ") for line in lines)
    assert any("broken.json: invalid JSON" in line for line in lines)
    assert any("empty.srt: file is empty" in line for line in lines)
    assert any(f"{missing}: file not found" in line for line in lines)
    assert "Traceback" not in result.stderr
    assert not fake_api.requests
    assert not (cli.workdir / "cleaned").exists()
    assert not cli.state_dir.exists() or not any(cli.state_dir.iterdir())


def test_skip_invalid_cleans_the_rest_and_names_what_it_skipped(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    folder = corpus(cli, "teams-meeting.vtt", "markup.srt")
    bad_files(folder)
    result = cli("run", str(folder), "--skip-invalid", "--name", "some")
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stderr and "broken.json" in result.stderr
    assert "empty.srt: file is empty" in result.stderr
    outputs = sorted(p.name for p in (cli.workdir / "cleaned").iterdir())
    assert outputs == ["markup.md", "teams-meeting.md"]
    assert fake_api.requests

    # Another job over the same outputs: --overwrite says that is meant.
    again = cli(
        "run", str(folder), "--skip-invalid", "--name", "some2", "--json", "-q", "--overwrite"
    )
    data = json.loads(again.stdout)
    assert sorted(Path(s["path"]).name for s in data["skipped"]) == ["broken.json", "empty.srt"]
    assert data["files_total"] == 2


def test_skip_invalid_names_what_it_skipped_in_the_document_of_a_run_that_stops_too(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """README: --json's `skipped` is in the document "on any failure too"."""
    folder = cli.workdir / "in"
    write_transcript(folder / "talk.txt", 20)
    bad_files(folder)
    fake_api.fail_when("Sentence number", Fault(status=401))  # the job stops, exit 1
    result = cli("run", str(folder), "--skip-invalid", "--name", "stops", "--json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert (data["exit_code"], data["error_kind"], data["state"]) == (1, "provider", "failed")
    assert sorted(Path(s["path"]).name for s in data["skipped"]) == ["broken.json", "empty.srt"]
    assert {s["problem"] for s in data["skipped"]} >= {"file is empty"}


def test_skip_invalid_with_nothing_valid_left_is_still_an_error(cli: Cli) -> None:
    folder = cli.workdir / "in"
    folder.mkdir()
    bad_files(folder)
    result = cli("run", str(folder), "--skip-invalid")
    assert result.returncode == 2
    assert result.stderr.count("error: ") == 2


def test_status_reports_caption_style_and_encoding_per_file(cli: Cli) -> None:
    folder = corpus(cli, "live-rollup-headerless.vtt", "french-cp1252.srt", "words.json")
    assert cli("run", str(folder), "--name", "styles", "-q").returncode == 0
    text = cli("status", "styles").stdout
    assert "live-rollup-headerless.vtt  (captions: roll-up)" in text
    assert "french-cp1252.srt  (captions: pop-on, encoding: cp1252)" in text
    view = json.loads(cli("status", "styles", "--json").stdout)
    found = {Path(f["path"]).name: (f["captions"], f["encoding"]) for f in view["files"]}
    assert found == {
        "live-rollup-headerless.vtt": ("roll-up", "utf-8"),
        "french-cp1252.srt": ("pop-on", "cp1252"),
        "words.json": (None, "utf-8"),
    }


def test_encoding_override_decodes_with_it_and_is_kept_for_resume(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    src = cli.workdir / "latin.srt"
    # Too short for a sure guess; the user knows better.
    src.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nÞetta er gott.\n\n".encode("cp1252"))
    result = cli("run", str(src), "--encoding", "windows-1252", "--name", "forced", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files"][0]["encoding"] == "cp1252"
    assert fake_api.transcripts() == ["Þetta er gott."]
    # A different --encoding is a different job, not this one resumed.
    other = cli("run", str(src), "--encoding", "latin-1", "--json", "-q", "--overwrite")
    assert json.loads(other.stdout)["job_id"] != "forced"


def test_unknown_encoding_is_one_line_and_exit_2(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "a.txt", 3)
    result = cli("run", str(src), "--encoding", "klingon-8")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown encoding 'klingon-8' for --encoding (e.g. cp1252, gb18030)"
    )


def test_wrong_forced_encoding_names_the_file(cli: Cli) -> None:
    src = cli.workdir / "sjis.srt"
    shutil.copy(FIXTURES / "japanese-sjis.srt", src)
    result = cli("run", str(src), "--encoding", "utf-8")
    assert result.returncode == 2
    assert f"{src}: not UTF-8 text" in result.stderr


def test_resume_decodes_as_the_job_recorded_not_as_detection_would(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    """The encoding a job read an input with is kept: resume reads the same text."""
    src = cli.workdir / "prices.srt"
    lines = [f"Line {n} costs 5 € (five euros), more or less." for n in range(12)]
    cues = "".join(
        f"{n + 1}\n00:00:{n * 2:02d},000 --> 00:00:{n * 2 + 1:02d},500\n{line}\n\n"
        for n, line in enumerate(lines)
    )
    src.write_bytes(cues.encode("cp1252"))
    assert read_transcript(src).encoding == "cp1252"  # what detection alone would use
    fake_api.fail_when("Line 9 ", Fault(status=401))
    # Latin-1 reads byte 0x80 as a control character, not the euro sign: a different text.
    args = ("--encoding", "latin-1", "--chunk-chars", "200", "--context-chars", "50")
    first = cli("run", str(src), *args, "--name", "prices", "-j", "1")
    assert first.returncode == 1, first.stderr
    resumed = cli("resume", "prices")
    assert resumed.returncode == 0, resumed.stderr
    sent = "".join(fake_api.transcripts())
    assert "Line 11 costs 5 \x80" in sent and "€" not in sent
