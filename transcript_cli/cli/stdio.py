"""`run -` and `--out -`: turn a pipe into a job's input, and a stdout job's output into stdout."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from transcript_cli.cli.console import stdin_is_terminal, stdout_failed
from transcript_cli.errors import InputError, StateError, UsageError
from transcript_cli.formats import discover_inputs
from transcript_cli.job import JobStore
from transcript_cli.pipes import (
    STDIO,
    check_one_input_for_stdout,
    discard_stdin,
    keep_stdin,
    stdin_file_name,
    stdin_job_id,
    stdout_dir,
    stdout_output,
    wants_stdin,
    with_stdout_mark,
)
from transcript_cli.runner import RunSpec, resolve_job_id
from transcript_cli.state import JobState


@dataclass(frozen=True)
class Plan:
    """The run as the engine sees it, and what to undo if it never starts."""

    spec: RunSpec
    staged_job: str | None = None  # the job whose folder holds a piped transcript


def plan(store: JobStore, spec: RunSpec, *, stdin_name: str | None, as_json: bool) -> Plan:
    """Read stdin into the job's folder and point `--out -` there; a plain run is unchanged."""
    from_stdin = wants_stdin(spec.inputs)
    to_stdout = str(spec.out_dir) == STDIO
    if stdin_name is not None and not from_stdin:
        raise UsageError("--stdin-name names a transcript read from stdin (input -)")
    if to_stdout and as_json:
        raise UsageError("--out - and --json both write to stdout; choose one")
    if not (from_stdin or to_stdout):
        return Plan(spec)
    if from_stdin:
        data = _read_stdin()
        file_name = stdin_file_name(data, stdin_name, spec.settings.encoding)
        job_id = stdin_job_id(file_name, data, spec.settings, name=spec.name, to_stdout=to_stdout)
        path = keep_stdin(store, job_id, file_name, data)
        spec = replace(spec, inputs=[path], name=job_id)
    else:
        found = discover_inputs([Path(p) for p in spec.inputs])
        check_one_input_for_stdout(len(found))
        spec = replace(spec, name=resolve_job_id(spec, with_stdout_mark(found, True)))
    assert spec.name is not None
    if to_stdout:
        spec = replace(spec, out_dir=stdout_dir(store, spec.name))
    return Plan(spec, staged_job=spec.name if from_stdin else None)


def _read_stdin() -> bytes:
    if stdin_is_terminal():
        raise UsageError(
            "input - reads a transcript from stdin, but stdin is a terminal; pipe one in "
            "(cat talk.vtt | transcript-cli run -) or name a file"
        )
    data = sys.stdin.buffer.read()
    if not data.strip():
        raise InputError(STDIO, "nothing was piped in (stdin is empty)")
    return data


def undo(store: JobStore, planned: Plan) -> None:
    """A run that never created its job leaves no piped copy behind."""
    if planned.staged_job is not None:
        discard_stdin(store, planned.staged_job)


def emit(store: JobStore, state: JobState) -> bool:
    """Print a stdout job's output on stdout; False if the job writes to files instead."""
    output = stdout_output(store, state)
    if output is None:
        return False
    try:
        data = output.read_bytes()
    except OSError as exc:
        raise StateError(
            f"{output}: the job's output cannot be read ({exc.strerror}); "
            f"run it again with --restart"
        ) from None
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`| head`): not our failure; keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # a full disk behind `> talk.md`: the text is still in the job
        then = "; it is kept in the job: run the same command again to print it"
        raise stdout_failed(exc, " the cleaned text", then) from None
    return True
