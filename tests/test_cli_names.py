"""File names are printed as they are: Rich markup (`[bold]`) and emoji codes (`:smile:`) in a
name are text, in logs, errors, `status` and the live progress bar on a terminal."""

from __future__ import annotations

from tests.conftest import Cli, write_transcript
from tests.fake_anthropic import FakeAnthropic
from tests.test_cli_terminal import TerminalSession

NAME = "[bold]talk :smile: [red]x"
OFFLINE = ("--provider", "offline", "--timeout", "60")


def test_names_with_markup_and_emoji_codes_print_literally(cli: Cli) -> None:
    src = write_transcript(cli.workdir / f"{NAME}.txt", 10)
    done = cli("run", src.name, "--name", "talk", *OFFLINE)
    assert done.returncode == 0, done.stderr
    assert f"cleaned/{NAME}.md" in done.stdout
    assert f"({NAME}.txt" in done.stderr  # the "wrote" line names its source
    shown = cli("status", "talk")
    assert f"{NAME}.txt" in shown.stdout
    missing = cli("run", "[red]gone :smile:.txt", *OFFLINE)
    assert missing.returncode == 2
    assert missing.stderr == "error: [red]gone :smile:.txt: file not found\n"
    for result in (done, shown, missing):
        assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in result.stdout
        assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in result.stderr


def test_the_progress_bar_shows_the_name_as_it_is(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / ":smile:.txt", 40)
    fake_api.latency = 0.3  # a few frames of the bar
    args = ("run", src.name, "--chunk-chars", "500", "-j", "1", "--name", "talk")
    with TerminalSession(cli, *args) as session:
        assert session.finish() == 0
    assert ":smile:" in session.output
    assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in session.output
