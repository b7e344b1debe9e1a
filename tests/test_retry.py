"""The retry policy: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import pytest

from transcript_cli.errors import PermanentProviderError, TransientProviderError
from transcript_cli.retry import RetryNotice, RetryPolicy, ThrottledTooLong, call_with_retries


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


class FakeClock:
    """Time that moves only when slept, so budgets can be tested without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _run_clocked(fn: Script, policy: RetryPolicy) -> tuple[str, FakeClock, list[RetryNotice]]:
    clock = FakeClock()
    notices: list[RetryNotice] = []
    result = call_with_retries(fn, policy, sleep=clock.sleep, on_retry=notices.append, clock=clock)
    return result, clock, notices


def test_throttles_use_no_attempt() -> None:
    throttles = [TransientProviderError("slow down", status=429, retry_after=1.0)] * 20
    overloaded = [TransientProviderError("overloaded", status=529, retry_after=1.0)] * 20
    fn = Script(*throttles, *overloaded)
    result, _, notices = _run_clocked(fn, RetryPolicy(max_retries=0, jitter=0.0))
    assert result == "ok" and fn.calls == 41
    assert all(n.throttled for n in notices)


def test_other_transient_errors_keep_their_budget_after_throttles() -> None:
    throttles = [TransientProviderError("slow down", status=429, retry_after=1.0)] * 5
    errors = [TransientProviderError(f"fail {n}", status=500) for n in range(3)]
    fn = Script(*throttles, *errors)
    with pytest.raises(TransientProviderError) as caught:
        _run_clocked(fn, RetryPolicy(max_retries=2, jitter=0.0))
    assert fn.calls == 5 + 3
    assert caught.value.message == "fail 2"
    assert not isinstance(caught.value, ThrottledTooLong)


def test_time_throttled_is_bounded_and_named() -> None:
    fn = Script(*[TransientProviderError("slow down", status=429, retry_after=10.0)] * 100)
    with pytest.raises(ThrottledTooLong) as caught:
        _run_clocked(fn, RetryPolicy(max_throttle_seconds=60.0, jitter=0.0))
    # Sent at 0 s, 10 s ... 60 s; waiting once more would end past 60 s.
    assert fn.calls == 7
    assert caught.value.status == 429
    assert "--max-throttle-wait" in caught.value.message
    assert caught.value.exit_code == 75


def test_a_retry_after_past_the_throttle_budget_stops_at_once() -> None:
    fn = Script(TransientProviderError("come back in an hour", status=529, retry_after=3600.0))
    with pytest.raises(ThrottledTooLong):
        _run_clocked(fn, RetryPolicy(max_throttle_seconds=900.0))
    assert fn.calls == 1


def test_time_throttled_does_not_count_against_the_other_budget() -> None:
    throttles = [TransientProviderError("slow down", status=429, retry_after=100.0)] * 8
    fn = Script(*throttles, TransientProviderError("reset", status=503, retry_after=1.0))
    policy = RetryPolicy(max_seconds=600.0, max_throttle_seconds=900.0, jitter=0.0)
    result, clock, _ = _run_clocked(fn, policy)
    assert result == "ok"
    assert clock.now == pytest.approx(801.0)  # past max_seconds, all but 1 s of it throttled
