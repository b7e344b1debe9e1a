"""List prices, in one table with its date, so cost is computed in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

PRICES_AS_OF = "2026-11"


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float


# Anthropic list prices, November 2026. Keep ids exact: an unknown model runs with cost unknown.
_PRICES: dict[str, Price] = {
    "claude-opus-5-5": Price(4.0, 20.0),
    "claude-opus-5": Price(5.0, 25.0),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-sonnet-5-5": Price(2.0, 10.0),
    "claude-sonnet-5": Price(2.0, 10.0),
    "claude-sonnet-4-6": Price(3.0, 15.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-haiku-5-5": Price(0.10, 0.50),
    "claude-haiku-4-5": Price(1.0, 5.0),
}


def priced_models() -> list[str]:
    """Model ids with a known price (offered by shell completion of --model)."""
    return sorted(_PRICES)


_SNAPSHOT_DATE = re.compile(r"20[0-9]{6}")

# Providers that never bill.
_FREE_PROVIDERS = frozenset({"offline"})


def price_for(provider: str, model: str) -> Price | None:
    """The price of a model, free for local providers, None when unknown."""
    if provider in _FREE_PROVIDERS:
        return Price(0.0, 0.0)
    if model in _PRICES:
        return _PRICES[model]
    # Dated snapshots ("claude-sonnet-5-5-20261001") cost what their alias costs; the date is
    # what tells one from a newer version ("claude-sonnet-5-6" is not "claude-sonnet-5").
    alias, dash, date = model.rpartition("-")
    if dash and _SNAPSHOT_DATE.fullmatch(date) and alias in _PRICES:
        return _PRICES[alias]
    return None


# Message Batches bill input and output at half the list price.
BATCH_DISCOUNT = 0.5


def batch_price(price: Price | None) -> Price | None:
    """What a request costs through Message Batches."""
    if price is None:
        return None
    return Price(price.input * BATCH_DISCOUNT, price.output * BATCH_DISCOUNT)


def cost_usd(price: Price | None, input_tokens: int, output_tokens: int) -> float | None:
    """Dollars for one request, None when the price is unknown."""
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def format_usd(amount: float) -> str:
    """Dollars as people read them: cents, or four decimals for fractions of a cent under $1."""
    if amount >= 1 or round(amount, 2) == round(amount, 6):
        return f"${amount:,.2f}"
    return f"${amount:.4f}"
