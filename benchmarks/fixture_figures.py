"""Figures for the input fixture corpus: how many fixtures come through whole, and words kept.

For each file of tests/fixtures/inputs, the text the model would be sent (every chunk, joined) is
compared with the file's expected text: "whole" means the same text in the same order (ignoring
whitespace), each speaker turn starting a line, and no markup left. Words are counted as the
expected text counts them (characters for Chinese, Japanese and Thai, which have no spaces), so
"kept" above 100 % means repeats left in, below 100 % means speech lost.

    python benchmarks/fixture_figures.py [--chunk-chars N]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transcript_cli.chunking import split_chunks  # noqa: E402
from transcript_cli.errors import InputError  # noqa: E402
from transcript_cli.formats import read_transcript  # noqa: E402
from transcript_cli.scripts import has_unspaced  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "inputs"
_MARKUP = re.compile(r"\{\\|\\[Nh]|</?(?:i|b|u|font|v|c)\b[^>]*>|&(?:amp|lt|gt|quot|#\d+);|<\d\d:")


def words(text: str) -> int:
    """Whitespace-separated words; a run in a script without spaces counts its characters."""
    return sum(len(w) if has_unspaced(w) else 1 for w in text.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-chars", type=int, default=6000)
    args = parser.parse_args()
    whole = 0
    kept_total = expected_total = 0
    cases = sorted(p for p in FIXTURES.iterdir() if ".expected." not in p.name)
    print(f"{'fixture':<34}{'read as':<24}{'words kept':>16}  result")
    for path in cases:
        expected = (FIXTURES / f"{path.stem}.expected.txt").read_text(encoding="utf-8")
        try:
            transcript = read_transcript(path)
        except InputError as exc:
            print(f"{path.name:<34}{'refused':<24}{'':>16}  {exc.problem}")
            expected_total += words(expected)
            continue
        chunks = split_chunks(transcript.segments, args.chunk_chars, 0)
        text = "\n".join(c.text for c in chunks)
        starts = [line.strip() for line in text.splitlines()]
        labels_ok = all(
            any(s.startswith(line[:24]) for s in starts)
            for line in expected.splitlines()
            if re.match(r"^(?:- |[^\s:][^:]{0,40}: )", line)
        )
        same = re.sub(r"\s+", "", text) == re.sub(r"\s+", "", expected)
        ok = same and labels_ok and not _MARKUP.search(text)
        whole += ok
        got, want = words(text), words(expected)
        kept_total += got
        expected_total += want
        how = f"{transcript.encoding}, {transcript.captions or '-'}"
        print(f"{path.name:<34}{how:<24}{f'{got}/{want}':>16}  {'whole' if ok else 'DIFFERS'}")
    print(
        f"\n{whole}/{len(cases)} fixtures whole; words kept {kept_total}/{expected_total} = "
        f"{kept_total / expected_total:.1%} of the expected"
    )


if __name__ == "__main__":
    main()
