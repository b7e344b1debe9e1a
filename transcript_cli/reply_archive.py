"""Replies kept for `review` after their file is written, and replies refused under --strict.

Chunk results are moved, not deleted, once their output is written: `chunks/<input>/` becomes
`replies/<input>/` (one rename, nothing rewritten), so `review` can show any chunk of a finished
job until `clear`. `repair` and `resume` only ever look in `chunks/`. A reply that `--strict`
refused is never a result; it is kept in `rejected/<input>/<chunk>.json` so it can be reviewed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from transcript_cli.atomicio import atomic_write, ensure_private_dir
from transcript_cli.chunk_results import CHUNKS_DIR, ResultStore

REPLIES_DIR = "replies"
REJECTED_DIR = "rejected"


@dataclass(frozen=True)
class FoundReply:
    """A chunk's reply as stored, and whether --strict refused it."""

    text: str
    rejected: bool = False


class ReplyArchive:
    """The replies of one job that `review` can read."""

    def __init__(self, job_dir: Path) -> None:
        self.job_dir = job_dir

    def keep(self, input_index: int) -> None:
        """Move an input's results aside once its output is written (replaces deleting them)."""
        source = self.job_dir / CHUNKS_DIR / str(input_index)
        target = self.job_dir / REPLIES_DIR / str(input_index)
        if not source.is_dir():
            return
        ensure_private_dir(target.parent)
        shutil.rmtree(target, ignore_errors=True)  # left by a move a crash interrupted
        try:
            os.replace(source, target)
        except OSError:
            # Keeping them is a convenience: never let it fail a written output.
            shutil.rmtree(source, ignore_errors=True)

    def reject(self, input_index: int, chunk_index: int, text: str, reason: str) -> None:
        """Keep a reply that --strict refused, so `review` can show why."""
        folder = self.job_dir / REJECTED_DIR / str(input_index)
        ensure_private_dir(folder)
        payload = json.dumps({"text": text, "reason": reason}, ensure_ascii=False).encode()
        atomic_write(folder / f"{chunk_index}.json", payload)

    def has_rejected(self, input_index: int, chunk_index: int) -> bool:
        """True if --strict refused a reply of this chunk (its latest or an earlier one)."""
        return (self.job_dir / REJECTED_DIR / str(input_index) / f"{chunk_index}.json").is_file()

    def find(self, input_index: int, chunk_index: int) -> FoundReply | None:
        """The newest reply of a chunk: a stored result, a kept one, else a refused one."""
        for folder in (CHUNKS_DIR, REPLIES_DIR):
            result = ResultStore(self.job_dir, folder).get(input_index, chunk_index)
            if result is not None:
                return FoundReply(result.text)
        path = self.job_dir / REJECTED_DIR / str(input_index) / f"{chunk_index}.json"
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            return FoundReply(data["text"], rejected=True)
        return None
