"""The retry policy: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import pytest

from transcript_cli.errors import PermanentProviderError, TransientProviderError
from transcript_cli.retry import RetryNotice, RetryPolicy, call_with_retries


class Script:
    """A callable that raises the scripted errors in turn, then returns 'ok'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _run(fn: Script, policy: RetryPolicy) -> tuple[str, list[float], list[RetryNotice]]:
    waits: list[float] = []
    notices: list[RetryNotice] = []
    result = call_with_retries(fn, policy, sleep=waits.append, on_retry=notices.append)
    return result, waits, notices


def test_transient_errors_are_retried_with_growing_backoff() -> None:
    fn = Script(*(TransientProviderError("overloaded", status=529) for _ in range(4)))
    policy = RetryPolicy(max_retries=6, initial_wait=1.0, max_wait=60.0, jitter=0.0)
    result, waits, notices = _run(fn, policy)
    assert result == "ok" and fn.calls == 5
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert [n.attempt for n in notices] == [1, 2, 3, 4]
    assert [n.wait_seconds for n in notices] == waits


def test_jitter_stays_within_its_bound() -> None:
    fn = Script(*(TransientProviderError("x") for _ in range(3)))
    policy = RetryPolicy(max_retries=6, initial_wait=1.0, jitter=0.5)
    _, waits, _ = _run(fn, policy)
    for n, wait in enumerate(waits):
        assert 2**n <= wait <= 2**n + 0.5


def test_backoff_is_capped() -> None:
    fn = Script(*(TransientProviderError("x") for _ in range(6)))
    policy = RetryPolicy(max_retries=10, initial_wait=1.0, max_wait=5.0, jitter=0.0)
    _, waits, _ = _run(fn, policy)
    assert max(waits) == 5.0


def test_retry_after_overrides_backoff() -> None:
    fn = Script(TransientProviderError("slow down", status=429, retry_after=7.5))
    _, waits, _ = _run(fn, RetryPolicy(jitter=0.0))
    assert waits == [7.5]


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    errors = [TransientProviderError(f"fail {n}") for n in range(5)]
    fn = Script(*errors)
    with pytest.raises(TransientProviderError) as caught:
        _run(fn, RetryPolicy(max_retries=2, jitter=0.0))
    assert fn.calls == 3
    assert caught.value.message == "fail 2"


def test_gives_up_rather_than_wait_past_the_time_budget() -> None:
    fn = Script(TransientProviderError("come back in an hour", retry_after=3600.0))
    with pytest.raises(TransientProviderError):
        _run(fn, RetryPolicy(max_seconds=600.0))
    assert fn.calls == 1


def test_permanent_errors_are_not_retried() -> None:
    fn = Script(PermanentProviderError("bad key", status=401))
    with pytest.raises(PermanentProviderError):
        _run(fn, RetryPolicy())
    assert fn.calls == 1
