"""The one place that spells transcript-cli command lines for users: next steps and errors.

The engine names a next step as data (`errors.Command`); only the CLI knows the state folder it
was run with, so only here does a hint become `transcript-cli resume JOB --state-dir DIR`.

A hint is meant to be pasted into another shell, perhaps in another folder and without this
one's environment. So it is shell-quoted, and it names the state folder (absolute) whenever that
is not the one a bare command would derive: `./.transcript-cli` in the current folder.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from transcript_cli.errors import Command, TranscriptCliError
from transcript_cli.job import DEFAULT_STATE_DIR, resolve_state_dir

PROG = "transcript-cli"


class _InUse:
    """The --state-dir of the running command (flag or environment), for errors that reach the
    entry point; recorded while the options are parsed."""

    state_dir: Path | None = None


_in_use = _InUse()


def use_state_dir(state_dir: Path | None) -> None:
    """Remember the running command's --state-dir for hints spelled at the entry point."""
    _in_use.state_dir = state_dir


def remember_state_dir(value: Path | None) -> Path | None:
    """Typer callback of every --state-dir option: see `use_state_dir`."""
    use_state_dir(value)
    return value


def is_default_state_dir(state_dir: Path | None) -> bool:
    """True when a command without --state-dir (and without the env var) finds this folder."""
    return resolve_state_dir(state_dir) == Path(DEFAULT_STATE_DIR).resolve()


def command(verb: str, *args: str, state_dir: Path | None) -> str:
    """`transcript-cli VERB ARGS [--state-dir DIR]`, quoted for a POSIX shell.

    `state_dir` is the flag as given (None: the environment or the default decides).
    """
    words = [PROG, verb, *args]
    if not is_default_state_dir(state_dir):
        words += ["--state-dir", str(resolve_state_dir(state_dir))]
    return shlex.join(words)


def command_line(next_step: Command, state_dir: Path | None) -> str:
    """The exact command to paste for an engine's suggested next step."""
    base = command(next_step.verb, next_step.job_id, state_dir=state_dir)
    return " ".join([base, *(shlex.quote(flag) for flag in next_step.flags)])


def resume_command(job_id: str, state_dir: Path | None) -> str:
    """The exact command to continue a job."""
    return command_line(Command("resume", job_id), state_dir)


def explain(exc: TranscriptCliError, state_dir: Path | None = None) -> str:
    """An error's one line for users: its message and its hint, commands spelled out."""
    if state_dir is None:
        state_dir = _in_use.state_dir
    return exc.message + "".join(
        part if isinstance(part, str) else command_line(part, state_dir) for part in exc.hint
    )
