"""The two consoles every command shares: results on stdout, everything else on stderr.

Emoji codes are off: a file named `:smile:.txt` must print as itself. Markup stays on for our
own styling, so every piece of user text goes through `escape` (or is a `Text`).
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any, cast

from rich.console import Console

from transcript_cli.errors import StdoutError


def stdout_failed(exc: OSError, what: str = "", then: str = "") -> StdoutError:
    """Our error for a failed write to stdout (disk full, I/O error behind a redirection)."""
    reason = exc.strerror or str(exc)
    return StdoutError(f"stdout: cannot write{what} ({reason}){then}", reason=reason)


class _Stdout:
    """sys.stdout as it is at each write, a failed write made our one-line error.

    A reader that left (BrokenPipeError) passes through: main() treats it as no error.
    """

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise stdout_failed(exc) from None

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise stdout_failed(exc) from None

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno...: stdout's own
        return getattr(sys.stdout, name)


def silence_stdout() -> None:
    """After stdout failed: nothing more goes there, not even Python's flush at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


stdout = _Stdout()
out = Console(file=cast(IO[str], stdout), soft_wrap=True, highlight=False, emoji=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


class _JsonState:
    """Whether this process already printed its JSON document (there is only ever one)."""

    printed = False


json_state = _JsonState()


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, no colour, no wrapping."""
    stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    stdout.flush()
    json_state.printed = True


def stdin_is_terminal() -> bool:
    """Prompts only when a person can answer them."""
    return sys.stdin is not None and sys.stdin.isatty()
