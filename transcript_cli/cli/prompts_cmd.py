"""`prompts`: the templates `--prompt NAME` can use, and `prompts show NAME` to read one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from transcript_cli.cli.app import JsonOption, app
from transcript_cli.cli.console import out, print_json, stdout
from transcript_cli.config import user_prompts_dir
from transcript_cli.errors import PromptError
from transcript_cli.prompt_catalog import CatalogEntry, entries
from transcript_cli.prompts import PromptTemplate, load_prompt, parse_template, read_template

PROMPTS_VIEW_VERSION = 1

PROMPTS_EXAMPLES = """\b
Examples:
  transcript-cli prompts
  transcript-cli prompts show clean
  transcript-cli prompts show clean > ~/.config/transcript-cli/prompts/house-style.md
  transcript-cli run talk.vtt --prompt house-style"""

prompts_app = typer.Typer(
    name="prompts",
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(prompts_app)


def _complete_names(incomplete: str) -> list[str]:
    try:
        return [e.name for e in entries() if e.name.startswith(incomplete)]
    except Exception:  # a completion must never print a traceback into the user's shell
        return []


def _describe(entry: CatalogEntry) -> tuple[PromptTemplate | None, str | None]:
    """The parsed template, or the one-line problem that keeps `--prompt` from using it."""
    try:
        text = read_template(entry.path, str(entry.path))
        return parse_template(entry.name, text, str(entry.path)), None
    except PromptError as exc:
        # The listing names the file already.
        return None, exc.message.removeprefix(f"{entry.path}: ")


@prompts_app.callback(invoke_without_command=True, epilog=PROMPTS_EXAMPLES)
def prompts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the prompt templates `run --prompt NAME` can use: built-in ones and your own.

    Your own are NAME.md files in the prompts folder beside the user config (the listing names
    it); one named like a built-in replaces it for new jobs. Front matter (`verbatim:`,
    `description:`) describes a template. `prompts show NAME` prints one.
    """
    if ctx.invoked_subcommand is not None:
        return
    folder = user_prompts_dir()
    listed = [(entry, *_describe(entry)) for entry in entries(folder)]
    if as_json:
        print_json(
            {
                "prompts_version": PROMPTS_VIEW_VERSION,
                "user_dir": str(folder),
                "prompts": [
                    {
                        "name": entry.name,
                        "origin": entry.origin,
                        "path": str(entry.path),
                        "overrides_builtin": entry.overrides_builtin,
                        "description": template.front_matter.description if template else None,
                        "verbatim": template.verbatim if template else None,
                        "error": problem,
                    }
                    for entry, template, problem in listed
                ],
            }
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("name", "from", "verbatim", "description"):
        table.add_column(column)
    for entry, template, problem in listed:
        origin = "user (replaces built-in)" if entry.overrides_builtin else entry.origin
        if template is None:
            verbatim, about = "-", f"[red]unusable:[/red] {escape(problem or '')}"
        else:
            verbatim = "yes" if template.verbatim else "no"
            about = escape(template.front_matter.description or "")
        table.add_row(escape(entry.name), origin, verbatim, about)
    out.print(table)
    found = sum(1 for entry, _, _ in listed if entry.origin == "user")
    out.print(f"Your templates: {escape(str(folder))} ({found} found)")
    out.print("Use one: transcript-cli run FILE --prompt NAME")
    out.print("Read or copy one: transcript-cli prompts show NAME")


@prompts_app.command(epilog=PROMPTS_EXAMPLES)
def show(
    name: Annotated[
        str,
        typer.Argument(
            help="A template's NAME (see `prompts`) or a PATH to a .md file.",
            autocompletion=_complete_names,
            show_default=False,
        ),
    ],
) -> None:
    """Print a template as written (front matter included), to read or to copy and edit."""
    template = load_prompt(name)
    stdout.write(template.text if template.text.endswith("\n") else template.text + "\n")
    stdout.flush()
