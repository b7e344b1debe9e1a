"""Starting, resuming and clearing jobs: the decisions around a run, without any UI.

A run is a Bookkeeper (bookkeeper.py) driven by a scheduler (live.py). The caller supplies the
provider through a factory, so tests hand in a scripted one; the engine closes it on every path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from transcript_cli import batch_ledger, manifest, output_guard
from transcript_cli.atomicio import remove_stale_temps
from transcript_cli.batch import BatchOptions, BatchScheduler
from transcript_cli.bookkeeper import Bookkeeper, Scheduler
from transcript_cli.budget import check_priced
from transcript_cli.checkpoint import CHECKPOINT_NAME
from transcript_cli.control import Control
from transcript_cli.errors import (
    BadInputsError,
    Command,
    InputError,
    JobLockedError,
    StateError,
    StorageError,
    UsageError,
)
from transcript_cli.events import (
    CheckpointRebuilt,
    EventSink,
    InputSkipped,
    InputsUntimed,
    ignore_events,
)
from transcript_cli.formats import find_inputs
from transcript_cli.job import (
    JobStore,
    check_job_name,
    make_job_id,
    new_state,
    plan_each,
    verify_inputs,
)
from transcript_cli.live import LiveScheduler
from transcript_cli.providers import Provider, make_provider, preload
from transcript_cli.providers.batches import BatchClient
from transcript_cli.repair import repair
from transcript_cli.retry import RetryPolicy
from transcript_cli.state import InputState, JobState, Options, Settings


class Existing(Enum):
    """What to do when `run` finds an unfinished job with the same id."""

    RESUME = "resume"
    RESTART = "restart"
    LEAVE = "leave"  # neither: the job stays exactly as it is


@dataclass(frozen=True)
class RunSpec:
    """Everything `run` was asked for, already parsed."""

    inputs: Sequence[Path]
    settings: Settings
    options: Options
    out_dir: Path
    name: str | None = None
    batch: BatchOptions | None = None  # run --batch: through Message Batches
    skip_invalid: bool = False  # leave unreadable inputs out instead of refusing the job


@dataclass(frozen=True)
class JobOutcome:
    """How a run or resume ended without an error."""

    state: JobState
    already_done: bool = False  # nothing to do: the job had completed before
    left_as_is: bool = False  # an unfinished job was found and, as asked, not touched
    skipped: tuple[InputError, ...] = ()  # inputs left out by --skip-invalid


# Builds the provider a job talks to; called once per run, before anything is written.
ProviderFactory = Callable[[Settings, Options], Provider]


def open_provider(settings: Settings, options: Options) -> Provider:
    """The provider the job's settings name (the CLI's factory)."""
    return make_provider(settings.provider, settings.model, timeout=options.timeout)


def retry_policy(options: Options) -> RetryPolicy:
    """The per-chunk retry budget for these options."""
    return RetryPolicy(
        max_retries=options.max_retries, max_throttle_seconds=options.max_throttle_wait
    )


def resolve_job_id(spec: RunSpec, inputs: Sequence[Path]) -> str:
    if spec.name:
        return check_job_name(spec.name)
    label = Path(spec.inputs[0]).name if spec.inputs else "job"
    label = Path(label).stem or label
    return make_job_id(label, inputs, spec.settings)


def start(
    store: JobStore,
    spec: RunSpec,
    *,
    providers: ProviderFactory,
    decide: Callable[[JobState], Existing],
    restart: bool = False,
    control: Control | None = None,
    on_event: EventSink = ignore_events,
) -> JobOutcome:
    """`run`: validate everything first, then create (or continue) the job and process it.

    Bad inputs and a missing key fail here, before any state is written or request is sent.
    """
    preload(spec.settings.provider)  # the SDK loads while the inputs are read and hashed
    found, problems = find_inputs([Path(p) for p in spec.inputs])
    plan = plan_each(found, spec.settings, spec.out_dir.resolve())
    planned = plan.inputs
    skipped = tuple(problems + plan.problems)
    if skipped and (not spec.skip_invalid or not planned):
        raise BadInputsError(list(skipped))
    for problem in skipped:
        on_event(InputSkipped(str(problem.path), problem.problem))
    if spec.settings.timestamps and plan.untimed:
        on_event(InputsUntimed(tuple(plan.untimed)))  # said, not silently left out
    job_id = resolve_job_id(spec, [Path(p.path) for p in planned])
    check_priced(spec.settings, spec.options)
    provider = providers(spec.settings, spec.options)
    with closing(provider):
        if spec.batch is not None:
            batch_client(provider)  # refused before anything is written
        if not restart and _lost_checkpoint_of_written_files(store, job_id):
            # Its outputs may be written and paid for: rebuild as `repair` does, never pay twice.
            rebuilt = repair(store, job_id).state
            if rebuilt.chunks_done:
                on_event(
                    CheckpointRebuilt(
                        job_id,
                        rebuilt.chunks_done,
                        rebuilt.chunks_total,
                        rebuilt.status == "completed",
                    )
                )
            else:
                restart = True  # nothing of it was paid for: start it afresh, as before
        if store.exists(job_id) and not restart:
            existing = store.load(job_id)
            # Before "completed": a job found by --name or written elsewhere is not this run's.
            _check_same_job(store, existing, spec.settings, planned)
            if existing.status == "completed":
                return JobOutcome(existing, already_done=True, skipped=skipped)
            if store.is_running(job_id):
                # Not "unfinished, resume it?": another process holds it; resume would be refused.
                raise JobLockedError(
                    f"job '{job_id}' is being processed by another transcript-cli process; "
                    "wait for it, or stop it with Ctrl-C",
                    job_id=job_id,
                    state_dir=store.root,
                )
            choice = decide(existing)
            if choice is Existing.LEAVE:
                return JobOutcome(existing, left_as_is=True)
            if choice is Existing.RESUME:
                return _resume(
                    store,
                    job_id,
                    lambda _: provider,
                    owns_provider=False,  # closed here, on every path
                    options=spec.options,
                    batch=spec.batch,
                    control=control,
                    on_event=on_event,
                )
        elif not restart and store.has_results(job_id):
            # Its checkpoint is lost or unreadable, but the chunks it paid for are still there.
            raise StateError(
                f"job '{job_id}' has stored chunk results but no usable checkpoint",
                job_id=job_id,
                state_dir=store.root,
                hint=(
                    "; recover them with `",
                    Command("repair", job_id),
                    "`, or pass --restart to discard them",
                ),
            )

        store.check_root()  # a state folder others can write to is the first thing to fix
        previous, written_before = _previous_run(store, job_id)
        output_guard.check_new_job(
            job_id,
            planned,
            overwrite=spec.options.overwrite,
            job_dir=store.job_dir(job_id),
            previous=previous,
            checkpoint_mtime=written_before,
        )
        with store.locked(job_id) as job_dir:
            store.reset(job_id)
            state = new_state(job_id, spec.settings, spec.options, planned)
            try:
                # The checkpoint first: a run killed between the two leaves a job that `resume`
                # completes (it writes a missing manifest), not one that looks damaged. The
                # manifest is written once; `repair` rebuilds a lost checkpoint from it.
                store.save(state)
                manifest.save(manifest.Manifest.of(state), job_dir)
                if spec.batch is not None:
                    # Its presence makes this a batch job, for every later resume too.
                    batch_ledger.save(batch_ledger.Ledger(job_id), job_dir)
            except StorageError as exc:
                # There is no job yet, so nothing to resume.
                raise StorageError(
                    f"{exc.path}: cannot write: {exc.reason}; nothing was sent yet: free the "
                    "problem and run the same command again",
                    path=exc.path,
                    reason=exc.reason,
                    job_id=job_id,
                ) from exc
            return JobOutcome(
                _process(store, state, provider, control, on_event, batch=spec.batch),
                skipped=skipped,
            )


def _check_same_job(
    store: JobStore, existing: JobState, settings: Settings, planned: Sequence[InputState]
) -> None:
    """Refuse a job with this id that reads other inputs, or writes other outputs, than asked.

    The id hashes input paths and settings, not --out nor the inputs' contents; and --name can
    name any job. A completed job made from an input since edited is not "done" either.
    """
    job_id = existing.job_id
    if existing.settings != settings or [i.path for i in existing.inputs] != [
        i.path for i in planned
    ]:
        raise UsageError(
            f"job '{job_id}' exists with other inputs or settings; "
            "pass --restart to replace it, or choose another --name",
            job_id=job_id,
            state_dir=store.root,
        )
    if existing.status == "completed":
        changed = [
            i.path for i, e in zip(planned, existing.inputs, strict=True) if i.sha256 != e.sha256
        ]
        if changed:
            others = f" (and {len(changed) - 1} other input(s))" if len(changed) > 1 else ""
            raise UsageError(
                f"job '{job_id}' completed from an earlier version of {changed[0]}{others}: "
                "it changed since; run it again with --restart, or choose another --name",
                job_id=job_id,
                state_dir=store.root,
            )
    theirs = [i.output for i in existing.inputs]
    ours = [i.output for i in planned]
    if theirs != ours:
        was, asked = next((a, b) for a, b in zip(theirs, ours, strict=True) if a != b)
        if existing.status == "completed":
            raise UsageError(
                f"job '{job_id}' wrote {was}, not {asked} as asked; "
                "run it again with --restart, or choose another --name",
                job_id=job_id,
                state_dir=store.root,
            )
        raise UsageError(
            f"job '{job_id}' writes {was}, not {asked} as asked",
            job_id=job_id,
            state_dir=store.root,
            hint=(
                "; continue it with `",
                Command("resume", job_id),
                "`, start it over with --restart, or choose another --name",
            ),
        )


def _lost_checkpoint_of_written_files(store: JobStore, job_id: str) -> bool:
    """A job started here whose checkpoint is gone and whose results were all consumed.

    The bookkeeper deletes an input's stored results once its output is written, so a deleted
    checkpoint of a completed job leaves only the manifest and the outputs. With results left,
    `run` refuses and points at `repair` (below), which reports what it recovers.
    """
    return not store.exists(job_id) and store.has_manifest(job_id) and not store.has_results(job_id)


def _process(
    store: JobStore,
    state: JobState,
    provider: Provider,
    control: Control | None,
    on_event: EventSink,
    *,
    resumed: bool = False,
    batch: BatchOptions | None = None,
) -> JobState:
    """Run the job's remaining chunks, live or (for a batch job) in batches; under its lock."""
    book = Bookkeeper(store, state, provider_name=provider.name, control=control, on_event=on_event)
    policy = retry_policy(state.options)
    scheduler: Scheduler
    if batch_ledger.exists(book.job_dir):
        client = batch_client(provider)
        scheduler = BatchScheduler(
            client, provider, state.options, batch or BatchOptions(), policy=policy
        )
    else:
        scheduler = LiveScheduler(provider, state.options, policy=policy)
    return book.run(scheduler, resumed=resumed)


def batch_client(provider: Provider) -> BatchClient:
    """The provider's Message Batches client; only the anthropic provider has one."""
    batches = getattr(provider, "batches", None)
    if batches is None:
        raise UsageError(f"--batch needs the anthropic provider, not {provider.name}")
    client: BatchClient = batches()
    return client


def resume(
    store: JobStore,
    job_id: str,
    *,
    providers: ProviderFactory,
    options: Options | None = None,
    control: Control | None = None,
    on_event: EventSink = ignore_events,
    retry_failed: bool = False,
    batch: BatchOptions | None = None,
) -> JobOutcome:
    """`resume`: continue from the checkpoint; finished chunks are never sent again.

    A batch job goes on in batch mode (`batch` says how: wait or not, fallback to live).

    Chunks that failed for good stay failed (and their files unwritten) unless `retry_failed`.
    """
    return _resume(
        store,
        job_id,
        lambda state: providers(state.settings, state.options),
        owns_provider=True,
        options=options,
        control=control,
        on_event=on_event,
        retry_failed=retry_failed,
        batch=batch,
    )


def _resume(
    store: JobStore,
    job_id: str,
    provider_for: Callable[[JobState], Provider],
    *,
    owns_provider: bool,
    options: Options | None,
    control: Control | None,
    on_event: EventSink,
    retry_failed: bool = False,
    batch: BatchOptions | None = None,
) -> JobOutcome:
    """Continue a job under its lock; closes the provider only if it opened it here."""
    with store.locked(job_id) as job_dir:
        state = store.load(job_id)
        if state.status == "completed":
            return JobOutcome(state, already_done=True)
        preload(state.settings.provider)  # the SDK loads while the inputs are re-hashed
        verify_inputs(state)
        check_priced(state.settings, options or state.options)
        output_guard.check_resumed_job(state, overwrite=(options or state.options).overwrite)
        _remove_stale_output_temps(state)
        if retry_failed:
            for item in state.inputs:
                for chunk in item.failed:
                    item.notes[chunk] = replace(item.notes[chunk], error=None)
        if not (job_dir / manifest.MANIFEST_NAME).exists():
            # A job from before manifests existed: give it one, so it can be repaired later.
            manifest.save(manifest.Manifest.of(state), job_dir)
        if options is not None:
            state.options = options
        provider = provider_for(state)
        try:
            state.resume_count += 1
            return JobOutcome(
                _process(store, state, provider, control, on_event, resumed=True, batch=batch)
            )
        finally:
            if owns_provider:
                provider.close()


def _previous_run(store: JobStore, job_id: str) -> tuple[JobState | None, float | None]:
    """A job being started over, and when its checkpoint was last saved: its outputs are its own."""
    if not store.exists(job_id):
        return None, None
    try:
        previous = store.load(job_id)
        return previous, (store.job_dir(job_id) / CHECKPOINT_NAME).stat().st_mtime
    except (StateError, OSError):
        return None, None


def _remove_stale_output_temps(state: JobState) -> None:
    """A run killed while writing an output left its temp file beside it; the rewrite won't."""
    pending: dict[Path, set[str]] = {}
    for item in state.inputs:
        if not item.written:
            output = Path(item.output)
            pending.setdefault(output.parent, set()).add(output.name)
    for folder, names in pending.items():
        remove_stale_temps(folder, names)


def merge_options(base: Options, **overrides: float | int | bool | None) -> Options:
    """Resume keeps the job's options unless a flag overrides one."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given)  # type: ignore[arg-type]


def pick_resumable(store: JobStore) -> list[str]:
    """Ids of jobs that are not completed (damaged ones count: resume will explain)."""
    found = []
    for job_id in store.ids():
        try:
            if store.load(job_id).status != "completed":
                found.append(job_id)
        except StateError:
            found.append(job_id)
    return found


def batches_in_flight(store: JobStore, job_id: str) -> list[str]:
    """Ids of a job's batches submitted and not collected (none for a live job)."""
    ledger = batch_ledger.load(store.job_dir(job_id))
    return ledger.batch_ids() if ledger else []


def clear(
    store: JobStore, job_id: str, *, cancel_batches: ProviderFactory | None = None
) -> list[str]:
    """Delete a job's state; refused while a process runs it. Returns the batches canceled.

    With `cancel_batches`, batches still in flight are canceled first (through a provider it
    makes): left alone they would run on, and bill, with nowhere to put their results.
    """
    if not (store.job_dir(job_id).is_dir()):
        raise UsageError(f"no job named '{job_id}' in {store.root}")
    canceled: list[str] = []
    try:
        if cancel_batches is not None and batches_in_flight(store, job_id):
            # Held while the batches are canceled (requests); only when there are some, so a
            # plain clear never holds the job's lock outside the gate (see joblock).
            with store.locked(job_id):
                state = store.load(job_id)
                with closing(cancel_batches(state.settings, state.options)) as provider:
                    client = batch_client(provider)
                    for batch_id in batches_in_flight(store, job_id):
                        client.cancel(batch_id)
                        canceled.append(batch_id)
        store.remove_unless_running(job_id)
    except JobLockedError:
        raise JobLockedError(
            f"job '{job_id}' is running in another process; stop it first (Ctrl-C)"
        ) from None
    return canceled
