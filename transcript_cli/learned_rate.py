"""The request rate learned from throttles, for servers that do not say their limit.

Gateways and proxies in front of the API often drop the `anthropic-ratelimit-*` headers, send
only `retry-after` (in whole seconds), and enforce their limit with no burst allowance. Then
nothing but the 429s themselves tells us how fast we may go, so request starts are paced at a
learned rate:

- unpaced until the first throttle (a user with a high limit loses nothing);
- on the first throttle, the rate is set from what the server actually accepted: the start rate
  of the latest successful requests. If there are too few of them to measure (the job's very
  first burst), a rough guess is taken and *probed* upwards (doubling every `probe_doubling`
  seconds while the pace is what holds requests back) until the next throttle measures it;
- a throttle after a run of successes is *isolated*: the pace is about right and jitter on the
  way to the server brought two requests a little close together. It nudges the rate down;
- any other throttle (requests still go too fast) cuts the rate it was sent at multiplicatively,
  never leaving it above what was achieved; successes then bring the rate quickly back to just
  under the rate that was throttled (`settle`), then on towards that rate by a smaller step
  (`approach`), so it is hit less often, and past it by a small constant step (additive
  increase), so a limit that was raised is found again;
- throttles in a row of requests sent after a cut, with no success between them, mean the cut
  did not help (a quota spent, not a rate): `cut_failed` tells the pacer to hold every worker
  back for the `retry-after`.

Growth only happens while the pace is the constraint (`started` says whether it was): a job
held back by too few workers learns nothing about the server, and must not overshoot later.

`LearnedRate` is plain state behind the pacer's lock: it never sleeps and reads no clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class LearnedRatePolicy:
    """How the rate is learned; plain data, so a test can read what the pacer will do."""

    decrease: float = 0.9  # multiplicative cut when requests clearly go too fast
    nudge: float = 0.985  # the cut for an isolated throttle
    isolated_after: int = 8  # successes since the last cut that make a throttle isolated
    failed_after: int = 2  # throttles in a row, sent after a cut, that say pacing cannot help
    settle: float = 0.97  # after a cut, the share of the throttled rate successes return to
    recover: float = 0.1  # each success closes this share of the gap up to `settle`
    # Past `settle`: added per success, as a share of the rate set at the last throttle.
    increase: float = 0.00015
    # The share of `increase` added between `settle` and the rate that was throttled: a rate
    # that was throttled is neared slowly. (Section 5 of the benchmark, paired runs: 18-19
    # 429s instead of 20-21, the same share of the allowed rate.)
    approach: float = 0.4
    probe_doubling: float = 0.2  # while probing: the rate doubles every this many seconds
    sample: int = 6  # the achieved rate is read off the latest successful starts, at most this many
    min_sample: int = 4  # fewer than this is too few to measure
    margin: float = 0.95  # the rate is set to this share of what was achieved
    floor: float = 0.05  # never slower than one request per 20 s


class Phase(Enum):
    """Where learning stands."""

    UNPACED = "unpaced"  # no throttle yet: starts are not spaced at all
    PROBING = "probing"  # throttled before the rate could be measured: growing until it is
    STEADY = "steady"  # measured: settle near the limit, nudge on isolated throttles


@dataclass(frozen=True)
class RateChange:
    """What one throttle episode did to the rate; told to the caller (shown with -v)."""

    phase: Phase
    rate: float  # requests per second from now on
    achieved: float | None  # what the server was measured to accept, if it could be
    isolated: bool = False  # a throttle after a run of successes: only nudged


class LearnedRate:
    """The learned rate and what it is learned from: start times of successful requests."""

    def __init__(self, policy: LearnedRatePolicy | None = None) -> None:
        self.policy = policy or LearnedRatePolicy()
        self.phase = Phase.UNPACED
        self.rate: float | None = None  # requests per second; None while unpaced
        self.step = 0.0  # the additive increase per success since the last throttle
        self.last_start = -math.inf
        self.first_start: float | None = None
        self.cut_at = -math.inf  # when the rate was last set by a throttle
        self.ceiling: float | None = None  # the rate that was throttled at the last cut
        self.since_cut = 0  # successes of requests sent after the last cut
        self.streak = 0  # throttles in a row of requests sent after a cut
        self._successes: deque[float] = deque(maxlen=self.policy.sample)

    def wait(self, now: float) -> float:
        """Seconds until the next request may start: one at a time, `1 / rate` apart."""
        if self.rate is None:
            return 0.0
        return max(0.0, self.last_start + 1.0 / self.rate - now)

    def held(self, now: float) -> bool:
        """Whether a request arriving now is held back by the pace (not just about on time)."""
        return self.rate is not None and self.wait(now) > 0.2 / self.rate

    def started(self, now: float) -> None:
        """A request starts now."""
        if self.first_start is None:
            self.first_start = now
        self.last_start = now

    def on_wire(self, now: float) -> None:
        """A request's bytes are leaving now: the next start is spaced from here.

        A request that was slow to leave (the interpreter busy elsewhere) would otherwise let
        the next one reach a no-burst limit too soon after it.
        """
        self.last_start = max(self.last_start, now)

    def achieved(self) -> float | None:
        """Requests per second the server accepted lately, read off successful start times."""
        if len(self._successes) < self.policy.min_sample:
            return None
        span = self._successes[-1] - self._successes[0]
        if span <= 0:
            return None
        return (len(self._successes) - 1) / span

    def cut_failed(self, sent_at: float) -> bool:
        """Count a throttle; True when it ends a run of them that the pace did not prevent."""
        if self.rate is None or sent_at <= self.cut_at:
            return False  # unpaced, or sent before the last cut: the cut is still to be tried
        self.streak += 1
        return self.streak >= self.policy.failed_after

    def succeeded(self, sent_at: float, bound: bool = True) -> None:
        """A request sent at `sent_at` succeeded: remember it, and speed up if the pace held it."""
        self.streak = 0
        if sent_at > self.cut_at:  # one sent at the old rate says nothing of the new one
            self._successes.append(sent_at)
            self.since_cut += 1
        if self.rate is None:
            return
        policy = self.policy
        if not bound:
            if self.phase is Phase.PROBING:  # too few requests to probe, but these got through
                self.rate = max(self.rate, self.achieved() or 0.0)
            return
        if self.phase is Phase.PROBING:
            # `rate` successes a second, each growing it by this much: x2 per probe_doubling.
            self.rate *= 2.0 ** (1.0 / (self.rate * policy.probe_doubling))
        elif self.ceiling is not None and self.rate < self.ceiling * policy.settle:
            self.rate += max(self.step, (self.ceiling * policy.settle - self.rate) * policy.recover)
        elif self.ceiling is not None and self.rate < self.ceiling:
            self.rate += self.step * policy.approach
        else:
            self.rate += self.step

    def throttled(self, now: float, sent_rate: float | None) -> RateChange:
        """The first throttle of an episode (the pacer decides what counts as one).

        `sent_rate` is the rate in force when the throttled request was sent (None: unpaced).
        """
        policy = self.policy
        achieved = self.achieved()
        isolated = False
        if self.rate is None or sent_rate is None:
            if achieved is not None:
                target = achieved * policy.margin
                self.phase = Phase.STEADY
            else:
                # The first burst: all we know is how few got through in the time it took.
                elapsed = now - (self.first_start if self.first_start is not None else now)
                target = max(1, len(self._successes)) / max(elapsed, 1e-3)
                self.phase = Phase.PROBING
        elif self.phase is Phase.STEADY and self.since_cut >= policy.isolated_after:
            isolated = True
            target = sent_rate * policy.nudge
            self.ceiling = sent_rate
        else:
            # Requests sent since went faster still (the rate kept growing): cut what failed.
            target = sent_rate * policy.decrease
            if achieved is not None and self.phase is Phase.STEADY:
                # Fewer were sent than the rate allowed (too few requests in flight, say).
                target = min(target, achieved * policy.margin)
            # A probe overshoots (its rate grew while the 429 was on its way back), so what it
            # was sent at is no limit to return to; a steady pace's is.
            self.ceiling = sent_rate if self.phase is Phase.STEADY else None
            self.phase = Phase.STEADY
        self.rate = max(policy.floor, target)
        self.step = self.rate * policy.increase
        self.cut_at = now
        self.since_cut = 0
        # What was accepted before this throttle says nothing about the rate from now on.
        self._successes.clear()
        return RateChange(self.phase, self.rate, achieved, isolated)
