"""The Typer application object and the options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from transcript_cli.job import STATE_DIR_ENV

app = typer.Typer(
    name="transcript-cli",
    help=(
        "Clean long, messy transcripts (VTT, SRT, Whisper JSON, text) with Claude, chunk by "
        "chunk, as a resumable job. Ctrl-C pauses; `resume` continues."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar=STATE_DIR_ENV,
        help="Where job state lives.  [default: ./.transcript-cli]",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output on stderr.")]
