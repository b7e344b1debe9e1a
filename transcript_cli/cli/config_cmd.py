"""`config`: every `run` default in effect, and which file or variable set it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from transcript_cli.cli.app import JsonOption, app
from transcript_cli.cli.console import out, print_json
from transcript_cli.cli.defaults import effective
from transcript_cli.cli.examples import CONFIG_EXAMPLES
from transcript_cli.config import CONFIG_NAME, user_prompts_dir

CONFIG_VIEW_VERSION = 1


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Path) else value


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@app.command(epilog=CONFIG_EXAMPLES)
def config(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the defaults `run` uses and where each comes from.

    Precedence: flags > TRANSCRIPT_CLI_* variables > ./transcript-cli.toml > the user's
    transcript-cli.toml > built-in. Keys are the long flag names: `chunk-chars = 4000`.
    """
    layers, rows = effective(ctx)
    if as_json:
        print_json(
            {
                "config_version": CONFIG_VIEW_VERSION,
                "files": [{"path": str(p), "exists": p.is_file()} for p in layers.files],
                "prompts_dir": str(user_prompts_dir()),
                "settings": {
                    r.key: {"value": _plain(r.value), "source": r.source, "env": r.env}
                    for r in rows
                },
            }
        )
        return
    out.print(f"Config files ({CONFIG_NAME}; later ones win):")
    for path in layers.files:
        found = "found" if path.is_file() else "not found"
        out.print(f"  {escape(str(path))}  ({found})")
    out.print(f"User prompt templates: {escape(str(user_prompts_dir()))}")
    table = Table(box=None, pad_edge=False)
    for column in ("key", "value", "from"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(row.key), escape(_shown(row.value)), escape(row.source))
    out.print(table)
