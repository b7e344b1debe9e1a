"""Command-line layer: parses arguments and renders; all work happens in the engine."""

from __future__ import annotations

import sys

from rich.markup import escape

from transcript_cli.cli import (  # noqa: F401 - registers the commands
    config_cmd,
    jobs_cmd,
    repair_cmd,
    review_cmd,
    run_cmd,
)
from transcript_cli.cli.app import app
from transcript_cli.cli.console import err
from transcript_cli.cli.hints import explain
from transcript_cli.errors import EXIT_PAUSED, TranscriptCliError


def main() -> None:
    """Entry point: one line per error, a documented exit code, never a traceback for users.

    Typer's standalone mode already maps usage errors to exit 2 and Ctrl-C outside a job to 130.
    """
    try:
        # A fixed name: completion's variable and usage lines must not depend on how we started.
        app(prog_name="transcript-cli")
    except TranscriptCliError as exc:
        err.print(f"[red]error:[/red] {escape(explain(exc))}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        # Ctrl-C before a job installed its handlers (or after): nothing was in progress.
        err.print("[yellow]Interrupted.[/yellow]")
        sys.exit(EXIT_PAUSED)
