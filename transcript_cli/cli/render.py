"""Turns engine events into a progress bar on a terminal, or plain lines in a log."""

from __future__ import annotations

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
from transcript_cli.events import (
    ChunkFailed,
    ChunkFinished,
    ChunkRetrying,
    ChunkWarning,
    Event,
    FileWritten,
    JobStarted,
    PauseStarted,
    Stalled,
)


class ProgressView:
    """An event sink: a live bar when stderr is a terminal, otherwise one line per milestone.

    The bar starts with the job (JobStarted), not when the view is entered: a question asked
    before that (Resume it?) must not be drawn over.
    """

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.live = err.is_terminal and not quiet
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> ProgressView:
        return self

    def _start(self) -> None:
        if self.live and self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("chunks"),
                TimeElapsedColumn(),
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
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            err.print(text)

    def __call__(self, event: Event) -> None:
        if isinstance(event, JobStarted):
            self._start()
            verb = "Resuming" if event.resumed else "Starting"
            self._line(
                f"{verb} job [bold]{event.job_id}[/bold]: {event.files_total} file(s), "
                f"{event.chunks_done}/{event.chunks_total} chunks done"
            )
            if self.progress is not None:
                self.task = self.progress.add_task(
                    event.job_id, total=event.chunks_total, completed=event.chunks_done
                )
        elif isinstance(event, ChunkFinished):
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, completed=event.job_done)
        elif isinstance(event, ChunkRetrying):
            self._line(
                f"[yellow]{escape(event.file)} chunk {event.chunk_index + 1}: "
                f"{escape(event.message)}; "
                f"retry {event.attempt} in {event.wait_seconds:.1f}s[/yellow]"
            )
        elif isinstance(event, FileWritten):
            self._line(
                f"[green]wrote[/green] {escape(event.output)}  ({escape(Path(event.source).name)})"
            )
        elif isinstance(event, ChunkWarning):
            self._line(
                f"[yellow]warning: {escape(event.file)} chunk {event.chunk_index + 1}: "
                f"{escape(event.message)}[/yellow]"
            )
        elif isinstance(event, ChunkFailed):
            self._line(
                f"[red]{escape(event.file)} chunk {event.chunk_index + 1} failed: "
                f"{escape(event.message)}; the other files go on[/red]"
            )
        elif isinstance(event, Stalled):
            self._line(
                f"[yellow]no answer for {event.seconds:.0f}s ({escape(event.reason)}); "
                "still waiting, Ctrl-C pauses[/yellow]"
            )
        elif isinstance(event, PauseStarted) and event.in_flight:
            self._line(f"waiting for {event.in_flight} chunk(s) in flight…")
