"""The fixture corpus: every variant of tests/fixtures/inputs comes through with each spoken line
once, in order, speakers kept and no markup, read directly and through the CLI and the fake API.

Each `NAME.EXT` has its expected text beside it in `NAME.expected.txt`: one line per turn, the
speaker label (`Name: ` or `- `) where a turn starts. Text is compared without whitespace, since
where lines break is the chunker's choice; labels are checked at line starts separately.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import regex

from tests.conftest import Cli
from tests.fake_anthropic import FakeAnthropic
from transcript_cli.chunking import split_chunks
from transcript_cli.formats import read_transcript

FIXTURES = Path(__file__).parent / "fixtures" / "inputs"
CASES = sorted(p for p in FIXTURES.iterdir() if ".expected." not in p.name)
_LABEL = re.compile(r"^(?:- |[^\s:][^:]{0,40}: )")
# Markup that must never reach the model.
_MARKUP = re.compile(r"\{\\|\\[Nh]|</?(?:i|b|u|font|v|c)\b[^>]*>|&(?:amp|lt|gt|quot|#\d+);|<\d\d:")
_SPACED_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}] +[\p{Han}\p{Hiragana}\p{Katakana}]")


def expected_lines(path: Path) -> list[str]:
    text = (FIXTURES / f"{path.stem}.expected.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_spoken(path: Path, text: str) -> None:
    """`text` holds the expected lines once each, in order, labels at line starts, no markup."""
    lines = expected_lines(path)
    assert squash(text) == squash("".join(lines))
    starts = [line.strip() for line in text.splitlines()]
    for line in lines:
        label = _LABEL.match(line)
        if label:
            assert any(
                s.startswith(line[: label.end()] + line[label.end() :][:8]) for s in starts
            ), f"turn {line[:40]!r} does not start a line"
    assert not _MARKUP.search(text)
    assert not _SPACED_CJK.search(text)
    assert "\u200f" not in text and "\u200e" not in text


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_fixture_reads_as_spoken(path: Path) -> None:
    transcript = read_transcript(path)
    text = "\n".join(c.text for c in split_chunks(transcript.segments, 1_000_000, 0))
    check_spoken(path, text)


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_fixture_chunks_hold_the_same_text(path: Path) -> None:
    """Small chunks cut the text in many places; together they still hold exactly the text."""
    transcript = read_transcript(path)
    chunks = split_chunks(transcript.segments, 200, 50)
    assert all(len(c.text) <= 200 for c in chunks)
    check_spoken(path, "\n".join(c.text for c in chunks))


def test_every_fixture_through_the_cli_and_the_fake_api(cli: Cli, fake_api: FakeAnthropic) -> None:
    folder = cli.workdir / "corpus"
    folder.mkdir()
    for path in CASES:
        shutil.copy(path, folder / path.name)
    small = ("--chunk-chars", "300", "--context-chars", "100")
    result = cli("run", str(folder), *small, "--name", "corpus", "--json", "-q")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["files_done"] == len(CASES)
    for path in CASES:
        out = (cli.workdir / "cleaned" / f"{path.stem}.md").read_text(encoding="utf-8")
        # The fake model answers "[clean] " + the part it was sent, so the output is what it saw
        # (the space before a "[clean]" that continues a sentence is the fake's, not ours).
        check_spoken(path, re.sub(r" ?\[clean\] ", "", out))
    # The model is told to keep the labels it sees, and repeated turns.
    system = fake_api.requests[0].body["system"]
    system = system if isinstance(system, str) else json.dumps(system)
    assert "`Name:`" in system and "`- `" in system and "saying it twice" in system
