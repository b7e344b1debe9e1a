"""Shell completion of job ids (Typer installs the rest: `--install-completion`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import typer

from transcript_cli import prompt_catalog
from transcript_cli.job import JobStore, resolve_state_dir
from transcript_cli.pricing import priced_models
from transcript_cli.providers import PROVIDERS
from transcript_cli.runner import pick_resumable


def _store(ctx: typer.Context) -> JobStore:
    flag = ctx.params.get("state_dir")
    if flag is None:
        # Completion parses without running the root callback, so read the config's here.
        from transcript_cli.cli.defaults import configured

        flag = configured(ctx, "state-dir")
    return JobStore(resolve_state_dir(Path(str(flag)) if flag is not None else None))


def complete_job_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Every job in the state folder whose id starts with what was typed."""
    try:
        return [j for j in _store(ctx).ids() if j.startswith(incomplete)]
    except Exception:  # a completion must never print a traceback into the user's shell
        return []


def complete_unfinished_job_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Jobs `resume` can continue."""
    try:
        return [j for j in pick_resumable(_store(ctx)) if j.startswith(incomplete)]
    except Exception:  # as above
        return []


def complete_providers(incomplete: str) -> list[str]:
    """The providers --provider accepts."""
    return [p for p in PROVIDERS if p.startswith(incomplete)]


def complete_models(incomplete: str) -> list[str]:
    """Models with a known price; any other id is accepted too (its cost shows as unknown)."""
    return [m for m in priced_models() if m.startswith(incomplete)]


def complete_prompts(incomplete: str) -> list[str]:
    """Template names, built-in and the user's (a path is completed by the shell as a file)."""
    try:
        return [e.name for e in prompt_catalog.entries() if e.name.startswith(incomplete)]
    except Exception:  # as above: never a traceback in the shell
        return []


COMPLETION_OPTIONS = ("--show-completion", "--install-completion")
# Typer's switch from "detect the shell" to "the shell is the option's value" (read when it
# builds the command; its tests and packagers' completion generators set it too).
_NO_SHELL_DETECTION = "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"


def honour_named_shell(argv: Sequence[str]) -> None:
    """Make `--show-completion zsh` (or `=zsh`) mean zsh, not the shell detected around us.

    Typer's options are flags that detect the shell from the parent processes and ignore a
    name after them: `--show-completion zsh` run from bash printed bash's script, and with no
    shell among the parents (a build script, a service, a fork server) it failed with
    "Shell  not supported.". When a name follows, Typer is told to take it as the value, which
    it checks against the shells it knows. A bare option still detects.
    """
    for at, option in enumerate(argv):
        after = argv[at + 1] if at + 1 < len(argv) else "-"
        if option.startswith(tuple(f"{o}=" for o in COMPLETION_OPTIONS)) or (
            option in COMPLETION_OPTIONS and not after.startswith("-")
        ):
            os.environ[_NO_SHELL_DETECTION] = "1"
            return
