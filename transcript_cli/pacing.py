"""Pacing shared by every worker of a job: how many requests may be in flight, and when.

Four mechanisms, each small:
- an adaptive in-flight limit (additive increase, multiplicative decrease on 429/529), so a long
  job settles just under the account's limit instead of hammering it;
- a global pause: a 429/529 with `retry-after` holds back every worker, not just the one hit
  (without rate-limit headers, only when the learned pace did not help: see learned_rate.py);
- token buckets: the user's `--rpm` / `--tpm` caps, and the account's own limits as the
  `anthropic-ratelimit-*` response headers describe them (limit, remaining, reset);
- without those headers, a rate learned from the throttles themselves (learned_rate.py) spaces
  request starts, so after a pause the waiting requests go one at a time, never all at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from transcript_cli.events import PacingChanged
from transcript_cli.learned_rate import LearnedRate, LearnedRatePolicy

_POLL = 0.05
# The header families we pace by; "tokens" is input+output, the others are per direction.
_HEADER_BUCKETS = ("requests", "tokens", "input-tokens")


@dataclass(frozen=True)
class PacingPolicy:
    """Plain data, so a test can read what the engine will do."""

    max_in_flight: int = 4  # --concurrency
    rpm: int | None = None  # --rpm: requests per minute cap
    tpm: int | None = None  # --tpm: tokens per minute cap (input + output)
    min_in_flight: int = 1
    decrease: float = 0.5  # multiplicative decrease on a throttle
    throttle_pause: float = 1.0  # global pause after a throttle that names no retry-after
    learn: LearnedRatePolicy = field(default_factory=LearnedRatePolicy)  # without headers


@dataclass(frozen=True)
class Ticket:
    """One request's permission to go; handed back with what happened."""

    sent_at: float
    tokens: int
    rate: float | None = None  # the learned rate it was paced at, if any
    bound: bool = False  # the learned rate held it back: its success says the pace may grow


class TokenBucket:
    """A bucket that refills at `rate` per second up to `capacity`."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.level = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until `amount` is available (0 if now); never more than a full refill."""
        self._refill(now)
        need = min(amount, self.capacity) - self.level
        if need <= 0:
            return 0.0
        return need / self.rate if self.rate > 0 else _POLL

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount

    def sync(self, limit: float, remaining: float, reset_in: float | None, now: float) -> None:
        """Adopt what the server says: its capacity, its level, and its refill rate.

        The refill rate is read off the time the server needs to fill the gap (limit - remaining
        by `reset`), which holds for per-minute limits and any other window alike.
        """
        self._refill(now)
        self.capacity = max(1.0, limit)
        if reset_in is not None and reset_in > 0 and remaining < limit:
            self.rate = (limit - remaining) / reset_in
        self.level = min(self.level, remaining)


def parse_reset(value: str, now_wall: float) -> float | None:
    """Seconds until an RFC 3339 `reset` time (what Anthropic sends), or None if unreadable."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, when.timestamp() - now_wall)


class Pacer:
    """Thread-safe gate every request passes through: `acquire` before, `release` after."""

    def __init__(
        self,
        policy: PacingPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        on_change: Callable[[PacingChanged], None] | None = None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.wall = wall
        self.on_change = on_change
        self.learned = LearnedRate(policy.learn)
        self.limit = float(policy.max_in_flight)
        self.in_flight = 0
        self.paused_until = 0.0
        self.throttles = 0
        self._last_decrease = -math.inf
        self._cond = threading.Condition()
        self._line: deque[threading.Event] = deque()  # requests waiting to start, in order
        now = clock()
        self._caps: dict[str, TokenBucket] = {}
        if policy.rpm:
            self._caps["requests"] = TokenBucket(policy.rpm, policy.rpm / 60.0, now)
        if policy.tpm:
            self._caps["tokens"] = TokenBucket(policy.tpm, policy.tpm / 60.0, now)
        self._server: dict[str, TokenBucket] = {}

    def _amounts(self, tokens: int) -> dict[str, float]:
        return {"requests": 1.0, "tokens": float(tokens), "input-tokens": tokens / 2.0}

    def _wait_needed(self, tokens: int, now: float) -> float | None:
        """0 if a request may go now, seconds to wait, or None to wait for a release."""
        if self.in_flight >= max(self.policy.min_in_flight, math.floor(self.limit)):
            return None
        wait = max(0.0, self.paused_until - now)
        amounts = self._amounts(tokens)
        for buckets in (self._caps, self._server):
            for name, bucket in buckets.items():
                wait = max(wait, bucket.wait_for(amounts[name], now))
        if not self._server:
            wait = max(wait, self.learned.wait(now))
        return wait

    @property
    def headers_seen(self) -> bool:
        """The server names its limits: its headers pace us, nothing is learned."""
        return bool(self._server)

    def acquire(self, tokens: int, cancel: threading.Event) -> Ticket | None:
        """Block until a request may be sent; None if `cancel` was set first.

        Requests go in arrival order, and only the first in line watches the clock: when its
        moment comes it alone wakes, so it starts on time (a herd of waking threads would
        delay it, and against a limit with no burst a late start makes the next one early).
        """
        turn = threading.Event()
        with self._cond:
            now = self.clock()
            # Held back by the learned pace (or a line it paces): only then does a success
            # say the pace could be faster.
            bound = bool(self._line) or self.learned.held(now)
            if not self._line and not cancel.is_set() and self._wait_needed(tokens, now) == 0.0:
                return self._take(tokens, now, bound)  # nobody waiting, nothing to wait for
            self._line.append(turn)
            self._line[0].set()
        try:
            while not cancel.is_set():
                if not turn.wait(_POLL):
                    continue
                with self._cond:
                    now = self.clock()
                    wait = self._wait_needed(tokens, now)
                    if wait == 0.0:
                        return self._take(tokens, now, bound)
                    self._cond.wait(_POLL if wait is None else min(wait, _POLL))
            return None
        finally:
            with self._cond:
                self._line.remove(turn)
                if self._line:
                    self._line[0].set()

    def _take(self, tokens: int, now: float, bound: bool = False) -> Ticket:
        amounts = self._amounts(tokens)
        for buckets in (self._caps, self._server):
            for name, bucket in buckets.items():
                bucket.take(amounts[name], now)
        self.in_flight += 1
        self.learned.started(now)
        return Ticket(sent_at=now, tokens=tokens, rate=self.learned.rate, bound=bound)

    def on_wire(self) -> None:
        """The request just acquired is leaving now (called by the provider as it sends)."""
        with self._cond:
            self.learned.on_wire(self.clock())

    def release(
        self,
        ticket: Ticket,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        tokens_used: int | None = None,
    ) -> None:
        """Account for a finished request; a throttle slows everyone, a success speeds up."""
        change: PacingChanged | None = None
        with self._cond:
            now = self.clock()
            self.in_flight -= 1
            if headers:
                self._sync(headers, now)
            if tokens_used is not None and "tokens" in self._caps:
                self._caps["tokens"].take(tokens_used - ticket.tokens, now)
            if throttled:
                change = self._throttled(ticket, retry_after, now)
            else:
                self.limit = min(float(self.policy.max_in_flight), self.limit + 1.0 / self.limit)
                self.learned.succeeded(ticket.sent_at, ticket.bound)
            self._cond.notify_all()
        if change is not None and self.on_change is not None:
            self.on_change(change)  # outside the lock: rendering must not hold up the workers

    def _throttled(
        self, ticket: Ticket, retry_after: float | None, now: float
    ) -> PacingChanged | None:
        """Slow the pace down once per episode; pause everyone when pacing cannot help.

        The throttled request itself always waits its `retry-after` (the retry policy sees to
        it). The other workers wait too when the server's headers pace us, when nothing was
        paced yet (the first burst), or when the learned rate's last cut did not help; otherwise
        they go on at the cut rate, because a gateway's whole-second `retry-after` (rounded up
        from 50 ms) would stop the job for a second at every throttle of a pace that is only a
        little fast.
        """
        self.throttles += 1
        pause = self.policy.throttle_pause if retry_after is None else retry_after
        failed = self.learned.cut_failed(ticket.sent_at)
        if self._server or ticket.rate is None or failed:
            self.paused_until = max(self.paused_until, now + pause)
        else:
            pause = 0.0
        # Requests sent before the last decrease saw the old pace: one cut per episode.
        if ticket.sent_at <= self._last_decrease:
            return None
        self._last_decrease = now
        rate = achieved = None
        phase = "headers"
        isolated = False
        if not self._server:
            learned = self.learned.throttled(now, ticket.rate)
            rate, achieved, phase = learned.rate, learned.achieved, learned.phase.value
            isolated = learned.isolated
        if not isolated:  # an isolated throttle: the pace was nearly right, the load is fine
            self.limit = max(float(self.policy.min_in_flight), self.limit * self.policy.decrease)
        return PacingChanged(
            pause_seconds=pause,
            in_flight_limit=max(self.policy.min_in_flight, math.floor(self.limit)),
            rate=rate,
            achieved=achieved,
            phase=phase,
        )

    def _sync(self, headers: Mapping[str, str], now: float) -> None:
        for name in _HEADER_BUCKETS:
            prefix = f"anthropic-ratelimit-{name}-"
            limit = _number(headers.get(prefix + "limit"))
            remaining = _number(headers.get(prefix + "remaining"))
            if limit is None or remaining is None or limit <= 0:
                continue
            reset_raw = headers.get(prefix + "reset")
            reset_in = parse_reset(reset_raw, self.wall()) if reset_raw else None
            bucket = self._server.get(name)
            if bucket is None:
                # Until the server shows a deficit, assume its window is a minute.
                bucket = self._server[name] = TokenBucket(limit, limit / 60.0, now)
            bucket.sync(limit, remaining, reset_in, now)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
