"""The two consoles every command shares: results on stdout, everything else on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, no colour, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def stdin_is_terminal() -> bool:
    """Prompts only when a person can answer them."""
    return sys.stdin is not None and sys.stdin.isatty()
