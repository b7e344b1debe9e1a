"""`status` and `clear`: look at and remove job state."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from transcript_cli import batch_ledger
from transcript_cli.budget import BUDGET_KIND
from transcript_cli.cli.app import JsonOption, StateDirOption, app
from transcript_cli.cli.completion import complete_job_ids
from transcript_cli.cli.console import err, out, print_json, stdin_is_terminal, stdout
from transcript_cli.cli.error_output import show_error
from transcript_cli.cli.examples import CLEAR_EXAMPLES, STATUS_EXAMPLES
from transcript_cli.cli.hints import explain, resume_command, use_state_dir
from transcript_cli.cli.questions import confirm
from transcript_cli.errors import EXIT_FAILED, EXIT_OK, JobLockedError, StateError, UsageError
from transcript_cli.job import JobStore, resolve_state_dir
from transcript_cli.pricing import format_usd
from transcript_cli.runner import batches_in_flight, open_provider
from transcript_cli.runner import clear as clear_job
from transcript_cli.status_view import FileView, JobView, damaged_view, job_view

_STATE_STYLE = {
    "running": "cyan",
    "paused": "yellow",
    "waiting": "cyan",
    "interrupted": "yellow",
    "failed": "red",
    "completed": "green",
    "damaged": "red",
}


def _views(store: JobStore, job: str | None, state_dir: Path | None) -> list[JobView]:
    ids = [job] if job else store.ids()
    if job and not store.job_dir(job).is_dir():
        raise UsageError(f"no job named '{job}' in {store.root}")
    views = []
    for job_id in ids:
        try:
            state = store.load(job_id)
        except StateError as exc:
            message = explain(exc, state_dir)
            views.append(damaged_view(job_id, message, store.job_dir(job_id)))
            continue
        try:
            ledger = batch_ledger.load(store.job_dir(job_id))
        except StateError as exc:
            views.append(damaged_view(job_id, explain(exc, state_dir), store.job_dir(job_id)))
            continue
        views.append(
            job_view(
                state,
                running=store.is_running(job_id),
                resume_command=resume_command(job_id, store.root),
                batches=ledger.batch_ids() if ledger is not None else None,
            )
        )
    return views


def _money(view: JobView) -> str:
    return "unknown" if view["cost_usd"] is None else f"${view['cost_usd']:.4f}"


def _state(view: JobView) -> str:
    """The state, and why when a budget paused it: 'paused: budget reached, $4.98 of $5.00'."""
    error = view["last_error"]
    if view["state"] == "paused" and error and error.get("kind") == BUDGET_KIND:
        return f"paused: {error.get('message')}"
    return view["state"]


def _cap(view: JobView) -> str:
    cap = view["max_cost_usd"]
    return "" if cap is None else f" (--max-cost {format_usd(cap)})"


def _show_one(view: JobView) -> None:
    style = _STATE_STYLE.get(view["state"], "white")
    out.print(f"[bold]{escape(view['job_id'])}[/bold]  [{style}]{escape(_state(view))}[/{style}]")
    rows = [
        ("provider", f"{view['provider']} / {view['model']}, prompt {view['prompt']}"),
        ("files", f"{view['files_done']}/{view['files_total']} written"),
        ("chunks", f"{view['chunks_done']}/{view['chunks_total']} done"),
        ("tokens", f"{view['input_tokens']:,} in / {view['output_tokens']:,} out"),
        (
            "cost",
            _money(view) + (" (batch prices)" if view["pricing"] == "batch" else "") + _cap(view),
        ),
        ("started", str(view["created_at"])),
        ("last activity", str(view["last_activity"])),
        ("resumes", str(view["resume_count"])),
        ("retries", str(view["retries"])),
    ]
    if view["batches_in_flight"]:
        rows.append(("batches", "in flight: " + ", ".join(view["batches_in_flight"])))
    if view["last_error"] and view["last_error"].get("kind") != BUDGET_KIND:
        error = view["last_error"]
        rows.append(("last error", f"{error.get('message')} (at {error.get('at')})"))
    if view["resume_command"]:
        command = view["resume_command"]
        if any(f["chunks_failed"] for f in view["files"]):
            command += " --retry-failed"
        rows.append(("resume with", command))
    for label, value in rows:
        out.print(f"  {label:<14}{escape(value)}")
    for f in view["files"]:
        mark = "done" if f["written"] else f"{f['chunks_done']}/{f['chunks_total']}"
        failed = f", {f['chunks_failed']} failed" if f["chunks_failed"] else ""
        read = _how_read(f)
        out.print(f"    {mark:>9}  {escape(f['path'])}{failed}{escape(read)}")
        for chunk in f["chunks"]:
            if chunk["error"]:
                out.print(
                    f"               [red]chunk {chunk['chunk']} failed:[/red] "
                    f"{escape(chunk['error'])}"
                )
            elif chunk["warning"]:
                out.print(
                    f"               [yellow]chunk {chunk['chunk']} warning:[/yellow] "
                    f"{escape(chunk['warning'])}"
                )


_COLUMNS = ("job", "state", "files", "chunks", "tokens in/out", "cost", "last activity")


def _row(view: JobView) -> tuple[str, ...]:
    return (
        view["job_id"],
        _state(view),
        f"{view['files_done']}/{view['files_total']}",
        f"{view['chunks_done']}/{view['chunks_total']}",
        f"{view['input_tokens']:,}/{view['output_tokens']:,}",
        _money(view),
        str(view["last_activity"] or ""),
    )


def _show_listing(views: list[JobView]) -> None:
    """A table on a terminal (long ids fold, never cut); plain aligned columns in a pipe or log,
    as wide as they need, so every id can be pasted."""
    rows = [_row(view) for view in views]
    if not out.is_terminal:
        widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
        for row in [_COLUMNS, *rows]:
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            stdout.write(line.rstrip() + "\n")
        stdout.flush()
        return
    table = Table(box=None, pad_edge=False)
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    for view, row in zip(views, rows, strict=True):
        style = _STATE_STYLE.get(view["state"], "white")
        table.add_row(Text(row[0]), Text(row[1], style=style), *row[2:])
    out.print(table)


@app.command(epilog=STATUS_EXAMPLES)
def status(
    job: Annotated[
        str | None,
        typer.Argument(help="Job id.", show_default="every job", autocompletion=complete_job_ids),
    ] = None,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show every job (or one): state, progress, tokens, cost, errors, how to resume."""
    use_state_dir(state_dir)
    store = JobStore(resolve_state_dir(state_dir))
    views = _views(store, job, state_dir)
    if as_json:
        print_json(views[0] if job else {"state_dir": str(store.root), "jobs": views})
        return
    if not views:
        out.print(f"No jobs in {escape(str(store.root))}.")
        return
    if job:
        _show_one(views[0])
        return
    _show_listing(views)


@app.command(epilog=CLEAR_EXAMPLES)
def clear(
    job: Annotated[
        str | None,
        typer.Argument(help="Job id to remove.", autocompletion=complete_job_ids),
    ] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Remove every job.")] = False,
    completed: Annotated[
        bool, typer.Option("--completed", help="Remove every completed job.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove job state (outputs are kept). Refuses a job that is running."""
    use_state_dir(state_dir)
    store = JobStore(resolve_state_dir(state_dir))
    chosen = sum(bool(x) for x in (job, all_jobs, completed))
    if chosen != 1:
        raise UsageError("name one JOB, or pass --all or --completed")
    if job:
        if not store.job_dir(job).is_dir():
            raise UsageError(f"no job named '{job}' in {store.root}")
        targets = [job]
    elif completed:
        targets = [v["job_id"] for v in _views(store, None, state_dir) if v["state"] == "completed"]
    else:
        targets = (
            [p.name for p in sorted(store.root.iterdir()) if p.is_dir()]
            if store.root.is_dir()
            else []
        )
    if not targets:
        if as_json:
            print_json({"removed": [], "refused": [], "exit_code": EXIT_OK, "error": None})
        else:
            out.print("Nothing to clear.")
        return
    if not yes:
        if not stdin_is_terminal():
            raise UsageError("clear needs --yes when stdin is not a terminal")
        if not typer.confirm(f"Remove state of {len(targets)} job(s): {', '.join(targets)}?"):
            raise typer.Exit(1)
    cancel = _ask_cancel(store, targets, yes=yes)
    removed, refused = [], []
    for job_id in targets:
        try:
            for batch_id in clear_job(
                store, job_id, cancel_batches=open_provider if cancel else None
            ):
                err.print(f"canceled batch {escape(batch_id)}")
            removed.append(job_id)
        except JobLockedError as exc:
            refused.append(job_id)
            show_error(explain(exc, state_dir), EXIT_FAILED, as_json=False, kind="state")
    code = EXIT_FAILED if refused else EXIT_OK
    if as_json:
        error = f"{len(refused)} job(s) are running and were not cleared" if refused else None
        print_json({"removed": removed, "refused": refused, "exit_code": code, "error": error})
    else:
        for job_id in removed:
            out.print(f"removed {escape(job_id)}")
    if code:
        raise typer.Exit(code)


def _ask_cancel(store: JobStore, targets: list[str], *, yes: bool) -> bool:
    """Whether to cancel batches still running for these jobs: --yes does; a person is asked."""
    running: list[str] = []
    for job_id in targets:
        try:
            running += batches_in_flight(store, job_id)
        except StateError:
            continue  # a damaged ledger: nothing we can cancel by id
    if not running:
        return False
    if yes:
        return True
    return confirm(
        f"{len(running)} batch(es) still run on Anthropic's side ({', '.join(running)}) and "
        "bill for what they finish. Cancel them?",
        default=True,
    )


def _how_read(f: FileView) -> str:
    """ "  (captions: roll-up, encoding: cp1252)": what was found reading it, if worth saying."""
    notes = []
    if f.get("captions"):
        notes.append(f"captions: {f['captions']}")
    if f.get("encoding") not in (None, "utf-8", "utf-8-sig"):
        notes.append(f"encoding: {f['encoding']}")
    return f"  ({', '.join(notes)})" if notes else ""
