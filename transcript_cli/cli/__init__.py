"""Command-line layer: parses arguments and renders; all work happens in the engine."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer
from typer._click.exceptions import NoArgsIsHelpError  # typer vendors click; no public alias

from transcript_cli.cli import (  # noqa: F401 - registers the commands
    config_cmd,
    jobs_cmd,
    prompts_cmd,
    repair_cmd,
    review_cmd,
    run_cmd,
)
from transcript_cli.cli.app import app
from transcript_cli.cli.completion import honour_named_shell
from transcript_cli.cli.console import json_state, print_json, silence_stdout
from transcript_cli.cli.error_output import (
    error_document,
    error_kind,
    last_error,
    show_error,
    usage_message,
    wants_json,
)
from transcript_cli.cli.hints import PROG, explain
from transcript_cli.cli.signals import interrupted, noting_interrupts
from transcript_cli.errors import EXIT_FAILED, EXIT_PAUSED, StdoutError, TranscriptCliError


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one `error:` line per failure, a documented exit code, no user tracebacks.

    Typer runs outside its standalone mode so that its own usage errors (a bad flag value, an
    unknown option) are shown like every other error, and so that --json always gets a document.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(args)
    honour_named_shell(args)
    try:
        with noting_interrupts():
            result = app(args=args, prog_name=PROG, standalone_mode=False)
    except TranscriptCliError as exc:
        if isinstance(exc, StdoutError):
            silence_stdout()  # nothing more can go there, no JSON document either
            as_json = False
        message = explain(exc)
        show_error(message, exc.exit_code, as_json=as_json, kind=error_kind(exc))
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # click's usage errors: bad value, unknown flag, ...
        ctx = getattr(exc, "ctx", None)
        message = usage_message(exc.format_message(), ctx.command_path if ctx else None)
        show_error(message, exc.exit_code, as_json=as_json, kind="usage")
        sys.exit(exc.exit_code)
    except typer.Abort:  # end of input at a question
        show_error("aborted: no answer", EXIT_FAILED, as_json=as_json, kind="usage")
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        # Ctrl-C before a job installed its handlers (or after): nothing was in progress.
        show_error("interrupted", EXIT_PAUSED, as_json=as_json, kind="paused")
        sys.exit(EXIT_PAUSED)
    except BrokenPipeError:
        # `status | head`: the reader left; say nothing more (stdout is gone) and exit quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILED)
    except Exception as exc:
        if as_json and not json_state.printed:  # a bug, but scripts still get their document
            print_json(error_document(f"internal error: {exc!r}", EXIT_FAILED, kind="internal"))
        raise
    code = result if isinstance(result, int) else 0
    if code == EXIT_PAUSED and interrupted.seen:
        # Typer's exit 130 for a KeyboardInterrupt: nothing was in progress (no job's handlers).
        show_error("interrupted", EXIT_PAUSED, as_json=as_json, kind="paused")
    elif code and as_json and not json_state.printed:
        message = last_error.message or f"exited with code {code}"
        print_json(error_document(message, code, kind="error"))
    sys.exit(code)
