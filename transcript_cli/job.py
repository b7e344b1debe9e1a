"""Jobs on disk: where they live, what they are called, who holds them, how they start."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from transcript_cli import checkpoint, joblock
from transcript_cli.atomicio import ensure_private_dir, remove_stale_temps
from transcript_cli.chunk_results import CHUNKS_DIR
from transcript_cli.errors import (
    BadInputsError,
    CheckpointError,
    InputChangedError,
    InputError,
    JobLockedError,
    StateError,
    UsageError,
)
from transcript_cli.joblock import LOCK_NAME
from transcript_cli.manifest import MANIFEST_NAME
from transcript_cli.sources import file_sha256, load_source
from transcript_cli.state import InputState, JobState, Options, Settings

STATE_DIR_ENV = "TRANSCRIPT_CLI_STATE_DIR"
DEFAULT_STATE_DIR = ".transcript-cli"
INPUT_DIR = "input"  # a piped transcript kept with its job (pipes.py); survives a restart

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def resolve_state_dir(flag: Path | None) -> Path:
    """--state-dir, else $TRANSCRIPT_CLI_STATE_DIR, else ./.transcript-cli."""
    if flag is not None:
        return flag.expanduser().resolve()
    env = os.environ.get(STATE_DIR_ENV)
    return Path(env).expanduser().resolve() if env else Path(DEFAULT_STATE_DIR).resolve()


def check_job_name(name: str) -> str:
    """Job names become folder names: keep them to a safe alphabet."""
    if not _JOB_ID.match(name):
        raise UsageError(
            f"invalid job name {name!r}: use letters, digits, '.', '_' or '-' (max 80)"
        )
    return name


def make_job_id(label: str, inputs: Sequence[Path], settings: Settings) -> str:
    """Readable and stable: the same inputs and settings always name the same job."""
    digest = hashlib.sha256()
    for path in inputs:
        digest.update(str(path).encode() + b"\0")
    digest.update(settings.digest().encode())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-._")[:40] or "job"
    return f"{slug}-{digest.hexdigest()[:8]}"


def output_paths(inputs: Sequence[Path], out_dir: Path, suffix: str = ".md") -> list[Path]:
    """`<out>/<stem>.md` for each input; two inputs may not claim one output."""
    seen: dict[Path, Path] = {}
    result = []
    for path in inputs:
        target = out_dir / f"{path.stem}{suffix}"
        if target.resolve() == path.resolve():
            raise UsageError(
                f"{path}: its output would overwrite it; choose another --out or --format"
            )
        if target in seen:
            raise UsageError(
                f"{path}: would write the same output {target} as {seen[target]}; "
                "run them as separate jobs"
            )
        seen[target] = path
        result.append(target)
    return result


def plan_inputs(inputs: Sequence[Path], settings: Settings, out_dir: Path) -> list[InputState]:
    """Read, validate and count every input before anything is written or paid for.

    Every unreadable input is named at once (BadInputsError), not just the first.
    """
    plan = plan_each(inputs, settings, out_dir)
    if plan.problems:
        raise BadInputsError(plan.problems)
    return plan.inputs


@dataclass(frozen=True)
class Plan:
    """The inputs that read well, planned; the problem of each one that does not; and which
    planned inputs have no times (so `--timestamps` has nothing to show for them)."""

    inputs: list[InputState]
    problems: list[InputError]
    untimed: list[str]


def plan_each(inputs: Sequence[Path], settings: Settings, out_dir: Path) -> Plan:
    """Read and chunk every input, keeping going past the ones that cannot be read."""
    planned = []
    problems = []
    untimed = []
    for path, target in zip(
        inputs, output_paths(inputs, out_dir, f".{settings.output_format}"), strict=True
    ):
        try:
            source = load_source(
                path, settings.chunk_chars, settings.context_chars, settings.encoding
            )
        except InputError as exc:
            problems.append(exc)
            continue
        planned.append(
            InputState(
                path=str(path),
                sha256=source.sha256,
                chunk_count=len(source.chunks),
                output=str(target),
                encoding=source.encoding,
                captions=source.captions,
            )
        )
        if not source.timed:
            untimed.append(str(path))
    return Plan(planned, problems, untimed)


def verify_inputs(state: JobState) -> None:
    """Resume must chunk exactly what the job started with, or stored results would not fit."""
    for item in state.inputs:
        if item.written:
            continue
        path = Path(item.path)
        if not path.exists():
            raise InputChangedError(f"{path}: input file is gone since the job started")
        if file_sha256(path) != item.sha256:
            raise InputChangedError(
                f"{path}: input changed since the job started (sha256 differs); "
                f"restore it, or start over with `run --restart`"
            )


def new_state(
    job_id: str, settings: Settings, options: Options, inputs: list[InputState]
) -> JobState:
    return JobState(job_id=job_id, settings=settings, options=options, inputs=inputs)


@dataclass(frozen=True)
class JobStore:
    """All jobs under one state folder, one sub-folder each."""

    root: Path

    def job_dir(self, job_id: str) -> Path:
        return self.root / check_job_name(job_id)

    def exists(self, job_id: str) -> bool:
        return (self.job_dir(job_id) / checkpoint.CHECKPOINT_NAME).exists()

    def ids(self) -> list[str]:
        """Every job with a checkpoint or a manifest, sorted by name for stable output.

        One with a manifest but no checkpoint lost it: it is listed, and shows as damaged.
        """
        if not self.root.is_dir():
            return []
        # In a shared folder other users' jobs are theirs to list (and unreadable anyway).
        shared = joblock.is_shared(self.root)
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not (shared and joblock.foreign_owner(p))
            and ((p / checkpoint.CHECKPOINT_NAME).is_file() or (p / MANIFEST_NAME).is_file())
        )

    def load(self, job_id: str) -> JobState:
        joblock.check_owned(self.job_dir(job_id), job_id)
        # With a manifest the job was started here: its checkpoint is lost, not absent, and
        # checkpoint.load says so and how to rebuild it.
        if not self.exists(job_id) and not (self.job_dir(job_id) / MANIFEST_NAME).is_file():
            raise UsageError(
                f"no job named '{job_id}' in {self.root}", job_id=job_id, state_dir=self.root
            )
        state = checkpoint.load(self.job_dir(job_id))
        if state.job_id != job_id:
            # A copied or renamed folder: saving would write to the other job's folder, unlocked.
            raise CheckpointError(
                self.job_dir(job_id) / checkpoint.CHECKPOINT_NAME,
                f"belongs to job '{state.job_id}', not '{job_id}'",
                "a job folder was copied or renamed; rename it back or `clear` it",
            )
        return state

    def save(self, state: JobState) -> None:
        checkpoint.save(state, self.job_dir(state.job_id))

    def has_manifest(self, job_id: str) -> bool:
        """True for a job started here: `repair` can rebuild its checkpoint from the manifest."""
        return (self.job_dir(job_id) / MANIFEST_NAME).is_file()

    def has_results(self, job_id: str) -> bool:
        """True if chunk results are stored: paid work that starting over would throw away."""
        return any((self.job_dir(job_id) / CHUNKS_DIR).glob("*/*.json"))

    def check_root(self) -> None:
        """Refuse a state folder others can write to: they could swap our checkpoints."""
        try:
            info = self.root.stat()
        except FileNotFoundError:
            return
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
            raise StateError(
                f"{self.root}: state folder is writable by other users; "
                f"run `chmod go-w {self.root}` or choose another --state-dir"
            )

    @contextmanager
    def locked(self, job_id: str) -> Iterator[Path]:
        """Hold the job for this process; a second process is refused, never queued.

        The OS drops the lock when its holder dies, so a killed run never blocks resume. The lock
        is taken inside the gate (see joblock), so a `status` looking at that moment delays this
        by microseconds instead of refusing it.
        """
        folder = self.job_dir(job_id)
        self.check_root()
        ensure_private_dir(self.root)
        with joblock.gate(self.root):
            joblock.check_owned(folder, job_id)
            ensure_private_dir(folder)
            try:
                lock = joblock.take(folder, job_id)
            except JobLockedError as exc:
                exc.state_dir = self.root
                raise
        try:
            # Every writer here holds this lock: a temp file left here is a killed one's.
            for sub in (folder, folder / "batches", *folder.glob("chunks/*")):
                remove_stale_temps(sub)
            yield folder
        finally:
            lock.release()

    def is_running(self, job_id: str) -> bool:
        """True while some process holds the job's lock; never holds a running job's lock."""
        folder = self.job_dir(job_id)
        if not (folder / LOCK_NAME).exists():
            return False
        try:
            with joblock.gate(self.root):
                return joblock.is_held(folder)
        except OSError:
            return False  # no gate can be made here (read-only copy): nobody can run here either

    def remove_unless_running(self, job_id: str) -> None:
        """Delete a job's folder unless a process runs it (JobLockedError then).

        Inside the gate: a run starting meanwhile waits, then finds the job gone.
        """
        folder = self.job_dir(job_id)
        self.check_root()
        with joblock.gate(self.root):
            joblock.check_owned(folder, job_id)
            lock = joblock.take(folder, job_id)
            try:
                shutil.rmtree(folder)
            finally:
                lock.release()

    def reset(self, job_id: str) -> None:
        """Empty a job's folder but keep its lock file, which the caller holds, and its input."""
        for entry in self.job_dir(job_id).iterdir():
            if entry.name in (LOCK_NAME, INPUT_DIR):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def remove(self, job_id: str) -> None:
        """Delete a job's folder; the caller holds its lock."""
        shutil.rmtree(self.job_dir(job_id))
