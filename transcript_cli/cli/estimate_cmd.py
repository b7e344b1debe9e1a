"""`run --dry-run` and its alias `estimate`: show what a job would cost; send and write nothing."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from transcript_cli.cli.console import err, out, print_json, stdin_is_terminal
from transcript_cli.errors import InputError, MissingApiKeyError, TranscriptCliError, UsageError
from transcript_cli.estimate import Estimate, Figures, TokenCounter, estimate, remaining_cost
from transcript_cli.formats import find_inputs
from transcript_cli.job import JobStore
from transcript_cli.pipes import (
    STDIO,
    check_one_input_for_stdout,
    stdin_file_name,
    wants_stdin,
    with_stdout_mark,
)
from transcript_cli.pricing import BATCH_DISCOUNT, PRICES_AS_OF, format_usd, price_for
from transcript_cli.providers import make_provider
from transcript_cli.runner import RunSpec, resolve_job_id
from transcript_cli.state import JobState, Settings

ESTIMATE = "estimate"  # the command name; `run --dry-run` does the same
ESTIMATE_VERSION = 1


def run_estimate(
    inputs: Sequence[Path],
    settings: Settings,
    out_dir: Path,
    *,
    exact: bool,
    timeout: float,
    as_json: bool,
    stdin_name: str | None = None,
    skip_invalid: bool = False,
    find_job: Callable[[Sequence[Path]], ExistingJob | None] | None = None,
) -> None:
    """Estimate and print; with `exact`, input tokens come from the API's count_tokens.

    `find_job`: the job this command would resume, given the inputs it would read (its
    remaining cost is shown too).
    """
    problems: list[InputError] = []
    with tempfile.TemporaryDirectory(prefix="transcript-cli-estimate-") as scratch:
        if wants_stdin(inputs):
            # A piped transcript is read like a file; the copy is gone when this returns.
            if stdin_is_terminal():
                raise UsageError("input - reads a transcript from stdin, but stdin is a terminal")
            data = sys.stdin.buffer.read()
            if not data.strip():
                raise InputError(STDIO, "nothing was piped in (stdin is empty)")
            paths = [Path(scratch) / stdin_file_name(data, stdin_name, settings.encoding)]
            paths[0].write_bytes(data)
        else:
            paths, problems = find_inputs([Path(p) for p in inputs])
            if str(out_dir) == STDIO and len(paths) > 1:
                check_one_input_for_stdout(len(paths))  # as run refuses them
        out = Path(scratch) if str(out_dir) == STDIO else out_dir.resolve()
        counter: TokenCounter | None = None
        if exact:
            counter = _counter(settings, timeout)
        try:
            found = estimate(
                paths,
                settings,
                out,
                counter=counter,
                problems=problems,
                skip_invalid=skip_invalid,
            )
        finally:
            close = getattr(counter, "close", None)
            if close is not None:
                close()
        existing = None if find_job is None else find_job([Path(f.path) for f in found.files])
        if wants_stdin(inputs) or str(out_dir) == STDIO:
            found = _as_given(found, Path(scratch), stdin=wants_stdin(inputs))
    for problem in found.skipped:  # as `run --skip-invalid` names them
        err.print(Text(f"skipped {problem.path}: {problem.problem}", style="yellow"))
    if as_json:
        print_json({**estimate_document(found), "job": _job_document(existing)})
    else:
        _show(found)
        if existing is not None:
            _show_job(existing)


@dataclass(frozen=True)
class ExistingJob:
    """The job `run` would find for these inputs and settings, and what finishing it costs."""

    state: JobState
    remaining_usd: float | None  # None when the price is unknown


def find_existing(store: JobStore, spec: RunSpec, paths: Sequence[Path]) -> ExistingJob | None:
    """The unfinished job `run` would resume (same id, same settings), without touching it.

    `paths`: the inputs the run would read (those --skip-invalid keeps).
    """
    if wants_stdin(spec.inputs):
        return None  # its id depends on the piped text: nothing to find before reading it
    to_stdout = str(spec.out_dir) == STDIO
    job_id = resolve_job_id(spec, with_stdout_mark(paths, to_stdout))
    if not store.exists(job_id):
        return None
    try:
        state = store.load(job_id)
    except TranscriptCliError:
        return None
    if state.settings != spec.settings or state.status == "completed":
        return None
    known = price_for(state.settings.provider, state.settings.model) is not None
    try:
        remaining = remaining_cost(state) if known else None
    except TranscriptCliError:  # an input changed or is gone: resume will say so
        remaining = None
    return ExistingJob(state, remaining)


def _job_document(job: ExistingJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    state = job.state
    return {
        "job_id": state.job_id,
        "chunks_done": state.chunks_done,
        "chunks_total": state.chunks_total,
        "cost_usd": None if state.cost_unknown_chunks else round(state.cost_usd, 6),
        "remaining_cost_usd": None if job.remaining_usd is None else round(job.remaining_usd, 6),
    }


def _show_job(job: ExistingJob) -> None:
    state = job.state
    spent = "cost unknown" if state.cost_unknown_chunks else f"{format_usd(state.cost_usd)} spent"
    rest = "" if job.remaining_usd is None else f"; the rest about {format_usd(job.remaining_usd)}"
    out.print(
        f"Job {escape(state.job_id)} exists unfinished: {state.chunks_done}/{state.chunks_total} "
        f"chunks done, {spent}{rest} (run resumes it; the figures above are for all of it)."
    )


def _as_given(found: Estimate, scratch: Path, *, stdin: bool) -> Estimate:
    """Name stdin `-` and stdout `-`, not the temporary folder they were estimated through."""
    files = tuple(
        replace(
            f,
            path=STDIO if stdin else f.path,
            output=STDIO if Path(f.output).parent == scratch else f.output,
        )
        for f in found.files
    )
    return replace(found, files=files)


def _counter(settings: Settings, timeout: float) -> TokenCounter:
    if settings.provider != "anthropic":
        raise UsageError(
            f"--exact counts tokens with the Anthropic API; --provider {settings.provider} "
            "sends no tokens (drop --exact)"
        )
    try:
        provider = make_provider(settings.provider, settings.model, timeout=timeout)
    except MissingApiKeyError as exc:
        raise MissingApiKeyError(
            f"--exact counts tokens with the API: {exc.message}; or drop --exact for a local "
            "estimate"
        ) from None
    counter = getattr(provider, "count_tokens", None)
    if counter is None:  # pragma: no cover - every API provider can count
        raise UsageError(f"provider {settings.provider} cannot count tokens")
    return provider  # type: ignore[return-value]


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "chunks": figures.chunks,
        "input_tokens": figures.input_tokens,
        "output_tokens": figures.output_tokens,
        "cost_usd": {
            "live": None if figures.live_usd is None else round(figures.live_usd, 6),
            "batch": None if figures.batch_usd is None else round(figures.batch_usd, 6),
        },
    }


def estimate_document(found: Estimate) -> dict[str, Any]:
    """The `--json` shape (estimate_version 1; fields are only ever added)."""
    return {
        "estimate_version": ESTIMATE_VERSION,
        "provider": found.provider,
        "model": found.model,
        "prompt": found.prompt,
        "input_tokens_exact": found.exact,
        "output_tokens_exact": False,
        "prices_as_of": PRICES_AS_OF,
        "price_per_million_tokens": (
            None
            if found.price is None
            else {"input": found.price.input, "output": found.price.output}
        ),
        "batch_discount": BATCH_DISCOUNT,
        "files": [{"path": f.path, "output": f.output, **_figures(f.figures)} for f in found.files],
        "total": {"files": len(found.files), **_figures(found.total)},
        "sent": 0,
        "written": 0,
        "skipped": [{"path": str(e.path), "problem": e.problem} for e in found.skipped],
    }


def _usd(amount: float | None) -> str:
    return "unknown" if amount is None else format_usd(amount)


def _show(found: Estimate) -> None:
    approx = "" if found.exact else "~"
    table = Table(box=None, pad_edge=False)
    table.add_column("file")
    for column in ("chunks", "input tokens", "output tokens", "live", "batch"):
        table.add_column(column, justify="right")

    def row(name: str, f: Figures) -> None:
        table.add_row(
            name,
            f"{f.chunks:,}",
            f"{approx}{f.input_tokens:,}",
            f"~{f.output_tokens:,}",
            _usd(f.live_usd),
            _usd(f.batch_usd),
        )

    for item in found.files:
        row(escape(Path(item.path).name), item.figures)
    if len(found.files) > 1:
        row("[bold]total[/bold]", found.total)
    out.print(
        f"Estimate for {len(found.files)} file(s) with {escape(found.model)}, prompt "
        f"{escape(found.prompt)} (nothing sent, nothing written):"
    )
    out.print(table)
    price = found.price
    rate = (
        "price unknown for this model: cost cannot be estimated"
        if price is None
        else f"${price.input:g} in / ${price.output:g} out per million tokens"
    )
    tokens = (
        "input tokens counted by the API"
        if found.exact
        else "~ input tokens estimated locally (--exact counts them with the API)"
    )
    out.print(f"Prices of {PRICES_AS_OF}: {rate}; batch = {BATCH_DISCOUNT:.0%} off.")
    out.print(f"{tokens}; output tokens are expected, at most --max-tokens per chunk.")
