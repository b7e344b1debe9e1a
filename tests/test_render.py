"""cli/render.py in a log (stderr not a terminal): what -v adds, what repeats are folded into."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transcript_cli.cli.console import err
from transcript_cli.cli.render import ProgressView
from transcript_cli.events import ChunkFinished, ChunkRetrying, ChunkStarted, JobStarted


@dataclass(frozen=True)
class PacingChanged:
    """Stands in for an engine event the renderer has no special line for."""

    pause_seconds: float
    in_flight_limit: int


def shown(verbose: bool, *events: object) -> list[str]:
    with (
        err.capture() as capture,
        ProgressView(quiet=False, verbose=verbose, state_dir=Path("/s")) as view,
    ):
        for event in events:
            view(event)  # type: ignore[arg-type]
    return capture.get().splitlines()


START = JobStarted("job", files_total=1, chunks_total=3, chunks_done=0, resumed=False)
RETRY = [ChunkRetrying("a.txt", n, 1, 2.0, f"overloaded (529), try {n}") for n in range(3)]


def test_unknown_events_are_spelled_out_only_with_verbose() -> None:
    event = PacingChanged(pause_seconds=1.5, in_flight_limit=2)
    assert shown(True, START, event)[-1] == "pacing changed: pause seconds 1.5, in flight limit 2"
    assert not any("pacing" in line for line in shown(False, START, event))


def test_retries_fold_into_one_summary_unless_verbose() -> None:
    quiet = shown(False, START, *RETRY)
    assert quiet[1] == "a.txt chunk 1: overloaded (529), try 0; retry 1 in 2.0s"
    assert quiet[2] == (
        "retried ×3: overloaded (529), try 0 (first: a.txt chunk 1); "
        "each one: transcript-cli status job --state-dir /s"
    )
    assert len(quiet) == 3
    loud = shown(True, START, *RETRY)
    assert sum("overloaded" in line for line in loud) == 4  # each one, then the summary


def test_verbose_logs_each_chunk_with_cost_so_far() -> None:
    lines = shown(
        True,
        START,
        ChunkStarted("a.txt", 0, 3),
        ChunkFinished("a.txt", 0, 1, 3, 1, 3, 1200, 300, job_cost_usd=0.0051),
    )
    assert lines[1:] == [
        "sending a.txt chunk 1",
        "done a.txt chunk 1: 1,200 tokens in / 300 out; 1/3 chunks, $0.0051 so far",
    ]
