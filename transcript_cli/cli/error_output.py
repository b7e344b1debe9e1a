"""How every failure reaches the user: one `error:` line on stderr and, under --json, one JSON
document on stdout with `exit_code` and `error` (input and usage errors included).

Commands call `fail` (or raise a `TranscriptCliError` and let `main` call it); nothing else
prints `error:`, so the prefix and the document shape are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import typer
from rich.text import Text

from transcript_cli.cli.console import err, json_state, print_json, silence_stdout
from transcript_cli.errors import (
    EXIT_FAILED,
    BudgetReached,
    ChunksFailedError,
    InputError,
    OutputExistsError,
    Paused,
    ProviderError,
    StateError,
    StdoutError,
    StorageError,
    TranscriptCliError,
    TransientProviderError,
    UsageError,
)

ERROR_VERSION = 1

# Most specific first: the first class an error is an instance of names its kind.
_KINDS: tuple[tuple[type[TranscriptCliError], str], ...] = (
    (OutputExistsError, "output_exists"),
    (BudgetReached, "budget"),
    (InputError, "input"),
    (UsageError, "usage"),
    (StateError, "state"),
    (StorageError, "storage"),
    (TransientProviderError, "transient"),
    (ProviderError, "provider"),
    (ChunksFailedError, "chunks_failed"),
    (Paused, "paused"),
)


class _Last:
    """The last error shown, so an exit without a document can still explain itself."""

    message: str | None = None


last_error = _Last()


def error_kind(exc: TranscriptCliError) -> str:
    """A stable word for scripts: usage, input, state, storage, provider, transient, ..."""
    return next((kind for cls, kind in _KINDS if isinstance(exc, cls)), "error")


def wants_json(argv: Sequence[str]) -> bool:
    """--json among the options (before `--`); read from argv so it works when parsing failed."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in options


def show_error(
    message: str,
    exit_code: int,
    *,
    as_json: bool,
    kind: str = "error",
    document: Mapping[str, Any] | None = None,
) -> None:
    """Print the one `error:` line, and the JSON document when asked for (once per process)."""
    # Several bad inputs are one error of several lines: each line gets its own "error:".
    for line in message.splitlines() or [""]:
        err.print(Text.assemble(("error:", "red"), " ", line))
    last_error.message = message
    if as_json and not json_state.printed:
        try:
            print_json(error_document(message, exit_code, kind=kind, document=document))
        except StdoutError as exc:  # the error stands; say why its document is missing
            silence_stdout()
            err.print(Text.assemble(("error:", "red"), " ", exc.message))


def error_document(
    message: str, exit_code: int, *, kind: str, document: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`document` (e.g. a job's status view) with the failure added on top."""
    base = {"error_version": ERROR_VERSION} if document is None else dict(document)
    return {**base, "exit_code": exit_code, "error": message, "error_kind": kind}


def fail(
    message: str,
    exit_code: int = EXIT_FAILED,
    *,
    as_json: bool,
    kind: str = "error",
    document: Mapping[str, Any] | None = None,
) -> NoReturn:
    """Show a failure and leave with its exit code."""
    show_error(message, exit_code, as_json=as_json, kind=kind, document=document)
    raise typer.Exit(exit_code)


def usage_message(message: str, command_path: str | None) -> str:
    """Click's wording, in our style: lower-case start, no full stop, and where to look."""
    text = message.strip().rstrip(".")
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return f"{text} (see: {command_path or 'transcript-cli'} --help)"
