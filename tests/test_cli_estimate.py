"""`run --dry-run` and `estimate`: figures per file and in total, nothing sent, nothing written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import Cli, sentences, write_transcript
from tests.fake_anthropic import FakeAnthropic, Fault, input_tokens_of
from transcript_cli.chunking import split_chunks
from transcript_cli.formats import read_transcript
from transcript_cli.pricing import price_for

CHUNK = "600"


def _two_inputs(cli: Cli) -> list[Path]:
    return [
        write_transcript(cli.workdir / "in" / "talk.txt", 60),
        write_transcript(cli.workdir / "in" / "q-and-a.txt", 25, start=100),
    ]


def _nothing_written(cli: Cli) -> None:
    assert not cli.state_dir.exists()
    assert not (cli.workdir / "cleaned").exists()


def _chunk_count(path: Path) -> int:
    return len(split_chunks(read_transcript(path).segments, int(CHUNK), 300))


def _document(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_estimate_json_per_file_and_total_sends_and_writes_nothing(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    talk, qa = _two_inputs(cli)
    data = _document(cli, "estimate", str(cli.workdir / "in"), "--chunk-chars", CHUNK)
    assert fake_api.requests == []
    _nothing_written(cli)
    assert data["estimate_version"] == 1
    assert data["model"] == "claude-sonnet-5-5" and data["input_tokens_exact"] is False
    files = {Path(f["path"]).name: f for f in data["files"]}
    assert files.keys() == {"talk.txt", "q-and-a.txt"}
    for path in (talk, qa):
        item = files[path.name]
        assert item["chunks"] == _chunk_count(path)
        assert item["input_tokens"] > len(path.read_text()) / 5  # transcript + prompt, per chunk
        assert 0 < item["output_tokens"] <= item["chunks"] * 8192
        price = price_for("anthropic", "claude-sonnet-5-5")
        assert price is not None
        live = (item["input_tokens"] * price.input + item["output_tokens"] * price.output) / 1e6
        assert abs(item["cost_usd"]["live"] - live) < 1e-6
        assert abs(item["cost_usd"]["batch"] - live / 2) < 1e-6
        assert item["output"].endswith(f"cleaned/{path.stem}.md")
    total = data["total"]
    assert total["files"] == 2
    assert total["chunks"] == _chunk_count(talk) + _chunk_count(qa)
    assert total["input_tokens"] == sum(f["input_tokens"] for f in data["files"])
    assert abs(total["cost_usd"]["live"] - 2 * total["cost_usd"]["batch"]) < 1e-6


def test_run_dry_run_is_the_same_as_estimate(cli: Cli, fake_api: FakeAnthropic) -> None:
    _two_inputs(cli)
    args = (str(cli.workdir / "in"), "--chunk-chars", CHUNK, "--prompt", "summary-notes")
    assert _document(cli, "run", *args, "--dry-run") == _document(cli, "estimate", *args)
    shown = cli("run", *args, "--dry-run")
    assert shown.returncode == 0, shown.stderr
    for needle in ("talk.txt", "q-and-a.txt", "total", "~", "$", "nothing sent", "batch"):
        assert needle in shown.stdout
    assert fake_api.requests == []
    _nothing_written(cli)


def test_exact_counts_input_tokens_with_the_api_and_sends_no_message(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    talk = write_transcript(cli.workdir / "talk.txt", 60)
    data = _document(cli, "estimate", str(talk), "--chunk-chars", CHUNK, "--exact")
    assert data["input_tokens_exact"] is True
    counted = [r for r in fake_api.requests if r.path.endswith("/messages/count_tokens")]
    assert len(counted) == len(fake_api.requests) == _chunk_count(talk)
    assert fake_api.transcripts() == []  # no message was sent
    assert data["total"]["input_tokens"] == sum(input_tokens_of(r.body) for r in counted)
    # What was counted is exactly what a run sends, chunk for chunk.
    assert cli("run", str(talk), "--chunk-chars", CHUNK).returncode == 0
    sent = [r for r in fake_api.requests if r.path.endswith("/messages")]
    key = ("system", "messages", "model")
    assert sorted(json.dumps([r.body[k] for k in key]) for r in sent) == sorted(
        json.dumps([r.body[k] for k in key]) for r in counted
    )
    _ = Fault  # the fake scripts faults the same way for count_tokens


def test_estimate_decodes_with_the_encoding_given(cli: Cli, fake_api: FakeAnthropic) -> None:
    """`--encoding` is a setting of the job: the estimate reads the input as the run will."""
    talk = cli.workdir / "talk.txt"
    talk.write_bytes(sentences(40).encode("utf-16-le"))  # no byte-order mark: not detectable
    flags = ("--chunk-chars", CHUNK, "--encoding", "utf-16-le")
    data = _document(cli, "estimate", str(talk), *flags, "--exact")
    counted = [r for r in fake_api.requests if r.path.endswith("/messages/count_tokens")]
    assert data["total"]["chunks"] == len(counted) > 1
    assert cli("run", str(talk), *flags).returncode == 0
    sent = [r for r in fake_api.requests if r.path.endswith("/messages")]
    key = ("system", "messages", "model")
    assert sorted(json.dumps([r.body[k] for k in key]) for r in sent) == sorted(
        json.dumps([r.body[k] for k in key]) for r in counted
    )


def test_exact_needs_a_key_and_says_how_to_do_without(cli: Cli, fake_api: FakeAnthropic) -> None:
    talk = write_transcript(cli.workdir / "talk.txt", 10)
    result = cli("estimate", str(talk), "--exact", env={"ANTHROPIC_API_KEY": ""})
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr and "--exact" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert fake_api.requests == []
    local = cli("estimate", str(talk), env={"ANTHROPIC_API_KEY": ""})
    assert local.returncode == 0, local.stderr  # a local estimate needs no key


def test_unknown_price_shows_unknown_and_offline_is_free(cli: Cli) -> None:
    talk = write_transcript(cli.workdir / "talk.txt", 30)
    data = _document(cli, "estimate", str(talk), "--model", "claude-future-9")
    assert data["total"]["cost_usd"] == {"live": None, "batch": None}
    assert data["price_per_million_tokens"] is None
    shown = cli("estimate", str(talk), "--model", "claude-future-9")
    assert "unknown" in shown.stdout
    offline = _document(cli, "estimate", str(talk), "--provider", "offline")
    assert offline["total"]["cost_usd"] == {"live": 0.0, "batch": 0.0}


def test_bad_input_is_one_line_and_nothing_is_written(cli: Cli) -> None:
    bad = cli.workdir / "broken.srt"
    bad.write_text("this is not\x00 an srt file at all -->\n", encoding="utf-8")
    result = cli("estimate", str(bad))
    assert result.returncode == 2
    assert "broken.srt" in result.stderr and "Traceback" not in result.stderr
    _nothing_written(cli)


def test_a_piped_transcript_is_estimated_like_its_file(cli: Cli, fake_api: FakeAnthropic) -> None:
    talk = write_transcript(cli.workdir / "talk.txt", 60)
    as_file = _document(cli, "estimate", str(talk), "--chunk-chars", CHUNK)
    piped = subprocess.run(
        ["sh", "-c", f"transcript-cli estimate - --out - --chunk-chars {CHUNK} --json"],
        input=talk.read_bytes(),
        cwd=cli.workdir,
        env=cli.shell_env(),
        capture_output=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    data = json.loads(piped.stdout)
    (item,) = data["files"]
    assert (item["path"], item["output"]) == ("-", "-")
    assert item["chunks"] == as_file["files"][0]["chunks"] == _chunk_count(talk)
    # The title defaults to the file's stem, so only the prompt's few title tokens may differ.
    assert abs(item["input_tokens"] - as_file["files"][0]["input_tokens"]) <= item["chunks"] * 4
    assert fake_api.requests == []
    _nothing_written(cli)


def test_dry_run_names_the_unfinished_job_and_what_finishing_it_costs(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    talk = write_transcript(cli.workdir / "talk.txt", 60)
    args = (str(talk), "--chunk-chars", CHUNK)
    assert _document(cli, "estimate", *args)["job"] is None
    fake_api.fail_when("Sentence number 30 says", Fault(status=401))
    assert cli("run", *args, "-j", "1").returncode == 1
    checkpoint = next(cli.state_dir.glob("*/checkpoint.json"))
    before = checkpoint.read_bytes()
    sent = len(fake_api.requests)
    data = _document(cli, "run", *args, "--dry-run")
    job = data["job"]
    assert job["job_id"] == checkpoint.parent.name
    assert 0 < job["chunks_done"] < job["chunks_total"] == data["total"]["chunks"]
    assert job["cost_usd"] > 0 and 0 < job["remaining_cost_usd"] < data["total"]["cost_usd"]["live"]
    shown = cli("estimate", *args)
    assert f"Job {job['job_id']} exists unfinished: {job['chunks_done']}/" in shown.stdout
    assert checkpoint.read_bytes() == before and len(fake_api.requests) == sent


def test_bad_inputs_are_all_named_and_skip_invalid_leaves_them_out_as_run_does(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    folder = cli.workdir / "in"
    talk = write_transcript(folder / "talk.txt", 60)
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "times-only.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\n\n", "utf-8")
    missing = cli.workdir / "missing.txt"
    refused = cli("estimate", str(folder), str(missing), "--chunk-chars", CHUNK)
    assert refused.returncode == 2, refused
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines), lines
    for name in ("missing.txt: file not found", "empty.txt: file is empty", "times-only.srt"):
        assert any(name in line for line in lines), lines
    _nothing_written(cli)

    args = (str(folder), "--chunk-chars", CHUNK, "--skip-invalid")
    skipping = cli("estimate", *args, "--json")
    assert skipping.returncode == 0, skipping.stderr
    data = json.loads(skipping.stdout)
    assert [f["path"] for f in data["files"]] == [str(talk.resolve())]
    assert data["total"]["chunks"] == _chunk_count(talk)
    assert [Path(s["path"]).name for s in data["skipped"]] == ["empty.txt", "times-only.srt"]
    assert "skipped" in skipping.stderr and "empty.txt" in skipping.stderr
    assert fake_api.requests == []
    _nothing_written(cli)

    # The job it would resume is the one `run --skip-invalid` made of the inputs it kept.
    fake_api.fail_when("Sentence number 30 says", Fault(status=401))
    assert cli("run", *args, "-j", "1").returncode == 1
    (job_dir,) = [p for p in cli.state_dir.iterdir() if p.is_dir()]
    job = _document(cli, "estimate", *args)["job"]
    assert job is not None and job["job_id"] == job_dir.name
    assert 0 < job["chunks_done"] < job["chunks_total"] == _chunk_count(talk)


def test_out_dash_with_several_inputs_is_refused_as_run_refuses_it(
    cli: Cli, fake_api: FakeAnthropic
) -> None:
    _two_inputs(cli)
    args = (str(cli.workdir / "in"), "--out", "-", "--chunk-chars", CHUNK)
    refused, run = cli("estimate", *args), cli("run", *args)
    for result in (refused, run):
        assert result.returncode == 2, result
        assert result.stderr.strip().splitlines() == [
            "error: --out - writes one input to stdout, but 2 were given; "
            "use --out FOLDER for several"
        ]
    assert refused.stdout == "" and fake_api.requests == []
    _nothing_written(cli)
