"""The learned rate: unpaced until throttled, set from what was achieved, AIMD after."""

from __future__ import annotations

import pytest

from transcript_cli.learned_rate import LearnedRate, LearnedRatePolicy, Phase


def _succeed_at(learned: LearnedRate, times: list[float]) -> None:
    for t in times:
        learned.started(t)
        learned.succeeded(t)


def test_unpaced_until_the_first_throttle() -> None:
    learned = LearnedRate()
    _succeed_at(learned, [0.0, 0.001, 0.002])
    assert learned.phase is Phase.UNPACED and learned.rate is None
    assert learned.wait(0.002) == 0.0


def test_first_throttle_sets_the_rate_from_what_was_achieved() -> None:
    policy = LearnedRatePolicy(margin=0.95)
    learned = LearnedRate(policy)
    _succeed_at(learned, [n * 0.05 for n in range(10)])  # 20 a second got through
    change = learned.throttled(0.5, sent_rate=None)
    assert change.achieved == pytest.approx(20.0)
    assert learned.rate == pytest.approx(19.0)
    assert learned.phase is Phase.STEADY
    # Starts are spaced one at a time, 1/rate apart from the latest start.
    learned.started(1.0)
    assert learned.wait(1.0) == pytest.approx(1 / 19.0)
    assert learned.wait(1.0 + 1 / 19.0) == 0.0


def test_a_first_burst_too_short_to_measure_probes_upwards() -> None:
    learned = LearnedRate(LearnedRatePolicy(probe_doubling=0.5))
    for _ in range(16):
        learned.started(0.0)  # -j 16 at once
    learned.succeeded(0.0)
    change = learned.throttled(0.1, sent_rate=None)
    assert change.phase is Phase.PROBING and change.achieved is None
    assert learned.rate == pytest.approx(10.0)  # one got through in 0.1 s
    # Probing doubles the rate every half second of successes at that rate.
    t = 1.0
    while learned.rate < 20.0:
        learned.started(t)
        learned.succeeded(t)
        t += 1 / learned.rate
    assert 1.0 + 0.4 < t < 1.0 + 0.8


def test_further_throttles_cut_the_rate_the_request_was_sent_at() -> None:
    policy = LearnedRatePolicy(decrease=0.9, margin=1.0)
    learned = LearnedRate(policy)
    learned.throttled(0.1, sent_rate=None)
    assert learned.phase is Phase.PROBING
    _succeed_at(learned, [1.0 + n * 0.04 for n in range(5)])
    rate_now = learned.rate
    assert rate_now is not None
    # The throttled request went at 22/s; the rate grew past it meanwhile.
    change = learned.throttled(2.0, sent_rate=22.0)
    assert change.phase is Phase.STEADY
    assert learned.rate == pytest.approx(19.8)
    # In steady state, never left above what was achieved since the last cut.
    _succeed_at(learned, [3.0 + n * 0.1 for n in range(6)])  # only 10/s were sent
    learned.throttled(4.0, sent_rate=learned.rate)
    assert learned.rate == pytest.approx(10.0)


def test_success_creeps_up_additively_by_a_constant_step() -> None:
    policy = LearnedRatePolicy(increase=0.001, margin=1.0)
    learned = LearnedRate(policy)
    _succeed_at(learned, [n * 0.1 for n in range(6)])
    learned.throttled(0.6, sent_rate=None)
    assert learned.rate == pytest.approx(10.0)
    _succeed_at(learned, [1.0 + n * 0.1 for n in range(100)])
    assert learned.rate == pytest.approx(10.0 + 100 * 0.01)


def test_successes_sent_before_a_cut_do_not_count_as_achieved() -> None:
    learned = LearnedRate(LearnedRatePolicy(min_sample=4))
    learned.throttled(1.0, sent_rate=None)
    for t in (0.5, 0.6, 0.7, 0.8):  # in flight when the rate was cut
        learned.succeeded(t)
    assert learned.achieved() is None


def test_never_below_the_floor() -> None:
    learned = LearnedRate(LearnedRatePolicy(floor=0.5))
    learned.started(0.0)
    learned.throttled(1000.0, sent_rate=None)  # 1 in 1,000 s
    assert learned.rate == 0.5


def _steady_at(rate: float, policy: LearnedRatePolicy | None = None) -> LearnedRate:
    """A rate learned from a throttle after a steady `rate` a second got through."""
    learned = LearnedRate(policy or LearnedRatePolicy(margin=1.0))
    _succeed_at(learned, [n / rate for n in range(10)])
    learned.throttled(10 / rate, sent_rate=None)
    assert learned.phase is Phase.STEADY and learned.rate == pytest.approx(rate)
    return learned


def test_an_isolated_throttle_only_nudges_the_rate() -> None:
    policy = LearnedRatePolicy(margin=1.0, nudge=0.97, isolated_after=8, increase=0.0)
    learned = _steady_at(20.0, policy)
    _succeed_at(learned, [1.0 + n * 0.05 for n in range(8)])  # a run of successes since the cut
    change = learned.throttled(2.0, sent_rate=20.0)
    assert change.isolated
    assert learned.rate == pytest.approx(19.4)
    # Too few successes since that cut: the next throttle means the pace is too fast.
    _succeed_at(learned, [3.0, 3.05])
    change = learned.throttled(3.2, sent_rate=19.4)
    assert not change.isolated
    assert learned.rate == pytest.approx(19.4 * policy.decrease)


def test_after_a_cut_successes_return_quickly_to_just_under_the_throttled_rate() -> None:
    policy = LearnedRatePolicy(margin=1.0, decrease=0.8, settle=0.97, recover=0.1, increase=0.0)
    learned = _steady_at(20.0, policy)
    learned.throttled(1.0, sent_rate=20.0)  # straight after the cut: not isolated
    assert learned.rate == pytest.approx(16.0)
    _succeed_at(learned, [2.0 + n * 0.06 for n in range(30)])  # under two seconds
    assert learned.rate == pytest.approx(19.4, abs=0.2)
    _succeed_at(learned, [4.0 + n * 0.06 for n in range(100)])
    assert learned.rate == pytest.approx(19.4, abs=0.01)  # settled: no higher without `increase`


def test_a_throttled_rate_is_neared_slowly_and_passed_at_the_usual_step() -> None:
    policy = LearnedRatePolicy(margin=1.0, nudge=0.98, increase=0.001, approach=0.25)
    learned = _steady_at(20.0, policy)
    _succeed_at(learned, [1.0 + n * 0.05 for n in range(8)])
    learned.throttled(2.0, sent_rate=20.0)  # isolated: nudged to 19.6, 20/s is the ceiling
    assert learned.rate == pytest.approx(19.6)
    step = learned.step
    _succeed_at(learned, [3.0])
    assert learned.rate == pytest.approx(19.6 + step * 0.25)  # under the ceiling: slowly
    t = 3.0
    while learned.rate < 20.0:
        t += 0.05
        _succeed_at(learned, [t])
    before = learned.rate
    _succeed_at(learned, [t + 0.05])
    assert learned.rate == pytest.approx(before + step)  # past it: the limit may have been raised


def test_successes_the_pace_did_not_hold_back_do_not_grow_it() -> None:
    learned = _steady_at(10.0, LearnedRatePolicy(margin=1.0, increase=0.01))
    for n in range(50):  # too few requests to use the rate: nothing is learned of the server
        learned.started(2.0 + n * 0.2)
        learned.succeeded(2.0 + n * 0.2, bound=False)
    assert learned.rate == pytest.approx(10.0)
    # While probing, what got through is adopted, but there is no growth past it.
    probing = LearnedRate(LearnedRatePolicy(min_sample=4))
    probing.started(0.0)
    probing.throttled(0.5, sent_rate=None)
    assert probing.phase is Phase.PROBING and probing.rate == pytest.approx(2.0)
    for n in range(30):
        probing.started(1.0 + n * 0.1)
        probing.succeeded(1.0 + n * 0.1, bound=False)
    assert probing.rate == pytest.approx(10.0)


def test_held_is_true_only_when_the_pace_holds_a_request_back() -> None:
    learned = _steady_at(10.0)
    learned.started(5.0)
    assert learned.held(5.05)  # half an interval early
    assert not learned.held(5.099)  # about on time
    assert not LearnedRate().held(5.0)  # unpaced


def test_throttles_in_a_row_after_a_cut_say_the_cut_failed() -> None:
    learned = _steady_at(10.0, LearnedRatePolicy(margin=1.0, failed_after=2))
    cut = learned.cut_at
    assert not learned.cut_failed(cut - 0.5)  # sent before the cut: still to be tried
    assert not learned.cut_failed(cut + 0.1)  # the first of a run
    learned.succeeded(cut + 0.2)  # a success ends the run
    assert not learned.cut_failed(cut + 0.3)
    assert learned.cut_failed(cut + 0.4)  # two in a row: the pace does not prevent them
    assert not LearnedRate().cut_failed(1.0)  # unpaced: nothing to have failed


def test_the_next_start_is_spaced_from_when_the_request_left() -> None:
    learned = _steady_at(10.0)
    learned.started(5.0)
    learned.on_wire(5.03)  # the interpreter was busy: it left 30 ms late
    assert learned.wait(5.1) == pytest.approx(0.03)
    learned.on_wire(5.01)  # an earlier time never moves it back
    assert learned.wait(5.13) == pytest.approx(0.0)


def test_a_probe_that_overshot_is_not_returned_to() -> None:
    policy = LearnedRatePolicy(decrease=0.9, settle=0.97, recover=0.5, increase=0.0)
    learned = LearnedRate(policy)
    learned.started(0.0)
    learned.throttled(0.1, sent_rate=None)
    assert learned.phase is Phase.PROBING
    # The probe's rate grew to 25/s while the 429 of a request sent at 22/s came back.
    learned.throttled(2.0, sent_rate=22.0)
    assert learned.phase is Phase.STEADY and learned.rate == pytest.approx(19.8)
    _succeed_at(learned, [3.0 + n * 0.06 for n in range(50)])
    assert learned.rate == pytest.approx(19.8)  # no quick return towards 22 x 0.97
