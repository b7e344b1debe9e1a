"""Local token counts, expected output, and per-file figures of an estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_transcript
from transcript_cli.estimate import (
    approx_tokens,
    estimate,
    expected_output_tokens,
    request_tokens,
    requests_of,
)
from transcript_cli.pricing import BATCH_DISCOUNT, batch_price, price_for
from transcript_cli.prompts import load_prompt
from transcript_cli.providers.base import ChunkRequest
from transcript_cli.state import Settings


def _settings(prompt: str = "clean", model: str = "claude-sonnet-5-5", **kw: int) -> Settings:
    template = load_prompt(prompt)
    return Settings(
        provider="anthropic",
        model=model,
        prompt_name=template.name,
        prompt_text=template.text,
        language="English",
        title=None,
        chunk_chars=kw.get("chunk_chars", 600),
        context_chars=100,
        max_tokens=kw.get("max_tokens", 8192),
    )


def test_approx_tokens_errs_high_for_english_and_counts_cjk_per_character() -> None:
    english = "The quick brown fox jumps over the lazy dog. " * 20
    assert len(english) / 4 < approx_tokens(english) <= len(english) / 3.5 + 1
    assert approx_tokens("会議を始めます。") == 8
    assert approx_tokens("") == 0


def test_expected_output_follows_the_prompt_and_never_passes_max_tokens() -> None:
    source = "word " * 700
    request = ChunkRequest("sys", f"<transcript>{source}</transcript>", source, "", 8192)
    clean = expected_output_tokens("clean", request)
    assert clean == approx_tokens(source)
    assert expected_output_tokens("summary-notes", request) < clean / 2
    assert expected_output_tokens("my-own", request) == clean  # unknown prompts: like clean
    capped = ChunkRequest("sys", "u", source, "", 100)
    assert expected_output_tokens("clean", capped) == 100


def test_estimate_per_file_and_total(tmp_path: Path) -> None:
    a = write_transcript(tmp_path / "a.txt", 40)
    b = write_transcript(tmp_path / "b.txt", 10, start=50)
    settings = _settings()
    found = estimate([a, b], settings, tmp_path / "out")
    assert [Path(f.path).name for f in found.files] == ["a.txt", "b.txt"]
    assert found.files[0].output == str(tmp_path / "out" / "a.md")
    for item, path in zip(found.files, (a, b), strict=True):
        requests = list(requests_of(path, settings))
        assert item.figures.chunks == len(requests)
        assert item.figures.input_tokens == sum(request_tokens(r) for r in requests)
    total = found.total
    assert total.chunks == sum(f.figures.chunks for f in found.files)
    price = price_for("anthropic", "claude-sonnet-5-5")
    assert price is not None
    live = (total.input_tokens * price.input + total.output_tokens * price.output) / 1e6
    assert total.live_usd == pytest.approx(live)
    assert total.batch_usd == pytest.approx(live * (1 - BATCH_DISCOUNT))
    unknown = estimate([a], _settings(model="claude-future-9"), tmp_path)
    assert unknown.total.live_usd is None and unknown.total.batch_usd is None


def test_batch_price_is_half() -> None:
    price = price_for("anthropic", "claude-opus-5-5")
    assert price is not None
    assert batch_price(price).input == 2.0 and batch_price(price).output == 10.0
