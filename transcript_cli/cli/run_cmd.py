"""`run` and `resume`: parse flags, hand the job to the runner, render how it ended."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from transcript_cli import batch_ledger
from transcript_cli.batch import BatchOptions, BatchPolling
from transcript_cli.cli import run_options as ro
from transcript_cli.cli import stdio
from transcript_cli.cli.app import JsonOption, QuietOption, StateDirOption, app
from transcript_cli.cli.completion import complete_unfinished_job_ids
from transcript_cli.cli.console import err, out, print_json, stdin_is_terminal
from transcript_cli.cli.error_output import error_kind, show_error
from transcript_cli.cli.estimate_cmd import ESTIMATE, find_existing, run_estimate
from transcript_cli.cli.examples import ESTIMATE_EXAMPLES, RESUME_EXAMPLES, RUN_EXAMPLES
from transcript_cli.cli.hints import PROG, command, explain, resume_command, use_state_dir
from transcript_cli.cli.questions import choose, confirm
from transcript_cli.cli.render import ProgressView
from transcript_cli.cli.signals import pause_on_signals
from transcript_cli.control import Control
from transcript_cli.decoding import check_encoding
from transcript_cli.endings import paused
from transcript_cli.errors import (
    EXIT_OK,
    Paused,
    TranscriptCliError,
    UsageError,
    Waiting,
)
from transcript_cli.events import InputSkipped
from transcript_cli.job import JobStore, resolve_state_dir
from transcript_cli.pricing import format_usd
from transcript_cli.prompts import DEFAULT_LANGUAGE, DEFAULT_PROMPT, load_prompt
from transcript_cli.providers import DEFAULT_TIMEOUT, PROVIDERS, default_model
from transcript_cli.retry import DEFAULT_MAX_RETRIES
from transcript_cli.runner import (
    Existing,
    JobOutcome,
    RunSpec,
    merge_options,
    open_provider,
    pick_resumable,
)
from transcript_cli.runner import resume as resume_job
from transcript_cli.runner import start as start_job
from transcript_cli.state import DEFAULT_THROTTLE_WAIT, JobState, Options, Settings
from transcript_cli.status_view import job_view


def _finish(
    store: JobStore,
    outcome: JobOutcome,
    *,
    as_json: bool,
    quiet: bool,
    state_dir: Path | None,
    again: str = "use --restart to run it again",
) -> None:
    """`again`: how to run a completed job again, from the command that found it."""
    state = outcome.state
    if outcome.left_as_is:
        _left_as_is(state, state_dir)
    batches = _batches(store, state.job_id)
    if as_json:
        summary = _json_summary(state, state_dir, exit_code=EXIT_OK, error=None, batches=batches)
        summary["skipped"] = [{"path": str(e.path), "problem": e.problem} for e in outcome.skipped]
        print_json(summary)
        return
    if outcome.left_as_is:
        return
    # With --out - the cleaned text is stdout, and everything said goes to stderr.
    say = err if stdio.emit(store, state) else out
    if quiet:
        return
    if outcome.already_done:
        say.print(
            f"Job {escape(state.job_id)} already completed at {state.completed_at}; "
            f"outputs are in place ({again})."
        )
        return
    cost = "unknown" if state.cost_unknown_chunks else f"${state.cost_usd:.4f}"
    if batches is not None:
        cost += " (batch prices)"
    say.print(
        f"Done: {len(state.inputs)} file(s), {state.chunks_total} chunks, "
        f"{state.input_tokens:,} tokens in / {state.output_tokens:,} out, cost {cost}, "
        f"{_elapsed(state.active_seconds)}. Job {escape(state.job_id)}."
    )
    if say is out:
        for item in state.inputs:
            out.print(f"  {escape(item.output)}")


def _batches(store: JobStore, job_id: str) -> list[str] | None:
    """A batch job's batches in flight; None for a live job."""
    ledger = batch_ledger.load(store.job_dir(job_id))
    return ledger.batch_ids() if ledger is not None else None


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _json_summary(
    state: JobState,
    state_dir: Path | None,
    *,
    exit_code: int,
    error: str | None,
    batches: list[str] | None,
) -> dict[str, object]:
    view = job_view(
        state,
        running=False,
        resume_command=resume_command(state.job_id, state_dir),
        batches=batches,
    )
    return {**view, "exit_code": exit_code, "error": error}


def _handle_end(
    store: JobStore,
    job_id: str,
    exc: TranscriptCliError,
    as_json: bool,
    state_dir: Path | None,
    skipped: Sequence[Mapping[str, str]] = (),
) -> None:
    """Errors after a job exists: show them, and under --json print the job's view with them
    (and `skipped`, the inputs --skip-invalid left out, as a finished run's document has)."""
    message = explain(exc, state_dir)
    view: dict[str, object] | None = None
    if as_json and store.exists(job_id):
        try:
            found = job_view(
                store.load(job_id),
                running=False,
                resume_command=resume_command(job_id, store.root),
                batches=_batches(store, job_id),
            )
            view = {**found, "skipped": list(skipped)}
        except TranscriptCliError:
            view = None  # damaged meanwhile: the error document alone still says what happened
    if isinstance(exc, Waiting):
        # Not an error either: submitted, and the batches run on without us.
        err.print(Text(message))
        if as_json:
            print_json({**(view or {}), "exit_code": exc.exit_code, "error": None})
        return
    if isinstance(exc, Paused):
        # Not an error: the final pause/resume line, shown even under --quiet.
        err.print(Text(message, style="yellow"))
        if as_json:
            kind = error_kind(exc)  # "paused", or "budget" for --max-cost
            print_json(
                {**(view or {}), "exit_code": exc.exit_code, "error": message, "error_kind": kind}
            )
        return
    show_error(message, exc.exit_code, as_json=as_json, kind=error_kind(exc), document=view)


def _ask_existing(state: JobState) -> Existing:
    if not stdin_is_terminal():
        where = paused(state)
        raise UsageError(
            f"job '{state.job_id}' already exists and is not finished ({where.message}",
            job_id=state.job_id,
            hint=(*where.hint, "); pass --resume to continue it or --restart to start over"),
        )
    answer = confirm(
        f"Job {state.job_id} is unfinished: {state.chunks_done}/{state.chunks_total} chunks "
        f"done, {_spent(state)}. Resume it?",
        default=True,
    )
    # "No" never discards paid work: starting over takes --restart, typed on purpose.
    return Existing.RESUME if answer else Existing.LEAVE


def _spent(state: JobState) -> str:
    return "cost unknown" if state.cost_unknown_chunks else f"{format_usd(state.cost_usd)} spent"


def _left_as_is(state: JobState, state_dir: Path | None) -> None:
    err.print(
        f"Left job {escape(state.job_id)} as it is. Continue it: "
        f"{escape(resume_command(state.job_id, state_dir))}; or start over, discarding its "
        f"{state.chunks_done} finished chunk(s) ({_spent(state)}): run the same command "
        "with --restart"
    )


@app.command(epilog=RUN_EXAMPLES)
def run(
    ctx: typer.Context,
    inputs: ro.Inputs,
    provider: ro.Provider = "anthropic",
    model: ro.Model = None,
    prompt: ro.Prompt = DEFAULT_PROMPT,
    language: ro.Language = None,
    title: ro.Title = None,
    chunk_chars: ro.ChunkChars = ro.DEFAULT_CHUNK_CHARS,
    context_chars: ro.ContextChars = ro.DEFAULT_CONTEXT_CHARS,
    max_tokens: ro.MaxTokens = ro.DEFAULT_MAX_TOKENS,
    out_dir: ro.Out = ro.DEFAULT_OUT,
    output_format: ro.Format = ro.DEFAULT_FORMAT,
    timestamps: ro.Timestamps = False,
    front_matter: ro.FrontMatter = False,
    name: ro.Name = None,
    stdin_name: ro.StdinName = None,
    concurrency: ro.Concurrency = ro.DEFAULT_CONCURRENCY,
    max_retries: ro.MaxRetries = DEFAULT_MAX_RETRIES,
    max_throttle_wait: ro.MaxThrottleWait = DEFAULT_THROTTLE_WAIT,
    timeout: ro.Timeout = DEFAULT_TIMEOUT,
    rpm: ro.Rpm = None,
    tpm: ro.Tpm = None,
    strict: ro.Strict = False,
    batch: ro.Batch = False,
    wait: ro.Wait = True,
    fallback_live: ro.FallbackLive = False,
    encoding: ro.Encoding = None,
    skip_invalid: ro.SkipInvalid = False,
    resume_flag: ro.ResumeFlag = False,
    restart: ro.Restart = False,
    max_cost: ro.MaxCost = None,
    overwrite: ro.Overwrite = False,
    dry_run: ro.DryRun = False,
    exact: ro.Exact = False,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    verbose: ro.Verbose = False,
) -> None:
    """Start a job: clean INPUTS chunk by chunk, checkpointing after every chunk."""
    dry_run = dry_run or ctx.info_name == ESTIMATE
    if exact and not dry_run:
        raise UsageError("--exact counts tokens for an estimate: add --dry-run (or use estimate)")
    use_state_dir(state_dir)
    if resume_flag and restart:
        raise UsageError("--resume and --restart exclude each other")
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider '{provider}' (choose from: {', '.join(PROVIDERS)})")
    if context_chars >= chunk_chars:
        # Often not given at all: its default is 300, above a small --chunk-chars.
        raise UsageError(
            f"--context-chars ({context_chars}) must be smaller than --chunk-chars "
            f"({chunk_chars}); give a smaller --context-chars"
        )
    if front_matter and output_format.value != "md":
        raise UsageError("--front-matter needs --format md (JSON outputs carry the same fields)")
    if not batch and (not wait or fallback_live):
        raise UsageError("--no-wait and --fallback-live go with --batch")
    template = load_prompt(prompt)
    settings = Settings(
        provider=provider,
        model=model or default_model(provider),
        prompt_name=template.name,
        prompt_text=template.text,
        language=language or DEFAULT_LANGUAGE,
        title=title,
        chunk_chars=chunk_chars,
        context_chars=context_chars,
        max_tokens=max_tokens,
        output_format=output_format.value,
        timestamps=timestamps,
        front_matter=front_matter,
        encoding=None if encoding is None else check_encoding(encoding),
    )
    options = Options(
        concurrency=concurrency,
        max_retries=max_retries,
        max_throttle_wait=max_throttle_wait,
        timeout=timeout,
        rpm=rpm,
        tpm=tpm,
        strict=strict,
        max_cost=max_cost,
        overwrite=overwrite,
    )
    store = JobStore(resolve_state_dir(state_dir))
    spec = RunSpec(
        inputs=inputs,
        settings=settings,
        options=options,
        out_dir=out_dir,
        name=name,
        batch=BatchOptions(wait, fallback_live, BatchPolling.from_env()) if batch else None,
        skip_invalid=skip_invalid,
    )
    if dry_run:
        run_estimate(
            inputs,
            settings,
            out_dir,
            exact=exact,
            timeout=timeout,
            as_json=as_json,
            stdin_name=stdin_name,
            skip_invalid=skip_invalid,
            find_job=None if restart else partial(find_existing, store, spec),
        )
        return
    planned = stdio.plan(store, spec, stdin_name=stdin_name, as_json=as_json)
    spec = planned.spec

    def decide(state: JobState) -> Existing:
        if resume_flag:
            return Existing.RESUME
        return _ask_existing(state)

    control = Control()
    seen: list[str] = []
    skipped: list[dict[str, str]] = []  # for the --json document, should the job stop

    def track(event: object) -> None:
        job_id = getattr(event, "job_id", None)
        if job_id and not seen:
            seen.append(job_id)
        if isinstance(event, InputSkipped):
            skipped.append({"path": event.file, "problem": event.problem})

    with ProgressView(
        quiet=quiet or as_json, verbose=verbose and not as_json, state_dir=state_dir
    ) as view:

        def sink(event: object) -> None:
            track(event)
            view(event)  # type: ignore[arg-type]

        try:
            with pause_on_signals(control, quiet=quiet):
                outcome = start_job(
                    store,
                    spec,
                    providers=open_provider,
                    decide=decide,
                    restart=restart,
                    control=control,
                    on_event=sink,
                )
        except TranscriptCliError as exc:
            view.__exit__(None, None, None)
            stdio.undo(store, planned)
            job_id = seen[0] if seen else None
            _exit_after(store, job_id, exc, as_json=as_json, control=control, skipped=skipped)
    _finish(store, outcome, as_json=as_json, quiet=quiet, state_dir=store.root)


def _exit_after(
    store: JobStore,
    job_id: str | None,
    exc: TranscriptCliError,
    *,
    as_json: bool,
    control: Control,
    skipped: Sequence[Mapping[str, str]] = (),
) -> None:
    """Report how a job stopped and leave with its exit code."""
    if job_id is None:
        raise exc  # nothing exists yet: main() reports it like any other error
    _handle_end(store, job_id, exc, as_json, store.root, skipped)
    sys.stdout.flush()
    sys.stderr.flush()
    if control.abort.is_set():
        # Requests are still in flight on worker threads: do not wait for them.
        os._exit(exc.exit_code)
    raise typer.Exit(exc.exit_code)


app.command(
    ESTIMATE,
    epilog=ESTIMATE_EXAMPLES,
    help="What a job would cost: files, chunks, tokens and $ (live and batch prices), sending "
    "and writing nothing. The same as `run --dry-run`, and takes run's options.",
)(run)


@app.command(epilog=RESUME_EXAMPLES)
def resume(
    job: Annotated[
        str | None,
        typer.Argument(
            help="Job id.",
            show_default="the only unfinished job",
            autocompletion=complete_unfinished_job_ids,
        ),
    ] = None,
    concurrency: ro.ConcurrencyOverride = None,
    max_retries: ro.MaxRetriesOverride = None,
    max_throttle_wait: ro.MaxThrottleWaitOverride = None,
    timeout: ro.TimeoutOverride = None,
    rpm: ro.RpmOverride = None,
    tpm: ro.TpmOverride = None,
    strict: ro.StrictOverride = None,
    wait: ro.WaitOverride = None,
    fallback_live: ro.FallbackLive = False,
    max_cost: ro.MaxCostOverride = None,
    overwrite: ro.OverwriteOverride = None,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed", help="Try the chunks that failed for good again (see status)."
        ),
    ] = False,
    state_dir: StateDirOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    verbose: ro.Verbose = False,
) -> None:
    """Continue a paused, interrupted or failed job from its last checkpoint."""
    use_state_dir(state_dir)
    store = JobStore(resolve_state_dir(state_dir))
    job_id = job or _only_unfinished(store)
    state = store.load(job_id)
    options = merge_options(
        state.options,
        concurrency=concurrency,
        max_retries=max_retries,
        max_throttle_wait=max_throttle_wait,
        timeout=timeout,
        rpm=rpm,
        tpm=tpm,
        strict=strict,
        max_cost=max_cost,
        overwrite=overwrite,
    )
    control = Control()
    with ProgressView(
        quiet=quiet or as_json, verbose=verbose and not as_json, state_dir=state_dir
    ) as view:
        try:
            with pause_on_signals(control, quiet=quiet):
                outcome = resume_job(
                    store,
                    job_id,
                    providers=open_provider,
                    options=options,
                    control=control,
                    on_event=view,
                    retry_failed=retry_failed,
                    batch=BatchOptions(wait is not False, fallback_live, BatchPolling.from_env()),
                )
        except TranscriptCliError as exc:
            view.__exit__(None, None, None)
            _exit_after(store, job_id, exc, as_json=as_json, control=control)
    again = f"to run it again: the `{PROG} run` command that started it, with --restart"
    _finish(store, outcome, as_json=as_json, quiet=quiet, state_dir=store.root, again=again)


def _only_unfinished(store: JobStore) -> str:
    candidates = pick_resumable(store)
    if not candidates:
        raise UsageError(f"no unfinished job in {store.root}")
    if len(candidates) == 1:
        return candidates[0]
    listing = ", ".join(candidates)
    if not stdin_is_terminal():
        raise UsageError(
            f"several unfinished jobs ({listing}); name one: "
            + command("resume", "JOB", state_dir=store.root)
        )
    err.print("Unfinished jobs:")
    for n, job_id in enumerate(candidates, 1):
        err.print(f"  {n}. {escape(job_id)}")
    return candidates[choose("Which one?", len(candidates))]
