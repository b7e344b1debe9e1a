"""Did the model keep what was said, and only that? Word alignment of a reply to its part.

Both texts become normalised tokens (case, punctuation and hesitation fillers ignored; one token
per character for scripts written without spaces) and are aligned in order with difflib. From the
alignment come two figures:

- coverage: the share of the part's words that have a counterpart in the reply. Words a faithful
  cleaner may drop (soft fillers, stutters, immediate repetitions) do not count against it.
- invention: the share of the reply's words that have no counterpart in the part.

A reply is flagged when coverage is too low, invention too high, or it holds a run of new words
as long as a sentence (a 10-word invented sentence is 1% of a long part: the share alone would
not see it). `Thresholds` holds the documented limits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property
from typing import NamedTuple

# Scripts written without spaces between words: each character is a token.
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W_{_UNSPACED}]+(?:['’][^\W_{_UNSPACED}]+)*")
# Annotations, not speech: "[Music]", "[inaudible]", and the fake API's "[clean]" marker.
_ANNOTATION = re.compile(r"\[[^\]\n]{0,40}\]")
# Sounds of hesitation: never speech worth keeping, on either side.
HARD_FILLERS = frozenset(
    [
        "um",
        "umm",
        "uh",
        "uhh",
        "uhm",
        "er",
        "erm",
        "ah",
        "ahh",
        "hm",
        "hmm",
        "mhm",
        "mm",
        "mmm",
        "eh",
        "huh",
        "uhhuh",
        "嗯",  # Chinese hesitations: one character each, so one token each
        "呃",
    ]
)
# Words a faithful cleaner may drop as filler; kept words still align, dropped ones are excused.
SOFT_FILLERS = frozenset(
    [
        "like",
        "so",
        "well",
        "okay",
        "ok",
        "yeah",
        "right",
        "just",
        "actually",
        "basically",
        "really",
        "oh",
    ]
)
SOFT_PHRASES = (("you", "know"), ("i", "mean"), ("kind", "of"), ("sort", "of"))
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
} | {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
}
_SCALES = frozenset({"hundred", "thousand", "million", "billion"})
# Contractions and spoken forms, read in full so that writing them out is no change.
_SPOKEN = {
    "gonna": ["going", "to"],
    "wanna": ["want", "to"],
    "gotta": ["got", "to"],
    "kinda": ["kind", "of"],
    "sorta": ["sort", "of"],
    "cuz": ["because"],
    "cannot": ["can", "not"],
    "let's": ["let", "us"],
}
_NEGATED = {"do": "do", "don": "do", "wo": "will", "ca": "can", "sha": "shall", "ai": "is"}
_CLITICS = {"re": "are", "ll": "will", "ve": "have", "m": "am", "d": "would", "s": "is"}
# "'s" is "is" after these; after a noun it is a possessive ("the ocean's heat").
_IS_BEFORE = frozenset(
    ["it", "that", "what", "there", "here", "he", "she", "who", "where", "how", "this"]
)
_MAX_RESTART_GAP = 2  # words between a phrase and its repetition ("it, I mean, it")
_UNSPACED_WEIGHT = 0.5  # two characters of Chinese or Japanese say about one word


@dataclass(frozen=True)
class Thresholds:
    """Where a reply stops looking like a faithful cleaning of its part (see README, Fidelity)."""

    min_coverage: float = 0.85
    max_invention: float = 0.10
    max_invented_run: float = 8.0  # words in a row with no counterpart
    # Below this many words a share says little ("um, yeah, okay"); the run check still applies.
    min_words_for_shares: float = 10.0


DEFAULT_THRESHOLDS = Thresholds()


class Token(NamedTuple):
    """One normalised word (or unspaced character) and where it sits in its text.

    A NamedTuple: a long part has thousands, and every reply of a job is measured.
    """

    norm: str
    start: int
    end: int
    weight: float


def tokenize(text: str) -> list[Token]:
    """Normalised tokens of `text`, hesitation fillers and [annotations] left out.

    Spelled-out English numbers become digits ("seventy two" and "72" are one token "72") and
    "%" reads "percent": writing numbers as digits is the commonest faithful edit. English
    contractions and spoken forms read in full ("don't" = "do not", "gonna" = "going to").
    """
    masked = _ANNOTATION.sub(lambda m: " " * len(m.group(0)), text)
    tokens: list[Token] = []
    for match in _TOKEN.finditer(masked):
        word = match.group(0)
        norm = word if word.isascii() else unicodedata.normalize("NFKC", word)
        norm = norm.casefold().replace("’", "'")
        if norm in HARD_FILLERS:
            continue
        weight = _UNSPACED_WEIGHT if len(norm) == 1 and _UNSPACED_CHAR.match(norm) else 1.0
        for part in _in_full(norm):
            tokens.append(Token(part, match.start(), match.end(), weight))
        if word[-1].isdigit() and masked.startswith("%", match.end()):
            tokens.append(Token("percent", match.end(), match.end() + 1, 1.0))
    return numbers_as_digits(tokens)


def _in_full(word: str) -> list[str]:
    """A contraction or spoken form as the words it stands for; apostrophes dropped."""
    if word in _SPOKEN:
        return _SPOKEN[word]
    if "'" not in word:
        return [word]
    head, _, tail = word.rpartition("'")
    if tail == "t" and head.endswith("n"):
        base = head[:-1]
        return [_NEGATED.get(base, base), "not"]
    if tail in _CLITICS and (tail != "s" or head in _IS_BEFORE):
        return [head.replace("'", ""), _CLITICS[tail]]
    return [word.replace("'", "")]


def numbers_as_digits(tokens: Sequence[Token]) -> list[Token]:
    """Runs of English number words as one token of digits; other tokens as they are."""
    merged: list[Token] = []
    n = 0
    while n < len(tokens):
        end = n
        while end < len(tokens) and tokens[end].norm in _NUMBER_WORDS:
            end += 1
        # "hundred" or "thousand" alone ("hundreds of them") is a word, not a number.
        if end > n and tokens[n].norm not in _SCALES:
            run = tokens[n:end]
            merged.append(Token(_digits([t.norm for t in run]), run[0].start, run[-1].end, 1.0))
            n = end
        else:
            merged.append(tokens[n])
            n += 1
    return merged


def _digits(words: Sequence[str]) -> str:
    """ "seventy two" -> "72", "three hundred five" -> "305", "nineteen seventy" -> "1970"."""
    groups: list[int] = []  # finished values said one after another (years, codes)
    total = current = 0
    open_group = False
    last_small = ""  # "unit", "teen" or "ten": what may follow in the same group
    for word in words:
        value = _NUMBER_WORDS[word]
        if word in _SCALES:
            current = max(current, 1) * value
            if value > 100:
                total += current
                current = 0
            last_small = ""
        else:
            kind = "ten" if value >= 20 else "teen" if value >= 10 else "unit"
            follows = (last_small == "ten" and kind == "unit") or (not last_small and open_group)
            if open_group and not follows:
                groups.append(total + current)
                total = current = 0
            current += value
            last_small = kind
        open_group = True
    groups.append(total + current)
    return "".join(str(g) for g in groups)


def _optional(tokens: Sequence[Token]) -> frozenset[int]:
    """Source positions a faithful cleaner may drop: soft fillers, stutters, repetitions.

    Both copies of a repetition are optional, since the aligner may keep either one.
    """
    norms = [t.norm for t in tokens]
    found = set()
    for n, token in enumerate(tokens):
        following = norms[n + 1] if n + 1 < len(norms) else ""
        if token.norm in SOFT_FILLERS or (
            # "th-the", "we- we": a cut-off start of the word that follows
            token.weight == 1.0
            and len(token.norm) <= 3
            and len(token.norm) < len(following)
            and following.startswith(token.norm)
        ):
            found.add(n)
        if (token.norm, following) in SOFT_PHRASES:
            found.update((n, n + 1))
    # "the the", "I think I think", "ship it, I mean, ship it": a restart repeats 1-3 words,
    # perhaps with a couple of words between.
    for n, first in enumerate(norms):
        for size in (1, 2, 3):
            for gap in range(_MAX_RESTART_GAP + 1):
                m = n + size + gap
                if (
                    m < len(norms)
                    and norms[m] == first
                    and norms[n : n + size] == norms[m : m + size]
                ):
                    found.update(range(n, n + size))
                    found.update(range(m, m + size))
    return frozenset(found)


@dataclass(frozen=True)
class Alignment:
    """Which reply token stands for which part token, in order."""

    source: tuple[Token, ...]
    reply: tuple[Token, ...]
    pairs: tuple[tuple[int, int], ...]  # (source index, reply index), both increasing

    @cached_property
    def optional(self) -> frozenset[int]:
        """Source indices that may be dropped without loss (worked out only when asked)."""
        return _optional(self.source)

    @property
    def matched_source(self) -> frozenset[int]:
        return frozenset(s for s, _ in self.pairs)

    @property
    def matched_reply(self) -> frozenset[int]:
        return frozenset(r for _, r in self.pairs)

    def source_for_reply(self) -> dict[int, int]:
        """Reply token index -> the part token it matched."""
        return {r: s for s, r in self.pairs}


def align(source: str, reply: str) -> Alignment:
    """Align the reply's tokens to the part's, in order (difflib's longest matching blocks)."""
    src = tokenize(source)
    rep = tokenize(reply)
    matcher = SequenceMatcher(None, [t.norm for t in src], [t.norm for t in rep], autojunk=False)
    pairs = tuple(
        (block.a + k, block.b + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    )
    return Alignment(tuple(src), tuple(rep), pairs)


@dataclass(frozen=True)
class Fidelity:
    """The figures for one reply, and whether they are outside the thresholds."""

    coverage: float  # share of the part's words kept, 0..1
    invention: float  # share of the reply's words with no counterpart, 0..1
    invented_run: float  # longest run of new words in a row
    source_words: float
    reply_words: float
    flagged: bool

    def message(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
        """The warning a user sees: both figures, and the limits they were held to."""
        text = (
            f"fidelity: kept {_pct(self.coverage)} of the part's words "
            f"(min {_pct(thresholds.min_coverage)}), "
            f"{_pct(self.invention)} of the reply's words are not in the part "
            f"(max {_pct(thresholds.max_invention)})"
        )
        if self.invented_run >= thresholds.max_invented_run:
            text += f", including {self.invented_run:g} new words in a row"
        return text


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def measure(source: str, reply: str, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Fidelity:
    """Coverage and invention of `reply` as a cleaning of `source`."""
    return measure_alignment(align(source, reply), thresholds)


def measure_alignment(
    alignment: Alignment, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> Fidelity:
    """The figures of an alignment already made (timestamps reuse it)."""
    kept = alignment.matched_source
    must = kept_weight = 0.0
    for n, token in enumerate(alignment.source):
        if n in kept:
            kept_weight += token.weight
            must += token.weight
        elif n not in alignment.optional:
            must += token.weight
    matched = alignment.matched_reply
    reply_words = sum(t.weight for t in alignment.reply)
    new_words = run = longest = 0.0
    for n, token in enumerate(alignment.reply):
        if n in matched:
            run = 0.0
            continue
        new_words += token.weight
        run += token.weight
        longest = max(longest, run)
    coverage = kept_weight / must if must else 1.0
    invention = new_words / reply_words if reply_words else 0.0
    source_words = sum(t.weight for t in alignment.source)
    shares_count = source_words >= thresholds.min_words_for_shares
    flagged = longest >= thresholds.max_invented_run or (
        shares_count
        and (coverage < thresholds.min_coverage or invention > thresholds.max_invention)
    )
    return Fidelity(coverage, invention, longest, source_words, reply_words, flagged)
