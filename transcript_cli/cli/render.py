"""Turns engine events into a progress bar on a terminal, or plain lines in a log.

The bar names the file(s) in flight, the money spent and the time left. Without -v, a message
that repeats (a warning, a retry) is printed the first time and counted after that: one summary
line per kind at the end, pointing at `status JOB` for each chunk's details. With -v every retry,
throttle, pacing decision and chunk is logged.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import fields
from pathlib import Path
from types import TracebackType

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from transcript_cli.cli.console import err
from transcript_cli.cli.hints import command_line
from transcript_cli.cli.tally import Tally
from transcript_cli.errors import Command
from transcript_cli.events import (
    BatchCollected,
    BatchProgress,
    BatchSubmitted,
    CheckpointRebuilt,
    ChunkFailed,
    ChunkFinished,
    ChunkRetrying,
    ChunkStarted,
    ChunkWarning,
    Event,
    FileWritten,
    InputSkipped,
    InputsUntimed,
    JobStarted,
    PacingChanged,
    PauseStarted,
    Stalled,
)

_FILES_WIDTH = 32


def pacing_line(event: PacingChanged) -> str:
    """A throttle episode's decision, for -v."""
    if event.pause_seconds > 0:
        text = f"pacing: throttled, every request waits {event.pause_seconds:.1f}s"
        then = ", then starts"
    else:
        text = "pacing: throttled, that request waits its retry-after"
        then = "; the others start"
    if event.rate is not None:
        how = "probing upwards" if event.phase == "probing" else "learned"
        text += f"{then} {event.rate:.2f} requests/s ({how}"
        if event.achieved is not None:
            text += f"; {event.achieved:.2f}/s got through"
        text += ")"
    return text + f"; up to {event.in_flight_limit} in flight"


def money(cost: float | None) -> str:
    return "$?" if cost is None else f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def untimed_line(files: tuple[str, ...]) -> str:
    """One line for every input --timestamps has no times for, however many there are."""
    names = [Path(f).name for f in files]
    if len(names) == 1:
        return f"--timestamps: {names[0]} has no times to show, so its output has none"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (
        f"--timestamps: {len(names)} inputs have no times to show, so their outputs have "
        f"none: {shown}"
    )


def _where(file: str, chunk_index: int) -> str:
    return f"{file} chunk {chunk_index + 1}"


def _files_label(in_flight: Counter[str], last: str) -> str:
    names = [name for name, n in in_flight.items() if n > 0] or [last]
    label = names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1} more"
    return label if len(label) <= _FILES_WIDTH else "…" + label[-(_FILES_WIDTH - 1) :]


def _words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


class ProgressView:
    """An event sink: a live bar when stderr is a terminal, otherwise one line per milestone.

    The bar starts with the job (JobStarted), not when the view is entered: a question asked
    before that (Resume it?) must not be drawn over.
    """

    def __init__(
        self, *, quiet: bool, verbose: bool = False, state_dir: Path | None = None
    ) -> None:
        self.verbose = verbose
        self.quiet = quiet and not verbose
        self.state_dir = state_dir
        self.live = err.is_terminal and not self.quiet
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.job_id: str | None = None
        self.cost: float | None = 0.0
        self.in_flight: Counter[str] = Counter()
        self.last_file = "…"  # shown while nothing is in flight, between two chunks
        self.tally = Tally()
        self._closed = False
        self.batch_tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressView:
        return self

    def _start(self) -> None:
        if self.live and self.progress is None:
            self.progress = Progress(
                # Not markup: the description is file names, shown as they are (no emoji codes).
                TextColumn("{task.description}", style="bold", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("chunks"),
                TextColumn("{task.fields[cost]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            )
            self.progress.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the bar and print the summary of repeated messages (once)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if self._closed:
            return
        self._closed = True
        if self.job_id is None:
            return
        details = command_line(Command("status", self.job_id), self.state_dir)
        for repeat in self.tally.repeated():
            self._line(
                f"[yellow]{repeat.label} ×{repeat.count}: {escape(repeat.first)} "
                f"(first: {escape(repeat.where)}); each one: {escape(details)}[/yellow]"
            )

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            err.print(text)

    def _refresh(self, **update: object) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(
                self.task,
                description=_files_label(self.in_flight, self.last_file),
                cost=money(self.cost),
                **update,  # type: ignore[arg-type]
            )

    def _say_once(self, label: str, message: str, where: str, text: str) -> None:
        """Print the first message of its kind; later ones only with -v (all are counted)."""
        if self.tally.add(label, message, where) or self.verbose:
            self._line(text)

    def __call__(self, event: Event) -> None:
        if isinstance(event, JobStarted):
            self._start()
            self.job_id = event.job_id
            self.cost = event.cost_usd
            verb = "Resuming" if event.resumed else "Starting"
            self._line(
                f"{verb} job [bold]{event.job_id}[/bold]: {event.files_total} file(s), "
                f"{event.chunks_done}/{event.chunks_total} chunks done"
            )
            if self.progress is not None:
                self.task = self.progress.add_task(
                    "…", total=event.chunks_total, completed=event.chunks_done, cost=""
                )
                self._refresh()
        elif isinstance(event, ChunkStarted):
            self.in_flight[event.file] += 1
            self.last_file = event.file
            if self.verbose:
                self._line(f"[dim]sending {escape(_where(event.file, event.chunk_index))}[/dim]")
            self._refresh()
        elif isinstance(event, InputSkipped):
            self._line(f"[yellow]skipped {escape(event.file)}: {escape(event.problem)}[/yellow]")
        elif isinstance(event, InputsUntimed):
            self._line(f"[yellow]warning: {escape(untimed_line(event.files))}[/yellow]")
        elif isinstance(event, ChunkFinished):
            self._chunk_ended(event.file)
            self.cost = event.job_cost_usd
            if self.verbose:
                self._line(
                    f"[dim]done {escape(_where(event.file, event.chunk_index))}: "
                    f"{event.input_tokens:,} tokens in / {event.output_tokens:,} out; "
                    f"{event.job_done}/{event.job_total} chunks, {money(self.cost)} so far[/dim]"
                )
            self._refresh(completed=event.job_done)
        elif isinstance(event, ChunkRetrying):
            self._retrying(event)
        elif isinstance(event, FileWritten):
            self._line(
                f"[green]wrote[/green] {escape(event.output)}  ({escape(Path(event.source).name)}; "
                f"{money(self.cost)} so far)"
            )
        elif isinstance(event, ChunkWarning):
            where = _where(event.file, event.chunk_index)
            self._say_once(
                "warning",
                event.message,
                where,
                f"[yellow]warning: {escape(where)}: {escape(event.message)}[/yellow]",
            )
        elif isinstance(event, ChunkFailed):
            self._chunk_ended(event.file)
            self._line(
                f"[red]{escape(_where(event.file, event.chunk_index))} failed: "
                f"{escape(event.message)}; the other files go on[/red]"
            )
            self._refresh()
        elif isinstance(event, Stalled):
            self._line(
                f"[yellow]no answer for {event.seconds:.0f}s ({escape(event.reason)}); "
                "still waiting, Ctrl-C pauses[/yellow]"
            )
        elif isinstance(event, BatchSubmitted | BatchProgress | BatchCollected):
            self._batch(event)
        elif isinstance(event, CheckpointRebuilt):
            self._line(
                f"Job {event.job_id} had lost its checkpoint; rebuilt it from the job's manifest "
                f"and stored results: {event.chunks_recovered}/{event.chunks_total} chunks "
                "recovered, none sent again"
            )
        elif isinstance(event, PauseStarted):
            if event.in_flight:
                self._line(f"waiting for {event.in_flight} chunk(s) in flight…")
        elif isinstance(event, PacingChanged):
            if self.verbose:
                self._line(f"[dim]{escape(pacing_line(event))}[/dim]")
        elif self.verbose:
            self._line(f"[dim]{escape(self._describe(event))}[/dim]")

    def _chunk_ended(self, file: str) -> None:
        if self.in_flight[file] > 0:
            self.in_flight[file] -= 1

    def _retrying(self, event: ChunkRetrying) -> None:
        where = _where(event.file, event.chunk_index)
        throttled = bool(getattr(event, "throttled", False))
        label = "throttled" if throttled else "retried"
        then = (
            f"waiting {event.wait_seconds:.1f}s"
            if throttled
            else f"retry {event.attempt} in {event.wait_seconds:.1f}s"
        )
        text = f"[yellow]{escape(where)}: {escape(event.message)}; {then}[/yellow]"
        self._say_once(label, event.message, where, text)

    @staticmethod
    def _describe(event: object) -> str:
        """Any other engine event (pacing decisions, say), spelled out field by field."""
        values = ", ".join(
            f"{f.name.replace('_', ' ')} {getattr(event, f.name)}"
            for f in fields(event)  # type: ignore[arg-type]
        )
        return f"{_words(type(event).__name__)}: {values}"

    def _batch(self, event: BatchSubmitted | BatchProgress | BatchCollected) -> None:
        """Batches: a bar per batch on a terminal, a line per change otherwise."""
        name = escape(event.batch_id)
        if isinstance(event, BatchSubmitted):
            if event.adopted:
                self._line(
                    f"found batch {name} ({event.requests} requests), submitted before the run "
                    "stopped: adopted, not sent again"
                )
            else:
                self._line(f"submitted batch {name}: {event.requests} requests")
        elif isinstance(event, BatchProgress):
            if self.progress is not None:
                task = self.batch_tasks.get(event.batch_id)
                if task is None:
                    task = self.progress.add_task(
                        f"batch …{event.batch_id[-6:]}", total=event.total, cost=""
                    )
                    self.batch_tasks[event.batch_id] = task
                self.progress.update(task, completed=event.done)
            else:
                self._line(
                    f"batch {name}: {event.done}/{event.total} requests ended "
                    f"({event.succeeded} succeeded, {event.errored} errored; {event.status})"
                )
        else:
            if self.progress is not None and event.batch_id in self.batch_tasks:
                self.progress.remove_task(self.batch_tasks.pop(event.batch_id))
            extra = []
            if event.resubmit:
                extra.append(f"{event.resubmit} to send again")
            if event.split:
                extra.append(f"{event.split} split and sent live")
            if event.failed:
                extra.append(f"{event.failed} failed")
            more = f" ({', '.join(extra)})" if extra else ""
            self._line(f"collected batch {name}: {event.succeeded} stored{more}")
