"""Fidelity check: false-positive rate on faithful cleaning, detection rate of drops and inventions.

    python benchmarks/fidelity.py                  # samples/ and tests/fixtures/
    python benchmarks/fidelity.py --chunk-chars 6000 --seed 7

Every transcript of the corpus (the bundled samples and the test fixture corpus; files the tool
refuses are skipped) is chunked as `run` would chunk it. Each part is cleaned by two faithful
stand-ins for a model, and the reply is measured as the engine measures it:

- `offline`: the bundled rule-based cleaner (fillers, stutters, repetitions, sentence case);
- `editor`: the offline cleaner plus the edits a careful LLM makes: soft fillers ("you know",
  "like", "basically") and sentence-opening "so"/"well" dropped, spelled-out numbers written as
  digits, "gonna"/"wanna" expanded, contractions made or written out, and one word in 150
  replaced (a transcription fix).

A flagged faithful reply is a false positive. Then faults are injected into the `editor` reply:

- drop: a contiguous run of reply words as long as 20% of the part's words is removed;
- scattered drop: four runs of 5% each;
- invention: a 10-word sentence made of the part's own words (shuffled, so it is plausible but
  said nowhere) is inserted at a random sentence boundary.

A fault that is not flagged is a miss. The figures go in the README's "Fidelity" section.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from transcript_cli.chunking import split_chunks  # noqa: E402
from transcript_cli.errors import TranscriptCliError  # noqa: E402
from transcript_cli.fidelity import DEFAULT_THRESHOLDS, Thresholds, measure  # noqa: E402
from transcript_cli.formats import SUFFIXES, read_transcript  # noqa: E402
from transcript_cli.providers.offline import clean_text  # noqa: E402

# (part, faithful reply, the part's word count, rng) -> the reply with a fault injected
Fault = Callable[[str, str, float, random.Random], str]
CORPUS = (REPO / "samples", REPO / "tests" / "fixtures")
_SOFT = re.compile(
    r"(?i)(?:,\s*)?\b(?:you know|i mean|basically|kind of|sort of|like)\b(?:\s*,)?(?=\s)"
)
_OPENER = re.compile(r"(?:(?<=^)|(?<=[.!?]\s))(?:So|Well|Okay|Now),?\s+(\w)")
_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SPELLED = re.compile(
    rf"\b(?:({'|'.join(_TENS)})(?:[ -]({'|'.join(_UNITS[1:])}))?)\b(\s+percent)?", re.I
)
_CONTRACTIONS = (
    ("don't", "do not"),
    ("it's", "it is"),
    ("we're", "we are"),
    ("can't", "cannot"),
    ("that's", "that is"),
    ("I'm", "I am"),
)
_FALSE_START = re.compile(r"\b(\w+ \w+), (\1\b)")
_SWAPS = ("there", "their", "then", "than", "affect", "effect", "accept", "except", "weather")


def corpus_files(roots: list[Path]) -> list[Path]:
    found = []
    for root in roots:
        if root.is_dir():
            found += sorted(
                p
                for p in root.rglob("*")
                if p.suffix.lower() in SUFFIXES and not p.name.endswith(".expected.txt")
            )
    return found


def parts(files: list[Path], chunk_chars: int) -> Iterator[tuple[Path, str]]:
    for path in files:
        try:
            transcript = read_transcript(path)
            chunks = split_chunks(transcript.segments, chunk_chars, 0)
        except (TranscriptCliError, ValueError):
            continue  # a fixture made to be refused
        for chunk in chunks:
            yield path, chunk.text


def editor(source: str, rng: random.Random) -> str:
    """The offline cleaner plus the edits a careful model makes (see the module docstring)."""
    text = clean_text(source) or source.strip()
    text = _SOFT.sub("", text)
    text = _OPENER.sub(lambda m: m.group(1).upper(), text)
    text = re.sub(r"\bgonna\b", "going to", text)
    text = re.sub(r"\bwanna\b", "want to", text)
    # Contractions written out or made, as a model's house style goes.
    for short, full in _CONTRACTIONS:
        text = re.sub(rf"\b{short}\b", full, text) if rng.random() < 0.5 else text
        text = re.sub(rf"\b{full}\b", short, text) if rng.random() < 0.5 else text
    # A false start: "we were, we are" -> "we are" (a restart repeating its first word).
    text = _FALSE_START.sub(r"\2", text)

    def digits(m: re.Match[str]) -> str:
        value = 20 + 10 * _TENS.index(m.group(1).lower())
        if m.group(2):
            value += _UNITS.index(m.group(2).lower())
        return f"{value}%" if m.group(3) else str(value)

    text = _SPELLED.sub(digits, text)
    words = text.split(" ")
    for n in range(rng.randrange(150), len(words), 150):
        if words[n].isalpha() and words[n].islower():
            words[n] = rng.choice(_SWAPS)
    return re.sub(r"\s+([,.!?])", r"\1", " ".join(words)).strip()


def drop_run(reply: str, source_words: int, share: float, runs: int, rng: random.Random) -> str:
    """`reply` without `runs` stretches each as long as `share` of the part's words."""
    words = reply.split(" ")
    size = max(1, round(source_words * share))
    for _ in range(runs):
        if len(words) <= size:
            return ""
        start = rng.randrange(len(words) - size + 1)
        del words[start : start + size]
    return " ".join(words)


def invent(reply: str, source: str, rng: random.Random) -> str:
    """`reply` with a 10-word sentence of the part's own words added at a sentence boundary."""
    vocabulary = sorted({w.lower() for w in re.findall(r"[^\W\d_]+", source) if len(w) > 2})
    pool = vocabulary or ["something"]
    sentence = " ".join(rng.choice(pool) for _ in range(10))
    sentence = sentence[0].upper() + sentence[1:] + "."
    bounds = [m.end() for m in re.finditer(r"[.!?]\s+", reply)] or [len(reply)]
    spot = rng.choice([0, *bounds])
    return f"{reply[:spot]}{sentence} {reply[spot:]}".strip()


@dataclass
class Tally:
    """How often a kind of reply was flagged."""

    total: int = 0
    flagged: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, flagged: bool, note: str) -> None:
        self.total += 1
        self.flagged += flagged
        if flagged and len(self.examples) < 3:
            self.examples.append(note)

    def rate(self) -> str:
        if not self.total:
            return "n/a"
        return f"{self.flagged}/{self.total} = {100 * self.flagged / self.total:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-chars", type=int, nargs="+", default=[400, 1000, 6000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="show flagged faithful replies")
    parser.add_argument(
        "--corpus", type=Path, nargs="+", default=list(CORPUS), help="folders of transcripts"
    )
    d = DEFAULT_THRESHOLDS
    parser.add_argument("--min-coverage", type=float, default=d.min_coverage)
    parser.add_argument("--max-invention", type=float, default=d.max_invention)
    parser.add_argument("--max-run", type=float, default=d.max_invented_run)
    parser.add_argument("--min-words", type=float, default=d.min_words_for_shares)
    args = parser.parse_args()
    files = corpus_files(args.corpus)
    t = Thresholds(args.min_coverage, args.max_invention, args.max_run, args.min_words)
    print(
        f"thresholds: coverage >= {t.min_coverage:.0%}, invention <= {t.max_invention:.0%} "
        f"(parts of {t.min_words_for_shares:g}+ words), fewer than {t.max_invented_run:g} "
        "new words in a row"
    )
    shown = [c.resolve() for c in args.corpus]
    roots = ", ".join(str(c.relative_to(REPO) if c.is_relative_to(REPO) else c) for c in shown)
    print(f"corpus: {len(files)} files under {roots}")
    for chunk_chars in args.chunk_chars:
        rng = random.Random(args.seed)
        tallies = {
            name: Tally()
            for name in ("offline", "editor", "drop 20%", "drop 4x5%", "invented sentence")
        }
        cases: list[tuple[str, Fault]] = [
            ("drop 20%", lambda src, rep, n, r: drop_run(rep, round(n), 0.20, 1, r)),
            ("drop 4x5%", lambda src, rep, n, r: drop_run(rep, round(n), 0.05, 4, r)),
            ("invented sentence", lambda src, rep, n, r: invent(rep, src, r)),
        ]
        count = 0
        seconds = 0.0
        for path, source in parts(files, chunk_chars):
            count += 1
            clean = clean_text(source) or source.strip()
            edited = editor(source, rng)
            for name, reply in (("offline", clean), ("editor", edited)):
                started = time.perf_counter()
                result = measure(source, reply, t)
                seconds += time.perf_counter() - started
                tallies[name].add(result.flagged, f"{path.name}: {result.message()}")
            words = measure(source, edited, t).source_words
            for name, make in cases:
                result = measure(source, make(source, edited, words, rng), t)
                tallies[name].add(result.flagged, f"{path.name}: {result.message()}")
        print(f"\n--chunk-chars {chunk_chars}: {count} parts")
        print(f"  false positives, offline cleaner   {tallies['offline'].rate()}")
        print(f"  false positives, editor stand-in   {tallies['editor'].rate()}")
        for name, _ in cases:
            print(f"  detected: {name:<24} {tallies[name].rate()}")
        if count:
            print(f"  alignment time: {1000 * seconds / (2 * count):.2f} ms per part")
        if args.verbose:
            for name in ("offline", "editor"):
                for example in tallies[name].examples:
                    print(f"    {name} flagged: {example}")


if __name__ == "__main__":
    main()
