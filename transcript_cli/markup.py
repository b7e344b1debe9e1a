"""Subtitle markup to plain text: ASS/SSA override blocks, `\\N` and `\\h`, HTML-ish tags, entities.

Only what is markup goes: a tag is removed when its name is one subtitle files use (`<i>`, `<font
color=...>`, `<v Name>`, `<c.colour>`, a VTT timestamp), so "2<3,5>1" or "if x <y and z> w" stay
as written. Voice tags are read for their speaker before this runs (see `speakers.py`).
"""

from __future__ import annotations

import html
import re

from transcript_cli.scripts import strip_bidi

_TAG_NAMES = (
    "b|i|u|s|c|v|lang|ruby|rt|rp|font|span|br|em|strong|sub|sup|p|div|small|big|center|mark"
)
_TAG = re.compile(
    rf"</?(?:{_TAG_NAMES})(?:[.\s][^<>]*)?/?>"  # <i>, </i>, <c.yellow>, <v Name>, <font ...>
    r"|<\d{1,2}(?::\d{2}){1,2}[.,]\d{1,3}>",  # <00:00:01.520>: a word's time in auto-captions
    re.I,
)
# `{\an8}`, `{\i1}`, `{\pos(10,10)}`: override blocks start with a backslash; in SRT and VTT only
# those are markup, while in ASS any brace block is (the rest are comments).
_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_ASS_BLOCK = re.compile(r"\{[^{}]*\}")
_HARD_BREAK = re.compile(r"\\N", re.I)  # ASS \N (and the \n some converters write)
_HARD_SPACE = re.compile(r"\\h")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def caption_lines(text: str, *, ass: bool = False) -> list[str]:
    """The display lines of a cue's text as plain text; empty lines dropped."""
    text = (_ASS_BLOCK if ass else _OVERRIDE).sub("", text)
    text = _HARD_SPACE.sub(" ", _HARD_BREAK.sub("\n", text))
    lines = (plain_line(_TAG.sub("", line)) for line in text.splitlines())
    return [line for line in lines if line]


def plain_line(line: str) -> str:
    """Entities unescaped, bidi marks removed, runs of spaces collapsed to one."""
    line = strip_bidi(html.unescape(line))
    return _SPACES.sub(" ", line).strip()


def has_word_timing(text: str) -> bool:
    """Whether a cue carries per-word timestamps, as YouTube's automatic captions do."""
    return bool(re.search(r"<\d{1,2}(?::\d{2}){1,2}[.,]\d{1,3}>", text))
