"""Seams end to end: the parts' replies join into one text, as a reader of the output sees it.

Unpunctuated auto-captions cut into ~20 chunks, a faithful stand-in model that leaves a cut
sentence unfinished, the offline cleaner, split chunks and resume.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests.conftest import Cli, Runner, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault
from tests.stand_in import faithful_reply, note_of, paused_lines, write_rolling_vtt, write_timed
from transcript_cli.chunking import Chunk, split_chunks
from transcript_cli.formats import read_transcript
from transcript_cli.sentences import ends_sentence

CHUNK_CHARS = 600
LINES = 220  # about 20 chunks of CHUNK_CHARS


def chunks_of(path: Path, chunk_chars: int = CHUNK_CHARS) -> list[Chunk]:
    return split_chunks(read_transcript(path).segments, chunk_chars, 300)


def run(cli: Cli, src: Path, *extra: str) -> str:
    result = cli("run", str(src), "--chunk-chars", str(CHUNK_CHARS), "--name", "talk", *extra)
    assert result.returncode == 0, result.stderr
    return (cli.workdir / "cleaned" / f"{src.stem}.md").read_text(encoding="utf-8")


def mid_sentence_breaks(text: str) -> list[str]:
    """The text before each paragraph break that does not end a sentence."""
    paragraphs = text.strip().split("\n\n")
    return [p[-40:] for p in paragraphs[:-1] if not ends_sentence(p)]


def seam_pairs(chunks: list[Chunk]) -> list[str]:
    """'last-word first-word' across each seam, as one paragraph would read it."""
    return [f"{a.text.split()[-1]} {b.text.split()[0]}" for a, b in itertools.pairwise(chunks)]


def test_unpunctuated_captions_read_on_across_every_seam(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.replier = faithful_reply
    src = write_rolling_vtt(cli.workdir / "lecture.vtt", LINES)
    chunks = chunks_of(src)
    assert len(chunks) >= 19
    out = run(cli, src)
    # Every part was cut with no sentence end to go by, so every reply stops mid-sentence and
    # the next one goes on in the same paragraph, in lower case.
    assert mid_sentence_breaks(out) == []
    assert "\n\n" not in out
    for pair in seam_pairs(chunks):
        assert pair in out, pair
    assert out.startswith("The ocean stores heat") and out.endswith(".\n")
    # What the model was told, part by part.
    notes = {r.transcript: note_of(r.body["messages"][0]["content"]) for r in fake_api.requests}
    assert "begin" not in notes[chunks[0].text]
    assert "may end in the middle of a sentence" in notes[chunks[0].text]
    for chunk in chunks[1:-1]:
        assert "may begin in the middle of a sentence" in notes[chunk.text]
        assert "may end in the middle of a sentence" in notes[chunk.text]
    assert "end" not in notes[chunks[-1].text]
    # ... and the start of the next part, to judge whether the last sentence goes on.
    users = {r.transcript: r.body["messages"][0]["content"] for r in fake_api.requests}
    for before, after in itertools.pairwise(chunks):
        head = before.following
        assert after.text.startswith(head) and (len(head) > 60 or head == after.text)
        assert f"</transcript>\n\n<next>\n{head}\n</next>" in users[before.text]
    assert "<next>" not in users[chunks[-1].text]


def long_sentences_txt(path: Path) -> Path:
    """Punctuated text whose long sentences are cut between words, and short ones that are not."""
    parts = []
    for n in range(12):
        if n % 3 == 0:
            words = " ".join(f"clause{n}x{k} runs on" for k in range(60))
            parts.append(f"Long sentence {n} starts here and {words} until it ends.")
        else:
            parts.append(f"Short sentence {n} is whole. Another short one {n} follows it.")
    path.write_text(" ".join(parts) + "\n", encoding="utf-8")
    return path


def test_sentences_cut_between_words_are_continued_not_completed(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    fake_api.replier = faithful_reply
    src = long_sentences_txt(cli.workdir / "talk.txt")
    chunks = chunks_of(src)
    cut = [(a, b) for a, b in itertools.pairwise(chunks) if not ends_sentence(a.text)]
    whole = [(a, b) for a, b in itertools.pairwise(chunks) if ends_sentence(a.text)]
    assert len(cut) >= 4 and whole
    out = run(cli, src)
    assert mid_sentence_breaks(out) == []
    # A cut sentence reads on over its seam with one space and no capital; a seam at a sentence
    # end is a paragraph break.
    for a, b in cut:
        assert f"{a.text.split()[-1]} {b.text.split()[0]}" in out
        assert not b.text[0].isupper() or b.text.split()[0] == "Long"
    for a, b in whole:
        assert f"{a.text.split()[-1]}\n\n{b.text.split()[0]}" in out
    # Told exactly: these parts do begin or end mid-sentence (the text is punctuated).
    notes = {r.transcript: note_of(r.body["messages"][0]["content"]) for r in fake_api.requests}
    for a, b in cut:
        assert "The part ends in the middle of a sentence" in notes[a.text]
        assert "The part begins in the middle of a sentence" in notes[b.text]
    for a, b in whole:
        assert "ends in the middle" not in notes[a.text]
        assert "begins in the middle" not in notes[b.text]
    # Every sentence of the source is in the output once, whole.
    assert len(re.findall(r"until it ends\.", out)) == 4


def test_offline_cleaner_does_not_capitalise_a_continuation(
    tmp_path: Path, warm_runner: Runner
) -> None:
    cli = Cli(tmp_path, None, warm_runner)
    src = write_rolling_vtt(tmp_path / "lecture.vtt", LINES)
    chunks = chunks_of(src)
    out = run(cli, src, "--provider", "offline")
    # Each seam reads on in lower case after one space: no break, no capital.
    for pair in seam_pairs(chunks):
        assert pair in out, pair
        assert pair.split()[1][0].islower()


def test_split_chunk_pieces_join_by_the_same_rule(cli: Cli, fake_api: FakeAnthropic) -> None:
    fake_api.replier = faithful_reply
    src = write_rolling_vtt(cli.workdir / "lecture.vtt", LINES)
    chunks = chunks_of(src)
    target = chunks[7].text
    fake_api.fail_when(lambda t: t == target, Fault(status=413, message="too large"))
    out = run(cli, src)
    pieces = [r for r in fake_api.requests if r.status == 200 and r.transcript in target]
    assert len(pieces) >= 2 and "".join(p.transcript for p in pieces) != target
    first, last = pieces[0], pieces[-1]
    # The inner seam is told like any other; the outer edges are the chunk's own.
    assert "may end in the middle" in note_of(first.body["messages"][0]["content"])
    assert "may begin in the middle" in note_of(last.body["messages"][0]["content"])
    assert mid_sentence_breaks(out) == []
    assert "\n\n" not in out
    for a, b in itertools.pairwise(pieces):
        assert f"{a.transcript.split()[-1]} {b.transcript.split()[0]}" in out


def test_resumed_job_joins_byte_for_byte_like_an_uninterrupted_one(
    cli: Cli, fake_api: FakeAnthropic, warm_runner: Runner
) -> None:
    fake_api.replier = faithful_reply
    src = long_sentences_txt(cli.workdir / "talk.txt")
    (cli.workdir / "whole").mkdir()
    whole = run(Cli(cli.workdir / "whole", fake_api.url, warm_runner), src)

    chunks = chunks_of(src)
    fake_api.fail_when(lambda t: t == chunks[5].text, Fault(status=401, message="bad key"))
    args = ("run", str(src), "--chunk-chars", str(CHUNK_CHARS), "--name", "talk", "-j", "1")
    assert cli(*args).returncode == 1
    assert not (cli.workdir / "cleaned" / "talk.md").exists()
    resumed = cli("resume", "talk")
    assert resumed.returncode == 0, resumed.stderr
    assert (cli.workdir / "cleaned" / "talk.md").read_bytes() == whole.encode()


def test_chinese_parts_join_without_a_space(cli: Cli, fake_api: FakeAnthropic) -> None:
    """Replies ending mid-sentence in Chinese run on with no space; a 。 ends a paragraph."""
    fake_api.replier = lambda transcript, user: transcript.replace("\n", "")
    src = cli.workdir / "zh.srt"
    cues = []
    for n in range(40):
        text = f"我们今天讨论海洋如何储存热量第{n}部分" + ("。" if n % 10 == 9 else "")
        cues.append(f"{n + 1}\n00:00:{n:02d},000 --> 00:00:{n:02d},900\n{text}\n")
    src.write_text("\n".join(cues), encoding="utf-8")
    result = cli("run", str(src), "--chunk-chars", "200", "--context-chars", "50", "--name", "zh")
    assert result.returncode == 0, result.stderr
    out = (cli.workdir / "cleaned" / "zh.md").read_text(encoding="utf-8")
    assert " " not in out
    assert mid_sentence_breaks(out) == []
    assert out.count("\n\n") >= 1


def test_punctuated_transcript_output_is_unchanged(cli: Cli, fake_api: FakeAnthropic) -> None:
    """Parts cut at sentence ends still join with a blank line, as before."""
    src = write_transcript(cli.workdir / "talk.txt", 60)
    out = run(cli, src)
    assert out.count("\n\n") == len(chunks_of(src)) - 1


@pytest.mark.parametrize("suffix", [".srt", ".vtt", ".json"])
def test_timed_captions_are_cut_where_the_speaker_paused(
    cli: Cli, fake_api: FakeAnthropic, suffix: str
) -> None:
    """No sentence end to cut at: every cut falls before a long pause, not after the last line
    that fits (as the same text without timings is cut)."""
    lines = paused_lines(150)
    src = write_timed(cli.workdir / f"speech{suffix}", lines)
    out = run(cli, src)
    sent = fake_api.transcripts()
    assert len(sent) >= 10
    texts = [text for text, _ in lines]
    long_pause_after = {n - 1 for n, (_, pause) in enumerate(lines) if pause >= 1.0}

    def last_line(chunk: str) -> int:
        (found,) = [n for n, text in enumerate(texts) if chunk.endswith(text)]
        return found

    cuts = sorted(last_line(text) for text in sent)[:-1]
    assert len(cuts) >= 10 and set(cuts) <= long_pause_after, cuts
    # The same words untimed fill each chunk up to the last line that fits instead.
    plain = cli.workdir / "plain" / "speech.txt"
    plain.parent.mkdir()
    plain.write_text("\n".join(texts) + "\n", encoding="utf-8")
    untimed = [last_line(c.text) for c in chunks_of(plain)[:-1]]
    assert sum(n in long_pause_after for n in untimed) < len(untimed) / 2
    assert out.endswith(f" {texts[-1]}\n") and out.count("[clean]") == len(sent)
