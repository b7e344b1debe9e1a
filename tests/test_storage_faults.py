"""A full disk (ENOSPC) or a read-only one (EROFS) at every place a job writes: the chunk result,
the checkpoint, the output file and the manifest.

We run as root, for whom chmod makes nothing read-only, so the fault is injected in-process at
the system calls a write makes: `os.open` of its file (`atomic_write`'s temp file, or a chunk
result, written in place) fails with EROFS, `os.fsync` of it with ENOSPC. The engine runs
in-process through `runner.start` / `runner.resume` with a recording provider. One check goes
through the real CLI, with a file size limit (RLIMIT_FSIZE).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write_transcript
from tests.fakes import ScriptedProvider
from transcript_cli import checkpoint, runner
from transcript_cli.checkpoint import CHECKPOINT_NAME
from transcript_cli.chunk_results import CHUNKS_DIR, ResultStore, text_sha256
from transcript_cli.errors import EXIT_FAILED, StorageError
from transcript_cli.job import JobStore
from transcript_cli.runner import Existing, RunSpec
from transcript_cli.state import JobState, Options, Settings

SETTINGS = Settings(
    provider="recorded",
    model="recorded-1",
    prompt_name="clean",
    prompt_text="Clean part {{chunk_number}} of {{chunk_count}}.",
    language="English",
    title="Talk",
    chunk_chars=400,
    context_chars=100,
    max_tokens=1000,
)
JOB = "job"
REASONS = {errno.ENOSPC: "disk full", errno.EROFS: "read-only file system"}


def is_site(site: str, target: Path, out: Path) -> bool:
    """Whether an atomic write of `target` is one of the four kinds of write a job makes."""
    if site == "result":
        return target.parent.parent.name == CHUNKS_DIR
    if site == "output":
        return target.parent == out
    return target.name == {"checkpoint": CHECKPOINT_NAME, "manifest": "job.json"}[site]


def written_target(path: Path, flags: int) -> Path | None:
    """The file that opening `path` with `flags` writes, if it is one of a job's writes.

    `atomic_write`'s temp file for `name` is `.name.<pid>.tmp` (the pid part is optional here);
    a chunk result is written in place (`write_in_place`).
    """
    if path.name.startswith(".") and path.name.endswith(".tmp"):
        name = path.name[1:].removesuffix(".tmp")
        stem, _, pid = name.rpartition(".")
        return path.with_name(stem if stem and pid.isdigit() else name)
    if flags & os.O_CREAT and path.parent.parent.name == CHUNKS_DIR:
        return path
    return None


class Disk:
    """Makes the `nth` atomic write of one kind fail as a full or read-only disk would.

    `sticky`: from then on every atomic write fails too (the disk stays full or read-only).
    """

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        matches: Callable[[Path], bool],
        code: int,
        *,
        nth: int = 1,
        sticky: bool = True,
        on_fault: Callable[[], None] = lambda: None,
    ) -> None:
        self.matches, self.code, self.nth, self.sticky = matches, code, nth, sticky
        self.on_fault = on_fault
        self.seen = 0
        self.failing = False
        self.failed: list[Path] = []
        self.enabled = True
        self._writes: dict[int, Path] = {}
        real_open, real_fsync = os.open, os.fsync

        # EROFS strikes when the file is created, ENOSPC when its data is flushed to disk.
        def fake_open(path: object, flags: int, mode: int = 0o777, **kw: object) -> int:
            target = written_target(Path(os.fsdecode(path)), flags)  # type: ignore[arg-type]
            if target is not None and self.code == errno.EROFS and self._should_fail(target):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            fd = real_open(path, flags, mode, **kw)  # type: ignore[arg-type]
            if target is not None:
                self._writes[fd] = target
            return fd

        def fake_fsync(fd: int) -> None:
            target = self._writes.pop(fd, None)
            if target is not None and self.code == errno.ENOSPC and self._should_fail(target):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "fsync", fake_fsync)

    def _should_fail(self, target: Path) -> bool:
        if not self.enabled:
            return False
        if self.failing and self.sticky:
            self.failed.append(target)
            return True
        if self.failing or not self.matches(target):
            return False
        self.seen += 1
        if self.seen < self.nth:
            return False
        self.on_fault()
        self.failing = True
        self.failed.append(target)
        return True


class Env:
    """One job's folders, and the calls that run it."""

    def __init__(self, root: Path, files: int = 2) -> None:
        self.inputs = [
            write_transcript(root / "in" / f"part{n}.txt", 30, start=100 * n) for n in range(files)
        ]
        self.out = (root / "out").resolve()
        self.store = JobStore(root / "state")
        self.job_dir = self.store.job_dir(JOB)
        self.spec = RunSpec(
            inputs=self.inputs,
            settings=SETTINGS,
            options=Options(concurrency=3, max_retries=0, timeout=10.0),
            out_dir=self.out,
            name=JOB,
        )

    def start(self, provider: ScriptedProvider) -> None:
        runner.start(
            self.store, self.spec, providers=provider.factory(), decide=lambda s: Existing.RESUME
        )

    def resume(self, provider: ScriptedProvider) -> None:
        runner.resume(self.store, JOB, providers=provider.factory())

    def checkpoint_bytes(self) -> bytes | None:
        path = self.job_dir / CHECKPOINT_NAME
        return path.read_bytes() if path.exists() else None

    def stored_sources(self) -> set[str]:
        """Source texts of the chunks whose results are stored and sound (paid for, kept)."""
        state = checkpoint.load(self.job_dir)
        results = ResultStore(self.job_dir)
        found = set()
        for index in range(len(state.inputs)):
            for chunk_index in results.stored_indices(index):
                result = results.get(index, chunk_index)
                if result is not None:
                    found.add(result.source_sha256)
        return found

    def counted_are_stored(self) -> bool:
        """Every chunk the checkpoint counts, in a file not yet written, has a sound result."""
        state = checkpoint.load(self.job_dir)
        results = ResultStore(self.job_dir)
        return all(
            results.get(index, chunk) is not None
            for index, item in enumerate(state.inputs)
            if not item.written
            for chunk in item.done
        )

    def temp_files(self) -> list[Path]:
        return list(self.out.parent.rglob(".*.tmp"))

    def outputs(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.out.iterdir())}


@pytest.fixture(scope="module")
def clean_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """What an uninterrupted run writes."""
    env = Env(tmp_path_factory.mktemp("clean"))
    env.start(ScriptedProvider())
    return env.outputs()


# nth: chunk results and checkpoints fail mid-job; the first output fails with the second input
# untouched; the manifest is written once.
SITES = {"result": 4, "checkpoint": 6, "output": 1, "manifest": 1}


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS], ids=["ENOSPC", "EROFS"])
@pytest.mark.parametrize("site", list(SITES))
def test_storage_fault_keeps_state_and_resume_finishes_without_paying_twice(
    site: str,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_outputs: dict[str, bytes],
) -> None:
    env = Env(tmp_path)
    before: list[bytes | None] = []
    disk = Disk(
        monkeypatch,
        lambda target: is_site(site, target, env.out),
        code,
        nth=SITES[site],
        on_fault=lambda: before.append(env.checkpoint_bytes()),
    )
    first = ScriptedProvider()
    with pytest.raises(StorageError) as caught:
        env.start(first)

    [target, *_] = disk.failed
    assert is_site(site, target, env.out)
    error = caught.value
    assert error.exit_code == EXIT_FAILED
    assert isinstance(error, OSError)  # generic handlers still catch it
    assert "\n" not in error.message
    # Workers store results in parallel, and the disk refuses them all from the first fault on:
    # the error names one of the writes it refused, whichever the bookkeeper saw first.
    assert any(
        error.message.startswith(f"{failed}: cannot write: {REASONS[code]};")
        for failed in disk.failed
    ), error.message
    if site == "result":
        # Workers store results in parallel with the checkpoint: one the bookkeeper had under way
        # when a worker's write failed may land, and it counts only stored chunks.
        assert env.counted_are_stored()
    else:
        # The disk refused everything after the fault, so the checkpoint is the one before.
        assert env.checkpoint_bytes() == before[0]
    assert env.temp_files() == []
    # A result is written in place: one whose write failed is removed, not left half-written.
    assert [p for p in disk.failed if is_site("result", p, env.out) and p.exists()] == []

    disk.enabled = False  # space freed, or the disk remounted read-write
    if site == "manifest":
        # The fault hit right after the first checkpoint: nothing was paid for yet.
        assert before[0] is not None and first.sources == []
        assert checkpoint.load(env.job_dir).chunks_done == 0
        assert "run the same command again" in error.message
        again = ScriptedProvider()
        env.start(again)
        assert len(again.sources) == len(set(again.sources))
    else:
        state = checkpoint.load(env.job_dir)  # loadable
        assert state.status == "running"  # not rewritten: `status` shows it as interrupted
        kept = env.stored_sources()
        assert kept  # some paid work was on disk
        again = ScriptedProvider()
        env.resume(again)
        # Every chunk whose result was stored was adopted, not sent again.
        assert not kept & {text_sha256(s) for s in again.sources}
        assert len(again.sources) == len(set(again.sources))
    assert env.outputs() == clean_outputs
    assert env.temp_files() == []
    done = checkpoint.load(env.job_dir)
    assert done.status == "completed" and done.last_error is None


def test_storage_fault_is_recorded_when_the_checkpoint_can_still_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_outputs: dict[str, bytes]
) -> None:
    """Only chunk results fail (a quota on that folder, say): the failure is kept for `status`."""
    env = Env(tmp_path)
    seen: list[JobState] = []
    Disk(
        monkeypatch,
        lambda target: is_site("result", target, env.out),
        errno.ENOSPC,
        nth=3,
        sticky=False,
        on_fault=lambda: seen.append(checkpoint.load(env.job_dir)),
    )
    with pytest.raises(StorageError) as caught:
        env.start(ScriptedProvider())
    state = checkpoint.load(env.job_dir)
    assert state.status == "failed"
    assert state.last_error is not None
    assert (state.last_error.kind, state.last_error.message) == ("storage", caught.value.message)
    # Nothing counted that is not stored (other workers' results may land after the fault).
    assert env.counted_are_stored()
    assert all(
        set(before.done) <= set(after.done)
        for before, after in zip(seen[0].inputs, state.inputs, strict=True)
    )

    monkeypatch.undo()
    again = ScriptedProvider()
    env.resume(again)
    assert env.outputs() == clean_outputs
    assert checkpoint.load(env.job_dir).last_error is None


def test_cli_storage_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """Through the real CLI: a file size limit (RLIMIT_FSIZE) makes the output write fail.

    SIGXFSZ is ignored in the child, so the write fails with EFBIG instead of killing it.
    """
    resource = pytest.importorskip("resource")
    limit = 16 * 1024
    src = write_transcript(tmp_path / "talk.txt", 600)  # about 33 KB of output; state is small
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "TRANSCRIPT_CLI_"))
    }
    env.update(
        {
            "TRANSCRIPT_CLI_STATE_DIR": str(tmp_path / "state"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    limited = (
        "import resource, runpy, signal, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "sys.argv[0] = 'transcript-cli'\n"
        "runpy.run_module('transcript_cli', run_name='__main__')\n"
    )

    def run_args(name: str, out: str) -> list[str]:
        # --timeout given: without it `run` imports the SDK just for its default.
        return [
            *("run", str(src), "--provider", "offline", "--timeout", "60", "--chunk-chars"),
            *("1000", "--name", name, "--out", out, "-q"),
        ]

    def cli(*argv: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
        prefix = ["-c", code] if code else ["-m", "transcript_cli"]
        return subprocess.run(
            [sys.executable, *prefix, *argv],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] in (resource.RLIM_INFINITY, -1)
    failed = cli(*run_args("talk", "cleaned"), code=limited)
    output = tmp_path / "cleaned" / "talk.md"
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(f"error: {output}: cannot write: file too large"), lines[0]
    assert "resume" in lines[0]
    assert not output.exists()
    assert not list(tmp_path.rglob(".*.tmp"))

    shown = cli("status", "talk", "--json")
    view = json.loads(shown.stdout)
    assert view["state"] == "failed"
    assert view["last_error"]["kind"] == "storage"
    assert view["chunks_done"] == view["chunks_total"]  # every chunk is stored

    resumed = cli("resume", "talk", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert output.stat().st_size > limit
    # The same as a run that never hit the limit.
    clean = cli(*run_args("clean", "clean"))
    assert clean.returncode == 0, clean.stderr
    assert output.read_bytes() == (tmp_path / "clean" / "talk.md").read_bytes()
