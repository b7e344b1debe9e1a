"""Questions asked on a terminal: shown on stderr, answered on stdin, never drawn over.

A question is asked only when stdin is a terminal, and always before the progress display starts
(see render.ProgressView, which draws nothing until the job starts). While it waits, Ctrl-C means
"stop here, change nothing", not "pause the job": the pause handlers are not installed yet, or
are set aside for as long as the question is open.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape

from transcript_cli.cli.console import err
from transcript_cli.errors import EXIT_PAUSED


@contextmanager
def _plain_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the question, whatever handlers a running command installed."""
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, signal.SIG_DFL),
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _answer(prompt: str) -> str:
    """One line typed at `prompt`, stripped. Ctrl-C or end of input: exit 130, nothing changed."""
    line = ""
    try:
        with _plain_signals():
            err.print(f"{escape(prompt)}: ", end="")
            err.file.flush()
            line = sys.stdin.readline()
    except KeyboardInterrupt:
        pass
    if not line:
        err.print()
        err.print("[yellow]No answer; nothing was changed.[/yellow]")
        raise typer.Exit(EXIT_PAUSED)
    return line.strip()


def confirm(question: str, *, default: bool) -> bool:
    """Ask a yes/no question on stderr and read the answer from stdin; empty = `default`."""
    while True:
        answer = _answer(f"{question} {'[Y/n]' if default else '[y/N]'}").lower()
        if not answer:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        err.print("Please answer y or n.")


def choose(question: str, count: int) -> int:
    """Ask for a number from 1 to `count`; the 0-based choice."""
    while True:
        answer = _answer(f"{question} [1-{count}]")
        if answer.isdigit() and 1 <= int(answer) <= count:
            return int(answer) - 1
        err.print(f"Please answer a number from 1 to {count}.")
