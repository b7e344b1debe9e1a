"""`prompts` and `prompts show` through the real CLI, and `--prompt NAME` finding your own."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic

HOUSE = """---
description: Our house style, every word kept
verbatim: true
---
Clean this part of "{{title}}" in our house style, in {{language}}.
"""


def prompts_dir(cli: Cli) -> Path:
    folder = Path(cli.env["XDG_CONFIG_HOME"]) / "transcript-cli" / "prompts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def listing(cli: Cli) -> dict[str, dict[str, object]]:
    result = cli("prompts", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["prompts_version"] == 1
    assert data["user_dir"] == str(prompts_dir(cli))
    return {p["name"]: p for p in data["prompts"]}


def test_built_in_templates_are_listed(cli: Cli) -> None:
    result = cli("prompts")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "from", "verbatim", "description"]
    clean = next(line for line in lines if line.startswith("clean "))
    assert clean.split()[1:3] == ["built-in", "yes"]
    summary = next(line for line in lines if line.startswith("summary-notes "))
    assert summary.split()[1:3] == ["built-in", "no"]
    assert f"Your templates: {prompts_dir(cli)} (0 found)" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour in a pipe
    data = listing(cli)
    assert data["clean"]["origin"] == "built-in" and data["clean"]["verbatim"] is True
    assert data["summary-notes"]["verbatim"] is False
    assert data["clean"]["description"] and data["clean"]["error"] is None


def test_your_templates_are_listed_beside_the_built_in_ones(cli: Cli) -> None:
    folder = prompts_dir(cli)
    (folder / "house.md").write_text(HOUSE, encoding="utf-8")
    (folder / "summary-notes.md").write_text("Bullet points only.\n", encoding="utf-8")
    (folder / "broken.md").write_text("Part {{chunk-number}}.\n", encoding="utf-8")
    data = listing(cli)
    assert data["house"] == {
        "name": "house",
        "origin": "user",
        "path": str(folder / "house.md"),
        "overrides_builtin": False,
        "description": "Our house style, every word kept",
        "verbatim": True,
        "error": None,
    }
    assert data["summary-notes"]["origin"] == "user"
    assert data["summary-notes"]["overrides_builtin"] is True
    assert data["summary-notes"]["verbatim"] is False  # no front matter, not named clean
    assert data["broken"]["verbatim"] is None
    assert str(data["broken"]["error"]).startswith("unknown placeholder {{chunk-number}}")
    assert data["clean"]["origin"] == "built-in"
    text = cli("prompts").stdout
    assert "user (replaces built-in)" in text and "unusable: unknown placeholder" in text
    assert "(3 found)" in text


def test_show_prints_a_template_as_written(cli: Cli) -> None:
    result = cli("prompts", "show", "clean")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "prompts" / "clean.md").read_text(encoding="utf-8")
    (prompts_dir(cli) / "house.md").write_text(HOUSE, encoding="utf-8")
    assert cli("prompts", "show", "house").stdout == HOUSE
    # A path works too, as with --prompt.
    own = cli.workdir / "mine.md"
    own.write_text("Just clean it.", encoding="utf-8")
    assert cli("prompts", "show", str(own)).stdout == "Just clean it.\n"


def test_show_of_an_unknown_or_broken_template_is_one_line(cli: Cli) -> None:
    (prompts_dir(cli) / "house.md").write_text(HOUSE, encoding="utf-8")
    result = cli("prompts", "show", "hous")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: unknown prompt 'hous' (known: clean, house, summary-notes; see "
        "`transcript-cli prompts`, or give a path to a .md file)"
    ]
    broken = prompts_dir(cli) / "broken.md"
    broken.write_text("---\nverbatim: maybe\n---\nClean.\n", encoding="utf-8")
    result = cli("prompts", "show", "broken")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {broken}: front matter 'verbatim' must be true or false"
    ]


def test_run_uses_your_template_by_name(cli: Cli, fake_api: FakeAnthropic) -> None:
    (prompts_dir(cli) / "house.md").write_text(HOUSE, encoding="utf-8")
    src = write_transcript(cli.workdir / "talk.txt", 10)
    result = cli("run", str(src), "--prompt", "house", "--language", "Welsh", "--name", "t")
    assert result.returncode == 0, result.stderr
    (request,) = fake_api.requests
    assert request.body["system"] == 'Clean this part of "talk" in our house style, in Welsh.'
    # A user template named like a built-in one replaces it for new jobs.
    (prompts_dir(cli) / "clean.md").write_text("Our own clean.\n", encoding="utf-8")
    result = cli("run", str(src), "--name", "u", "--out", "other")
    assert result.returncode == 0, result.stderr
    assert fake_api.requests[-1].body["system"] == "Our own clean."
