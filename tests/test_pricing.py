"""The price table: known models, dated snapshots, unknown models, free local providers."""

from __future__ import annotations

import pytest

from transcript_cli.pricing import PRICES_AS_OF, Price, cost_usd, price_for


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("claude-sonnet-5-5", Price(2.0, 10.0)),
        ("claude-opus-4-5", Price(5.0, 25.0)),
        ("claude-haiku-4-5", Price(1.0, 5.0)),
        ("claude-haiku-5-5", Price(0.10, 0.50)),
    ],
)
def test_known_models(model: str, price: Price) -> None:
    assert price_for("anthropic", model) == price


@pytest.mark.parametrize(
    ("model", "alias"),
    [
        ("claude-sonnet-5-5-20261001", "claude-sonnet-5-5"),
        ("claude-sonnet-5-20260512", "claude-sonnet-5"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
    ],
)
def test_dated_snapshots_cost_what_their_alias_costs(model: str, alias: str) -> None:
    assert price_for("anthropic", model) == price_for("anthropic", alias) is not None


@pytest.mark.parametrize(
    "model",
    [
        "claude-sonnet-5-6",  # a newer version is not its predecessor's snapshot
        "claude-haiku-4-5-1",
        "claude-sonnet-5-5-latest",
        "claude-sonnet-5-5-2026100",  # not a date
        "claude-sonnet-5-5-２０２６１００１",  # fullwidth digits are not a date either
        "claude-instant-1",
        "gpt-5",
        "",
    ],
)
def test_unknown_models_have_no_price(model: str) -> None:
    assert price_for("anthropic", model) is None


def test_offline_provider_is_free_whatever_the_model() -> None:
    assert price_for("offline", "rules-1") == Price(0.0, 0.0)
    assert price_for("offline", "claude-opus-4-5") == Price(0.0, 0.0)


def test_cost_math() -> None:
    price = Price(3.0, 15.0)
    assert cost_usd(price, 1_000_000, 0) == pytest.approx(3.0)
    assert cost_usd(price, 0, 1_000_000) == pytest.approx(15.0)
    assert cost_usd(price, 2_000, 500) == pytest.approx(0.006 + 0.0075)
    assert cost_usd(price, 0, 0) == 0
    assert cost_usd(None, 2_000, 500) is None
    assert cost_usd(Price(0.0, 0.0), 10**9, 10**9) == 0


def test_table_is_dated() -> None:
    year, month = PRICES_AS_OF.split("-")
    assert len(year) == 4 and 1 <= int(month) <= 12
