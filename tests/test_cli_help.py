"""--help, --version and shell completion, through the real CLI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from transcript_cli.cli.completion import honour_named_shell


def complete(cli: Cli, line: str) -> list[str]:
    """What bash completion offers for `line` (the cursor at its end)."""
    words = line.split(" ")
    env = {
        "_TRANSCRIPT_CLI_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    result = cli(env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_completion_offers_job_ids(cli: Cli, fake_api: FakeAnthropic) -> None:
    for name in ("alpha", "beta"):
        src = write_transcript(cli.workdir / f"{name}.txt", 10)
        assert cli("run", str(src), "--name", name, "--chunk-chars", "500").returncode == 0
    src = write_transcript(cli.workdir / "gamma.txt", 10)
    fake_api.fail_when("Sentence number 0 says", Fault(status=401))
    assert cli("run", str(src), "--name", "gamma", "--chunk-chars", "500").returncode == 1
    assert complete(cli, "transcript-cli status ") == ["alpha", "beta", "gamma"]
    assert complete(cli, "transcript-cli clear b") == ["beta"]
    assert complete(cli, "transcript-cli repair g") == ["gamma"]
    assert complete(cli, "transcript-cli resume ") == ["gamma"]  # the only unfinished one
    assert complete(cli, "transcript-cli st") == ["status"]
    assert complete(cli, "transcript-cli run -p o") == ["offline"]
    assert "claude-haiku-4-5" in complete(cli, "transcript-cli run --model claude-h")
    mine = Path(cli.env["XDG_CONFIG_HOME"]) / "transcript-cli" / "prompts" / "cleanest.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("Clean it all.", encoding="utf-8")
    assert complete(cli, "transcript-cli run --prompt cle") == ["clean", "cleanest"]
    other = cli.workdir / "other"
    assert complete(cli, f"transcript-cli status --state-dir {other} ") == []


def test_completion_script_for_a_named_shell(cli: Cli) -> None:
    """The named shell's script, whatever shell (or none) runs the CLI: nothing is detected.

    (A bare `--show-completion` detects the shell from the parent processes, here the fork
    server's: that answer depends on how the suite was started, so it is not asserted.)
    """
    bash = cli("--show-completion", "bash")
    assert bash.returncode == 0, bash.stderr
    assert "_TRANSCRIPT_CLI_COMPLETE=complete_bash" in bash.stdout  # what `complete` drives
    zsh = cli("--show-completion", "zsh")
    assert zsh.returncode == 0, zsh.stderr
    assert zsh.stdout.startswith("#compdef transcript-cli")
    assert "_TRANSCRIPT_CLI_COMPLETE=complete_zsh" in zsh.stdout
    fish = cli("--show-completion=fish")
    assert fish.returncode == 0, fish.stderr
    assert "_TRANSCRIPT_CLI_COMPLETE=complete_fish" in fish.stdout
    unknown = cli("--show-completion", "tcsh")
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert unknown.stderr.count("\n") == 1 and "'tcsh' is not one of 'bash'" in unknown.stderr


def test_install_completion_for_a_named_shell(cli: Cli) -> None:
    home = cli.workdir / "home"
    result = cli("--install-completion", "zsh", env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "zsh completion installed" in result.stdout
    script = (home / ".zfunc" / "_transcript-cli").read_text(encoding="utf-8")
    assert "_TRANSCRIPT_CLI_COMPLETE=complete_zsh" in script
    assert "fpath+=~/.zfunc" in (home / ".zshrc").read_text(encoding="utf-8")


def test_help_shows_every_default_and_examples(cli: Cli) -> None:
    result = cli("run", "--help")
    assert result.returncode == 0
    text = re.sub(r"\s+", " ", result.stdout)
    for option, default in {
        "--provider": "anthropic",
        "--model": "claude-sonnet-5-5",
        "--prompt": "clean",
        "--language": "as spoken",
        "--chunk-chars": "6000",
        "--context-chars": "300",
        "--max-tokens": "8192",
        "--out": "cleaned",
        "--concurrency": "4",
        "--max-retries": "6",
        "--timeout": "300.0",
        "--rpm": "no cap",
        "--strict": "no-strict",
        "--state-dir": "./.transcript-cli",
    }.items():
        described = text[text.index(option) :]
        shown = re.search(r"default: \(?([^;\])]*)", described)
        assert shown and shown.group(1).startswith(default), option
    assert "Examples:" in result.stdout
    assert "\n    transcript-cli run podcast.vtt\n" in result.stdout  # not re-wrapped
    assert "Examples:" in cli("--help").stdout
    for command in ("resume", "status", "clear", "config"):
        assert "Examples:" in cli(command, "--help").stdout, command


def test_help_shows_defaults_from_config(cli: Cli) -> None:
    (cli.workdir / "transcript-cli.toml").write_text("chunk-chars = 4321\n", encoding="utf-8")
    text = re.sub(r"\s+", " ", cli("run", "--help").stdout)
    assert "[default: 4321;" in text


def test_a_bare_completion_option_still_detects_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", raising=False)
    for argv in (["--show-completion"], ["--install-completion", "--help"], ["status", "zsh"]):
        honour_named_shell(argv)
        assert "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION" not in os.environ, argv
    honour_named_shell(["--install-completion=fish"])
    assert os.environ["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] == "1"
