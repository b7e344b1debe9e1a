"""Per-chunk results on disk: one small self-checking file per finished chunk.

Stored as they arrive so memory does not grow with the job, and checksummed so a result found on
disk but missing from the checkpoint (a crash between the two writes) can be adopted safely.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from transcript_cli.atomicio import ensure_private_dir, write_in_place
from transcript_cli.errors import CheckpointError, Command

RESULT_SCHEMA_VERSION = 1
CHUNKS_DIR = "chunks"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChunkResult:
    """What one chunk cost and produced."""

    input_index: int
    chunk_index: int
    source_sha256: str  # ties the result to the exact source text it cleaned
    settings_hash: str  # and to the settings that produced it
    text: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    model: str
    provider: str
    retries: int
    stop_reason: str
    pieces: int = 1  # more when the API could not take the chunk whole and it was split
    warning: str | None = None  # suspicious output, kept (see failures.inspect_reply)


def _checksum(fields: dict[str, object]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResultStore:
    """Chunk results of one job under `<job>/chunks/<input>/<chunk>.json`."""

    def __init__(self, job_dir: Path, folder: str = CHUNKS_DIR) -> None:
        self.root = job_dir / folder

    def _path(self, input_index: int, chunk_index: int) -> Path:
        return self.root / str(input_index) / f"{chunk_index}.json"

    def put(self, result: ChunkResult) -> None:
        """Store durably (fsynced) before the chunk is counted; a crash between is recoverable.

        Written in place, not through a temp file and a rename (one journal commit instead of
        two, once per chunk): the file carries its checksum, so one cut short by a crash reads
        as absent (`get`) and its chunk is redone. It was never counted: a chunk is counted only
        once this has returned, and a result is only written for a chunk not counted.
        """
        folder = self.root / str(result.input_index)
        ensure_private_dir(folder)
        fields: dict[str, object] = {"schema_version": RESULT_SCHEMA_VERSION, **asdict(result)}
        fields["checksum"] = _checksum(fields)
        payload = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
        write_in_place(self._path(result.input_index, result.chunk_index), payload)

    def get(self, input_index: int, chunk_index: int) -> ChunkResult | None:
        """A stored result, or None if absent or failing its checksum."""
        try:
            raw = self._path(input_index, chunk_index).read_bytes()
            fields = json.loads(raw)
        except (OSError, ValueError):
            return None
        if not isinstance(fields, dict):
            return None
        checksum = fields.pop("checksum", None)
        if checksum != _checksum(fields) or fields.pop("schema_version", None) != 1:
            return None
        try:
            result = ChunkResult(**fields)
        except TypeError:
            return None
        if (result.input_index, result.chunk_index) != (input_index, chunk_index):
            return None
        return result

    def stored_indices(self, input_index: int) -> set[int]:
        """Chunk indices with a file on disk (not yet verified), without reading them."""
        folder = self.root / str(input_index)
        if not folder.is_dir():
            return set()
        found: set[int] = set()
        for entry in folder.iterdir():
            stem, _, ext = entry.name.partition(".")
            if ext == "json" and stem.isdigit():
                found.add(int(stem))
        return found

    def iter_texts(self, input_index: int, chunk_count: int) -> Iterator[str]:
        """Texts in chunk order, one at a time, for streaming an output file."""
        for result in self.iter_results(input_index, chunk_count):
            yield result.text

    def iter_results(self, input_index: int, chunk_count: int) -> Iterator[ChunkResult]:
        """Results in chunk order, one at a time.

        A result the checkpoint counts as done but that is missing or fails its checksum is a
        CheckpointError (not an OSError, which would read as a failed write).
        """
        for chunk_index in range(chunk_count):
            result = self.get(input_index, chunk_index)
            if result is None:
                job_id = self.root.parent.name
                raise CheckpointError(
                    self._path(input_index, chunk_index),
                    f"stored result of chunk {chunk_index + 1} is missing or damaged",
                    ("run `", Command("repair", job_id), "` so that resume redoes that chunk"),
                    job_id=job_id,
                )
            yield result

    def drop_input(self, input_index: int) -> None:
        """Forget one input's texts once its output is written."""
        shutil.rmtree(self.root / str(input_index), ignore_errors=True)

    def drop_all(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
