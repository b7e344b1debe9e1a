"""A rule-based cleaner that needs no network: for demos, engine tests and people without a key.

It does what rules can do (fillers, stutters, repeated words, whitespace, sentence case,
paragraphs) and nothing an LLM would be needed for. Deterministic, so outputs are comparable.

The fillers, stutters, doubled words, "i" -> "I" and sentence case are English rules: in French
"nous nous" is grammar and "Vous êtes sûr ?" keeps its space. So they apply only to text that
reads as English (`looks_english`); other languages get whitespace, speaker turns and paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from transcript_cli.providers.base import ChunkRequest, Completion
from transcript_cli.scripts import join_text

OFFLINE_MODEL = "rules-1"

# A new turn: "Name: ", or the "- " / ">> " that subtitles use for a change of speaker. A name is
# up to four capitalised words, so "So the plan is: ship it" stays a sentence.
_TURN = re.compile(r"^\s*(?:(?:>>|-)\s+|([A-Z][\w.'-]*(?: [A-Z0-9][\w.'-]*){0,3}):\s+)")
_SOUND_TAG = re.compile(r"\[(?:music|applause|laughter|laughs|inaudible|silence|noise)\]", re.I)
_FILLER = re.compile(
    r"(?:,\s*)?(?<![\w'-])(?:u+m+|u+h+|e+r+m+|e+r+|a+h+|h+m+|m+h+m+|uh-huh)(?![\w'-])(?:\s*,)?",
    re.I,
)
# "th-the", "we-we", "th-th-the": cut-off starts of the word that follows. Real prefixes are left
# alone, and so are words made by doubling ("so-so") and the middle of compounds ("one-on-one").
_STUTTER = re.compile(
    r"(?<![\w-])(?!(?:re|co|pre|non|no|un|de|ex|bi|mid|pro|sub)-)"
    r"(?!(?:so|bye|yo|ha|tut|pom|boo|tom)-(?:so|bye|yo|ha|tut|pom|boo|tom)\b)"
    r"(\w{1,3})-(?:\1-)*(?=\1)",
    re.I,
)
# "i" alone is the pronoun; "i.e." is not.
_LONE_I = re.compile(r"\bi\b(?!\.\w)")
# "had had" and "that that" are grammar ("what he had had", "he said that that was it").
_REPEAT = re.compile(r"\b(?!(?:had|that)\b)(\w+(?:'\w+)?)(?:,?\s+\1\b)+", re.I)
_REPEAT_PAIR = re.compile(r"\b(\w+(?:'\w+)?\s+\w+(?:'\w+)?)(?:,?\s+\1\b)+", re.I)
# Captions with little punctuation have long runs without a sentence end: break them every so
# many words.
_WORDS_PER_BARE_PARAGRAPH = 80
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
_DOUBLE_PUNCT = re.compile(r"([,;:])\s*([,.!?;:])")
_LEADING_PUNCT = re.compile(r"^[\s,.;:]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*(?=\S)")
# The first letter of the text or after a sentence end and a space ("3.5 percent" has none;
# nor has "e.g. this").
_SENTENCE_START = re.compile(
    r"((?:^|(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)[.!?][\"')\]]*\s+)[\"'(\[]*)([^\W\d_])", re.I
)
_SENTENCES_PER_PARAGRAPH = 5
# Function words frequent in English and rare elsewhere, and the same for languages written in the
# Latin alphabet that the English rules would damage. Words that are also English (a, in, no, on,
# die, son, non, com, os, van) are in neither.
_ENGLISH_WORDS = (
    "the and is are was were you that this it of to what with for have be they we not but "
    "just so do don't it's i'm there their about would"
)
_OTHER_WORDS = (
    "le la les des est et une pas je vous nous qui dans ce cette sont avec pour mais "  # fr
    "el los las que y es una por con para del pero está muy también "  # es
    "il che di è sono della gli questo "  # it
    "não uma você isso também "  # pt
    "der das und ist nicht ich sie ein eine zu mit auf den dem sich auch "  # de
    "het een ik niet zijn maar ook"  # nl
)
_ENGLISH = frozenset(_ENGLISH_WORDS.split())
_OTHERS = frozenset(_OTHER_WORDS.split())
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def looks_english(text: str) -> bool:
    """Whether the English rules may touch `text`: Latin letters without non-ASCII ones to speak
    of, and English function words at least as common as those of other languages."""
    letters = _LETTER.findall(text)
    if not letters:
        return True
    foreign = sum(1 for c in letters if not c.isascii())
    if foreign * 20 > len(letters):  # accents, or another script altogether
        return False
    words = [w.lower() for w in _WORD.findall(text)]
    english = sum(1 for w in words if w in _ENGLISH)
    other = sum(1 for w in words if w in _OTHERS)
    return english >= other


def _tokens(text: str) -> int:
    """A rough token count (about four characters each) so status shows something sensible."""
    return max(1, len(text) // 4)


def _clean_flow(text: str, *, continues: bool = False, english: bool = True) -> str:
    if not english:
        return re.sub(r"\s+", " ", text).strip()
    text = _SOUND_TAG.sub(" ", text)
    text = _FILLER.sub(" ", text)
    text = _STUTTER.sub("", text)
    text = _REPEAT_PAIR.sub(r"\1", text)
    text = _REPEAT.sub(r"\1", text)
    text = re.sub(r"\s+", " ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _DOUBLE_PUNCT.sub(r"\2", text)
    text = _LEADING_PUNCT.sub("", text).strip()
    text = _LONE_I.sub("I", text)
    return _sentence_case(text, capitalise_start=not continues)


def _sentence_case(text: str, *, capitalise_start: bool) -> str:
    def upper(match: re.Match[str]) -> str:
        if match.start() == 0 and not capitalise_start:
            return match.group(0)
        return match.group(1) + match.group(2).upper()

    return _SENTENCE_START.sub(upper, text)


def _paragraphs(text: str) -> list[str]:
    """Five sentences each; a run of more words than a paragraph holds is cut between words."""
    paragraphs: list[str] = []
    group: list[str] = []
    for sentence in _SENTENCE.split(text):
        words = sentence.split(" ")
        step = _WORDS_PER_BARE_PARAGRAPH
        pieces = [" ".join(words[n : n + step]) for n in range(0, len(words), step)]
        if len(pieces) > 1 and group:
            paragraphs.append(_joined(group))
            group = []
        for piece in pieces[:-1]:
            paragraphs.append(piece)
        group.append(pieces[-1])
        if len(group) == _SENTENCES_PER_PARAGRAPH:
            paragraphs.append(_joined(group))
            group = []
    if group:
        paragraphs.append(_joined(group))
    return [p for p in paragraphs if p]


def _joined(parts: Iterable[str]) -> str:
    """Parts as one text: spaced, except between Chinese or Japanese characters."""
    text = ""
    for part in parts:
        text = join_text(text, part)
    return text


def clean_text(source: str, *, continues: bool = False) -> str:
    """Clean one chunk of transcript; speaker turns start new paragraphs.

    `continues`: the chunk begins mid-sentence, so its first word is not capitalised.
    """
    turns: list[tuple[str, list[str]]] = [("", [])]
    for line in source.splitlines():
        match = _TURN.match(line)
        if match:
            turns.append((match.group(1) or "", [line[match.end() :]]))
        else:
            turns[-1][1].append(line)
    english = looks_english(source)
    blocks = []
    for n, (speaker, lines) in enumerate(turns):
        body = _clean_flow(_joined(lines), continues=continues and n == 0, english=english)
        if not body:
            continue
        paragraphs = _paragraphs(body)
        if speaker:
            paragraphs[0] = f"{speaker}: {paragraphs[0]}"
        blocks.extend(paragraphs)
    return "\n\n".join(blocks)


class OfflineProvider:
    """Cleans with rules only; ignores the prompt, reads the chunk's raw source."""

    name = "offline"

    def __init__(self, model: str = OFFLINE_MODEL) -> None:
        self.model = model

    def close(self) -> None:
        """Nothing to release."""

    def complete(
        self, request: ChunkRequest, on_send: Callable[[], None] | None = None
    ) -> Completion:
        if on_send is not None:
            on_send()
        text = clean_text(request.source, continues=request.opens.maybe_mid_sentence)
        return Completion(
            text=text or request.source.strip(),
            input_tokens=_tokens(request.system) + _tokens(request.user),
            output_tokens=_tokens(text),
            model=self.model,
        )
