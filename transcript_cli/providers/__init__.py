"""Model backends behind one Provider protocol, chosen by name."""

from __future__ import annotations

from transcript_cli.errors import UsageError
from transcript_cli.providers.base import (
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    ChunkRequest,
    Completion,
    Provider,
)

PROVIDERS = ("anthropic", "offline")


def default_model(provider: str) -> str:
    """What --model means when not given."""
    if provider == "offline":
        from transcript_cli.providers.offline import OfflineProvider

        return OfflineProvider().model
    return DEFAULT_MODEL


def make_provider(name: str, model: str, *, timeout: float) -> Provider:
    """Build a provider; imports lazily so `--provider offline` never loads the SDK."""
    if name == "offline":
        from transcript_cli.providers.offline import OfflineProvider

        return OfflineProvider(model)
    if name == "anthropic":
        from transcript_cli.providers.anthropic import AnthropicProvider

        return AnthropicProvider(model, timeout=timeout)
    raise UsageError(f"unknown provider '{name}' (choose from: {', '.join(PROVIDERS)})")


__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TIMEOUT",
    "PROVIDERS",
    "ChunkRequest",
    "Completion",
    "Provider",
    "default_model",
    "make_provider",
]
