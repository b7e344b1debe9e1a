"""Ctrl-C and SIGTERM become a clean pause; a second one abandons the requests in flight."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from transcript_cli.cli.console import err
from transcript_cli.control import Control


@contextmanager
def pause_on_signals(control: Control, *, quiet: bool = False) -> Iterator[None]:
    """Install the handlers for the duration of a job, then restore the previous ones.

    Under --quiet the "Pausing" notice is left out; the final "Paused ... Resume:" line is not.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        if not control.pause.is_set():
            control.pause.set()
            if quiet:
                return
            err.print(
                f"[yellow]Pausing: {control.pausing} (press Ctrl-C again to stop at once)…[/yellow]"
            )
        else:
            control.abort.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Interrupted:
    """Whether Ctrl-C reached the command outside a job's own handlers."""

    seen = False


interrupted = _Interrupted()


@contextmanager
def noting_interrupts() -> Iterator[None]:
    """Ctrl-C outside a job still raises KeyboardInterrupt, but is noted first.

    Typer turns a KeyboardInterrupt into a bare exit 130, so main() could not otherwise tell it
    from a command that already said why it stopped (a pause, an unanswered question).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield  # Ctrl-C ignored (a background job of a script) or handled by someone else
        return

    def note(signum: int, frame: FrameType | None) -> None:
        interrupted.seen = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
