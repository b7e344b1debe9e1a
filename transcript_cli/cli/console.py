"""The two consoles every command shares: results on stdout, everything else on stderr."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

from rich.console import Console

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, no colour, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def stdin_is_terminal() -> bool:
    """Prompts only when a person can answer them."""
    return sys.stdin is not None and sys.stdin.isatty()


def _state_dir_flag(state_dir: object) -> str:
    # Quoted: it is meant to be pasted into a shell, and state folders may contain spaces.
    return f" --state-dir {shlex.quote(str(state_dir))}" if state_dir is not None else ""


def resume_command(job_id: str, state_dir: object) -> str:
    """The exact command to continue a job; names the state folder unless it is the default.

    Typer fills `state_dir` from the flag or from TRANSCRIPT_CLI_STATE_DIR, so the command works
    when pasted into a shell that has neither.
    """
    return f"transcript-cli resume {job_id}{_state_dir_flag(state_dir)}"


def name_state_dir(message: str, job_id: str, state_dir: object) -> str:
    """The engine's messages name plain commands; only the CLI knows the state folder used."""
    flag = _state_dir_flag(state_dir)
    for verb in ("resume", "repair", "clear"):
        plain = f"transcript-cli {verb} {job_id}"
        message = message.replace(plain, plain + flag)
    return message
