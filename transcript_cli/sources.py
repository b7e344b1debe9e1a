"""From an input path to its chunks, with the content hash that ties stored results to it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from transcript_cli.chunking import Chunk, WordTooLongError, split_chunks
from transcript_cli.errors import InputError
from transcript_cli.formats import read_transcript, refuse_special_file
from transcript_cli.transcript import CaptionStyle


@dataclass(frozen=True)
class Source:
    """One input read and chunked."""

    path: Path
    sha256: str
    chunks: list[Chunk]
    encoding: str = "utf-8"  # what its bytes were decoded with
    captions: CaptionStyle | None = None  # how its cues show text (caption formats only)
    timed: bool = False  # every segment has its time in the recording (not plain text)


def file_sha256(path: Path) -> str:
    """Content hash, read in blocks so a large file is not held twice.

    Opened without blocking and checked before reading: a pipe or device swapped in for an
    input (on resume, say) is refused instead of hanging or reading forever.
    """
    digest = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as handle:
            refuse_special_file(path, os.fstat(fd).st_mode)
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from exc
    return digest.hexdigest()


def load_source(
    path: Path, chunk_chars: int, context_chars: int, encoding: str | None = None
) -> Source:
    """Parse and chunk one input; any problem is an InputError naming the file.

    `encoding` is the one to decode with (a job's recorded or forced one), else it is detected.
    """
    sha = file_sha256(path)
    transcript = read_transcript(path, encoding)
    try:
        chunks = split_chunks(transcript.segments, chunk_chars, context_chars)
    except WordTooLongError as exc:
        raise InputError(
            path,
            f"contains a {exc.length}-character run without spaces, longer than "
            f"--chunk-chars {chunk_chars} (not a transcript?)",
        ) from None
    if not chunks:
        raise InputError(path, "no transcript text found")
    timed = all(s.start is not None and s.end is not None for s in transcript.segments)
    return Source(path, sha, chunks, transcript.encoding, transcript.captions, timed)
