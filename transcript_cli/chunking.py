"""Splitting a transcript into chunks of bounded size at sentence or cue boundaries.

Deterministic: the same segments and settings always give the same chunks, which is what lets a
resumed job match stored results to chunks by index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from transcript_cli.scripts import clusters, cut_run, has_unspaced, separator
from transcript_cli.sentences import CLOSERS, FINAL_MARKS, Boundary, ends_sentence, is_no_space_char
from transcript_cli.transcript import Segment

# ". " ends a sentence; "。" and its kin (marks of scripts without spaces) do so without a space.
_NO_SPACE_MARKS = "".join(c for c in FINAL_MARKS if is_no_space_char(c))
_SENTENCE_END = re.compile(
    f"(?<=[{re.escape(FINAL_MARKS)}])[{re.escape(CLOSERS)}]*\\s+(?=\\S)"
    f"|(?<=[{re.escape(_NO_SPACE_MARKS)}])[{re.escape(CLOSERS)}]*(?=\\S)"
)
_WHITESPACE = re.compile(r"\s+")
# A chunk is cut at the last sentence end if that keeps at least this share of it; otherwise, for
# timed inputs, at the cue boundary after the longest pause that does (the last such boundary if
# there are no timings), so caption text without punctuation still chunks well; failing both, it
# is filled up to the last word that fits.
_MIN_FILL = 0.5
# Pauses are compared in steps of this many seconds, so a few milliseconds of timing noise do not
# move a cut away from the end of a well-filled chunk.
_PAUSE_STEP = 0.1
# Text with fewer sentence ends than one per this many words counts as unpunctuated (raw
# auto-captions): there, a cut without a sentence end says nothing about the sentence it falls in.
_WORDS_PER_SENTENCE_END = 60
_CLAUSE_ENDS = tuple(",，、;；:：")
# How much of the next chunk a chunk that may end mid-sentence carries, read-only, so the model
# can tell whether its last sentence goes on: about twenty words.
LOOKAHEAD_CHARS = 120


class WordTooLongError(ValueError):
    """A run of text without spaces is longer than a chunk may be."""

    def __init__(self, length: int) -> None:
        super().__init__(f"a {length}-character word does not fit in a chunk")
        self.length = length


@dataclass(frozen=True)
class Chunk:
    """One piece of a transcript to send, with the read-only tail of the piece before it.

    `opens` and `closes` say how its edges relate to sentences, so the model can be told not to
    capitalise a continuation nor to complete a sentence the next chunk finishes; `following`,
    the head of the next chunk when this one may end mid-sentence, lets it see whether it does.
    """

    index: int
    text: str
    context: str
    opens: Boundary = Boundary.TEXT_EDGE
    closes: Boundary = Boundary.TEXT_EDGE
    following: str = ""


@dataclass(frozen=True)
class _Unit:
    text: str
    new_line: bool  # starts a new segment: a cue boundary, a good place to cut
    sentence_end: bool
    pause: float = 0.0  # seconds of silence before it; only a segment's first unit has any
    joiner: str = " "  # what goes before it: "\n" for a new turn, " " or "" (CJK) otherwise


def _units(
    segments: Sequence[Segment | str], limit: int, pauses: Sequence[float] | None
) -> Iterator[_Unit]:
    """Sentences of each segment; a sentence longer than `limit` is cut between words."""
    previous = ""
    for n, item in enumerate(segments):
        segment = Segment(item) if isinstance(item, str) else item
        first = True
        for sentence in _split_sentences(segment.text):
            for piece, glue in _split_words(sentence, limit):
                if first:
                    joiner = "\n" if segment.turn else separator(previous, piece)
                else:
                    joiner = glue if glue is not None else separator(previous, piece)
                pause = pauses[n] if first and pauses is not None else 0.0
                yield _Unit(piece, first, ends_sentence(piece), pause, joiner)
                previous = piece
                first = False


def _split_sentences(segment: str) -> list[str]:
    pieces = []
    start = 0
    for match in _SENTENCE_END.finditer(segment):
        pieces.append(segment[start : match.start()] + match.group(0).strip())
        start = match.end()
    pieces.append(segment[start:])
    return [p.strip() for p in pieces if p.strip()]


def _split_words(sentence: str, limit: int) -> Iterator[tuple[str, str | None]]:
    """Pieces of at most `limit` characters, each with what joins it to the piece before (None:
    as its script joins).

    Cut between words; a run without spaces in a script written without them (Chinese, Japanese,
    Thai...) is cut at its punctuation or between characters, never inside a grapheme cluster.
    """
    if len(sentence) <= limit:
        yield sentence, None
        return
    tokens: list[tuple[str, str]] = []  # (joiner, text)
    for word in sentence.split():
        if len(word) <= limit:
            tokens.append((" ", word))
        elif has_unspaced(word):
            tokens += [
                (" " if n == 0 else "", piece) for n, piece in enumerate(cut_run(word, limit))
            ]
        else:
            raise WordTooLongError(len(word))
    current, glue = "", " "
    for joiner, text in tokens:
        if current and len(current) + len(joiner) + len(text) > limit:
            yield current, glue
            current, glue = text, joiner
        else:
            current = f"{current}{joiner}{text}" if current else text
    if current:
        yield current, glue


def _join(units: Sequence[_Unit]) -> str:
    parts: list[str] = []
    for n, unit in enumerate(units):
        if n:
            parts.append(unit.joiner)
        parts.append(unit.text)
    return "".join(parts)


def context_tail(text: str, size: int) -> str:
    """The last `size` characters of `text`, not starting mid-word."""
    if size <= 0 or not text:
        return ""
    if len(text) <= size:
        return text
    tail = text[-size:]
    if has_unspaced(text[-size - 1 : -size + 1]):
        # No spaces to cut at: start at a whole grapheme cluster instead.
        kept: list[str] = []
        for cluster in reversed(clusters(text[-size - 8 :])):
            if sum(map(len, kept)) + len(cluster) > size:
                break
            kept.append(cluster)
        return "".join(reversed(kept)).strip()
    if not text[-size - 1].isspace() and not tail[0].isspace():
        # Drop the cut word up to any whitespace: caption chunks join their lines with "\n".
        parts = tail.split(maxsplit=1)
        tail = parts[1] if len(parts) == 2 else ""
    return tail.strip()


def context_head(text: str, size: int) -> str:
    """The first `size` characters of `text`, not ending mid-word (text without spaces: cut)."""
    if len(text) <= size:
        return text
    head = text[:size]
    if text[size].isspace() or head[-1].isspace():
        return head.rstrip()
    words = head.rsplit(maxsplit=1)
    return words[0] if len(words) == 2 else head


def pauses_before(segments: Sequence[Segment | str]) -> list[float] | None:
    """Seconds of silence before each segment, or None if the transcript is not timed.

    Silence is measured from the latest end so far, so rows of one cue (and overlapping cues)
    have none between them; a segment without times has none before it.
    """
    timed = [s for s in segments if isinstance(s, Segment) and s.start is not None]
    if not timed:
        return None
    pauses = []
    latest: float | None = None
    for item in segments:
        start = item.start if isinstance(item, Segment) else None
        end = item.end if isinstance(item, Segment) else None
        pauses.append(max(0.0, start - latest) if start is not None and latest is not None else 0.0)
        if end is not None:
            latest = end if latest is None else max(latest, end)
    return pauses


def split_chunks(
    segments: Sequence[Segment | str], chunk_chars: int, context_chars: int
) -> list[Chunk]:
    """Pack units greedily into chunks of at most `chunk_chars`, preferring sentence ends.

    Without a sentence end to cut at, a timed transcript's chunk ends where the speaker paused
    longest (see `_best_cut`).
    """
    pauses = pauses_before(segments)
    units = list(_units(segments, chunk_chars, pauses))
    punctuated = _is_punctuated(units)
    pieces: list[list[_Unit]] = []
    start = 0
    while start < len(units):
        end = start
        size = 0
        while end < len(units):
            extra = len(units[end].text) + (len(units[end].joiner) if end > start else 0)
            if size + extra > chunk_chars:
                break
            size += extra
            end += 1
        taken = list(units[start:end])
        if end < len(units):
            cut = _best_cut(units, start, end, chunk_chars, timed=pauses is not None)
            if cut is None:
                # No good boundary: fill the chunk with the words of the next unit that fit, and
                # leave the rest of that unit to start the next chunk.
                room = chunk_chars - size - len(units[end].joiner)
                head, units[end] = _split_unit(units[end], room)
                taken += [head] if head.text else []
            else:
                taken, end = taken[: cut - start], cut
        pieces.append(taken)
        start = end
    return _chunks(pieces, context_chars, punctuated)


def _chunks(pieces: Sequence[Sequence[_Unit]], context_chars: int, punctuated: bool) -> list[Chunk]:
    """Chunks from their units, each edge labelled with how it relates to a sentence."""
    texts = [_join(taken) for taken in pieces]
    chunks: list[Chunk] = []
    opens = Boundary.TEXT_EDGE
    for n, taken in enumerate(pieces):
        closes = Boundary.TEXT_EDGE
        following = ""
        if n < len(pieces) - 1:
            if taken[-1].sentence_end:
                closes = Boundary.SENTENCE_END
            else:
                closes = Boundary.MID_SENTENCE if punctuated else Boundary.UNPUNCTUATED
                following = context_head(texts[n + 1], LOOKAHEAD_CHARS)
        context = context_tail(texts[n - 1], context_chars) if n else ""
        chunks.append(Chunk(n, texts[n], context, opens, closes, following))
        opens = closes
    return chunks


def _is_punctuated(units: Sequence[_Unit]) -> bool:
    """True unless sentence ends are rarer than any real punctuated text has them."""
    words = sum(len(u.text.split()) for u in units)
    ends = sum(1 for u in units if u.sentence_end)
    return ends * _WORDS_PER_SENTENCE_END >= words


def _best_cut(
    units: Sequence[_Unit], start: int, end: int, chunk_chars: int, *, timed: bool
) -> int | None:
    """Where to end a chunk holding units [start, end) that keeps it at least half full.

    The last sentence end if there is one; else the cue boundary after the longest pause (the
    last of equals), or for untimed text the last cue boundary; else the last comma (where a
    long run without spaces was cut); else None.
    """
    size = 0
    sentence = cue = clause = None
    longest = -1
    for n in range(start, end + 1):
        if size >= chunk_chars * _MIN_FILL:
            if units[n - 1].sentence_end:
                sentence = n
            if n == len(units):
                cue = n
            elif units[n].new_line:
                # Compared in whole steps; an untimed input has every pause 0, so the last wins.
                pause = round(units[n].pause / _PAUSE_STEP) if timed else 0
                if pause >= longest:
                    cue, longest = n, pause
            if units[n - 1].text.endswith(_CLAUSE_ENDS):
                clause = n
        if n < end:
            size += len(units[n].text) + (len(units[n].joiner) if n > start else 0)
    return next((c for c in (sentence, cue, clause) if c is not None), None)


def _split_unit(unit: _Unit, room: int) -> tuple[_Unit, _Unit]:
    """The words of `unit` that fit in `room` characters, and the rest."""
    cut = None
    for match in _WHITESPACE.finditer(unit.text):
        if match.start() > room:
            break
        cut = match
    if cut is None:
        if room > 0 and has_unspaced(unit.text):
            head = cut_run(unit.text, room)[0]
            rest = unit.text[len(head) :]
            return (
                _Unit(head, unit.new_line, False, unit.pause, unit.joiner),
                _Unit(rest, False, unit.sentence_end, joiner=separator(head, rest)),
            )
        return _Unit("", unit.new_line, False, unit.pause, unit.joiner), unit
    return (
        _Unit(unit.text[: cut.start()], unit.new_line, False, unit.pause, unit.joiner),
        _Unit(unit.text[cut.end() :], False, unit.sentence_end),
    )
