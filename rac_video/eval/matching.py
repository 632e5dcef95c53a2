"""Bitrate matching: search a baseline's rate parameter (CRF, JPEG quality) until its total size is
within a tolerance (default 2 %) of a target.

The search works on log(size), which is close to linear in CRF: it first brackets the target by
stepping from the baseline's start value, then narrows the bracket by regula falsi (Illinois variant)
with bisection as a fallback; integer parameters stop when the bracket is two neighbours. The closest
encoding found (in |log(size/target)|) is returned with a record of the search.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


class MatchError(ValueError):
    """Impossible matching request (non-positive target, empty parameter range)."""


@dataclass
class MatchResult:
    encoded: object
    target_bytes: int
    rel_error: float  # size/target - 1
    matched: bool
    evals: list = field(default_factory=list)  # [(param, nbytes)] in search order

    def record(self) -> dict:
        return {
            "target_bytes": int(self.target_bytes),
            "bytes": int(self.encoded.nbytes),
            "param": self.encoded.param,
            "rel_error": self.rel_error,
            "matched": self.matched,
            "evals": [[p, int(n)] for p, n in self.evals],
        }


def match_size(encode, target_bytes, *, lo, hi, start, integer=False, decreasing=True, tol=0.02,
               step=6.0, max_evals=18) -> MatchResult:
    """Find param in [lo, hi] with encode(param).nbytes within ``tol`` of ``target_bytes``.

    ``encode(param) -> Encoded`` (anything with ``.nbytes`` and ``.param``); ``decreasing``: size falls as
    param grows (CRF) or not (quality). Stops early when matched; an unreachable target returns the
    closest end of the range with ``matched=False``."""
    if not target_bytes > 0:
        raise MatchError("target size must be positive")
    if not hi > lo:
        raise MatchError("empty parameter range")
    sign = 1.0 if decreasing else -1.0
    cache = {}
    order = []

    def snap(p):
        p = min(hi, max(lo, p))
        return float(int(round(p))) if integer else round(p, 3)

    def ev(p):
        p = snap(p)
        if p not in cache:
            if len(order) >= max_evals:
                return None
            cache[p] = encode(p)
            order.append((p, cache[p].nbytes))
        return cache[p]

    def err(e):
        return math.log(e.nbytes / target_bytes)

    def ok(e):
        return abs(e.nbytes / target_bytes - 1.0) <= tol

    def best():
        e = min(cache.values(), key=lambda x: abs(err(x)))
        r = e.nbytes / target_bytes - 1.0
        return MatchResult(e, int(target_bytes), r, abs(r) <= tol, list(order))

    p = snap(start)
    e = ev(p)
    if ok(e):
        return best()
    # bracket: a with g>0 (too big), b with g<0 (too small), where g = err and size falls along +sign*p
    direction = sign if err(e) > 0 else -sign  # which way to move p to approach the target
    a = b = None
    if err(e) > 0:
        a = p
    else:
        b = p
    cur = p
    s = step
    while (a is None or b is None) and len(order) < max_evals:
        nxt = snap(cur + direction * s)
        if nxt == cur:  # hit the end of the range
            return best()
        e = ev(nxt)
        if e is None:
            break
        if ok(e):
            return best()
        if err(e) > 0:
            a = nxt
        else:
            b = nxt
        cur = nxt
        s *= 1.5
    if a is None or b is None:
        return best()
    ga, gb = err(cache[a]), err(cache[b])
    side = 0
    while len(order) < max_evals:
        if integer and abs(a - b) <= 1:
            break
        if not integer and abs(a - b) < 0.01:
            break
        # regula falsi on (p, g)
        pn = a - ga * (b - a) / (gb - ga) if gb != ga else (a + b) / 2
        pn = snap(pn)
        if pn in (a, b):
            pn = snap((a + b) / 2)
            if pn in (a, b):
                break
        e = ev(pn)
        if e is None:
            break
        g = err(e)
        if ok(e):
            break
        if g > 0:
            a, ga = pn, g
            if side == 1:
                gb /= 2
            side = 1
        else:
            b, gb = pn, g
            if side == -1:
                ga /= 2
            side = -1
    return best()


def match_baseline(baseline, frames, importance, target_bytes, *, tol=0.02, max_evals=18) -> MatchResult:
    """Match a baseline (``rac_video.eval.baselines``) to a target total size on given frames/maps."""
    return match_size(
        lambda p: baseline.encode(frames, importance, p),
        target_bytes,
        lo=baseline.lo,
        hi=baseline.hi,
        start=baseline.start,
        integer=baseline.integer,
        decreasing=baseline.decreasing,
        tol=tol,
        max_evals=max_evals,
    )
