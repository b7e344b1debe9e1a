"""The two consoles every command shares: results on stdout, everything else on stderr.

Emoji codes are off: a file named `:smile:.txt` must print as itself. Markup stays on for our
own styling, so every piece of user text goes through `escape` (or is a `Text`).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

out = Console(soft_wrap=True, highlight=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


class _JsonState:
    """Whether this process already printed its JSON document (there is only ever one)."""

    printed = False


json_state = _JsonState()


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, no colour, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    json_state.printed = True


def stdin_is_terminal() -> bool:
    """Prompts only when a person can answer them."""
    return sys.stdin is not None and sys.stdin.isatty()
