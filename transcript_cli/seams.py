"""Joining the replies of consecutive parts so the output reads as one piece.

A part cut mid-sentence comes back as a reply that stops mid-sentence; putting a blank line after
it would break the sentence in two. So a seam is a paragraph break only where the reply before it
ended a sentence (or the reply after it opens a new speaker's turn); otherwise the sentence goes
on in the same paragraph, after one space, or after none between Chinese or Japanese characters.
Pure functions of the reply texts, so a resumed job joins byte for byte as an uninterrupted one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from transcript_cli.sentences import ends_sentence, is_no_space_char

PARAGRAPH_BREAK = "\n\n"
# A reply that opens a speaker's turn: "Name:" (up to four capitalised words or a SPEAKER_1-style
# tag, optionally in bold), or the ">> " and "- " that captions use for a change of speaker.
_TURN = re.compile(
    r"^(?:>>|- )|^\**[A-Z][\w.'-]*(?: [A-Z0-9][\w.'-]*){0,3}\**:\**\s",
)


def separator(before: str, after: str) -> str:
    """What goes between a reply ending in `before` and the next one starting with `after`."""
    before, after = before.rstrip(), after.lstrip()
    if not before or not after or ends_sentence(before) or _TURN.match(after):
        return PARAGRAPH_BREAK
    if is_no_space_char(before[-1]) and is_no_space_char(after[0]):
        return ""
    return " "


def join_replies(texts: Iterable[str]) -> Iterator[str]:
    """The replies, stripped, each after the separator its seam calls for; streams."""
    previous = ""
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if previous:
            yield separator(previous, text)
        yield text
        previous = text


def join_all(texts: Iterable[str]) -> str:
    """`join_replies` as one string, for a chunk's split pieces."""
    return "".join(join_replies(texts))
