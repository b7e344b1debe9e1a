"""The shared pacer: in-flight limit, global pause on throttles, rate buckets, learned rate."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from transcript_cli.events import PacingChanged
from transcript_cli.pacing import Pacer, PacingPolicy, TokenBucket, parse_reset


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cancel_after(seconds: float) -> threading.Event:
    event = threading.Event()
    threading.Timer(seconds, event.set).start()
    return event


def test_in_flight_never_exceeds_the_limit() -> None:
    pacer = Pacer(PacingPolicy(max_in_flight=3))
    never = threading.Event()
    tickets = [pacer.acquire(10, never) for _ in range(3)]
    assert all(tickets) and pacer.in_flight == 3
    assert pacer.acquire(10, _cancel_after(0.1)) is None  # a fourth must wait
    ticket = tickets[0]
    assert ticket is not None
    pacer.release(ticket)
    assert pacer.acquire(10, _cancel_after(0.5)) is not None


def test_throttle_halves_the_limit_once_per_episode_and_success_grows_it_back() -> None:
    clock = Clock()
    pacer = Pacer(PacingPolicy(max_in_flight=8), clock=clock)
    never = threading.Event()
    tickets = [pacer.acquire(1, never) for _ in range(8)]
    # Every request in flight comes back 429: the limit is cut once, not eight times.
    for ticket in tickets:
        assert ticket is not None
        pacer.release(ticket, throttled=True, retry_after=0.0)
    assert pacer.limit == 4.0
    assert pacer.throttles == 8
    # A request sent after the cut that is throttled again cuts again.
    clock.now += 1
    again = pacer.acquire(1, never)
    assert again is not None
    pacer.release(again, throttled=True, retry_after=0.0)
    assert pacer.limit == 2.0
    # Additive increase: about +1 per window of `limit` successes, capped at the maximum.
    for _ in range(200):
        clock.now += 1  # past the pause and the learned spacing (no rate-limit headers here)
        ticket = pacer.acquire(1, never)
        assert ticket is not None
        pacer.release(ticket)
    assert pacer.limit == 8.0


def test_with_headers_retry_after_holds_back_every_worker() -> None:
    pacer = Pacer(PacingPolicy(max_in_flight=4))
    never = threading.Event()
    first = pacer.acquire(1, never)
    assert first is not None
    pacer.release(first, throttled=True, retry_after=0.3, headers=_headers(100, 0))
    started = time.monotonic()
    second = pacer.acquire(1, never)
    assert second is not None
    assert time.monotonic() - started >= 0.28


def test_rpm_cap_spaces_requests() -> None:
    clock = Clock()
    pacer = Pacer(PacingPolicy(max_in_flight=10, rpm=60), clock=clock)
    never = threading.Event()
    for _ in range(60):  # the bucket starts full: a minute's worth may go at once
        ticket = pacer.acquire(1, never)
        assert ticket is not None
        pacer.release(ticket)
    assert pacer.acquire(1, _cancel_after(0.15)) is None  # empty until time passes
    clock.now += 1.0  # one request per second refills
    assert pacer.acquire(1, _cancel_after(0.5)) is not None


def test_server_headers_teach_the_bucket_its_rate() -> None:
    clock = Clock()
    wall = 1_700_000_000.0
    pacer = Pacer(PacingPolicy(max_in_flight=16), clock=clock, wall=lambda: wall)
    never = threading.Event()
    ticket = pacer.acquire(1, never)
    assert ticket is not None
    reset = datetime.fromtimestamp(wall, UTC) + timedelta(seconds=0.5)
    pacer.release(
        ticket,
        headers={
            "anthropic-ratelimit-requests-limit": "20",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset.isoformat().replace("+00:00", "Z"),
        },
    )
    assert pacer.acquire(1, _cancel_after(0.15)) is None  # the server has nothing left
    clock.now += 0.05  # 20 missing in 0.5 s: one request per 0.025 s
    assert pacer.acquire(1, _cancel_after(0.5)) is not None


def test_token_bucket_math() -> None:
    bucket = TokenBucket(capacity=10, rate=2.0, now=0.0)
    bucket.take(10, 0.0)
    assert bucket.wait_for(4, 0.0) == pytest.approx(2.0)
    assert bucket.wait_for(4, 2.0) == 0.0
    assert bucket.wait_for(50, 2.0) == pytest.approx(3.0)  # never more than a full bucket


def test_parse_reset() -> None:
    assert parse_reset("2026-01-01T00:00:10Z", datetime(2026, 1, 1, tzinfo=UTC).timestamp()) == 10
    assert parse_reset("not a date", 0.0) is None


def _headers(limit: int, remaining: int) -> dict[str, str]:
    return {
        "anthropic-ratelimit-requests-limit": str(limit),
        "anthropic-ratelimit-requests-remaining": str(remaining),
    }


def _learn_twenty_a_second(pacer: Pacer, clock: Clock) -> None:
    """A steady 20 a second gets through, then one is throttled: the rate is learned.

    Nothing was paced yet, so every worker waits the retry-after; the clock is moved past it.
    """
    never = threading.Event()
    for _ in range(8):
        ticket = pacer.acquire(1, never)
        assert ticket is not None
        clock.now += 0.05
        pacer.release(ticket)
    throttled = pacer.acquire(1, never)
    assert throttled is not None
    pacer.release(throttled, throttled=True, retry_after=1.0)
    assert pacer.paused_until == pytest.approx(clock.now + 1.0)
    clock.now += 1.0


def test_without_headers_a_paced_throttle_holds_back_only_its_own_request() -> None:
    clock = Clock()
    changes: list[PacingChanged] = []
    pacer = Pacer(PacingPolicy(max_in_flight=8), clock=clock, on_change=changes.append)
    _learn_twenty_a_second(pacer, clock)
    (first,) = changes
    assert first.phase == "steady" and first.pause_seconds == 1.0  # the unpaced first burst
    assert first.achieved == pytest.approx(20.0)
    rate = pacer.learned.rate
    assert rate is not None and rate < 20.0
    never = threading.Event()
    ticket = pacer.acquire(1, never)  # sent at the learned pace, and throttled
    assert ticket is not None and ticket.rate == rate
    pacer.release(ticket, throttled=True, retry_after=1.0)
    # The pace governs now; a whole-second retry-after must not stop every worker.
    assert changes[-1].pause_seconds == 0.0
    assert pacer.paused_until <= clock.now
    rate = pacer.learned.rate
    assert rate is not None
    clock.now += 1.0 / rate + 1e-9
    assert pacer.acquire(1, _cancel_after(0.1)) is not None  # the others go on at the pace
    assert pacer.acquire(1, _cancel_after(0.1)) is None  # one at a time


def test_an_isolated_throttle_nudges_the_pace_and_keeps_the_in_flight_limit() -> None:
    clock = Clock()
    changes: list[PacingChanged] = []
    pacer = Pacer(PacingPolicy(max_in_flight=8), clock=clock, on_change=changes.append)
    _learn_twenty_a_second(pacer, clock)
    limit, rate = pacer.limit, pacer.learned.rate
    assert rate is not None
    never = threading.Event()
    for _ in range(10):  # a run of successes at the learned pace
        clock.now += 1.0 / rate
        ticket = pacer.acquire(1, never)
        assert ticket is not None
        pacer.release(ticket)
    clock.now += 1.0 / rate
    ticket = pacer.acquire(1, never)
    assert ticket is not None and ticket.rate is not None
    pacer.release(ticket, throttled=True, retry_after=1.0)
    assert changes[-1].pause_seconds == 0.0
    assert pacer.learned.rate == pytest.approx(ticket.rate * pacer.policy.learn.nudge)
    assert pacer.limit >= limit


def test_without_headers_a_pause_releases_waiters_one_at_a_time_at_the_learned_rate() -> None:
    clock = Clock()
    changes: list[PacingChanged] = []
    pacer = Pacer(PacingPolicy(max_in_flight=8), clock=clock, on_change=changes.append)
    _learn_twenty_a_second(pacer, clock)
    never = threading.Event()
    ticket = pacer.acquire(1, never)  # the pace works for a while
    assert ticket is not None
    pacer.release(ticket)
    # Requests sent at the cut pace are throttled twice in a row, with no success between:
    # the pace does not help (a quota spent, say), so every worker waits the retry-after.
    for _ in range(2):
        rate = pacer.learned.rate
        assert rate is not None
        clock.now += 1.0 / rate
        ticket = pacer.acquire(1, never)
        assert ticket is not None
        pacer.release(ticket, throttled=True, retry_after=1.0)
    assert changes[-1].pause_seconds == 1.0
    rate = pacer.learned.rate
    assert rate is not None
    assert pacer.acquire(1, _cancel_after(0.1)) is None  # paused
    clock.now += 1.0
    first = pacer.acquire(1, _cancel_after(0.1))
    assert first is not None  # the first waiter goes
    pacer.release(first)  # (it is answered: only the pace can hold the next one back)
    assert pacer.acquire(1, _cancel_after(0.1)) is None  # the next waits its turn
    clock.now += 1.0 / rate + 1e-9
    assert pacer.acquire(1, _cancel_after(0.5)) is not None


def _paced(clock: Clock) -> tuple[Pacer, float]:
    """A pacer that has learned its rate (and is past the first throttle's pause)."""
    pacer = Pacer(PacingPolicy(max_in_flight=8), clock=clock)
    _learn_twenty_a_second(pacer, clock)
    rate = pacer.learned.rate
    assert rate is not None
    return pacer, rate


def test_only_requests_the_pace_held_back_make_it_grow() -> None:
    clock = Clock()
    pacer, rate = _paced(clock)
    never = threading.Event()
    for _ in range(20):  # one request at a time, far slower than the pace: learns nothing
        clock.now += 1.0
        ticket = pacer.acquire(1, never)
        assert ticket is not None and not ticket.bound
        pacer.release(ticket)
    assert pacer.learned.rate == pytest.approx(rate)
    # One that had to wait for its slot was held back by the pace.
    clock.now += 1.0
    ticket = pacer.acquire(1, never)
    assert ticket is not None
    pacer.release(ticket)
    clock.now += 0.5 / rate  # its slot is still half an interval away
    threading.Timer(0.05, lambda: setattr(clock, "now", clock.now + 1.0 / rate)).start()
    held = pacer.acquire(1, _cancel_after(1.0))
    assert held is not None and held.bound


def test_the_next_start_is_spaced_from_when_a_request_left() -> None:
    clock = Clock()
    pacer, rate = _paced(clock)
    clock.now += 1.0
    assert pacer.acquire(1, threading.Event()) is not None
    clock.now += 0.02
    pacer.on_wire()  # it left 20 ms after it was let go
    clock.now += 1.0 / rate - 0.01
    assert pacer.acquire(1, _cancel_after(0.1)) is None  # spaced from the wire, not the start
    clock.now += 0.011
    assert pacer.acquire(1, _cancel_after(0.5)) is not None


def test_with_headers_nothing_is_learned_and_the_headers_pace() -> None:
    clock = Clock()
    changes: list[PacingChanged] = []
    pacer = Pacer(PacingPolicy(max_in_flight=8), clock=clock, on_change=changes.append)
    never = threading.Event()
    ticket = pacer.acquire(1, never)
    assert ticket is not None
    pacer.release(ticket, throttled=True, retry_after=1.0, headers=_headers(100, 50))
    assert pacer.headers_seen and pacer.learned.rate is None
    assert [c.phase for c in changes] == ["headers"]
    clock.now += 1.0
    # Today's behaviour: past the pause, every waiter may go at once (the bucket has room).
    tickets = [pacer.acquire(1, _cancel_after(0.1)) for _ in range(4)]
    assert all(t is not None for t in tickets)


def test_one_pacing_change_per_throttle_episode() -> None:
    clock = Clock()
    changes: list[PacingChanged] = []
    pacer = Pacer(PacingPolicy(max_in_flight=4), clock=clock, on_change=changes.append)
    never = threading.Event()
    tickets = [pacer.acquire(1, never) for _ in range(4)]
    clock.now += 0.1
    for ticket in tickets:  # the whole first burst is throttled
        assert ticket is not None
        pacer.release(ticket, throttled=True, retry_after=1.0)
    assert len(changes) == 1 and changes[0].phase == "probing"
    assert changes[0].in_flight_limit == 2
