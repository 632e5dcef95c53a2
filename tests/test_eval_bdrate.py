import math

import numpy as np
import pytest

from rac_video.eval.bdrate import BDRateError, bd_quality, bd_rate


def _curve(scale, n=4):
    q = np.array([30.0, 33.0, 36.0, 39.0, 42.0][:n])
    rate = scale * np.exp(q / 6.0)  # log-rate linear in quality
    return rate, q


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_constant_ratio_gives_exact_bdrate(method):
    ra, qa = _curve(1.0)
    rb, qb = _curve(0.8)
    assert bd_rate(ra, qa, rb, qb, method) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(rb, qb, ra, qa, method) == pytest.approx(25.0, abs=1e-9)
    assert bd_rate(ra, qa, ra, qa, method) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_quality_shift_gives_exact_bdpsnr(method):
    ra, qa = _curve(1.0)
    # same rates, quality 0.5 dB higher everywhere
    assert bd_quality(ra, qa, ra, qa + 0.5, method) == pytest.approx(0.5, abs=1e-9)
    # and in rate terms: log r = q/6 -> 0.5 dB = exp(-0.5/6) rate factor over the overlap
    assert bd_rate(ra, qa, ra, qa + 0.5, method) == pytest.approx((math.exp(-0.5 / 6) - 1) * 100, abs=1e-9)


def test_cubic_curve_partial_overlap():
    # log rate = cubic in q: the cubic fit is exact; compare with numerical integration over the overlap
    qa = np.array([30.0, 32.0, 35.0, 38.0, 40.0])
    qb = qa + 1.0
    f = lambda q: 0.001 * (q - 30) ** 3 - 0.01 * (q - 30) ** 2 + 0.2 * q  # noqa: E731
    ra, rb = np.exp(f(qa)), np.exp(f(qb) - 0.1)
    grid = np.linspace(31.0, 40.0, 200001)
    want = (math.exp(np.trapezoid(-0.1 * np.ones_like(grid), grid) / 9.0) - 1) * 100
    assert bd_rate(ra, qa, rb, qb, "cubic") == pytest.approx(want, abs=1e-6)
    # PCHIP is not exact on a cubic but must be close
    assert bd_rate(ra, qa, rb, qb, "pchip") == pytest.approx(want, abs=0.5)


def test_pchip_handles_non_monotone_noise_and_unsorted_points():
    ra, qa = _curve(1.0, 5)
    rb, qb = _curve(0.5, 5)
    perm = [3, 0, 4, 1, 2]
    assert bd_rate(ra[perm], qa[perm], rb, qb) == pytest.approx(-50.0, abs=1e-9)


def test_errors():
    ra, qa = _curve(1.0)
    with pytest.raises(BDRateError):
        bd_rate(ra[:1], qa[:1], ra, qa)
    with pytest.raises(BDRateError):
        bd_rate(ra, qa, ra, qa + 100)  # no overlap
    with pytest.raises(BDRateError):
        bd_rate(-ra, qa, ra, qa)
    with pytest.raises(BDRateError):
        bd_rate(ra, qa, ra, qa, method="linear")
    with pytest.raises(ValueError):
        bd_rate(ra, qa[:2], ra, qa)
