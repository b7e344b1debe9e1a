"""Pipes: a transcript read from stdin is kept in its job's folder; so is `--out -` output.

A piped transcript exists only while the pipe is open, so it is copied into
`<job>/input/<name>` before anything else: `resume` then works after the pipe is gone, and its
sha256 check holds as for any file. A job whose output goes to stdout writes it to
`<job>/output/` like any output file; whoever ends the job (`run` or `resume`) prints it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from transcript_cli.atomicio import atomic_write, ensure_private_dir
from transcript_cli.decoding import bom_encoding
from transcript_cli.errors import UsageError
from transcript_cli.formats import SUFFIXES
from transcript_cli.job import INPUT_DIR, JobStore, check_job_name, make_job_id
from transcript_cli.state import JobState, Settings

STDIO = "-"  # as an input: read stdin; as --out: write stdout
OUTPUT_DIR = "output"
DEFAULT_STDIN_STEM = "stdin"
# Hashed with the inputs so a stdout job never shares an id (and outputs) with a file job.
_STDOUT_MARK = Path("(stdout)")
_SRT_TIMING = re.compile(r"^\d+:\d{2}:\d{2}[,.]\d{1,3}\s*-->", re.MULTILINE)


def wants_stdin(inputs: Sequence[Path]) -> bool:
    """True if `-` is among the inputs; it must then be the only one."""
    if not any(str(p) == STDIO for p in inputs):
        return False
    if len(inputs) != 1:
        raise UsageError("- (stdin) must be the only input; run other files as their own job")
    return True


def check_one_input_for_stdout(count: int) -> None:
    """`--out -` prints one cleaned text; several inputs would run together."""
    if count != 1:
        raise UsageError(
            f"--out - writes one input to stdout, but {count} were given; "
            "use --out FOLDER for several"
        )


def sniff_suffix(data: bytes, encoding: str | None = None) -> str:
    """The transcript type of piped bytes, as the suffix a file of them would have.

    Decoded as the file would be (`--encoding`, else a byte-order mark, else UTF-8), so a
    UTF-16 subtitle file is recognised too; a legacy encoding's stray bytes do not matter here.
    """
    chosen = encoding or bom_encoding(data) or "utf-8"
    text = data[:65536].decode(chosen, errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("WEBVTT"):
        return ".vtt"
    if text.startswith(("{", "[")):
        try:
            json.loads(data.decode(chosen, errors="replace").lstrip("\ufeff"))
        except json.JSONDecodeError:
            return ".txt"
        return ".json"
    if _SRT_TIMING.search(text[:2000]):
        return ".srt"
    return ".txt"


def stdin_file_name(data: bytes, given: str | None, encoding: str | None = None) -> str:
    """`--stdin-name` if given (its type sniffed if it has none), else `stdin.<sniffed>`.

    `encoding`: the job's `--encoding`, if any.
    """
    if given is None:
        return DEFAULT_STDIN_STEM + sniff_suffix(data, encoding)
    name = given.strip()
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
        raise UsageError(f"--stdin-name {given!r}: give a plain file name such as talk.vtt")
    if Path(name).suffix.lower() not in SUFFIXES:
        name += sniff_suffix(data, encoding)
    return name


def stdin_job_id(
    file_name: str, data: bytes, settings: Settings, *, name: str | None, to_stdout: bool
) -> str:
    """Derived from the piped content and settings: the same pipe names the same job again."""
    if name:
        return check_job_name(name)
    keys = [Path(f"(stdin:{hashlib.sha256(data).hexdigest()})")]
    return make_job_id(Path(file_name).stem, with_stdout_mark(keys, to_stdout), settings)


def with_stdout_mark(inputs: Sequence[Path], to_stdout: bool) -> list[Path]:
    """What a job id hashes: a stdout job never shares its id (and outputs) with a file job."""
    return [*inputs, _STDOUT_MARK] if to_stdout else list(inputs)


def keep_stdin(store: JobStore, job_id: str, file_name: str, data: bytes) -> Path:
    """Write the piped transcript into the job's folder (0600, atomically); its path there."""
    folder = store.job_dir(job_id) / INPUT_DIR
    ensure_private_dir(store.root)
    ensure_private_dir(store.job_dir(job_id))
    ensure_private_dir(folder)
    path = folder / file_name
    atomic_write(path, data)
    return path


def discard_stdin(store: JobStore, job_id: str) -> None:
    """Undo keep_stdin when the job was never created (the input was refused, say)."""
    if store.exists(job_id) or store.has_results(job_id):
        return
    shutil.rmtree(store.job_dir(job_id) / INPUT_DIR, ignore_errors=True)
    with contextlib.suppress(OSError):
        store.job_dir(job_id).rmdir()  # only if nothing else is left in it


def stdout_dir(store: JobStore, job_id: str) -> Path:
    """Where a stdout job's output file is written before it is printed."""
    return store.job_dir(job_id) / OUTPUT_DIR


def stdout_output(store: JobStore, state: JobState) -> Path | None:
    """The output file to print if this job's output goes to stdout, else None."""
    folder = stdout_dir(store, state.job_id).resolve()
    if len(state.inputs) != 1:
        return None
    output = Path(state.inputs[0].output)
    return output if output.parent == folder else None
