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
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fake_anthropic import FakeAnthropic  # noqa: E402
from tests.stand_in import faithful_reply, write_rolling_vtt  # noqa: E402
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


if __name__ == "__main__":
    main()
