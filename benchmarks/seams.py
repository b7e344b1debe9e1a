"""How the seams between chunk replies read, before and after the join rule (run by hand).

    python benchmarks/seams.py

Unpunctuated YouTube-style auto-captions cut into about 20 chunks, cleaned through the real CLI
(a subprocess, the real SDK against the fake Messages API) by a faithful stand-in model that
leaves a cut sentence unfinished, and by the offline cleaner. For each it prints, out of all
seams:
- mid-sentence paragraph breaks: a blank line after a reply that ends without a sentence end.
  "before" joins the same replies as the old code did (a blank line at every seam);
- capitalised continuations: a part that continues a sentence whose first word came back with a
  capital. "before" is what the same cleaner does when not told that the part continues.

Then pause cuts: unpunctuated timed captions (SRT) of sentences of 6-25 words, where speakers
pause 0.4-1.6 s between sentences and 0.05-0.45 s inside one (with a 0.6-1.2 s hesitation inside
one sentence in twenty); the share of chunk cuts that fall at a real sentence end, cutting at the
last cue that fits ("before") vs at the longest pause in the chunk's second half ("after").
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fake_anthropic import FakeAnthropic  # noqa: E402
from tests.stand_in import faithful_reply, write_rolling_vtt, write_timed  # noqa: E402
from transcript_cli.chunking import Chunk, split_chunks  # noqa: E402
from transcript_cli.formats import read_transcript  # noqa: E402
from transcript_cli.prompts import render_user_message  # noqa: E402
from transcript_cli.providers.offline import clean_text  # noqa: E402
from transcript_cli.sentences import ends_sentence  # noqa: E402

CHUNK_CHARS = 600
CONTEXT_CHARS = 300


def cli(workdir: Path, base_url: str | None, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "TRANSCRIPT_"))}
    env |= {"TRANSCRIPT_CLI_STATE_DIR": str(workdir / "state"), "ANTHROPIC_API_KEY": "sk-fake"}
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    command = [sys.executable, "-m", "transcript_cli", *args, "--chunk-chars", str(CHUNK_CHARS)]
    subprocess.run(command, cwd=workdir, env=env, check=True, capture_output=True)


def mid_sentence_breaks(replies: list[str], output: str) -> int:
    """Seams where `output` has a blank line after a reply that did not end a sentence."""
    count = 0
    position = 0
    for before, after in itertools.pairwise(r.strip() for r in replies):
        position = output.index(before, position) + len(before)
        start = output.index(after, position)
        if "\n\n" in output[position:start] and not ends_sentence(before):
            count += 1
    return count


def capitalised_continuations(chunks: list[Chunk], replies: list[str]) -> int:
    return sum(
        1
        for chunk, reply in zip(chunks[1:], replies[1:], strict=True)
        if chunk.opens.maybe_mid_sentence and reply.strip()[:1].isupper()
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeAnthropic() as api:
        work = Path(tmp)
        src = write_rolling_vtt(work / "lecture.vtt", 220)
        chunks = split_chunks(read_transcript(src).segments, CHUNK_CHARS, CONTEXT_CHARS)
        seams = len(chunks) - 1
        print(f"input: {src.name}, unpunctuated rolling auto-captions, {len(chunks)} chunks")

        api.replier = faithful_reply
        cli(work, api.url, "run", str(src), "--name", "model")
        after = (work / "cleaned" / "lecture.md").read_text(encoding="utf-8")
        by_part = {r.transcript: r.body["messages"][0]["content"] for r in api.requests}
        told = [faithful_reply(c.text, by_part[c.text]) for c in chunks]
        # Before, as the stand-in did: a cut part left unfinished (the old prompt asked
        # for that too), but nothing told it that a part continues a sentence.
        untold = [
            faithful_reply(c.text, render_user_message(c.text, c.context, closes=c.closes))
            for c in chunks
        ]
        before = "\n\n".join(r.strip() for r in untold) + "\n"
        report("stand-in model", seams, chunks, (before, untold), (after, told))

        (work / "cleaned" / "lecture.md").unlink()
        cli(work, None, "run", str(src), "--name", "offline", "--provider", "offline")
        after = (work / "cleaned" / "lecture.md").read_text(encoding="utf-8")
        told = [clean_text(c.text, continues=c.opens.maybe_mid_sentence) for c in chunks]
        untold = [clean_text(c.text) for c in chunks]
        before = "\n\n".join(r.strip() for r in untold) + "\n"
        report("offline cleaner", seams, chunks, (before, untold), (after, told))
        for chunk_chars in (CHUNK_CHARS, 6000):
            pause_cuts(work, chunk_chars)


def report(
    name: str,
    seams: int,
    chunks: list[Chunk],
    before: tuple[str, list[str]],
    after: tuple[str, list[str]],
) -> None:
    for label, (output, replies) in (("before", before), ("after", after)):
        breaks = mid_sentence_breaks(replies, output)
        capitals = capitalised_continuations(chunks, replies)
        print(
            f"{name:16} {label:6}: mid-sentence paragraph breaks {breaks}/{seams} seams, "
            f"capitalised continuations {capitals}/{seams}"
        )


_WORDS = "ocean heat water layer current station float surface season team deep warm cold data"
_WORDS += " model trend region north south coast shelf wind storm ice salt mix flow depth year"


def speech(rng: random.Random, sentences: int) -> tuple[list[tuple[str, float]], set[int]]:
    """Cue lines with the silence before each, and the indices of lines that end a sentence."""
    lines: list[tuple[str, float]] = []
    ends: set[int] = set()
    for _ in range(sentences):
        words = [rng.choice(_WORDS.split()) for _ in range(rng.randint(6, 25))]
        for n in range(0, len(words), 8):
            if n == 0 and lines:
                pause = rng.uniform(0.4, 1.6)
            elif rng.random() < 0.05:
                pause = rng.uniform(0.6, 1.2)
            else:
                pause = rng.uniform(0.05, 0.45)
            lines.append((" ".join(words[n : n + 8]), pause))
        ends.add(len(lines) - 1)
    return lines, ends


def pause_cuts(work: Path, chunk_chars: int) -> None:
    rng = random.Random(7)
    at_end = {"before": 0, "after": 0}
    cuts = {"before": 0, "after": 0}
    for trial in range(10):
        lines, ends = speech(rng, 400)
        src = write_timed(work / f"speech{trial}.srt", lines)
        timed = read_transcript(src).segments
        untimed = [dataclasses.replace(s, start=None, end=None) for s in timed]
        # Word counts up to the end of each sentence: a cut there is at a sentence end.
        total = 0
        sentence_ends = set()
        for n, (text, _) in enumerate(lines):
            total += len(text.split())
            if n in ends:
                sentence_ends.add(total)
        for label, segments in (("before", untimed), ("after", timed)):
            position = 0
            for chunk in split_chunks(segments, chunk_chars, CONTEXT_CHARS)[:-1]:
                position += len(chunk.text.split())
                at_end[label] += position in sentence_ends
                cuts[label] += 1
    for label in ("before", "after"):
        share = at_end[label] / cuts[label]
        print(
            f"pause cuts {chunk_chars:>5} {label:6}: {at_end[label]}/{cuts[label]} cuts at a "
            f"sentence end ({share:.0%})"
        )


if __name__ == "__main__":
    main()
