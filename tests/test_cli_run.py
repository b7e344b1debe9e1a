"""`run` end to end through a subprocess and the real SDK against the fake Messages API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FAKE_KEY, SAMPLES, Cli, Runner, write_transcript
from tests.fake_anthropic import FakeAnthropic, reply_text
from transcript_cli.chunking import split_chunks
from transcript_cli.formats import read_transcript


def expected_output(path: Path, chunk_chars: int, context_chars: int = 300) -> str:
    """What the fake's replies assemble to: chunk replies in order, blank line between."""
    chunks = split_chunks(read_transcript(path).segments, chunk_chars, context_chars)
    return "\n\n".join(reply_text(c.text).strip() for c in chunks) + "\n"


def test_full_run_writes_outputs_in_chunk_order(cli: Cli, fake_api: FakeAnthropic) -> None:
    src = write_transcript(cli.workdir / "talk.txt", 60)
    result = cli("run", str(src), "--chunk-chars", "600", "--name", "talk")
    assert result.returncode == 0, result.stderr
    out = (cli.workdir / "cleaned" / "talk.md").read_text(encoding="utf-8")
    assert out == expected_output(src, 600)
    # One request per chunk, each carrying the model, the system prompt and the chunk.
    chunks = split_chunks(read_transcript(src).segments, 600, 300)
    assert len(chunks) > 5
    assert sorted(fake_api.transcripts()) == sorted(c.text for c in chunks)
    by_text = {r.transcript: r for r in fake_api.requests}
    first = by_text[chunks[0].text]
    # SDK 2.13 sends the key as a bearer token; older ones used x-api-key.
    sent = first.headers.get("x-api-key") or first.headers.get("authorization", "")
    assert sent.removeprefix("Bearer ") == FAKE_KEY
    assert first.body["model"] == "claude-sonnet-5-5"
    assert "part 1 of" in first.body["system"]
    # Chunk 2 carries the tail of chunk 1 as read-only context.
    second_user = by_text[chunks[1].text].body["messages"][0]["content"]
    assert "<context>" in second_user
    assert chunks[1].context and chunks[1].context in second_user
    assert "Done: 1 file(s)" in result.stdout


def test_run_json_summary(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "a.txt", 20)
    result = cli("run", str(src), "--chunk-chars", "500", "--json", "--name", "j")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["job_id"] == "j"
    assert data["state"] == "completed"
    assert data["exit_code"] == 0
    assert data["chunks_done"] == data["chunks_total"] > 1
    assert data["input_tokens"] > 0 and data["cost_usd"] > 0


def test_offline_provider_on_bundled_samples_needs_no_key(
    tmp_path: Path, warm_runner: Runner
) -> None:
    cli = Cli(tmp_path, None, warm_runner)
    del cli.env["ANTHROPIC_API_KEY"]
    result = cli("run", str(SAMPLES), "--provider", "offline", "--chunk-chars", "1000")
    assert result.returncode == 0, result.stderr
    outputs = sorted(p.name for p in (tmp_path / "cleaned").iterdir())
    assert outputs == ["lecture-autocaptions.md", "podcast-episode.md", "team-meeting.md"]
    podcast = (tmp_path / "cleaned" / "podcast-episode.md").read_text(encoding="utf-8")
    assert " um" not in podcast and "we're we're" not in podcast
    assert podcast.startswith("Host: Welcome back to the show everybody.")


def test_missing_key_names_offline_provider(cli: Cli) -> None:
    src = write_transcript(cli.workdir / "a.txt", 5)
    result = cli("run", str(src), env={"ANTHROPIC_API_KEY": ""})
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr and "--provider offline" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.state_dir.exists() or not any(cli.state_dir.iterdir())


def test_odd_input_names_never_write_outside_out(cli: Cli) -> None:
    nested = cli.workdir / "deep" / "er"
    names = ["..txt", "...txt", "-rf.txt", "a b;$(x).txt", "naïve “quotes”.txt", "\nnewline.txt"]
    sources = [write_transcript(nested / name, 3) for name in names]
    dotted = str(nested / ".." / ".." / "deep" / "er" / "-rf.txt")
    result = cli(
        "run",
        *[str(s) for s in sources[:-1]],
        str(sources[-1]),
        "--provider",
        "offline",
        "--out",
        "out",
        "--name",
        "odd",
    )
    assert result.returncode == 0, result.stderr
    again = cli("run", dotted, "--provider", "offline", "--out", "out2", "--name", "dots")
    assert again.returncode == 0, again.stderr
    out = (cli.workdir / "out").resolve()
    written = sorted(p for p in cli.workdir.rglob("*.md"))
    assert len(written) == len(names) + 1
    for path in written:
        assert path.resolve().parent in (out, (cli.workdir / "out2").resolve())
