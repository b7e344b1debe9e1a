"""A batch job's submissions on disk (`<job>/batches.json`): what was sent, under which batch id.

Written atomically beside the checkpoint, and in two steps around every `create`: the intent
(which chunks, how many, when) before the call, the batch id right after. A run killed between
the two leaves an intent without an id, which the next run resolves by finding the orphan batch
on Anthropic's side (see batch.py) instead of paying for the same chunks twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transcript_cli.atomicio import atomic_write
from transcript_cli.checkpoint import FieldValidator
from transcript_cli.chunkset import ChunkSet
from transcript_cli.errors import CheckpointError

LEDGER_NAME = "batches.json"
SCHEMA = "transcript-cli/batches"
SCHEMA_VERSION = 1

_CUSTOM_ID = re.compile(r"^(?P<tag>[A-Za-z0-9_-]+)_f(?P<input>[0-9]+)_c(?P<chunk>[0-9]+)$")


def job_tag(job_id: str) -> str:
    """The job's part of a custom_id: readable, within the API's alphabet, and unique."""
    slug = re.sub(r"[^A-Za-z0-9-]", "-", job_id)[:36]
    return f"{slug}-{hashlib.sha256(job_id.encode()).hexdigest()[:6]}"


def custom_id(tag: str, input_index: int, chunk_index: int) -> str:
    """Names the job, the file and the chunk (at most 64 characters of [A-Za-z0-9_-])."""
    return f"{tag}_f{input_index}_c{chunk_index}"


def parse_custom_id(tag: str, value: str) -> tuple[int, int] | None:
    """(input index, chunk index) for one of this job's custom_ids, else None."""
    found = _CUSTOM_ID.match(value)
    if found is None or found["tag"] != tag:
        return None
    return int(found["input"]), int(found["chunk"])


@dataclass
class Submission:
    """One `create`: the chunks it carries and, once known, the batch's id."""

    number: int  # 1, 2, ... within the job
    requested_at: float  # Unix time just before `create`: where to look for an orphan
    count: int  # requests in it
    members: dict[int, ChunkSet]  # input index -> chunk indices
    batch_id: str | None = None  # None: created or not, we never heard back

    def contains(self, input_index: int, chunk_index: int) -> bool:
        chunks = self.members.get(input_index)
        return chunks is not None and chunk_index in chunks


@dataclass
class Ledger:
    """Every submission not yet collected; collected ones leave only a count behind."""

    job_id: str
    fallback_live: bool = False
    submissions: list[Submission] = field(default_factory=list)
    collected: int = 0  # batches whose results were stored
    next_number: int = 1

    def in_flight(self, input_index: int, chunk_index: int) -> bool:
        return any(s.contains(input_index, chunk_index) for s in self.submissions)

    def batch_ids(self) -> list[str]:
        return [s.batch_id for s in self.submissions if s.batch_id]


def save(ledger: Ledger, job_dir: Path) -> None:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "job_id": ledger.job_id,
        "fallback_live": ledger.fallback_live,
        "collected": ledger.collected,
        "next_number": ledger.next_number,
        "submissions": [
            {
                "number": s.number,
                "requested_at": s.requested_at,
                "count": s.count,
                "batch_id": s.batch_id,
                "members": {str(k): v.to_ranges() for k, v in sorted(s.members.items())},
            }
            for s in ledger.submissions
        ],
    }
    atomic_write(job_dir / LEDGER_NAME, json.dumps(data, separators=(",", ":")).encode())


def exists(job_dir: Path) -> bool:
    return (job_dir / LEDGER_NAME).is_file()


def load(job_dir: Path) -> Ledger | None:
    """The job's ledger, None for a live job; damage is a CheckpointError."""
    path = job_dir / LEDGER_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(path, f"cannot read the batch ledger ({exc.strerror})") from exc
    hint = "the batch ledger is damaged; check the job's batches on the Console, then `clear` it"
    v = FieldValidator(path, hint)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise v.fail(f"batch ledger is not valid JSON ({exc})") from None
    top = v.document(data, "batch ledger", SCHEMA, SCHEMA_VERSION)
    submissions = []
    for item in v.get(top, "submissions", list):
        s = v.obj(item, "submissions[]")
        members: dict[int, ChunkSet] = {}
        for key, ranges in v.obj(s.get("members"), "members").items():
            if not key.isdigit() or not _sound_ranges(ranges):
                raise v.fail("field 'members' is malformed")
            members[int(key)] = ChunkSet.from_ranges(ranges)
        submissions.append(
            Submission(
                number=v.get(s, "number", int),
                requested_at=float(v.get(s, "requested_at", (int, float))),
                count=v.get(s, "count", int),
                members=members,
                batch_id=v.opt(s, "batch_id", str),
            )
        )
    return Ledger(
        job_id=v.get(top, "job_id", str),
        fallback_live=v.get(top, "fallback_live", bool),
        submissions=submissions,
        collected=v.get(top, "collected", int),
        next_number=v.get(top, "next_number", int),
    )


def _sound_ranges(ranges: object) -> bool:
    """Sorted, disjoint [start, end) pairs of non-negative ints, as ChunkSet stores them."""
    if not isinstance(ranges, list):
        return False
    last = -1
    for pair in ranges:
        if not (isinstance(pair, list) and len(pair) == 2):
            return False
        start, end = pair
        if type(start) is not int or type(end) is not int or not last <= start < end:
            return False
        last = end
    return True
