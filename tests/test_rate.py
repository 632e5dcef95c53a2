"""Rate controller: bisection over q on the size estimate, debt feedback, clamps."""
import numpy as np
import pytest

from rac_video import schedule
from rac_video.rate import RateController


def _sizes(scale):
    # a monotone size model: ~12 % more bits per quality step, scaled per frame
    return lambda q: scale * 1000 * 1.12 ** q


def test_picks_highest_quality_that_fits():
    rc = RateController(24.0, 24)  # 1000 bits per frame
    q, est = rc.choose(_sizes(0.5))
    assert est <= 1000 and (q == schedule.Q_MAX or _sizes(0.5)(q + 1) > 1000)
    assert q == max(k for k in range(schedule.Q_MAX + 1) if _sizes(0.5)(k) <= 1000)


def test_too_small_budget_uses_lowest_quality():
    rc = RateController(1.0, 25)
    assert rc.choose(_sizes(10))[0] == 0


def test_meets_target_over_a_sequence_with_estimate_error():
    rng = np.random.default_rng(0)
    target, fps = 60.0, 30.0
    rc = RateController(target, fps)
    total, qs = 0.0, []
    for _ in range(300):
        scale = rng.uniform(0.1, 0.6)             # content changes from frame to frame
        q, est = rc.choose(_sizes(scale))
        qs.append(q)
        actual = est * 1.15                       # the estimate is 15 % low: feedback must absorb it
        rc.update(actual)
        total += actual
    kbps = total / 1000 / (300 / fps)
    assert abs(kbps / target - 1) < 0.03
    assert 0 < np.mean(qs) < schedule.Q_MAX               # the search really moved q


def test_bad_arguments():
    with pytest.raises(ValueError):
        RateController(0, 25)
    with pytest.raises(ValueError):
        RateController(10, 0)


def test_congestion_lowers_the_next_budgets_by_a_bounded_debt():
    rc = RateController(24.0, 24)                 # 1000 bits per frame
    rc.update(1000)
    assert rc.budget() == 1000
    rc.congested()                                # a skipped frame: one budget of debt
    assert rc.budget() == pytest.approx(500)
    for _ in range(10):                           # a long congestion: the debt stops at two budgets
        rc.congested()
    assert rc.budget() == pytest.approx(250)
    rc.update(0)
    assert rc.spent == pytest.approx(3000)        # 1000 sent + 2000 of debt, not 11000
