"""Bjøntegaard delta rate / delta quality between two rate–quality curves.

``bd_rate(rate_a, q_a, rate_b, q_b)`` is the average bitrate difference of curve B relative to curve A
(in percent; negative = B needs fewer bits for the same quality) over the overlapping quality range.
log(rate) is modelled as a function of quality either by the classic cubic polynomial fit (VCEG-M33,
``method="cubic"``) or by a piecewise cubic Hermite interpolant (monotone PCHIP, as in the JVET/AOM
tools, ``method="pchip"``, the default) and the two models are integrated exactly over the overlap.
``bd_quality`` is the dual (average quality difference at the same rate, e.g. BD-PSNR in dB).
"""
from __future__ import annotations

import math

import numpy as np


class BDRateError(ValueError):
    """Curves that cannot be compared (too few points, no overlap, non-finite or non-positive rates)."""


def _clean(rate, q):
    r = np.asarray(rate, dtype=np.float64).ravel()
    v = np.asarray(q, dtype=np.float64).ravel()
    if r.shape != v.shape:
        raise BDRateError("rate and quality arrays differ in length")
    keep = np.isfinite(r) & np.isfinite(v)
    r, v = r[keep], v[keep]
    if np.any(r <= 0):
        raise BDRateError("rates must be positive")
    order = np.argsort(v, kind="stable")
    r, v = r[order], v[order]
    # equal quality values would make x non-increasing: keep the cheapest rate of each
    uniq, idx = np.unique(v, return_index=True)
    r = np.array([r[v == u].min() for u in uniq])
    v = uniq
    if len(v) < 2:
        raise BDRateError("a curve needs at least 2 points with distinct quality values")
    return np.log(r), v


def _pchip_slopes(x, y):
    h = np.diff(x)
    delta = np.diff(y) / h
    n = len(x)
    d = np.zeros(n)
    if n == 2:
        d[:] = delta[0]
        return d
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] <= 0:
            d[k] = 0.0
        else:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def end(h0, h1, del0, del1):
        dd = ((2 * h0 + h1) * del0 - h0 * del1) / (h0 + h1)
        if np.sign(dd) != np.sign(del0):
            dd = 0.0
        elif np.sign(del0) != np.sign(del1) and abs(dd) > abs(3 * del0):
            dd = 3 * del0
        return dd

    d[0] = end(h[0], h[1], delta[0], delta[1])
    d[-1] = end(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _pchip_integral(x, y, lo, hi):
    """Exact integral over [lo, hi] (inside [x0, xn]) of the PCHIP interpolant through (x, y)."""
    d = _pchip_slopes(x, y)
    total = 0.0
    for k in range(len(x) - 1):
        a, b = max(lo, x[k]), min(hi, x[k + 1])
        if b <= a:
            continue
        h = x[k + 1] - x[k]
        # Hermite cubic on [x_k, x_k+1] in s = (x - x_k)/h: y = c0 + c1 s + c2 s^2 + c3 s^3
        c0 = y[k]
        c1 = d[k] * h
        c2 = 3 * (y[k + 1] - y[k]) - (2 * d[k] + d[k + 1]) * h
        c3 = 2 * (y[k] - y[k + 1]) + (d[k] + d[k + 1]) * h
        sa, sb = (a - x[k]) / h, (b - x[k]) / h

        def prim(s):
            return h * (c0 * s + c1 * s**2 / 2 + c2 * s**3 / 3 + c3 * s**4 / 4)

        total += prim(sb) - prim(sa)
    return total


def _poly_integral(x, y, lo, hi):
    deg = min(3, len(x) - 1)
    p = np.polyint(np.polyfit(x, y, deg))
    return np.polyval(p, hi) - np.polyval(p, lo)


def _avg_diff(xa, ya, xb, yb, method):
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if not hi > lo:
        raise BDRateError("the two curves do not overlap")
    if method == "pchip":
        ia, ib = _pchip_integral(xa, ya, lo, hi), _pchip_integral(xb, yb, lo, hi)
    elif method == "cubic":
        ia, ib = _poly_integral(xa, ya, lo, hi), _poly_integral(xb, yb, lo, hi)
    else:
        raise BDRateError(f"unknown BD method {method!r} (pchip or cubic)")
    return (ib - ia) / (hi - lo), (lo, hi)


def bd_rate(rate_a, q_a, rate_b, q_b, method="pchip") -> float:
    """Average rate difference of B vs A in percent at equal quality (negative: B is cheaper)."""
    la, qa = _clean(rate_a, q_a)
    lb, qb = _clean(rate_b, q_b)
    diff, _ = _avg_diff(qa, la, qb, lb, method)
    return (math.exp(diff) - 1.0) * 100.0


def bd_quality(rate_a, q_a, rate_b, q_b, method="pchip") -> float:
    """Average quality difference of B vs A at equal rate (e.g. BD-PSNR in dB; positive: B is better)."""
    la, qa = _clean(rate_a, q_a)
    lb, qb = _clean(rate_b, q_b)
    # quality as a function of log rate: sort by log rate
    oa, ob = np.argsort(la), np.argsort(lb)
    xa, ya, xb, yb = la[oa], qa[oa], lb[ob], qb[ob]
    if np.any(np.diff(xa) <= 0) or np.any(np.diff(xb) <= 0):
        raise BDRateError("rates must be distinct within a curve")
    diff, _ = _avg_diff(xa, ya, xb, yb, method)
    return float(diff)
