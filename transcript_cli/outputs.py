"""One output file's bytes, from a job's stored replies and its output settings.

The plain Markdown path streams the stored replies as they are joined. Timestamps and JSON also
need each reply's words placed in time: the input is read again (the job checked its sha256),
chunked as the job chunked it, and each reply aligned to its part.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from transcript_cli.chunk_results import ChunkResult, ResultStore
from transcript_cli.formats import read_transcript
from transcript_cli.output_format import OutputMeta, OutputSpec, Piece, render
from transcript_cli.sources import load_source
from transcript_cli.state import InputState, JobState
from transcript_cli.timing import PartClock, TimedText, anchors, part_clocks


def output_spec(state: JobState) -> OutputSpec:
    settings = state.settings
    return OutputSpec(settings.output_format, settings.timestamps, settings.front_matter)


def output_bytes(
    state: JobState, index: int, item: InputState, results: ResultStore
) -> Iterator[bytes]:
    """The file's bytes in order; reads one stored result at a time."""
    spec = output_spec(state)
    # Only the front matter and JSON show the file's tokens and cost: a pass they alone pay.
    counted = spec.front_matter or spec.fmt == "json"
    meta = _meta(state, item, results.iter_results(index, item.chunk_count) if counted else ())
    clocks = _clocks(state, item) if spec.needs_paragraphs else None
    yield from render(_pieces(results.iter_results(index, item.chunk_count), clocks), spec, meta)


def _pieces(
    found: Iterator[ChunkResult], clocks: tuple[list[PartClock], list[str]] | None
) -> Iterator[Piece]:
    for result in found:
        if clocks is None:
            yield Piece(result.text)
            continue
        clock, part = clocks[0][result.chunk_index], clocks[1][result.chunk_index]
        yield Piece(result.text, anchors(part, result.text, clock))


def _meta(state: JobState, item: InputState, found: Iterable[ChunkResult]) -> OutputMeta:
    """What the file is, and the tokens and cost of its stored results."""
    tokens_in = tokens_out = 0
    cost: float | None = 0.0
    for result in found:
        tokens_in += result.input_tokens
        tokens_out += result.output_tokens
        cost = None if cost is None or result.cost_usd is None else cost + result.cost_usd
    return OutputMeta(
        source=Path(item.path).name,
        title=state.settings.title,
        model=state.settings.model,
        prompt=state.settings.prompt_name,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=cost,
        date=state.created_at,
    )


def _clocks(state: JobState, item: InputState) -> tuple[list[PartClock], list[str]] | None:
    """Each chunk's clock and text, or None for an input without timings."""
    path = Path(item.path)
    settings = state.settings
    encoding = item.encoding or settings.encoding  # as the job read it
    timed = timed_segments(path, encoding)
    if timed is None:
        return None
    source = load_source(path, settings.chunk_chars, settings.context_chars, encoding=encoding)
    parts = [c.text for c in source.chunks]
    clocks = part_clocks(timed, parts)
    return None if clocks is None else (clocks, parts)


def timed_segments(path: Path, encoding: str | None = None) -> list[TimedText] | None:
    """The input's segments with their times, or None if it has none (plain text)."""
    timed = []
    for segment in read_transcript(path, encoding).segments:
        if segment.start is None or segment.end is None:
            return None
        timed.append(TimedText(segment.text, segment.start, segment.end))
    return timed
