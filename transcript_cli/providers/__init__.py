"""Model backends behind one Provider protocol, chosen by name."""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading

from transcript_cli.errors import UsageError
from transcript_cli.providers.base import (
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    ChunkRequest,
    Completion,
    Provider,
)

PROVIDERS = ("anthropic", "offline")
_SDK_MODULES = {"anthropic": "transcript_cli.providers.anthropic"}


def preload(name: str) -> None:
    """Start importing provider `name`'s SDK on a background thread, and return at once.

    Importing the official SDK takes about a second; started before a job is planned (inputs
    read and hashed, checkpoint loaded), it overlaps that work instead of adding to it. The
    later import in `make_provider` waits for this one (Python's import lock) and raises any
    error itself.
    """
    module = _SDK_MODULES.get(name)
    if module is None or module in sys.modules:
        return
    threading.Thread(target=_import_quietly, args=(module,), name="sdk-import", daemon=True).start()


def _import_quietly(module: str) -> None:
    # make_provider imports it again, and reports whatever went wrong there.
    with contextlib.suppress(Exception):
        importlib.import_module(module)


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
    "preload",
]
