"""A corpus of bad inputs and flags, each through the real CLI: exit 2, one line, nothing done.

Every case must fail before anything is written or sent: exit code 2, a single `error:` line on
stderr that names the file (where there is one) and the problem, no traceback, no ./cleaned, no
job state, and no request to the (fake) Messages API.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Cli, Result, Runner, write_transcript
from tests.fake_anthropic import FakeAnthropic

Setup = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One bad invocation: `setup` makes its files in the work folder and returns the args."""

    id: str
    setup: Setup
    problem: str  # expected in the error line
    names: str | None = None  # the file the error line must name, if any


def _file(name: str, content: str | bytes, *extra: str) -> Setup:
    def setup(workdir: Path) -> list[str]:
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return ["run", name, *extra]

    return setup


def _good_with(*extra: str) -> Setup:
    """A valid transcript, so only the flags are wrong."""

    def setup(workdir: Path) -> list[str]:
        write_transcript(workdir / "talk.txt", 10)
        return ["run", "talk.txt", *extra]

    return setup


def _prompt_file(name: str, content: bytes) -> Setup:
    def setup(workdir: Path) -> list[str]:
        (workdir / name).write_bytes(content)
        return _good_with("--prompt", name)(workdir)

    return setup


def _folder(name: str, files: dict[str, bytes]) -> Setup:
    def setup(workdir: Path) -> list[str]:
        folder = workdir / name
        folder.mkdir()
        for rel, content in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(content)
        return ["run", name]

    return setup


def _special(name: str, kind: str) -> Setup:
    """A named pipe, socket or device where a transcript should be: refused, never read."""

    def setup(workdir: Path) -> list[str]:
        path = workdir / name
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "socket":
            # Bound by a relative name: an AF_UNIX path is limited to about 100 bytes.
            with contextlib.chdir(workdir), socket.socket(socket.AF_UNIX) as sock:
                sock.bind(name)
        else:
            path.symlink_to(kind)  # a device; reading /dev/zero would never end
        return ["run", name]

    return setup


def _random_bytes() -> bytes:
    data = random.Random(7).randbytes(4096)
    assert not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")) and b"\x00" in data
    return data


GOOD_CUE = "1\n00:00:01,000 --> 00:00:02,000\nHello there.\n\n"
GOOD_VTT_CUE = "00:00:01.000 --> 00:00:02.000\nHello there.\n\n"

CORPUS = [
    Case("empty-file", _file("empty.txt", b""), "file is empty", "empty.txt"),
    Case("whitespace-only", _file("blank.txt", " \n\t\n   \n"), "file is empty", "blank.txt"),
    Case("bom-only", _file("bom.vtt", b"\xef\xbb\xbf\n"), "file is empty", "bom.vtt"),
    Case("nul-bytes", _file("nul.txt", b"hello\x00world\x00\n"), "binary data", "nul.txt"),
    Case(
        "png-as-txt",
        _file("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
        "binary data, not a transcript",
        "photo.txt",
    ),
    Case("random-bytes", _file("noise.txt", _random_bytes()), "binary data", "noise.txt"),
    Case(
        # Latin-1 is read (detected); high bytes that no encoding makes sense of are not.
        "no-encoding-fits",
        _file("latin.txt", bytes(range(128, 256)) * 4),
        "not UTF-8 text",
        "latin.txt",
    ),
    Case(
        "utf-16-odd-bytes",
        _file("odd.txt", b"\xff\xfeh\x00i\x00!"),
        "not UTF-16 text",
        "odd.txt",
    ),
    Case(
        "srt-bad-timestamp",
        _file("bad.srt", GOOD_CUE + "2\n00:00:xx,000 --> 00:00:04,000\nOops.\n"),
        "malformed SRT (bad timing at line 6: '00:00:xx,000 --> 00:00:04,000')",
        "bad.srt",
    ),
    Case(
        "srt-garbage",
        _file("garbage.srt", "this is not\nan srt file at all\n"),
        "malformed SRT",
        "garbage.srt",
    ),
    Case(
        "srt-no-blocks",
        _file("numbers.srt", "1\n\n2\n\n3\n"),
        "malformed SRT",
        "numbers.srt",
    ),
    Case(
        "srt-empty-cues",
        _file("silent.srt", "1\n00:00:01,000 --> 00:00:02,000\n\n\n"),
        "no transcript text found",
        "silent.srt",
    ),
    Case(
        # Cues without the header are read; text that is not cues at all is refused.
        "vtt-no-header",
        _file("headless.vtt", "Hello there.\n\nNo cue timing anywhere.\n"),
        "malformed WebVTT (the first line must start with WEBVTT)",
        "headless.vtt",
    ),
    Case(
        "vtt-no-cues",
        _file("nocues.vtt", "WEBVTT\n\nNOTE nothing was said\n"),
        "malformed WebVTT (no cues found)",
        "nocues.vtt",
    ),
    Case(
        "vtt-bad-timestamps",
        _file("badtime.vtt", "WEBVTT\n\n00:00:xx.000 --> 00:00:02.000\nHello.\n"),
        "malformed WebVTT",
        "badtime.vtt",
    ),
    Case(
        "srt-given-as-vtt",
        _file("actually-srt.vtt", GOOD_CUE),
        "malformed WebVTT",
        "actually-srt.vtt",
    ),
    Case(
        "json-invalid",
        _file("broken.json", '{"segments": [{"text": "hi"'),
        "invalid JSON",
        "broken.json",
    ),
    Case(
        "json-not-object",
        _file("list.json", "[1, 2, 3]"),
        "not a Whisper transcript",
        "list.json",
    ),
    Case(
        "json-no-segments",
        _file("nosegs.json", '{"text": "hello there"}'),
        "not a Whisper transcript",
        "nosegs.json",
    ),
    Case(
        "json-segment-without-text",
        _file("notext.json", '{"segments": [{"text": "hi"}, {"start": 1.0, "end": 2.0}]}'),
        "segment 1 has no text string",
        "notext.json",
    ),
    Case(
        "json-empty-segments",
        _file("nothing.json", '{"segments": []}'),
        "no transcript text found",
        "nothing.json",
    ),
    Case(
        "json-deeply-nested",
        _file("deep.json", "[" * 100_000),
        "invalid JSON (nested too deeply)",
        "deep.json",
    ),
    Case(
        "json-huge-integer",
        _file("digits.json", '{"segments": [{"text": "hi", "start": ' + "9" * 5000 + "}]}"),
        "invalid JSON",
        "digits.json",
    ),
    Case(
        "word-longer-than-chunk",
        _file("blob.txt", "x" * 5000 + "\n", "--chunk-chars", "1000"),
        "5000-character run without spaces, longer than --chunk-chars 1000",
        "blob.txt",
    ),
    Case(
        "docx",
        _file("notes.docx", b"PK\x03\x04 not really a docx"),
        "unknown transcript type '.docx'",
        "notes.docx",
    ),
    Case(
        "mp3",
        _file("episode.mp3", b"ID3\x04\x00 audio"),
        "unknown transcript type '.mp3'",
        "episode.mp3",
    ),
    Case("no-extension", _file("README", "Hello.\n"), "unknown transcript type '(none)'", "README"),
    Case("missing-path", lambda _: ["run", "nowhere.txt"], "file not found", "nowhere.txt"),
    Case("empty-folder", _folder("empty-dir", {}), "folder holds no transcripts", "empty-dir"),
    Case(
        "folder-of-non-transcripts",
        _folder("media", {"a.mp3": b"ID3", "b.docx": b"PK", "nested/c.txt": b"Deeper.\n"}),
        "folder holds no transcripts",
        "media",
    ),
    Case(
        "one-bad-file-in-folder",
        _folder("mixed", {"a-good.txt": b"Fine words here.\n", "b-bad.srt": b"not an srt\n"}),
        "malformed SRT",
        "b-bad.srt",
    ),
    Case(
        "prompt-unknown-placeholder",
        _prompt_file("my-prompt.md", b"Clean this for {{audience}} in {{language}}.\n"),
        "unknown placeholder {{audience}}",
        "my-prompt.md",
    ),
    Case(
        "prompt-not-utf8",
        _prompt_file(
            "latin-prompt.md", "Nettoyez en {{language}}, s'il vous plaît.".encode("latin-1")
        ),
        "cannot read prompt file",
        "latin-prompt.md",
    ),
    Case(
        "prompt-missing-file",
        _good_with("--prompt", "prompts/missing.md"),
        "prompt file not found",
        "missing.md",
    ),
    Case("prompt-unknown-name", _good_with("--prompt", "polish"), "unknown prompt 'polish'"),
    Case(
        "context-not-below-chunk",
        _good_with("--chunk-chars", "500", "--context-chars", "500"),
        "--context-chars (500) must be smaller than --chunk-chars (500)",
    ),
    Case(  # --context-chars not given: its default (300) is named, and what to do
        "context-default-not-below-chunk",
        _good_with("--chunk-chars", "250"),
        "--context-chars (300) must be smaller than --chunk-chars (250); give a smaller",
    ),
    Case("unknown-provider", _good_with("--provider", "openai"), "unknown provider 'openai'"),
    Case("fifo", _special("talk.txt", "fifo"), "is a named pipe (FIFO), not a regular", "talk.txt"),
    Case("socket", _special("talk.srt", "socket"), "is a socket, not a regular file", "talk.srt"),
    Case("device", _special("zero.txt", "/dev/zero"), "is a character device", "zero.txt"),
    # Typer's own checks read like ours: one line, and where to look.
    Case(
        "chunk-chars-below-minimum",
        _good_with("--chunk-chars", "10"),
        "invalid value for '--chunk-chars'",
        "(see: transcript-cli run --help)",
    ),
    Case(
        "unknown-flag",
        _good_with("--bogus"),
        "no such option: --bogus",
        "(see: transcript-cli run --help)",
    ),
    Case(
        "unknown-command",
        lambda _: ["clean", "talk.txt"],
        "no such command 'clean'",
        "(see: transcript-cli --help)",
    ),
]


@pytest.fixture
def forked(warm_runner: Runner) -> Runner:
    """The session's warm fork server (see conftest); named for what these tests rely on."""
    return warm_runner


def _tree(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def _assert_rejected(
    case: Case, cli: Cli, fake_api: FakeAnthropic, run: Callable[..., Result]
) -> Result:
    args = case.setup(cli.workdir)
    before = _tree(cli.workdir)
    result = run(*args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert case.problem in lines[0]
    if case.names:
        assert case.names in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    # Nothing written: no output folder, no job state, no stray files.
    assert _tree(cli.workdir) == before
    assert not (cli.workdir / "cleaned").exists()
    assert not cli.state_dir.exists() or not any(cli.state_dir.iterdir())
    assert fake_api.requests == []
    return result


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_bad_input_is_rejected_before_any_work(
    case: Case, cli: Cli, fake_api: FakeAnthropic, forked: Runner
) -> None:
    _assert_rejected(case, cli, fake_api, lambda *args: forked(cli, *args))


@pytest.mark.parametrize(
    "case_id", ["missing-path", "fifo", "unknown-flag", "chunk-chars-below-minimum"]
)
def test_json_gets_a_document_for_every_rejection(
    case_id: str, cli: Cli, fake_api: FakeAnthropic, forked: Runner
) -> None:
    """--json on stdout even when the input or a flag is wrong; the same line on stderr."""
    case = next(c for c in CORPUS if c.id == case_id)
    args = case.setup(cli.workdir)
    result = forked(cli, *args, "--json")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2
    assert document["error"] == line.removeprefix("error: ")
    assert document["error_kind"] in ("input", "usage")
    assert case.problem in document["error"]


def test_corpus_is_large_and_ids_unique() -> None:
    assert len(CORPUS) >= 20
    assert len({c.id for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case_id", ["json-deeply-nested"])
def test_plain_subprocess_matches_forked_run(
    case_id: str, cli: Cli, fake_api: FakeAnthropic, forked: Runner
) -> None:
    """The fork server is a shortcut: the same case through `python -m transcript_cli` agrees."""
    case = next(c for c in CORPUS if c.id == case_id)
    plain = _assert_rejected(case, cli, fake_api, cli.subprocess)
    fast = forked(cli, *case.setup(cli.workdir))
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )


def test_valid_input_still_runs_through_the_fork_server(
    cli: Cli, fake_api: FakeAnthropic, forked: Runner
) -> None:
    """Guards the corpus against passing because every run fails for some unrelated reason."""
    write_transcript(cli.workdir / "talk.txt", 10)
    result = forked(
        cli, "run", "talk.txt", "--chunk-chars", "300", "--context-chars", "50", "--json", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "completed"
    assert len(fake_api.requests) > 1
    assert (cli.workdir / "cleaned" / "talk.md").is_file()
