"""The request rate learned from throttles, for servers that do not say their limit.

Gateways and proxies in front of the API often drop the `anthropic-ratelimit-*` headers, send
only `retry-after`, and enforce their limit with no burst allowance. Then nothing but the 429s
themselves tells us how fast we may go, so request starts are paced at a learned rate:

- unpaced until the first throttle (a user with a high limit loses nothing);
- on the first throttle, the rate is set from what the server actually accepted: the start rate
  of the latest successful requests. If there are too few of them to measure (the job's very
  first burst), a rough guess is taken and *probed* upwards (doubling every half second) until
  the next throttle measures it;
- on every further throttle episode, the rate the throttled request was sent at is cut
  multiplicatively, and never left above what was actually achieved;
- every success adds a small constant step (additive increase), so a limit that was raised is
  found again, slowly enough that probing for it rarely costs a throttle.

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

    decrease: float = 0.9  # multiplicative cut on a further throttle episode
    # Added per success, as a share of the rate set at the last throttle: +5 % per 100 successes.
    increase: float = 0.0005
    probe_doubling: float = 0.3  # while probing: the rate doubles every this many seconds
    sample: int = 6  # the achieved rate is read off the latest successful starts, at most this many
    min_sample: int = 4  # fewer than this is too few to measure
    margin: float = 0.95  # the rate is set to this share of what was achieved
    floor: float = 0.05  # never slower than one request per 20 s


class Phase(Enum):
    """Where learning stands."""

    UNPACED = "unpaced"  # no throttle yet: starts are not spaced at all
    PROBING = "probing"  # throttled before the rate could be measured: growing until it is
    STEADY = "steady"  # measured: additive increase, multiplicative decrease


@dataclass(frozen=True)
class RateChange:
    """What one throttle episode did to the rate; told to the caller (shown with -v)."""

    phase: Phase
    rate: float  # requests per second from now on
    achieved: float | None  # what the server was measured to accept, if it could be


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
        self._successes: deque[float] = deque(maxlen=self.policy.sample)

    def wait(self, now: float) -> float:
        """Seconds until the next request may start: one at a time, `1 / rate` apart."""
        if self.rate is None:
            return 0.0
        return max(0.0, self.last_start + 1.0 / self.rate - now)

    def started(self, now: float) -> None:
        """A request starts now."""
        if self.first_start is None:
            self.first_start = now
        self.last_start = now

    def achieved(self) -> float | None:
        """Requests per second the server accepted lately, read off successful start times."""
        if len(self._successes) < self.policy.min_sample:
            return None
        span = self._successes[-1] - self._successes[0]
        if span <= 0:
            return None
        return (len(self._successes) - 1) / span

    def succeeded(self, sent_at: float) -> None:
        """A request sent at `sent_at` succeeded: remember it, and creep up."""
        if sent_at > self.cut_at:  # one sent at the old rate says nothing of the new one
            self._successes.append(sent_at)
        if self.rate is None:
            return
        if self.phase is Phase.PROBING:
            # `rate` successes a second, each growing it by this much: x2 per probe_doubling.
            self.rate *= 2.0 ** (1.0 / (self.rate * self.policy.probe_doubling))
        else:
            self.rate += self.step

    def throttled(self, now: float, sent_rate: float | None) -> RateChange:
        """The first throttle of an episode (the pacer decides what counts as one).

        `sent_rate` is the rate in force when the throttled request was sent (None: unpaced).
        """
        policy = self.policy
        achieved = self.achieved()
        if self.rate is None or sent_rate is None:
            if achieved is not None:
                target = achieved * policy.margin
                self.phase = Phase.STEADY
            else:
                # The first burst: all we know is how few got through in the time it took.
                elapsed = now - (self.first_start if self.first_start is not None else now)
                target = max(1, len(self._successes)) / max(elapsed, 1e-3)
                self.phase = Phase.PROBING
        else:
            # Requests sent since went faster still (the rate kept growing): cut what failed.
            target = sent_rate * policy.decrease
            if achieved is not None and self.phase is Phase.STEADY:
                # Fewer were sent than the rate allowed (too few requests in flight, say).
                target = min(target, achieved * policy.margin)
            self.phase = Phase.STEADY
        self.rate = max(policy.floor, target)
        self.step = self.rate * policy.increase
        self.cut_at = now
        # What was accepted before this throttle says nothing about the rate from now on.
        self._successes.clear()
        return RateChange(self.phase, self.rate, achieved)
