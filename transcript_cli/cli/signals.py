"""Ctrl-C and SIGTERM become a clean pause; a second one abandons the requests in flight."""

from __future__ import annotations

import signal
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
