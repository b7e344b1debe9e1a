"""Shell completion of job ids (Typer installs the rest: `--install-completion`)."""

from __future__ import annotations

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
