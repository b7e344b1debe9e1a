"""Writing a cleaned file: Markdown (optionally with YAML front matter), plain text, or JSON.

Streams: replies come in one at a time and paragraphs go out as soon as they are complete, so
memory does not grow with the file. Everything written is a function of the stored replies and
the job's settings, so a resumed job writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import yaml

from transcript_cli.seams import separator as seam_separator
from transcript_cli.state import OUTPUT_FORMATS as OUTPUT_FORMATS
from transcript_cli.timing import Anchor, stamp

OUTPUT_SCHEMA = "transcript-cli/output"
OUTPUT_VERSION = 1
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")

Separator = Callable[[str, str], str]


@dataclass(frozen=True)
class OutputSpec:
    """How an output is written; stored with the job (its settings) so resume writes the same."""

    fmt: str = "md"
    timestamps: bool = False
    front_matter: bool = False

    @property
    def suffix(self) -> str:
        return f".{self.fmt}"

    @property
    def needs_paragraphs(self) -> bool:
        return self.timestamps or self.fmt == "json"


@dataclass(frozen=True)
class OutputMeta:
    """What the front matter (and the JSON document) say about a file."""

    source: str
    title: str | None
    model: str
    prompt: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    date: str  # when the job started, so every run of it writes the same


@dataclass(frozen=True)
class Piece:
    """One chunk's reply, with source times for its words (None for an untimed input)."""

    text: str
    anchors: Sequence[Anchor] | None = None


@dataclass
class Paragraph:
    """A paragraph of the output and the source span of the words it holds."""

    text: str
    start: float | None = None
    end: float | None = None
    parts: list[str] = field(default_factory=list, repr=False)


def paragraphs(pieces: Iterable[Piece], separator: Separator) -> Iterator[Paragraph]:
    """Paragraphs of the joined replies; a seam without a paragraph break continues one."""
    current: Paragraph | None = None
    for joiner, text, piece in _seams(pieces, separator):
        for n, (begin, end) in enumerate(_blocks(text)):
            times = [a for a in piece.anchors or () if begin <= a.offset < end]
            block = text[begin:end]
            if n == 0 and current is not None and joiner is not None and "\n\n" not in joiner:
                current.parts.append(joiner + block)
            else:
                if current is not None:
                    yield _close(current)
                current = Paragraph("", parts=[block])
            if times:
                if current.start is None:
                    current.start = times[0].start
                current.end = times[-1].end
    if current is not None:
        yield _close(current)


def _seams(
    pieces: Iterable[Piece], separator: Separator
) -> Iterator[tuple[str | None, str, Piece]]:
    """Each non-empty reply, stripped, with what joins it to the one before (None for the first)."""
    previous = ""
    for piece in pieces:
        text = piece.text.strip()
        if text:
            yield (separator(previous, text) if previous else None), text, piece
            previous = text


def _close(paragraph: Paragraph) -> Paragraph:
    return Paragraph("".join(paragraph.parts), paragraph.start, paragraph.end)


def _blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line separated block of `text`."""
    spans = []
    start = 0
    for match in _BLANK_LINES.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if b > a]


def render(
    pieces: Iterable[Piece],
    spec: OutputSpec,
    meta: OutputMeta,
    separator: Separator = seam_separator,
) -> Iterator[bytes]:
    """The bytes of one output file, in order."""
    if spec.fmt == "json":
        yield from _json(paragraphs(pieces, separator), meta)
        return
    if spec.front_matter and spec.fmt == "md":
        yield front_matter(meta).encode()
    if meta.title:
        yield (f"# {meta.title}\n\n" if spec.fmt == "md" else f"{meta.title}\n\n").encode()
    if spec.timestamps:
        last: float | None = None
        for n, paragraph in enumerate(paragraphs(pieces, separator)):
            when = paragraph.start if paragraph.start is not None else last
            last = paragraph.end if paragraph.end is not None else when
            mark = f"{stamp(when)} " if when is not None else ""
            yield (("\n\n" if n else "") + mark + paragraph.text).encode()
    else:
        for joiner, text, _ in _seams(pieces, separator):
            yield ((joiner or "") + text).encode()
    yield b"\n"


def front_matter(meta: OutputMeta) -> str:
    """The YAML block atop a Markdown output."""
    data = {
        "source": meta.source,
        "title": meta.title,
        "model": meta.model,
        "prompt": meta.prompt,
        "tokens": {"input": meta.input_tokens, "output": meta.output_tokens},
        "cost_usd": None if meta.cost_usd is None else round(meta.cost_usd, 6),
        "date": meta.date,
    }
    if meta.title is None:
        del data["title"]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"---\n{body}---\n\n"


def _json(found: Iterable[Paragraph], meta: OutputMeta) -> Iterator[bytes]:
    """A JSON document written paragraph by paragraph (its header, then the list)."""
    head = {
        "schema": OUTPUT_SCHEMA,
        "schema_version": OUTPUT_VERSION,
        "source": meta.source,
        "title": meta.title,
        "model": meta.model,
        "prompt": meta.prompt,
        "tokens": {"input": meta.input_tokens, "output": meta.output_tokens},
        "cost_usd": None if meta.cost_usd is None else round(meta.cost_usd, 6),
        "date": meta.date,
    }
    text = json.dumps(head, indent=2, ensure_ascii=False)
    yield (text[:-2] + ',\n  "paragraphs": [').encode()
    for n, paragraph in enumerate(found):
        item = {"text": paragraph.text, "start": _seconds(paragraph.start)}
        item["end"] = _seconds(paragraph.end)
        yield (("," if n else "") + "\n    " + json.dumps(item, ensure_ascii=False)).encode()
    yield b"\n  ]\n}\n"


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
