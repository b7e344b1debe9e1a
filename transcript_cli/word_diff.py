"""A word-level diff of a part and its reply, from the fidelity alignment, for `review`.

The reply is shown as written; words of the part it has no counterpart for are put back where
they were dropped, marked as dropped (or as excused, for fillers and repetitions a faithful
cleaner may drop), and reply words said nowhere in the part are marked as added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from transcript_cli.fidelity import Alignment, Token, align

Op = Literal["same", "dropped", "excused", "added"]


@dataclass(frozen=True)
class Span:
    """A run of text and what happened to it."""

    op: Op
    text: str


def word_diff(part: str, reply: str) -> list[Span]:
    """The reply with the part's dropped words put back, every run labelled."""
    return diff_alignment(align(part, reply), part, reply)


def diff_alignment(alignment: Alignment, part: str, reply: str) -> list[Span]:
    """`word_diff` for an alignment already made.

    Dropped words go right after the reply word before them ("series [-on climate-]."), so
    they read in the part's order; added words stay where the reply has them.
    """
    spans: list[Span] = []
    source, said = alignment.source, alignment.reply
    cursor = 0
    previous_s = previous_r = -1
    for s, r in [*alignment.pairs, (len(source), len(said))]:
        for op, run in _runs(source[previous_s + 1 : s], previous_s + 1, alignment.optional):
            space = " " if run[0].weight == 1.0 else ""  # none between CJK characters
            if cursor:
                _push(spans, "same", space)
            _push(spans, op, _text(part, run, source, previous_s))
            if not cursor and said:
                _push(spans, "same", space)
        added = said[previous_r + 1 : r]
        if added and added[0].start < cursor:
            # The rest of a word already shown ("not" of "didn't", whose "did" matched).
            _push(spans, "same", " ")
            _push(spans, "added", " ".join(t.norm for t in added if t.start < cursor))
            added = tuple(t for t in added if t.start >= cursor)
        if added:
            _push(spans, "same", reply[cursor : added[0].start])
            _push(spans, "added", reply[added[0].start : added[-1].end])
            cursor = added[-1].end
        upto = said[r].end if r < len(said) else len(reply)
        _push(spans, "same", reply[cursor:upto])
        cursor = upto
        previous_s, previous_r = s, r
    return spans


def _text(part: str, run: list[Token], source: tuple[Token, ...], before: int) -> str:
    """A dropped run as the part wrote it; its normalised words if it is the rest of a word
    whose first half was kept ("not" of "didn't")."""
    if before >= 0 and run[0].start == source[before].start:
        return " ".join(t.norm for t in run)
    return part[run[0].start : run[-1].end]


def _runs(
    tokens: tuple[Token, ...], first: int, optional: frozenset[int]
) -> list[tuple[Op, list[Token]]]:
    """Consecutive dropped tokens grouped by whether dropping them is excused."""
    runs: list[tuple[Op, list[Token]]] = []
    for n, token in enumerate(tokens):
        op: Op = "excused" if first + n in optional else "dropped"
        if runs and runs[-1][0] == op:
            runs[-1][1].append(token)
        else:
            runs.append((op, [token]))
    return runs


def _push(spans: list[Span], op: Op, text: str) -> None:
    if not text:
        return
    if spans and spans[-1].op == op:
        spans[-1] = Span(op, spans[-1].text + text)
    else:
        spans.append(Span(op, text))


def plain(spans: list[Span]) -> str:
    """Markers for a log or a pipe: [-dropped-], (-excused-), {+added+}."""
    marks = {
        "same": ("", ""),
        "dropped": ("[-", "-]"),
        "excused": ("(-", "-)"),
        "added": ("{+", "+}"),
    }
    return "".join(marks[s.op][0] + s.text + marks[s.op][1] for s in spans)
