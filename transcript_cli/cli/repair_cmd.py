"""`repair`: rebuild a lost or damaged checkpoint, then say what was recovered."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from transcript_cli.cli.app import JsonOption, StateDirOption, app
from transcript_cli.cli.completion import complete_job_ids
from transcript_cli.cli.console import err, out, print_json
from transcript_cli.cli.hints import resume_command, use_state_dir
from transcript_cli.job import JobStore, resolve_state_dir
from transcript_cli.repair import RepairReport
from transcript_cli.repair import repair as repair_job
from transcript_cli.status_view import job_view

REPAIR_VIEW_VERSION = 1


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@app.command()
def repair(
    job: Annotated[
        str, typer.Argument(help="Job id.", show_default=False, autocompletion=complete_job_ids)
    ],
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild a job's checkpoint from its manifest and the chunk results stored on disk."""
    use_state_dir(state_dir)
    store = JobStore(resolve_state_dir(state_dir))
    report = repair_job(store, job)
    command = resume_command(job, store.root)
    if as_json:
        print_json(_json(report, command))
        return
    _show(report, command)


def _json(report: RepairReport, command: str) -> dict[str, object]:
    state = report.state
    return {
        "repair_version": REPAIR_VIEW_VERSION,
        "job_id": state.job_id,
        "previous_checkpoint": report.previous,
        "damaged_copy": str(report.damaged_copy) if report.damaged_copy else None,
        "chunks_recovered": state.chunks_done,
        "chunks_total": state.chunks_total,
        "files_written": state.files_done,
        "files_total": len(state.inputs),
        "results_rejected": report.rejected,
        "chunks_to_redo": state.chunks_total - state.chunks_done,
        "chunks_lost": report.lost,
        "totals_complete": report.totals_complete,
        "unverified_inputs": list(report.unverified),
        "job": job_view(state, running=False, resume_command=command),
    }


def _show(report: RepairReport, command: str) -> None:
    state = report.state
    if report.damaged_copy is not None:
        err.print(f"The damaged checkpoint was kept as {escape(str(report.damaged_copy))}")
    if report.rejected:
        err.print(
            f"[yellow]{_plural(report.rejected, 'stored result')} failed verification "
            "and will be redone[/yellow]"
        )
    if report.lost:
        err.print(
            f"[yellow]{_plural(report.lost, 'chunk')} counted as done had no usable stored "
            "result and will be redone[/yellow]"
        )
    for path in report.unverified:
        err.print(
            f"[yellow]{escape(Path(path).name)}: input is gone or changed, so its stored "
            "results were not checked; restore it before resuming[/yellow]"
        )
    if not report.totals_complete:
        err.print(
            "[yellow]Token and cost totals count only the chunks found on disk "
            "(those of files already written are unknown)[/yellow]"
        )
    summary = (
        f"Recovered {state.chunks_done}/{state.chunks_total} chunks of "
        f"{_plural(len(state.inputs), 'file')}"
    )
    if state.files_done:
        summary += f" ({state.files_done} written)"
    if state.status == "completed":
        out.print(f"{summary}; the job is complete.")
    else:
        out.print(f"{summary}; resume with: {escape(command)}")
