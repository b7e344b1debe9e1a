"""What `review` shows: for flagged chunks (or the ones asked for), the part, the reply, the diff.

The part is re-read from the input (chunking is deterministic; the input's sha256 must still be
the job's), the reply from the job's stored results, kept replies or refused replies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transcript_cli.errors import InputChangedError, UsageError
from transcript_cli.fidelity import Fidelity, align, measure_alignment
from transcript_cli.job import JobStore
from transcript_cli.prompts import PromptTemplate
from transcript_cli.reply_archive import FoundReply, ReplyArchive
from transcript_cli.sources import load_source
from transcript_cli.state import ChunkNote, InputState, JobState
from transcript_cli.word_diff import Span, diff_alignment


@dataclass(frozen=True)
class ReviewEntry:
    """One chunk to judge."""

    path: str
    chunk_index: int
    chunk_count: int
    note: ChunkNote | None
    reply: FoundReply | None  # None: no reply is kept for it
    fidelity: Fidelity | None  # measured now, as the engine measured it
    spans: list[Span]


def is_flagged(note: ChunkNote | None) -> bool:
    """A chunk whose reply was kept with a warning, or refused under --strict for fidelity.

    (A reply refused for echoing the prompt is found by its kept copy instead.)
    """
    return note is not None and (note.warning is not None or note.coverage is not None)


def pick_inputs(state: JobState, file: str | None) -> list[int]:
    """Indices of the inputs FILE names (by path, name or stem), or all of them."""
    if file is None:
        return list(range(len(state.inputs)))
    wanted = Path(file)
    matches = [
        n
        for n, item in enumerate(state.inputs)
        if file in (item.path, Path(item.path).name, Path(item.path).stem)
        or (wanted.exists() and Path(item.path) == wanted.resolve())
    ]
    if not matches:
        names = ", ".join(Path(i.path).name for i in state.inputs)
        raise UsageError(f"job '{state.job_id}' has no input '{file}' (its inputs: {names})")
    if len(matches) > 1:
        raise UsageError(f"'{file}' names several inputs of job '{state.job_id}'; give its path")
    return matches


def review(
    store: JobStore, job_id: str, file: str | None = None, chunk: int | None = None
) -> list[ReviewEntry]:
    """The entries to show; `chunk` counts from 1, as `status` shows chunks."""
    state = store.load(job_id)
    indices = pick_inputs(state, file)
    if chunk is not None and len(indices) > 1:
        raise UsageError(f"job '{job_id}' has {len(indices)} inputs: name the FILE for --chunk")
    archive = ReplyArchive(store.job_dir(job_id))
    verbatim = PromptTemplate(state.settings.prompt_name, state.settings.prompt_text).verbatim
    entries = []
    for index in indices:
        item = state.inputs[index]
        if chunk is not None:
            if not 1 <= chunk <= item.chunk_count:
                raise UsageError(
                    f"{Path(item.path).name} has chunks 1-{item.chunk_count}, not {chunk}"
                )
            wanted = [chunk - 1]
        else:
            wanted = [
                c
                for c, note in sorted(item.notes.items())
                if is_flagged(note) or (note.error and archive.has_rejected(index, c))
            ]
        if not wanted:
            continue
        parts = _parts(state, item)
        for c in wanted:
            entries.append(_entry(item, c, parts[c], archive.find(index, c), verbatim))
    return entries


def _parts(state: JobState, item: InputState) -> list[str]:
    settings = state.settings
    source = load_source(
        Path(item.path),
        settings.chunk_chars,
        settings.context_chars,
        encoding=item.encoding or settings.encoding,
    )
    if source.sha256 != item.sha256 or len(source.chunks) != item.chunk_count:
        raise InputChangedError(
            f"{item.path}: input changed since the job ran; its parts cannot be shown"
        )
    return [c.text for c in source.chunks]


def _entry(
    item: InputState, chunk: int, part: str, reply: FoundReply | None, verbatim: bool
) -> ReviewEntry:
    note = item.notes.get(chunk)
    if reply is None:
        return ReviewEntry(item.path, chunk, item.chunk_count, note, None, None, [])
    alignment = align(part, reply.text)
    return ReviewEntry(
        path=item.path,
        chunk_index=chunk,
        chunk_count=item.chunk_count,
        note=note,
        reply=reply,
        fidelity=measure_alignment(alignment) if verbatim else None,
        spans=diff_alignment(alignment, part, reply.text),
    )
