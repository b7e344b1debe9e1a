"""Retry policy for transient provider failures, composed from tenacity's policy objects.

Two budgets, because two different things go wrong:
- a throttle (429 that is not a spend limit, or 529) is the server pacing us, not a failure: it
  never uses up an attempt; the time a chunk spends throttled (waits included) is bounded
  instead, by `max_throttle_seconds`;
- any other transient failure (connection, timeout, 5xx, a cut-off body) uses one of
  `max_retries` attempts, and the time spent on them is bounded by `max_seconds`.
Past either budget the last error is re-raised; the job stops, resumable (exit 75).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from transcript_cli.errors import TransientProviderError
from transcript_cli.failures import is_throttle
from transcript_cli.state import DEFAULT_THROTTLE_WAIT

T = TypeVar("T")

DEFAULT_MAX_RETRIES = 6
DEFAULT_RETRY_SECONDS = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one chunk is retried; plain data so tests can inspect it."""

    max_retries: int = DEFAULT_MAX_RETRIES  # retries after failures that are not throttles
    max_seconds: float = DEFAULT_RETRY_SECONDS  # time on those failures, waits included
    max_throttle_seconds: float = DEFAULT_THROTTLE_WAIT  # time throttled, waits included
    initial_wait: float = 1.0
    max_wait: float = 60.0
    jitter: float = 1.0


@dataclass(frozen=True)
class RetryNotice:
    """Told to the caller before each wait, so progress and counts stay visible."""

    attempt: int  # the attempt that just failed, 1-based
    wait_seconds: float
    error: TransientProviderError
    throttled: bool = False  # the server paced us: no attempt was used up


class ThrottledTooLong(TransientProviderError):
    """A chunk stayed throttled past its time budget; the job stops, resumable."""


class Ledger:
    """Failures and time of one chunk's attempts, by kind (throttle or not).

    The time from one attempt's start to the next one's is charged to the first one's kind, so
    a throttle's waits (its own and the global pause) count as time throttled.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.failures = {True: 0, False: 0}
        self.seconds = {True: 0.0, False: 0.0}
        self._started: float | None = None
        self._last: bool | None = None  # whether the latest failure was a throttle

    def attempt(self) -> None:
        """An attempt starts: charge the time since the previous one."""
        now = self.clock()
        if self._started is not None and self._last is not None:
            self.seconds[self._last] += now - self._started
        self._started = now

    def failed(self, error: BaseException) -> None:
        self._last = isinstance(error, TransientProviderError) and is_throttle(error)
        self.failures[self._last] += 1

    @property
    def last_throttled(self) -> bool:
        return bool(self._last)

    def spent(self, throttled: bool) -> float:
        """Seconds charged to throttles (or to the other failures), up to now."""
        running = 0.0
        if self._started is not None and self._last is throttled:
            running = self.clock() - self._started
        return self.seconds[throttled] + running


class wait_retry_after(wait_base):  # noqa: N801 - named like tenacity's own policies
    """Wait what the server asked for (`retry-after`), else fall back to backoff."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, TransientProviderError) and exc.retry_after is not None:
            return max(0.0, exc.retry_after)
        return float(self.fallback(retry_state))


class stop_after_failures(stop_base):  # noqa: N801 - named like tenacity's own policies
    """Give up after `retries` retries of failures that are not throttles; throttles are free."""

    def __init__(self, ledger: Ledger, retries: int) -> None:
        self.ledger = ledger
        self.retries = retries

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self.ledger.last_throttled and self.ledger.failures[False] > self.retries


class stop_when_budget_spent(stop_base):  # noqa: N801 - named like tenacity's own policies
    """Give up rather than sleep past the time budget of the latest failure's kind.

    Better to stop now: the job is resumable later anyway.
    """

    def __init__(self, ledger: Ledger, *, throttles: bool, seconds: float) -> None:
        self.ledger = ledger
        self.throttles = throttles
        self.seconds = seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        if self.ledger.last_throttled is not self.throttles:
            return False
        return self.ledger.spent(self.throttles) + retry_state.upcoming_sleep > self.seconds


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    on_retry: Callable[[RetryNotice], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `fn`, retrying TransientProviderError by `policy`; the last error is re-raised.

    `sleep` is injected so waits can be interrupted by a pause and skipped in tests. A chunk
    that stays throttled past its budget raises ThrottledTooLong, naming the budget.
    """
    ledger = Ledger(clock)
    wait = wait_retry_after(
        wait_exponential_jitter(
            initial=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )
    )

    def attempt() -> T:
        ledger.attempt()
        try:
            return fn()
        except BaseException as exc:
            ledger.failed(exc)
            raise

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if on_retry is not None and isinstance(exc, TransientProviderError):
            seconds = state.next_action.sleep if state.next_action else 0.0
            on_retry(
                RetryNotice(
                    attempt=state.attempt_number,
                    wait_seconds=seconds,
                    error=exc,
                    throttled=ledger.last_throttled,
                )
            )

    retrying = Retrying(
        stop=(
            stop_after_failures(ledger, policy.max_retries)
            | stop_when_budget_spent(ledger, throttles=False, seconds=policy.max_seconds)
            | stop_when_budget_spent(ledger, throttles=True, seconds=policy.max_throttle_seconds)
        ),
        wait=wait,
        retry=retry_if_exception_type(TransientProviderError),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except TransientProviderError as exc:
        if not ledger.last_throttled:
            raise
        spent = ledger.spent(True)
        raise ThrottledTooLong(
            f"{exc.message}; throttled for {spent:.0f}s, and waiting longer would pass the "
            f"limit of {policy.max_throttle_seconds:g}s (--max-throttle-wait)",
            status=exc.status,
            retry_after=exc.retry_after,
            headers=exc.headers,
        ) from None
