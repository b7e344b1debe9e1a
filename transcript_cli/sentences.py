"""What counts as a sentence end, and which scripts are written without spaces between words.

One definition shared by the chunker (where to cut, what to tell the model about a cut) and the
joiner (whether a seam between two replies is a paragraph break or the middle of a sentence), so
the two can never disagree about a seam.
"""

from __future__ import annotations

import enum
import re

# Sentence-final marks: Latin, CJK (full- and half-width), Arabic, Devanagari, Ethiopic.
FINAL_MARKS = ".!?…‼⁇⁈⁉。！？．｡؟۔।॥።"
# What may close a sentence after its final mark: quotes and brackets, Latin and CJK.
CLOSERS = "\"')]}”’»›」』）］｝】〉》〕〗〙〛"
# Chinese and Japanese: Han, kana and their punctuation and full-width forms. Not Hangul, which
# Korean writes with spaces between words.
NO_SPACE_CHARS = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u3100-\u312f\u31c0-\u31ff"
    "\u3200-\u33ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff65"
    "\U00020000-\U0003134f"
)

_MARK = f"[{re.escape(FINAL_MARKS)}]"
_CLOSER = f"[{re.escape(CLOSERS)}]"
_ENDS_SENTENCE = re.compile(f"{_MARK}{_CLOSER}*$")
_NO_SPACE = re.compile(f"[{NO_SPACE_CHARS}]")


def ends_sentence(text: str) -> bool:
    """True if `text` ends with sentence-final punctuation (closing quotes allowed after it)."""
    return bool(_ENDS_SENTENCE.search(text.rstrip()))


def is_no_space_char(char: str) -> bool:
    """True for a character of a script that puts no spaces between words (Chinese, Japanese)."""
    return bool(char) and bool(_NO_SPACE.match(char))


class Boundary(enum.Enum):
    """How one edge of a chunk relates to the sentence it falls in; the chunker knows."""

    TEXT_EDGE = "edge"  # the start or the end of the whole transcript
    SENTENCE_END = "sentence"  # between two sentences
    MID_SENTENCE = "mid"  # inside a sentence: punctuated text with no sentence end here
    UNPUNCTUATED = "unknown"  # no punctuation to tell by (raw captions): may be either

    @property
    def maybe_mid_sentence(self) -> bool:
        """True if a sentence may run across this edge."""
        return self in (Boundary.MID_SENTENCE, Boundary.UNPUNCTUATED)
