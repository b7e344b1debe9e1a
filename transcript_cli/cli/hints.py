"""The one place that spells transcript-cli command lines for users: next steps and errors.

The engine names a next step as data (`errors.Command`); only the CLI knows the flags it was run
with, so only here does a hint become `transcript-cli resume JOB --state-dir DIR`.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from transcript_cli.errors import Command, TranscriptCliError

# The --state-dir the running command was given (flag or environment), for errors that reach
# the entry point; each command that takes --state-dir records it here.
_current_state_dir: list[Path | None] = [None]


def use_state_dir(state_dir: Path | None) -> None:
    """Remember the running command's --state-dir for hints spelled at the entry point."""
    _current_state_dir[0] = state_dir


def command_line(command: Command, state_dir: Path | None) -> str:
    """The exact command to paste; names the state folder unless it is the default.

    Typer fills `state_dir` from the flag or from TRANSCRIPT_CLI_STATE_DIR, so the command works
    when pasted into a shell that has neither. Quoted: state folders may contain spaces.
    """
    words = ["transcript-cli", command.verb, shlex.quote(command.job_id)]
    if state_dir is not None:
        words += ["--state-dir", shlex.quote(str(state_dir))]
    return " ".join([*words, *command.flags])


def resume_command(job_id: str, state_dir: Path | None) -> str:
    """The exact command to continue a job."""
    return command_line(Command("resume", job_id), state_dir)


def explain(exc: TranscriptCliError, state_dir: Path | None = None) -> str:
    """An error's one line for users: its message and its hint, commands spelled out."""
    if state_dir is None:
        state_dir = _current_state_dir[0]
    return exc.message + "".join(
        part if isinstance(part, str) else command_line(part, state_dir) for part in exc.hint
    )
