"""Crash soak: hundreds of kill -9 / resume trials (tests/crash_trials.py), run by hand.

    python benchmarks/crash_soak.py --trials 500
    python benchmarks/crash_soak.py --trials 1 --seed 1234        # replay one trial's plan
    python benchmarks/crash_soak.py --trials 10000 --minutes 8    # as many as fit in 8 minutes

Each trial kills a three-file job 1-3 times at planned moments (a request reaching the API, a
chunk result, checkpoint or output being written, a delay), resumes it, and checks the outputs
are byte-identical to an uninterrupted run's, the job completed, nothing was left behind, and no
kill cost more than the chunks in flight. A seed fixes the plan; only OS timing varies, so a
replayed failure is likely, not certain, to recur. Exits 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.cli_launcher import Launcher  # noqa: E402
from tests.crash_trials import TrialFailed, TrialResult, make_plan, run_trial  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100, help="how many (default 100)")
    parser.add_argument("--seed", type=int, help="first seed (default: a random one, printed)")
    parser.add_argument("--concurrency", "-j", type=int, help="fix -j (default: 1-4 per trial)")
    parser.add_argument("--minutes", type=float, help="start no trial after this long")
    parser.add_argument("--keep", type=Path, help="keep failing trials' folders under this one")
    args = parser.parse_args()
    first = args.seed if args.seed is not None else random.randrange(1_000_000)
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    print(f"crash soak: {args.trials} trials from seed {first}", flush=True)

    results: list[TrialResult] = []  # every trial that ran to its checks, passed or not
    passed = 0
    failed: list[int] = []
    started = time.monotonic()
    with Launcher() as launch:
        for seed in range(first, first + args.trials):
            if deadline is not None and time.monotonic() > deadline:
                print(f"time is up after {passed + len(failed)} trials", flush=True)
                break
            plan = make_plan(seed, args.concurrency)
            workdir = Path(tempfile.mkdtemp(prefix=f"crash-{seed}-"))
            try:
                results.append(run_trial(plan, workdir, launch))
                passed += 1
            except Exception as exc:
                failed.append(seed)
                if isinstance(exc, TrialFailed) and exc.result is not None:
                    results.append(exc.result)
                story = str(exc) if isinstance(exc, TrialFailed) else traceback.format_exc()
                replay = f"python benchmarks/crash_soak.py --trials 1 --seed {seed}"
                if args.concurrency:
                    replay += f" --concurrency {args.concurrency}"
                print(f"FAILED seed {seed}: {story}\n  replay: {replay}", flush=True)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.move(workdir, args.keep / workdir.name)
                    print(f"  kept: {args.keep / workdir.name}", flush=True)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            done = passed + len(failed)
            if done % 10 == 0 or done == args.trials:
                rate = (time.monotonic() - started) / done
                print(
                    f"[{done:>5}/{args.trials}] {passed} passed, {len(failed)} failed, "
                    f"{rate:.2f} s/trial",
                    flush=True,
                )

    ran = passed + len(failed)
    kills = sum(r.kills for r in results)
    if failed:
        print(f"failing seeds: {' '.join(map(str, failed))}")
    print(
        f"crash trials: {passed}/{ran} passed ({len(failed)} failures), "
        f"max re-billed per kill: {max((r.max_rebilled_per_kill for r in results), default=0)}, "
        f"mean kills per trial: {kills / max(1, len(results)):.1f}"
        f" ({time.monotonic() - started:.0f}s)"
    )
    return 1 if failed or not ran else 0


if __name__ == "__main__":
    sys.exit(main())
