"""`review`: a flagged chunk's part and reply as a word-level diff, to judge a flag in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from transcript_cli.cli.app import JsonOption, StateDirOption, app
from transcript_cli.cli.completion import complete_job_ids
from transcript_cli.cli.console import out, print_json
from transcript_cli.cli.hints import use_state_dir
from transcript_cli.job import JobStore, resolve_state_dir
from transcript_cli.review import ReviewEntry, review
from transcript_cli.word_diff import Span, plain

REVIEW_EXAMPLES = """\b
Examples:
  transcript-cli review podcast-1a2b3c4d
  transcript-cli review podcast-1a2b3c4d talk.vtt --chunk 7
  transcript-cli review podcast-1a2b3c4d --json | jq '.[].coverage'

In the diff, [-words-] were dropped from the part, (-words-) dropped but excused (fillers,
stutters, repetitions), {+words+} added by the reply; on a terminal they are coloured."""

_STYLES = {
    "same": "",
    "dropped": "bold red strike",
    "excused": "dim strike",
    "added": "bold green underline",
}


def _header(entry: ReviewEntry) -> str:
    name = Path(entry.path).name
    head = f"{name} chunk {entry.chunk_index + 1}/{entry.chunk_count}"
    note = entry.note
    if note is not None and note.error:
        return f"{head}: failed: {note.error}"
    if note is not None and note.warning:
        return f"{head}: warning: {note.warning}"
    if entry.fidelity is not None:
        verdict = "flagged" if entry.fidelity.flagged else "not flagged"
        return f"{head}: {verdict}: {entry.fidelity.message()}"
    return head


def _diff(spans: list[Span]) -> Text | str:
    """Colours on a terminal; plain markers in a pipe, a log, or with NO_COLOR."""
    if not out.is_terminal or out.no_color:
        return plain(spans)
    text = Text()
    for span in spans:
        text.append(span.text, style=_STYLES[span.op])
    return text


def _show(entry: ReviewEntry) -> None:
    out.print(f"[bold]{escape(_header(entry))}[/bold]")
    if entry.reply is None:
        out.print(
            "  no reply is kept for this chunk (it has not been done yet, or its job state "
            "was rebuilt by `repair`)"
        )
        return
    if entry.reply.rejected:
        out.print("  the reply below was refused under --strict; the output does not hold it")
    out.print(_diff(entry.spans), markup=False)


def _as_json(entry: ReviewEntry) -> dict[str, Any]:
    fidelity = entry.fidelity
    return {
        "path": entry.path,
        "chunk": entry.chunk_index + 1,
        "chunks_total": entry.chunk_count,
        "warning": entry.note.warning if entry.note else None,
        "error": entry.note.error if entry.note else None,
        "coverage": round(fidelity.coverage, 4) if fidelity else None,
        "invention": round(fidelity.invention, 4) if fidelity else None,
        "invented_run": fidelity.invented_run if fidelity else None,
        "reply_kept": entry.reply is not None,
        "reply_refused": bool(entry.reply and entry.reply.rejected),
        "diff": [{"op": s.op, "text": s.text} for s in entry.spans],
    }


@app.command("review", epilog=REVIEW_EXAMPLES)
def review_cmd(
    job: Annotated[str, typer.Argument(help="Job id.", autocompletion=complete_job_ids)],
    file: Annotated[
        str | None,
        typer.Argument(help="One input of the job (path, name or stem).", show_default="all"),
    ] = None,
    chunk: Annotated[
        int | None,
        typer.Option(
            "--chunk", min=1, help="Show this chunk (as status numbers them), flagged or not."
        ),
    ] = None,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show flagged chunks (or one) as a word-level diff of the part and the reply."""
    use_state_dir(state_dir)
    store = JobStore(resolve_state_dir(state_dir))
    entries = review(store, job, file, chunk)
    if as_json:
        print_json([_as_json(e) for e in entries])
        return
    if not entries:
        out.print(f"No flagged chunks in job {escape(job)}.")
        return
    for n, entry in enumerate(entries):
        if n:
            out.print()
        _show(entry)
