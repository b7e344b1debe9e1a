"""The Typer application object and the options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from transcript_cli import __version__
from transcript_cli.cli.examples import ROOT_EXAMPLES
from transcript_cli.cli.hints import remember_state_dir
from transcript_cli.job import STATE_DIR_ENV

app = typer.Typer(
    name="transcript-cli",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar=STATE_DIR_ENV,
        help="Where job state lives.",
        show_default="./.transcript-cli",
        callback=remember_state_dir,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print only errors and the final pause line (on stderr)."),
]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"transcript-cli {__version__}")
        raise typer.Exit()


@app.callback(epilog=ROOT_EXAMPLES)
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Clean long, messy transcripts (VTT, SRT, Whisper JSON, text) with Claude, chunk by chunk,
    as a resumable job. Ctrl-C pauses; `resume` continues.
    """
    # Imported here: defaults needs the registered commands, which import this module.
    from transcript_cli.cli.defaults import default_map

    ctx.default_map = default_map(ctx)
