"""kill -9 at random moments, resume, repeat: outputs byte-identical, no paid chunk lost.

The trials themselves live in tests/crash_trials.py (benchmarks/crash_soak.py runs hundreds).
Here: that their reference is a real uninterrupted run, a fixed set of seeds, and two moments
random trials hit too rarely to guard alone: writes cut short, and requests leaving while a paid
reply is not yet stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import crash_trials
from tests.cli_launcher import Child, Launcher
from tests.conftest import Cli, write_transcript
from tests.crash_trials import Kill, Plan, make_plan, run_trial
from transcript_cli.chunk_results import ResultStore

SEEDS = range(20)


@pytest.fixture(scope="module")
def launch() -> Iterator[Launcher]:
    with Launcher() as launcher:
        yield launcher


def test_reference_outputs_are_what_an_uninterrupted_run_writes(
    launch: Launcher, tmp_path: Path
) -> None:
    plan = make_plan(1000)
    trial = run_trial(Plan(plan.seed, 3, plan.units, plan.suffixes, kills=()), tmp_path, launch)
    assert [s.returncode for s in trial.steps] == [0]
    inputs = sorted((tmp_path / "in").iterdir())
    expected = crash_trials.expected_outputs(inputs)
    assert sorted(expected) == sorted(p.name for p in (tmp_path / crash_trials.OUT).iterdir())
    for name, data in expected.items():
        assert (tmp_path / crash_trials.OUT / name).read_bytes() == data


@pytest.mark.parametrize("seed", SEEDS)
def test_crash_trial(seed: int, launch: Launcher, tmp_path: Path) -> None:
    plan = make_plan(seed)
    trial = run_trial(plan, tmp_path, launch)
    assert trial.kills <= len(plan.kills)


def test_trials_cover_every_kill_moment() -> None:
    """The fixed seeds kill at every kind of moment, early and late, with -j 1 to 4."""
    plans = [make_plan(seed, fs_triggers=True) for seed in SEEDS]
    kills = [k for p in plans for k in p.kills]
    assert {k.trigger for k in kills} == set(crash_trials.TRIGGERS)
    assert min(k.fraction for k in kills) < 0.15 and max(k.fraction for k in kills) > 0.85
    assert {p.concurrency for p in plans} == {1, 2, 3, 4}
    assert Counter(len(p.kills) for p in plans).keys() == {1, 2, 3}


@pytest.mark.parametrize(("trigger", "kills"), [("output-tmp", 4), ("checkpoint-tmp", 8)])
def test_a_kill_mid_write_leaves_no_temp_file(
    trigger: crash_trials.Trigger, kills: int, launch: Launcher, tmp_path: Path
) -> None:
    base = make_plan(7)
    # Each process is killed as it starts writing one of its first such files, so the kills
    # are cheap and most land mid-write.
    # (Not a checkpoint's very first save: a `run` killed before it has one starts over, and
    # clears the job's folder, temp files included.)
    plan = Plan(base.seed, 2, base.units, base.suffixes, (Kill(trigger, 0.03, 0.0),) * kills)
    trial = run_trial(plan, tmp_path, launch)
    assert trial.kills == kills
    cut_short = [s for s in trial.steps if s.temps_after]
    assert cut_short, "no kill landed mid-write: nothing was tested"


def test_a_kill_as_a_result_is_written_in_place_loses_nothing(
    launch: Launcher, tmp_path: Path
) -> None:
    """Results are written in place, with no temp file: killed as one's file is created (left
    empty or cut short), the next run finds it failing its checksum and redoes that chunk, once;
    run_trial checks the outputs are byte-identical and no kill re-billed more than in flight."""
    base = make_plan(7)
    plan = Plan(base.seed, 1, base.units, base.suffixes, (Kill("result-tmp", 0.03, 0.0),) * 4)
    trial = run_trial(plan, tmp_path, launch)
    assert trial.kills == 4


def test_a_kill_costs_at_most_the_chunks_in_flight(launch: Launcher, tmp_path: Path) -> None:
    """No request leaves while a paid reply is not yet stored: a kill then would lose both.

    With -j 1, as each request arrives the fake checks that every reply it gave this process is
    stored, and kills the process if not. A random trial rarely hits that instant; this looks at
    every one.
    """
    with crash_trials.fake_api(seed=1) as api:
        cli = Cli(tmp_path, api.url)
        src = write_transcript(tmp_path / "talk.txt", 160)
        texts = crash_trials.chunk_texts(src)
        index = {text: n for n, text in enumerate(texts)}
        results = ResultStore(cli.state_dir / crash_trials.JOB)
        current: list[Child] = []
        first_request = [0]  # the current process's first one

        def kill_if_a_reply_is_unstored(_: str) -> bool:
            # Called as each request arrives, before it is answered.
            mine = api.requests[first_request[0] :]
            answered = {index[r.transcript] for r in mine if r.finished and r.transcript in index}
            if current and answered - results.stored_indices(0):
                current[0].kill()
            return False

        api.fail_when(kill_if_a_reply_is_unstored, crash_trials.Fault(), times=-1)
        args = crash_trials.run_args([src], concurrency=1)
        sent_by: list[list[str]] = []
        for n in range(4):  # up to three probing processes, then one left to finish
            seen = len(crash_trials.billed(api))
            first_request[0] = len(api.requests)
            command = ("resume", crash_trials.JOB) if n else args
            child = launch(cli, *command, out=tmp_path / f"{n}.out", err=tmp_path / f"{n}.err")
            current[:] = [child] if n < 3 else []
            code = child.wait(crash_trials.PROCESS_TIMEOUT)
            current.clear()
            crash_trials.settle(api)
            sent_by.append(crash_trials.billed(api)[seen:])
            if code == 0:
                break
        assert code == 0, child.stderr

    assert {t for seg in sent_by for t in seg} == set(texts)
    for n, segment in enumerate(sent_by):
        later = {t for seg in sent_by[n + 1 :] for t in seg}
        again = [index[t] for t in segment if t in later]
        assert len(again) <= 1, f"kill {n + 1} cost chunks {again} again (-j 1)"


def test_launcher_kill_is_a_real_sigkill(launch: Launcher, tmp_path: Path) -> None:
    """The trials' kills are SIGKILL of the CLI process itself, reported as such."""
    cli = Cli(tmp_path, "http://127.0.0.1:9")
    src = write_transcript(tmp_path / "a.txt", 10)
    child = launch(cli, "run", str(src), "--name", "k", out=tmp_path / "o", err=tmp_path / "e")
    child.kill()
    assert child.wait(30) == -9
