"""Writing systems that do not put spaces between words: where to join, end and cut their text.

Chinese and Japanese are written without spaces, and Thai, Lao, Khmer and Myanmar without spaces
between words, so the rules "join with a space" and "cut at a space" do not hold for them.
Grapheme clusters come from the `regex` module's `\\X` (Unicode's extended grapheme clusters), so
a cut never separates a base letter from its marks, an emoji from its modifiers, or a Thai vowel
from its consonant.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from transcript_cli.sentences import NO_SPACE_CHARS, is_no_space_char

# Scripts with no spaces between words: their long runs may be cut between any two clusters.
# Chinese and Japanese as sentences.py knows them, then Thai, Lao, Myanmar, Khmer and Tibetan.
_UNSPACED = re.compile(f"[{NO_SPACE_CHARS}\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u0f00-\u0fff]")


@cache
def _cluster_pattern() -> Any:
    """`regex`'s grapheme clusters, compiled on first use (the import costs 40 ms at start-up)."""
    import regex

    return regex.compile(r"\X")


# Bidirectional controls (LRM, RLM, ALM, embeddings, overrides, isolates). Subtitle files put them
# in to fix one player's display; in running text they only break comparisons, so all go.
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
# Where a run without spaces may be cut rather than anywhere: after these marks.
_SOFT_BREAK = frozenset("，、；：,;:。．！？!?…」』）)】〕〉》")


def has_unspaced(text: str) -> bool:
    """Whether `text` holds letters of a script written without spaces between words."""
    return bool(_UNSPACED.search(text))


def join_text(left: str, right: str) -> str:
    """`left` and `right` as one text: a space between them unless CJK meets CJK."""
    left = left.rstrip()
    right = right.lstrip()
    if not left or not right:
        return left or right
    if is_no_space_char(left[-1]) or is_no_space_char(right[0]):
        return left + right
    return f"{left} {right}"


def separator(left: str, right: str) -> str:
    """The separator `join_text` would put between `left` and `right`."""
    if left and right and (is_no_space_char(left[-1]) or is_no_space_char(right[0])):
        return ""
    return " "


def strip_bidi(text: str) -> str:
    """Text without bidirectional control marks (see _BIDI_CONTROLS)."""
    return _BIDI_CONTROLS.sub("", text)


def clusters(text: str) -> list[str]:
    """The grapheme clusters of `text`, in order."""
    return list(_cluster_pattern().findall(text))


def cut_run(run: str, limit: int) -> list[str]:
    """A run without spaces in pieces of at most `limit` characters, never inside a cluster.

    Each piece ends at the last soft break (a comma or a full stop of these scripts) that keeps
    it at least half full, else after the last cluster that fits.
    """
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    soft = -1  # index in `current` after which a soft break falls
    for cluster in clusters(run):
        if size + len(cluster) > limit and current:
            cut = soft + 1 if soft + 1 >= len(current) // 2 and soft >= 0 else len(current)
            pieces.append("".join(current[:cut]))
            current = current[cut:]
            size = sum(len(c) for c in current)
            soft = max((n for n, c in enumerate(current) if c[-1] in _SOFT_BREAK), default=-1)
        current.append(cluster)
        size += len(cluster)
        if cluster[-1] in _SOFT_BREAK:
            soft = len(current) - 1
    if current:
        pieces.append("".join(current))
    return pieces
