"""Retry policy for transient provider failures, composed from tenacity's policy objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from transcript_cli.errors import TransientProviderError

T = TypeVar("T")

DEFAULT_MAX_RETRIES = 6
DEFAULT_RETRY_SECONDS = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one chunk is retried; plain data so tests can inspect it."""

    max_retries: int = DEFAULT_MAX_RETRIES  # retries after the first attempt
    max_seconds: float = DEFAULT_RETRY_SECONDS  # budget for one chunk, waits included
    initial_wait: float = 1.0
    max_wait: float = 60.0
    jitter: float = 1.0


@dataclass(frozen=True)
class RetryNotice:
    """Told to the caller before each wait, so progress and counts stay visible."""

    attempt: int  # the attempt that just failed, 1-based
    wait_seconds: float
    error: TransientProviderError


class wait_retry_after(wait_base):  # noqa: N801 - named like tenacity's own policies
    """Wait what the server asked for (`retry-after`), else fall back to backoff."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, TransientProviderError) and exc.retry_after is not None:
            return max(0.0, exc.retry_after)
        return float(self.fallback(retry_state))


class stop_when_wait_exceeds_budget(stop_base):  # noqa: N801 - named like tenacity's own policies
    """Give up now rather than sleep past the budget: the job is resumable later anyway."""

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if not isinstance(exc, TransientProviderError) or exc.retry_after is None:
            return False
        elapsed = retry_state.seconds_since_start or 0.0
        return elapsed + exc.retry_after > self.max_seconds


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    on_retry: Callable[[RetryNotice], None] | None = None,
) -> T:
    """Call `fn`, retrying TransientProviderError by `policy`; the last error is re-raised.

    `sleep` is injected so waits can be interrupted by a pause and skipped in tests.
    """
    wait = wait_retry_after(
        wait_exponential_jitter(
            initial=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )
    )

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if on_retry is not None and isinstance(exc, TransientProviderError):
            seconds = state.next_action.sleep if state.next_action else 0.0
            on_retry(RetryNotice(attempt=state.attempt_number, wait_seconds=seconds, error=exc))

    retrying = Retrying(
        stop=(
            stop_after_attempt(policy.max_retries + 1)
            | stop_after_delay(policy.max_seconds)
            | stop_when_wait_exceeds_budget(policy.max_seconds)
        ),
        wait=wait,
        retry=retry_if_exception_type(TransientProviderError),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)
